"""Early stopping: the rule on scripted held-out scores, best weights kept, and the shared
loop stopping early (and resuming to the same stop)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probex.inference._runtime import seeded
from probex.inference.early_stopping import EarlyStopping
from probex.inference.training import Phase, train

M = 50  # held-out rows


def _scripted(means, noise=0.01, seed=0):
    """evaluate() returning, at call k, M per-row scores with mean means[k] (a common
    per-row offset plus small independent noise, as paired held-out scores are)."""
    rng = np.random.default_rng(seed)
    offsets = rng.normal(0.0, 0.2, size=M)
    calls = iter(range(len(means)))

    def evaluate():
        k = next(calls)
        e = rng.normal(0.0, noise, size=M)
        return means[k] + offsets + e - e.mean()  # the mean is exactly means[k] + offsets.mean
    return evaluate


def test_stops_after_patience_epochs_without_a_new_best_and_keeps_the_best():
    net = torch.nn.Linear(2, 1)
    # new bests until epoch 4 (the last one by 0.0005), then none for 3 epochs
    means = [0.60, 0.55, 0.50, 0.45, 0.4495, 0.4505, 0.4498, 0.4502, 0.40]
    stopper = EarlyStopping(_scripted(means), {"net": net}, patience=3, min_epochs=0,
                            name="score")
    weights = {}
    for epoch in range(len(means)):
        with torch.no_grad():
            net.weight.fill_(float(epoch))
        weights[epoch] = net.weight.clone()
        stats = stopper.end_of_epoch(epoch)
        if stopper.stopped:
            break
    assert epoch == 7 and stopper.without_gain == 3  # epochs 5, 6, 7 set no new best
    assert set(stats) == {"score", "score_se"} and stats["score_se"] > 0
    assert stopper.best_epoch == 4
    stopper.restore_best()
    assert torch.equal(net.weight, weights[4])
    # requiring a gain of one paired standard error (~0.003 here) ends the run at epoch 6
    strict = EarlyStopping(_scripted(means), {}, patience=3, min_gain_se=1.0)
    for epoch in range(len(means)):
        strict.end_of_epoch(epoch)
        if strict.stopped:
            break
    assert epoch == 6 and strict.best_epoch == 3


def test_min_epochs_and_slow_steady_gains_keep_training():
    # gains of 0.1 paired standard errors per epoch are still new bests
    se = 0.01 * np.sqrt(2) / np.sqrt(M)
    means = [0.5 - 0.1 * se * k for k in range(12)]
    stopper = EarlyStopping(_scripted(means), {}, patience=2, min_epochs=0)
    for epoch in range(12):
        stopper.end_of_epoch(epoch)
        assert not stopper.stopped, epoch
    assert stopper.best_epoch == 11
    flat = EarlyStopping(_scripted([0.5 + 0.001 * k for k in range(8)]), {}, patience=2,
                         min_epochs=6)
    stops = []
    for epoch in range(8):
        flat.end_of_epoch(epoch)
        stops.append(flat.stopped)
    assert stops == [False] * 5 + [True] * 3  # no new best after epoch 0, but min 6


def test_bad_arguments_and_scores_are_refused():
    with pytest.raises(ValueError, match="patience must be a positive integer"):
        EarlyStopping(lambda: np.zeros(3), {}, patience=0)
    with pytest.raises(ValueError, match="min_epochs must be >= 0"):
        EarlyStopping(lambda: np.zeros(3), {}, min_epochs=-1)
    with pytest.raises(ValueError, match="min_gain_se must be >= 0"):
        EarlyStopping(lambda: np.zeros(3), {}, min_gain_se=-1.0)
    with pytest.raises(ValueError, match="finite scores of at least 2"):
        EarlyStopping(lambda: np.array([0.1, np.nan]), {}).end_of_epoch(0)


def _fit(monitor_means, *, checkpoint=None, resume=False, stop_at=None):
    X = torch.randn(24, 3, generator=torch.Generator().manual_seed(0))
    y = X.sum(1, keepdim=True)
    with seeded(0):
        net = torch.nn.Linear(3, 1)
        optimizer = torch.optim.Adam(net.parameters(), lr=0.05)

        def step(step, index):
            loss = (net(X[index]) - y[index]).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return {"loss": float(loss.detach())}

        def callback(done, stats):
            if done == stop_at:
                raise KeyboardInterrupt

        monitor = EarlyStopping(_scripted(monitor_means), {"net": net}, patience=2,
                                name="held")
        result = train([Phase(10, step)], data=(X, y), batch_size=8, seed=0,
                       modules={"net": net}, optimizer=optimizer, checkpoint=checkpoint,
                       checkpoint_every=2, resume=resume, callback=callback, monitor=monitor)
    monitor.restore_best()
    return net, result, monitor


def test_the_loop_stops_early_records_scores_and_resumes_to_the_same_stop(tmp_path):
    means = [0.5, 0.4, 0.41, 0.42, 0.43, 0.3, 0.3, 0.3, 0.3, 0.3]
    net, result, monitor = _fit(means)
    history = result.history
    assert len(history) == 4 * 3  # 3 steps per epoch; stopped after epoch 3 (index)
    assert history["held"].notna().tolist() == [False, False, True] * 4
    assert monitor.best_epoch == 1
    path = tmp_path / "loop.pt"
    with pytest.raises(KeyboardInterrupt):
        _fit(means, checkpoint=path, stop_at=7)  # after the checkpoint at step 6
    # the scripted evaluate restarts from call 0: skip the two calls made before step 6
    resumed_means = means[2:]
    net2, result2, monitor2 = _fit(resumed_means, checkpoint=path, resume=True)
    assert len(result2.history) == 12 and result2.resumed_at == 6
    assert monitor2.best_epoch == 1 and torch.equal(net2.weight, net.weight)
    assert np.allclose(result2.history["held"].dropna(), history["held"].dropna())
