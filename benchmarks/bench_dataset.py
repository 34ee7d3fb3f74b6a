"""Explaining a data set: probex in-process against a 2-worker LocalCluster, lime in a
for-loop and shap's KernelExplainer, plus peak memory per worker and FEX's forward passes.

Rows: 2,000 rows drawn from breast_cancer (train and test rows, with 1% noise, seed 0);
model: the demo random forest (100 trees, one thread); BayesLIME exact with n_samples =
1000 queries per row; the cluster is ``probex.engine.local_client(2)`` (2 processes, one
thread each), warmed before timing. In-process and cluster runs are interleaved
(``--repeats`` each) and reported as min / median / max rows per minute; the ratio is of
the medians (goal on 2 cores: cluster >= 1.7x in-process). The machine's load average is
printed alongside, since other processes share its cores. lime (LimeTabularExplainer,
1000 samples) and shap (KernelExplainer, the training mean as background, nsamples =
1000: 1000 queries per row) run on the first ``--peer-rows`` rows, with probex
BayesLIME/BayesSHAP on the same rows.

    python benchmarks/bench_dataset.py [--quick] [--repeats 3] [--rows 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_MEMORY_PROBE = """
import json, sys, psutil, torch
sys.path.insert(0, {root!r})
import numpy as np, probex as px
from probex.datasets import fit_demo_model
from probex.engine.chunk import ChunkCall, explain_chunk
model, data = fit_demo_model("breast_cancer")
bb = px.BlackBox(model, target=1, feature_names=data.feature_names)
ex = px.BayesLIME(bb, background=data.X_train, seed=0)
X = np.load({rows!r})[:{size}]
call = ChunkCall({n}, None, {{}}, 30, tuple(data.feature_names), "compact")
explain_chunk(ex, call, np.arange(2), X[:2])  # warm: lazy imports, first allocations
# ru_maxrss would report fitting the forest; poll the resident size during the chunk
import threading
process, samples, done = psutil.Process(), [], threading.Event()
def poll():
    while not done.is_set():
        samples.append(process.memory_info().rss)
        done.wait(0.002)
