"""explain_dataset: bit-identical rows under any schedule, resumable, bad rows reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import probex as px
from probex.engine import engines
from probex.engine.manifest import file_sha256

sys.path.insert(0, str(Path(__file__).parent))
from dataset_helpers import FailsOnHugeInputs, SlowModel  # noqa: E402

N_ROWS, N_SAMPLES = 24, 200
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cluster_client():
    """A 2-worker LocalCluster (processes, one thread each) shared by this module."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _explainer(demo_model, cls=px.BayesLIME, model=None, **options):
    forest, data = demo_model
    bb = px.BlackBox(forest if model is None else model, target=1, feature_names=data.feature_names,
                     n_features=len(data.feature_names))
    return cls(bb, background=data.X_train, seed=3, **options)


def _rows(demo_model, n=N_ROWS):
    return demo_model[1].X_test[:n]


def _assert_same_bits(a, b):
    np.testing.assert_array_equal(a.instances, b.instances)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.sd, b.sd)
    np.testing.assert_array_equal(a.hdi(0.9), b.hdi(0.9))


@pytest.mark.parametrize("cls", [px.BayesLIME, px.BayesSHAP])
def test_rows_are_bit_identical_serially_chunked_and_on_a_cluster(demo_model, cls, tmp_path,
                                                                  cluster_client):
    explainer = _explainer(demo_model, cls)
    X = _rows(demo_model)
    serial = explainer.explain(X, n_samples=N_SAMPLES)  # one batch, rows 0..n-1
    runs = {"one chunk": dict(chunk_size=N_ROWS), "chunks of 7": dict(chunk_size=7),
            "chunks of 1": dict(chunk_size=1),
            "2 workers": dict(chunk_size=5, client=cluster_client),
            "scheduler address": dict(chunk_size=12, client=cluster_client.scheduler.address)}
    for name, options in runs.items():
        e = px.explain_dataset(explainer, X, out=tmp_path / name, n_samples=N_SAMPLES,
                               **options)
        assert e.is_lazy and len(e) == N_ROWS, name
        _assert_same_bits(e, serial.with_instances(np.arange(N_ROWS)))
        assert e.n_queries == serial.n_queries == N_ROWS * N_SAMPLES
    assert json.loads((tmp_path / "2 workers" / "manifest.json").read_text())["complete"]


def test_a_failed_chunk_is_recomputed_on_resume(demo_model, tmp_path, monkeypatch):
    explainer = _explainer(demo_model)
    X = _rows(demo_model)
    whole = px.explain_dataset(explainer, X, out=tmp_path / "whole", chunk_size=5,
                               n_samples=N_SAMPLES)
    real = engines.explain_chunk

    def fails_on_rows_10_to_15(explainer, call, rows, values, targets=None):
        if rows[0] == 10:
            raise MemoryError("simulated: the chunk ran out of memory")
        return real(explainer, call, rows, values, targets)

    monkeypatch.setattr(engines, "explain_chunk", fails_on_rows_10_to_15)
    out = tmp_path / "resumed"
    with pytest.raises(RuntimeError, match="1 chunk.*rows 10:15.*MemoryError"):
        px.explain_dataset(explainer, X, out=out, chunk_size=5, n_samples=N_SAMPLES)
    manifest = json.loads((out / "manifest.json").read_text())
    assert not manifest["complete"]
    assert [c["start"] for c in manifest["chunks"]] == [0, 5, 15, 20]
    monkeypatch.setattr(engines, "explain_chunk", real)
    calls = []
    monkeypatch.setattr(engines, "explain_chunk",
                        lambda *args: calls.append(args[2][0]) or real(*args))
    resumed = px.explain_dataset(explainer, X, out=out, chunk_size=5, n_samples=N_SAMPLES)
    assert calls == [10]  # only the missing chunk ran again
    _assert_same_bits(resumed, whole)
    _assert_every_row_once_and_files_final(out, N_ROWS)


def _assert_every_row_once_and_files_final(out: Path, n_rows: int):
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"]
    rows = [r for c in manifest["chunks"] for r in
            px.Explanation.from_netcdf(out / c["file"]).instances]
    assert sorted(rows) == list(range(n_rows))  # every row present exactly once
    for chunk in manifest["chunks"]:  # every final path holds the whole recorded file
        assert file_sha256(out / chunk["file"]) == chunk["sha256"]
    assert sorted(p.name for p in (out / "chunks").iterdir()) == [
        f"chunk-{i:06d}.nc" for i in range(len(manifest["chunks"]))]  # no temporaries


