import pytest
import torch

from probex.checkpoint import Checkpointer, load_checkpoint, rng_state, save_checkpoint


def _train(steps, checkpointer=None, resume=False, stop_after=None):
    """A tiny loop whose every step draws from the global RNG and an explicit generator."""
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    generator = torch.Generator().manual_seed(1)
    step = 0
    if resume:
        step, extra = checkpointer.restore({"net": net}, optimizer, generator)
        assert extra == {"note": "half"}
    while step < steps:
        x = torch.randn(8, 3, generator=generator)
        noise = torch.randn(8, 1)  # global RNG, as Pyro uses
        loss = (net(x) - x.sum(1, keepdim=True) - 0.1 * noise).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if checkpointer is not None and checkpointer.due(step):
            checkpointer.save(step, {"net": net}, optimizer, generator, extra={"note": "half"})
        if stop_after is not None and step == stop_after:
            return net
    return net


def test_interrupted_and_resumed_training_ends_with_identical_parameters(tmp_path):
    straight = _train(40)
    path = tmp_path / "ckpt.pt"
    _train(40, Checkpointer(path, every=10), stop_after=20)
    resumed = _train(40, Checkpointer(path, every=10), resume=True)
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    # a resume that skipped the RNG state would differ
    torch.manual_seed(123)
    assert not torch.equal(rng_state()["torch_cpu"], load_checkpoint(path)["rng"]["torch_cpu"])


def test_checkpoint_files_and_errors(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", {"step": 3, "modules": {}})
    assert load_checkpoint(path)["step"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable probex checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"step": 1}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="is not a probex checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer"):
        Checkpointer(tmp_path / "x.pt", every=0)
    checkpointer = Checkpointer(tmp_path / "m.pt", every=1)
    checkpointer.save(1, {"a": torch.nn.Linear(2, 2)})
    with pytest.raises(ValueError, match=r"holds modules \['a'\], expected \['b'\]"):
        checkpointer.restore({"b": torch.nn.Linear(2, 2)})
    assert not Checkpointer(None).due(10)
