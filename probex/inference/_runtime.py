"""Seeding, thread safety and progress bars shared by the inference runners.

Pyro keeps process-wide state: its effect-handler stack (``pyro.poutine.runtime``), its
parameter store, and torch's global random number generator, which Pyro samples from.
Two threads running Pyro code at once interleave on that stack ("duplicate plate",
"Multiple sample sites named ...") and on the generator (silently different numbers, a
caller's RNG left moved). So every block that touches them runs inside :func:`seeded`,
which holds one process-wide re-entrant lock (:data:`PYRO_LOCK`, the one piece of
module-level state in probex, because the state it guards is itself process-wide), seeds
torch's generator, and restores the caller's generator afterwards. Closed-form paths
(exact posteriors, SmoothGrad, RISE, EAGLE's design) take no lock and run in parallel.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager

import torch
from tqdm.auto import tqdm

__all__ = ["seeded", "progress_bar", "PYRO_LOCK"]

#: Serialises Pyro and torch-global-RNG work across threads (see the module docstring).
PYRO_LOCK = threading.RLock()


@contextmanager
def seeded(seed: int, device: torch.device | str | None = None):
    """Run a block alone among probex's Pyro work, with torch's RNG seeded, restoring
    the caller's RNG state afterwards."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    devices = [device.index or 0] if device.type == "cuda" else []
    with PYRO_LOCK, torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed) % 2**63)
        yield


def progress_bar(total: int, desc: str, enabled: bool | None):
    """A tqdm bar; ``enabled=None`` shows it only when stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True)