_KILLED_RUN = textwrap.dedent("""
    import sys
    sys.path[:0] = [{root!r}, {tests!r}]
    import probex as px
    from probex.datasets import fit_demo_model
    from dataset_helpers import SlowModel
    forest, data = fit_demo_model("breast_cancer", n_estimators=50, seed=0)
    bb = px.BlackBox(SlowModel(forest, 0.15), target=1, feature_names=data.feature_names,
                     n_features=30)
    explainer = px.BayesLIME(bb, background=data.X_train, seed=3)
    px.explain_dataset(explainer, data.X_test[:{n}], out={out!r}, chunk_size=3,
                       n_samples={s}, progress=False)
""")


def test_a_killed_run_resumes_to_the_uninterrupted_result(demo_model, tmp_path):
    out = tmp_path / "killed"
    script = _KILLED_RUN.format(root=str(ROOT), tests=str(ROOT / "tests"), n=N_ROWS,
                                out=str(out), s=N_SAMPLES)
    child = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and child.poll() is None:
        try:
            done = len(json.loads((out / "manifest.json").read_text())["chunks"])
        except (FileNotFoundError, ValueError, KeyError):
            done = 0
        if done >= 2:
            break
        time.sleep(0.05)
    assert child.poll() is None, child.stderr.read().decode()[-2000:]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stderr.close()
    manifest = json.loads((out / "manifest.json").read_text())
    assert not manifest["complete"] and 2 <= len(manifest["chunks"]) < N_ROWS // 3
    explainer = _explainer(demo_model, model=SlowModel(demo_model[0], 0.15))
    X = _rows(demo_model)
    resumed = px.explain_dataset(explainer, X, out=out, chunk_size=3, n_samples=N_SAMPLES)
    reference = _explainer(demo_model).explain(X, n_samples=N_SAMPLES)
    _assert_same_bits(resumed, reference.with_instances(np.arange(N_ROWS)))
    _assert_every_row_once_and_files_final(out, N_ROWS)


def test_data_frames_are_aligned_by_name_and_targets_given_per_row(demo_model, tmp_path):
    explainer = _explainer(demo_model)
    frame = pd.DataFrame(_rows(demo_model, 6), columns=demo_model[1].feature_names)
    shuffled = frame[frame.columns[::-1]]
    targets = np.array([0, 1, 1, 0, 1, 0])
    e = px.explain_dataset(explainer, shuffled, out=tmp_path, chunk_size=4,
                           n_samples=N_SAMPLES, target=targets)
    reference = explainer.explain(frame, n_samples=N_SAMPLES, target=targets)
    _assert_same_bits(e, reference.with_instances(np.arange(6)))
    np.testing.assert_array_equal(e.attrs["target"], targets)
    with pytest.raises(ValueError, match="one index per row of X"):
        px.explain_dataset(explainer, frame, out=tmp_path / "bad", target=[0, 1])


def test_bad_rows_are_reported_and_the_others_explained(demo_model, tmp_path):
    explainer = _explainer(demo_model, model=FailsOnHugeInputs(demo_model[0]))
    X = [list(row) for row in _rows(demo_model, 12)]
    X[2][4] = np.nan
    X[5] = X[5][:-1]
    X[7][0] = "abc"
    X[9][1] = 1e9
    e = px.explain_dataset(explainer, X, out=tmp_path, chunk_size=4, n_samples=N_SAMPLES)
    errors = e.errors.set_index("row")["message"]
    assert list(errors.index) == [2, 5, 7, 9]
    assert "missing or infinite values in mean smoothness" in errors[2]
    assert "has 29 values but the model expects 30 features" in errors[5]
    assert "not numeric" in errors[7]
    assert errors[9] == "ValueError: feature value out of the model's range"
    good = [i for i in range(12) if i not in (2, 5, 7, 9)]
    np.testing.assert_array_equal(e.instances, good)
    reference = _explainer(demo_model).explain(_rows(demo_model, 12), n_samples=N_SAMPLES)
    np.testing.assert_array_equal(e.mean, reference.mean[good])
    np.testing.assert_array_equal(e.sd, reference.sd[good])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [r["row"] for r in manifest["errors"]] == [2, 5, 7, 9]


