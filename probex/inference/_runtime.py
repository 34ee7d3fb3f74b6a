"""Seeding and progress bars shared by the inference runners (no global state kept)."""

from __future__ import annotations

import sys
from contextlib import contextmanager

import torch
from tqdm.auto import tqdm

__all__ = ["seeded", "progress_bar"]


@contextmanager
def seeded(seed: int, device: torch.device | str | None = None):
    """Run a block with torch's RNG seeded, restoring the caller's RNG state afterwards."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


def progress_bar(total: int, desc: str, enabled: bool | None):
    """A tqdm bar; ``enabled=None`` shows it only when stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True)
