"""The shared training loop on a toy model: exact resume, the learning-rate schedule,
history, query counts, checkpoint folders checked before any step, fingerprints."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from probex.checkpoint import Checkpointer
from probex.inference._runtime import seeded
from probex.inference.training import Phase, data_digest, describe, geometric_decay, train

N, BATCH = 30, 8  # 4 steps per epoch (8, 8, 8, 6 rows); 1 + 3 epochs = 16 steps
TOTAL = 16


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, 3, generator=g)
    return X, X @ torch.tensor([[1.0], [-2.0], [0.5]])


class _Queries:
    """A stand-in black box's running row count."""

    def __init__(self):
        self.n = 0


def _fit(X, y, *, seed=0, lr=0.05, stop_at=None, steps=None, width=1, **loop):
    """Fit Linear(3, width) in two phases; every step also draws from the global RNG
    (as Pyro's sampling does) and spends len(index) "queries"; set-up spends N."""
    steps = [] if steps is None else steps
    queries = _Queries()
    queries.n += N  # set-up, e.g. the targets f(X)
    with seeded(seed):
        net = torch.nn.Linear(3, width)
        optimizer = torch.optim.Adam(net.parameters(), lr=lr)

        def step(step, index):
            steps.append(step)
            noise = 0.1 * torch.randn(len(index), 1)
            loss = (net(X[index])[:, :1] + noise - y[index]).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            queries.n += len(index)
            return {"loss": float(loss.detach()), "lr": optimizer.param_groups[0]["lr"]}

        def callback(done, stats):
            if done == stop_at:
                raise KeyboardInterrupt

        result = train([Phase(1, step, "warmup"), Phase(3, step, "main")], data=(X, y),
                       batch_size=BATCH, seed=seed, modules={"net": net}, optimizer=optimizer,
                       config={"lr": lr}, lr_schedule=geometric_decay(0.2),
                       count_queries=lambda: queries.n, setup_queries=N, callback=callback,
                       **loop)
    return net, result


def test_resumed_fit_is_bit_identical_to_an_uninterrupted_one(tmp_path):
    X, y = _data()
    net, full = _fit(X, y)
    path = tmp_path / "toy.pt"
    with pytest.raises(KeyboardInterrupt):  # stopped after step 8; last checkpoint at 6
        _fit(X, y, checkpoint=path, checkpoint_every=3, stop_at=8)
    steps = []
    resumed_net, resumed = _fit(X, y, checkpoint=path, checkpoint_every=3, resume=True,
                                steps=steps)
    assert resumed.resumed_at == 6 and steps == list(range(6, TOTAL))
    assert torch.equal(net.weight, resumed_net.weight) and torch.equal(net.bias,
                                                                      resumed_net.bias)
    pd.testing.assert_frame_equal(full.history, resumed.history)
    # queries: set-up once plus every step's rows, not the resumed session's set-up again
    assert full.n_queries == N + 4 * N == resumed.n_queries
    # a resume of the finished fit (saved after the last step) runs nothing
    steps.clear()
    again_net, again = _fit(X, y, checkpoint=path, resume=True, steps=steps)
    assert steps == [] and again.resumed_at == TOTAL and torch.equal(again_net.weight,
                                                                     net.weight)
    pd.testing.assert_frame_equal(full.history, again.history)
    assert again.n_queries == full.n_queries
    # the global RNG state matters: without it the resumed steps would draw other noise
    other_net, _ = _fit(X, y, seed=1)
    assert not torch.equal(other_net.weight, net.weight)