@pytest.mark.parametrize("change, named", [
    (dict(seed=4), "seed: 3 -> 4"),
    (dict(kernel_width=2.0), "perturbation.kernel_width"),
    (dict(call_samples=150), "call.n_samples: 200 -> 150"),
])
def test_a_changed_configuration_is_refused_naming_the_change(demo_model, tmp_path, change,
                                                              named):
    X = _rows(demo_model, 6)
    px.explain_dataset(_explainer(demo_model), X, out=tmp_path, chunk_size=3,
                       n_samples=N_SAMPLES)
    n_samples = change.pop("call_samples", N_SAMPLES)
    forest, data = demo_model
    bb = px.BlackBox(forest, target=1, feature_names=data.feature_names)
    changed = px.BayesLIME(bb, background=data.X_train, **{"seed": 3, **change})
    with pytest.raises(ValueError, match="records a different run") as info:
        px.explain_dataset(changed, X, out=tmp_path, chunk_size=3, n_samples=n_samples)
    assert named in str(info.value)


def test_changed_rows_and_chunking_are_refused(demo_model, tmp_path):
    explainer = _explainer(demo_model)
    X = _rows(demo_model, 6)
    px.explain_dataset(explainer, X, out=tmp_path, chunk_size=3, n_samples=N_SAMPLES)
    with pytest.raises(ValueError, match="chunk_size: 3 -> 2"):
        px.explain_dataset(explainer, X, out=tmp_path, chunk_size=2, n_samples=N_SAMPLES)
    other = X.copy()
    other[4, 0] += 1.0
    with pytest.raises(ValueError, match="data differ.*rows 3:6"):
        px.explain_dataset(explainer, other, out=tmp_path, chunk_size=3, n_samples=N_SAMPLES)
    again = px.explain_dataset(explainer, other, out=tmp_path, chunk_size=3, resume=False,
                               n_samples=N_SAMPLES)  # starting over is allowed
    assert len(again) == 6


@pytest.mark.parametrize("store", ["compact", "full"])
def test_to_dataframe_round_trips_through_netcdf(demo_model, tmp_path, store):
    explainer = _explainer(demo_model, n_draws=50, n_chains=2)
    e = px.explain_dataset(explainer, _rows(demo_model, 8), out=tmp_path / "run",
                           chunk_size=3, n_samples=N_SAMPLES, store=store,
                           rows=slice(2, 8))
    frame = e.to_dataframe(0.9)
    assert len(frame) == 6 * 30 and not frame.duplicated(["instance", "feature"]).any()
    assert sorted(set(frame["instance"])) == list(range(2, 8))  # the data set's rows
    assert e.has_draws == (store == "full")
    back = px.Explanation.from_netcdf(e.to_netcdf(tmp_path / "all.nc"))
    pd.testing.assert_frame_equal(back.to_dataframe(0.9), frame)
    csv = pd.read_csv(e.to_csv(tmp_path / "summary.csv", prob=0.9))
    np.testing.assert_allclose(csv["mean"], frame["mean"], rtol=1e-15)
    assert list(csv.columns) == list(frame.columns)


def test_sampled_posteriors_are_the_same_under_any_chunking_and_summarised_by_block(
        demo_model, tmp_path):
    from probex.inference import SVIRunner

    explainer = _explainer(demo_model, inference=SVIRunner(num_steps=30, num_draws=60,
                                                           seed=0))
    X = _rows(demo_model, 6)
    e = px.explain_dataset(explainer, X, out=tmp_path / "2", chunk_size=2, n_samples=100)
    # one SVI fit over a batch depends on the batch's rows: data-set runs fit row by row
    other = px.explain_dataset(explainer, X, out=tmp_path / "3", chunk_size=3, n_samples=100)
    np.testing.assert_array_equal(e.mean, other.mean)
    assert e.is_lazy and not e.is_exact
    in_memory = px.Explanation.concat([px.Explanation.from_netcdf(f) for f in e.files])
    np.testing.assert_array_equal(e.hdi(0.9), in_memory.hdi(0.9))
    frame = e.to_dataframe()
    assert {"r_hat", "ess_bulk", "ess_tail"} <= set(frame.columns)
    np.testing.assert_array_equal(frame["r_hat"], in_memory.to_dataframe()["r_hat"])
    # one instance of the lazy result: loaded, so ArviZ's hdi and summary work on it
    np.testing.assert_array_equal(e[4].hdi(0.9), in_memory.hdi(0.9)[4])
    pd.testing.assert_frame_equal(e[4].summary(), in_memory[4].summary())