base = process.memory_info().rss
poller = threading.Thread(target=poll)
poller.start()
out = explain_chunk(ex, call, np.arange(len(X)), X)
done.set()
poller.join()
peak = max(samples + [process.memory_info().rss])
print(json.dumps({{"base": base, "peak": peak, "file": len(out.payload)}}))
"""


def rows_per_minute(n_rows: int, seconds: float) -> float:
    return 60.0 * n_rows / seconds


def spread(values) -> str:
    return (f"{min(values):8.0f} {statistics.median(values):8.0f} {max(values):8.0f}")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} cores"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="400 rows, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--chunk-size", type=int, default=100)
    parser.add_argument("--peer-rows", type=int, default=100)
    args = parser.parse_args(argv)
    n_rows = 400 if args.quick else args.rows
    repeats = 1 if args.quick else args.repeats
    n = args.n_samples

    import torch

    import probex as px
    from probex.datasets import fit_demo_model

    torch.set_num_threads(1)
    model, data = fit_demo_model("breast_cancer")
    pool = np.vstack([data.X_train, data.X_test])
    rng = np.random.default_rng(0)
    X = pool[rng.integers(0, len(pool), n_rows)] + 0.01 * rng.normal(size=(n_rows, 30))
    bb = px.BlackBox(model, target=1, feature_names=data.feature_names)
    explainer = px.BayesLIME(bb, background=data.X_train, seed=0)
    work = Path(tempfile.mkdtemp(prefix="probex-bench-"))
    print(f"{n_rows} rows, BayesLIME exact, n_samples={n}, chunk_size={args.chunk_size}, "
          f"random forest (100 trees); {load()}")

    started = time.perf_counter()
    client = px.engine.local_client(2)
    print(f"LocalCluster(2 workers x 1 thread) started in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()  # warm the workers: imports, the scattered explainer
    px.explain_dataset(explainer, X[:4], out=work / "warm", chunk_size=1, n_samples=n,
                       client=client, progress=False)
    import cloudpickle

    print(f"workers warmed in {time.perf_counter() - started:.1f} s; the explainer sent to "
          f"each worker once: {len(cloudpickle.dumps(explainer)) / 2**20:.1f} MiB")
    task_overhead = _task_overhead(client)

    def run(engine: str, index: int):
        out = work / f"{engine}-{index}"
        start = time.perf_counter()
        e = px.explain_dataset(explainer, X, out=out, chunk_size=args.chunk_size,
                               n_samples=n, client=client if engine == "cluster" else None,
                               progress=False)
        seconds = time.perf_counter() - start
        chunks = [c["seconds"] for c in e.manifest["chunks"]]
        return seconds, chunks, e

    timing = {"in-process": [], "cluster": []}
    chunk_cost = {"in-process": [], "cluster": []}
    means = {}
    for index in range(repeats):  # interleaved
        for engine in ("in-process", "cluster"):
            seconds, chunks, e = run(engine, index)
            timing[engine].append(seconds)
            chunk_cost[engine].extend(chunks)
            means.setdefault(engine, e.mean)
            print(f"  run {index} {engine:10s} {seconds:7.1f} s "
                  f"{rows_per_minute(n_rows, seconds):8.0f} rows/min; {load()}")
    same = np.array_equal(means["in-process"], means["cluster"])
    print(f"\n{'rows/min':22s} {'min':>8} {'median':>8} {'max':>8}")
    rates = {k: [rows_per_minute(n_rows, s) for s in v] for k, v in timing.items()}
    for engine, values in rates.items():
        print(f"{engine:22s} {spread(values)}")
    ratio = statistics.median(rates["cluster"]) / statistics.median(rates["in-process"])
    print(f"cluster / in-process (medians) {ratio:.2f}x (goal >= 1.7 on 2 cores: "
          f"{'met' if ratio >= 1.7 else 'NOT met'}); bit-identical attributions: {same}")
    n_chunks = -(-n_rows // args.chunk_size)
    serial = statistics.median(timing["in-process"])
    compute = sum(chunk_cost["in-process"]) / repeats
    client_per_chunk = (serial - compute) / n_chunks
    per_chunk = statistics.median(chunk_cost["cluster"])
    print(f"per chunk of {args.chunk_size} rows: {statistics.median(chunk_cost['in-process']):.2f} "
          f"s in-process, {per_chunk:.2f} s on a worker (median); client bookkeeping "
          f"(file + manifest) {1e3 * client_per_chunk:.0f} ms per chunk; scheduler round trip "
          f"{1e3 * task_overhead:.1f} ms per task")

    memory = {size: _peak_memory(work, X, size, n) for size in (100, 1000)}
    for size, m in memory.items():
        print(f"peak memory, chunk of {size:4d} rows: {m['peak'] / 2**20:7.0f} MiB resident, "
              f"{(m['peak'] - m['base']) / 2**20:6.0f} MiB above the worker's baseline; "
              f"chunk file {m['file'] / 2**10:.0f} KiB")

    peers = _peers(explainer, model, data, X[:args.peer_rows], n, work)
    fex = _fex(bb, data, X, work)
    client.close()
    shutil.rmtree(work, ignore_errors=True)
    return {"rates": rates, "ratio": ratio, "same_bits": same, "memory": memory,
            "per_chunk": per_chunk, "client_per_chunk": client_per_chunk,
            "task_overhead": task_overhead, "peers": peers, "fex": fex}


def _task_overhead(client, n_tasks: int = 200) -> float:
    """Seconds per trivial task, submitted and gathered in one batch (scheduler cost)."""
    client.gather(client.map(abs, range(-20, 0), pure=False))  # warm
    start = time.perf_counter()
    client.gather(client.map(abs, range(-n_tasks, 0), pure=False))
    return (time.perf_counter() - start) / n_tasks


def _peak_memory(work: Path, X, size: int, n: int) -> dict:
    rows = work / "rows.npy"
    np.save(rows, X)
    script = _MEMORY_PROBE.format(root=str(Path(__file__).resolve().parents[1]),
                                  rows=str(rows), size=size, n=n)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _peers(explainer, model, data, rows, n: int, work: Path) -> dict:
    """rows/min of lime (for-loop), shap KernelExplainer and probex on the same rows."""
    import shap
    from lime.lime_tabular import LimeTabularExplainer

    import probex as px

    lime = LimeTabularExplainer(data.X_train, mode="classification",
                                feature_names=data.feature_names, discretize_continuous=False,
                                sample_around_instance=True, random_state=0)
    kernel = shap.KernelExplainer(lambda Z: model.predict_proba(Z)[:, 1],
                                  data.X_train.mean(0, keepdims=True))
    bayesshap = px.BayesSHAP(explainer.bb, background=data.X_train, seed=0)
    runs = {
        "lime (for-loop)": lambda: [lime.explain_instance(
            x, model.predict_proba, labels=(1,), num_features=30, num_samples=n)
            for x in rows],
        "shap KernelExplainer": lambda: kernel.shap_values(rows, nsamples=n, l1_reg=False,
                                                           silent=True),
        "probex BayesLIME": lambda: px.explain_dataset(
            explainer, rows, out=work / "peer-lime", n_samples=n, resume=False,
            progress=False),
        "probex BayesSHAP": lambda: px.explain_dataset(
            bayesshap, rows, out=work / "peer-shap", n_samples=n, resume=False,
            progress=False),
    }
    rates = {}
    print(f"\nsame {len(rows)} rows, {n} queries per row, in-process (rows/min):")
    for name, fn in runs.items():
        start = time.perf_counter()
        fn()
        rates[name] = rows_per_minute(len(rows), time.perf_counter() - start)
        print(f"  {name:22s} {rates[name]:8.0f}")
    print(f"  probex BayesLIME / lime {rates['probex BayesLIME'] / rates['lime (for-loop)']:.2f}x"
          f", probex BayesSHAP / shap "
          f"{rates['probex BayesSHAP'] / rates['shap KernelExplainer']:.2f}x; {load()}")
    return rates


def _fex(bb, data, X, work: Path) -> dict:
    """FEX: fitted once, then each chunk by forward passes without queries."""
    import probex as px
    from probex.engine.chunk import AMORTIZED_BLOCK

    start = time.perf_counter()
    fex = px.FEX(bb, 2, seed=0, hidden=(64,)).fit(data.X_train, epochs=3, batch_size=64)
    fit = time.perf_counter() - start
    before = bb.n_queries
    start = time.perf_counter()
    e = px.explain_dataset(fex, X, out=work / "fex", chunk_size=1024, progress=False)
    seconds = time.perf_counter() - start
    passes = len(np.unique(np.arange(len(X)) // AMORTIZED_BLOCK))
    rate = rows_per_minute(len(X), seconds)
    print(f"\nFEX: fitted in {fit:.1f} s ({fex.n_queries_fit_} queries); {len(X)} rows in "
          f"{seconds:.1f} s = {rate:.0f} rows/min, {passes} forward passes of "
          f"{AMORTIZED_BLOCK} rows, {bb.n_queries - before} black-box queries "
          f"(explanation n_queries={e.n_queries})")
    return {"rate": rate, "fit_seconds": fit, "queries": bb.n_queries - before}


if __name__ == "__main__":
    main()
