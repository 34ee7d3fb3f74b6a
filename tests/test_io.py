"""Files are written whole: permissions kept on rewrite, the umask honoured for new files,
and a writer killed mid-write leaves no partial target and no stale temporary after the
next write."""

import os
import signal
import subprocess
import sys
import time

import pytest

from probex._io import stale_temporaries, write_atomically


def _write_text(text):
    def write(path):
        with open(path, "w") as handle:
            handle.write(text)
    return write


def test_a_rewrite_keeps_the_files_permissions_and_a_new_file_honours_the_umask(tmp_path):
    target = tmp_path / "e.nc"
    old_umask = os.umask(0o027)
    try:
        write_atomically(target, _write_text("one"))
        assert target.stat().st_mode & 0o777 == 0o640  # 0o666 less the umask
    finally:
        os.umask(old_umask)
    os.chmod(target, 0o600)
    write_atomically(target, _write_text("two"))
    assert target.read_text() == "two" and target.stat().st_mode & 0o777 == 0o600


def test_missing_and_unwritable_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_atomically(tmp_path / "nope" / "e.nc", _write_text("x"))
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    with pytest.raises(PermissionError, match="not writable"):
        write_atomically(folder / "e.nc", _write_text("x"))


_KILLED_WRITER = """
import sys, time
from probex._io import write_atomically

def slow(path):
    with open(path, "w") as handle:
        handle.write("partial")
        handle.flush()
        print("writing", flush=True)
        time.sleep(60)

write_atomically(sys.argv[1], slow)
"""


def test_a_killed_writer_leaves_the_old_file_and_its_temporary_is_cleaned(tmp_path):
    target = tmp_path / "e.nc"
    write_atomically(target, _write_text("complete"))
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert target.read_text() == "complete"  # never half a file at the final path
    stale = stale_temporaries(target)
    assert len(stale) == 1 and stale[0].read_text() == "partial"
    write_atomically(target, _write_text("next"))
    assert target.read_text() == "next" and not stale[0].exists()
    assert not list(tmp_path.glob(".e.nc.*.tmp"))


_KILLED_TRAINER = """
import sys
import numpy as np
import probex as px

def model(A):
    p = 1 / (1 + np.exp(-A.sum(1)))
    return np.c_[1 - p, p]

X = np.random.default_rng(0).normal(size=(200, 4))
px.FEX(px.BlackBox(model, n_features=4), 2, seed=0, hidden=(8,)).fit(
    X, epochs=60, batch_size=20, checkpoint=sys.argv[1], checkpoint_every=1, holdout=0)
"""


def test_a_trainer_killed_mid_run_leaves_a_checkpoint_it_resumes_from(tmp_path):
    import numpy as np

    import probex as px
    from probex.checkpoint import load_checkpoint

    path = tmp_path / "fex.pt"
    trainer = subprocess.Popen([sys.executable, "-c", _KILLED_TRAINER, str(path)])
    deadline = time.time() + 240
    while not path.exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.3)  # some more checkpoints: the kill lands at an arbitrary point
    trainer.send_signal(signal.SIGKILL)
    trainer.wait(timeout=30)
    step = int(load_checkpoint(path)["step"])  # a whole, readable file
    assert 1 <= step < 600

    def model(A):
        p = 1 / (1 + np.exp(-A.sum(1)))
        return np.c_[1 - p, p]

    X = np.random.default_rng(0).normal(size=(200, 4))
    fex = px.FEX(px.BlackBox(model, n_features=4), 2, seed=0, hidden=(8,))
    fex.fit(X, epochs=60, batch_size=20, checkpoint=path, checkpoint_every=1, resume=True,
            holdout=0)
    assert len(fex.history_) == 600 and int(load_checkpoint(path)["step"]) == 600
    assert not list(tmp_path.glob(".fex.pt.*.tmp"))  # the killed write's temporary is gone