def test_amortized_methods_explain_by_forward_passes_whatever_the_chunking(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))

    def model(X):
        p = 1 / (1 + np.exp(-3 * (X[:, 0] - X[:, 2])))
        return np.stack([1 - p, p], 1)

    bb = px.BlackBox(model, n_features=6)
    fex = px.FEX(bb, 2, seed=0, hidden=(16,)).fit(X[:64], epochs=1, batch_size=32)
    lex = px.LEX(bb, "lex", seed=0, selector_hidden=(16,), predictor_hidden=(16,)).fit(
        X[:64], epochs=1)
    # LEX draws its masks row by row, padding rows included: fewer small chunks for it
    for explainer, options, sizes in ((fex, {}, (120, 25, 7)), (lex, {"n_draws": 20},
                                                                (120, 50))):
        before = bb.n_queries
        runs = [px.explain_dataset(explainer, X, out=tmp_path / f"{explainer.method}{size}",
                                   chunk_size=size, **options) for size in sizes]
        assert bb.n_queries == before and runs[0].n_queries == 0  # no black-box queries
        for run in runs[1:]:  # float32 networks: the same bits under any chunking
            np.testing.assert_array_equal(run.mean, runs[0].mean)
            np.testing.assert_array_equal(run.hdi(), runs[0].hdi())
        direct = explainer.explain(X, **options)  # one unpadded pass: float32 rounding
        np.testing.assert_allclose(runs[0].mean, direct.mean, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="n_samples applies to local explainers"):
        px.explain_dataset(lex, X, out=tmp_path / "bad", n_samples=10)


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_no_rows(demo_model, tmp_path, cluster_client):
    explainer = _explainer(demo_model, model=SlowModel(demo_model[0], 0.4))
    X = _rows(demo_model)
    pids = cluster_client.run(os.getpid)
    victim = next(iter(pids.values()))
    killed = threading.Event()

    def kill_after_the_first_chunk():
        while not list((tmp_path / "chunks").glob("chunk-*.nc")):
            time.sleep(0.02)
        os.kill(victim, signal.SIGKILL)
        killed.set()

    (tmp_path / "chunks").mkdir(parents=True)
    threading.Thread(target=kill_after_the_first_chunk, daemon=True).start()
    e = px.explain_dataset(explainer, X, out=tmp_path, chunk_size=2, n_samples=N_SAMPLES,
                           client=cluster_client)
    assert killed.is_set()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["complete"] and manifest["errors"] == []
    reference = _explainer(demo_model).explain(X, n_samples=N_SAMPLES)
    _assert_same_bits(e, reference.with_instances(np.arange(N_ROWS)))
    _assert_every_row_once_and_files_final(tmp_path, N_ROWS)


def test_every_registered_explainer_pickles_for_workers(demo_model):
    import cloudpickle
    import torch

    from probex.explainers.registry import METHODS, make_explainer

    forest, data = demo_model
    net = torch.nn.Sequential(torch.nn.Linear(30, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    for name, spec in METHODS.items():
        bb = px.BlackBox(net if spec.needs_gradients else forest,
                         feature_names=data.feature_names)
        explainer = make_explainer(name, bb, background=data.X_train, seed=0)
        options = {"n_samples": 140}  # BayesSHAP needs 122 at d=30; RISE a multiple of 20
        if spec.family == "amortized":
            explainer.fit(data.X_train[:48], epochs=1)
            options = {}
        copy = cloudpickle.loads(cloudpickle.dumps(explainer))
        X = data.X_test[:2]
        np.testing.assert_array_equal(copy.explain(X, **options).mean,
                                      explainer.explain(X, **options).mean, err_msg=name)