def test_history_schedule_and_data_order():
    X, y = _data()
    _, result = _fit(X, y)
    history = result.history
    assert list(history.columns) == ["step", "epoch", "phase", "loss", "lr"]
    assert history["step"].tolist() == list(range(TOTAL))
    assert history["epoch"].tolist() == [s // 4 for s in range(TOTAL)]
    assert history["phase"].tolist() == ["warmup"] * 4 + ["main"] * 12
    # geometric decay: lr_0 * 0.2 ** (step / total), a function of the step alone
    assert history["lr"].tolist() == [0.05 * 0.2 ** (s / TOTAL) for s in range(TOTAL)]
    # every epoch visits every row once, in an order drawn from the seeded generator
    seen = []
    train([Phase(2, lambda step, index: seen.append(index.tolist()) or {})], data=(X,),
          batch_size=BATCH, seed=5, modules={}, optimizer=torch.optim.SGD([X], lr=0.0))
    g = torch.Generator().manual_seed(5)
    for epoch in range(2):
        rows = sum(seen[4 * epoch:4 * epoch + 4], [])
        assert rows == torch.randperm(N, generator=g).tolist()


def test_a_missing_or_unwritable_folder_is_refused_before_any_step(tmp_path,
                                                                   unwritable_folder):
    X, y = _data()
    steps = []
    missing = tmp_path / "no_such_folder" / "toy.pt"
    with pytest.raises(ValueError, match=r"no_such_folder' does not exist"):
        _fit(X, y, checkpoint=missing, steps=steps)
    with pytest.raises(ValueError, match=f"folder '{unwritable_folder}' is not writable"):
        _fit(X, y, checkpoint=unwritable_folder / "toy.pt", steps=steps)
    with pytest.raises(ValueError, match="is a folder"):
        _fit(X, y, checkpoint=tmp_path, steps=steps)
    with pytest.raises(ValueError, match="resume=True needs checkpoint"):
        _fit(X, y, resume=True, steps=steps)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        _fit(X, y, checkpoint=tmp_path / "absent.pt", resume=True, steps=steps)
    assert steps == []


@pytest.mark.parametrize("change,message", [
    ({"seed": 1}, "it was written with seed=0; this fit has seed=1"),
    ({"lr": 0.1}, "it was written with lr=0.05; this fit has lr=0.1"),
    ({"data": "shuffled"}, "it was written with other training data"),
    ({"data": "other"}, "it was written with other training data"),
])
def test_a_checkpoint_of_another_fit_is_refused_by_name(tmp_path, change, message):
    X, y = _data()
    path = tmp_path / "toy.pt"
    _fit(X, y, checkpoint=path, checkpoint_every=5)
    change = dict(change)
    if change.pop("data", None) == "shuffled":
        order = torch.randperm(N, generator=torch.Generator().manual_seed(1))
        X, y = X[order], y[order]  # same rows, same sums, other order
    elif "lr" not in change and "seed" not in change:
        X, y = _data(seed=7)  # same shape, other values
    steps = []
    with pytest.raises(ValueError, match="is of a different training fit") as info:
        _fit(X, y, checkpoint=path, resume=True, steps=steps, **change)
    assert message in str(info.value) and steps == []
    assert str(info.value).count("it was written") == 1  # only what differs is named


def test_other_networks_old_checkpoints_and_non_finite_losses(tmp_path):
    X, y = _data()
    path = tmp_path / "toy.pt"
    _fit(X, y, checkpoint=path)
    with pytest.raises(ValueError, match="does not match this fit's networks"):
        _fit(X, y, checkpoint=path, resume=True, width=2)
    Checkpointer(tmp_path / "old.pt").save(3, {"net": torch.nn.Linear(3, 1)})
    with pytest.raises(ValueError, match="holds no fingerprint"):
        _fit(X, y, checkpoint=tmp_path / "old.pt", resume=True)

    def diverging(step, index):
        if step == 2:
            raise FloatingPointError("the loss became nan")
        return {}

    with pytest.raises(FloatingPointError, match=r"became nan \(at step 2\)"):
        train([Phase(1, diverging)], data=(X,), batch_size=BATCH, seed=0, modules={},
              optimizer=torch.optim.SGD([X], lr=0.0))
    with pytest.raises(ValueError, match="same number"):
        train([Phase(1, diverging)], data=(X, y[:5]), batch_size=BATCH, seed=0, modules={},
              optimizer=torch.optim.SGD([X], lr=0.0))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        train([Phase(1, diverging)], data=(X,), batch_size=0, seed=0, modules={},
              optimizer=torch.optim.SGD([X], lr=0.0))
    with pytest.raises(ValueError, match="final_lr_fraction"):
        geometric_decay(0.0)


def test_digests_see_order_values_and_dtype():
    X, _ = _data()
    assert data_digest(X) == data_digest(X.clone())
    assert data_digest(X) != data_digest(X.flip(0))  # shuffled rows
    assert data_digest(X) != data_digest(X.double())  # same values, other dtype
    assert data_digest(X) != data_digest(X.reshape(15, 6))  # same bytes, other shape
    assert describe(0.1) == "0.1" and describe(3) == "3" and describe((64, 64)) == "(64, 64)"
    assert describe(X).startswith("sha256:") and describe("zero") == "'zero'"
