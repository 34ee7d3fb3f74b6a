"""Checkpoints for training loops: save every N steps, resume with identical results.

A resumed fit must end with exactly the parameters of an uninterrupted one, so a
checkpoint holds everything the loop's future depends on: the step counter, the state
dicts of the networks and of the optimizer, and the state of every random number
generator the loop draws from (torch's global CPU and CUDA generators, which Pyro uses,
and any explicit ``torch.Generator``). Files are written whole: to a temporary name in
the same directory, then renamed.

Typical use inside a ``fit`` method::

    checkpointer = Checkpointer(path, every=100)
    step = checkpointer.restore(modules={"selector": net}, optimizer=opt) if resume else 0
    while step < total:
        ...one optimisation step...
        step += 1
        if checkpointer.due(step):
            checkpointer.save(step, modules={"selector": net}, optimizer=opt)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

__all__ = ["Checkpointer", "rng_state", "set_rng_state", "save_checkpoint", "load_checkpoint"]

_FORMAT = "probex-checkpoint-1"


def rng_state(generator: torch.Generator | None = None) -> dict:
    """The state of torch's global generators (CPU, and CUDA when present) and of
    ``generator``, as tensors (safe for ``torch.load(weights_only=True)``)."""
    state = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["torch_cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def set_rng_state(state: dict, generator: torch.Generator | None = None) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch_cpu"].cpu())
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["torch_cuda"].cpu()))
    if generator is not None:
        if "generator" not in state:
            raise ValueError("the checkpoint holds no state for the explicit generator")
        generator.set_state(state["generator"].cpu())


def save_checkpoint(path, payload: dict) -> Path:
    """Write ``payload`` (tensors, numbers, strings, lists and dicts of them) atomically."""
    from probex._io import write_atomically

    payload = {"format": _FORMAT, **payload}
    return write_atomically(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors only; no pickled code)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for foreign or damaged files
        raise ValueError(f"{str(path)!r} is not a readable probex checkpoint: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(f"{str(path)!r} is not a probex checkpoint")
    return payload


class Checkpointer:
    """Saves a training loop's state every ``every`` steps and restores it.

    Args:
        path: checkpoint file (``None`` disables saving; :meth:`due` is then always False).
        every: steps between checkpoints (a positive integer).
    """

    def __init__(self, path=None, every: int = 100):
        if int(every) < 1:
            raise ValueError(f"checkpoint_every must be a positive integer, got {every!r}")
        self.path = None if path is None else Path(path)
        self.every = int(every)

    def check_writable(self) -> None:
        """Refuse, before any work is done, a path whose folder is missing or unwritable
        (or that names a folder): a ``ValueError`` naming the path. Probes by creating and
        removing a temporary file in the folder (permission bits alone mislead root)."""
        if self.path is None:
            return
        folder = self.path.parent
        if not folder.is_dir():
            raise ValueError(f"checkpoint={str(self.path)!r}: the folder {str(folder)!r} does "
                             "not exist; create it first")
        if self.path.is_dir():
            raise ValueError(f"checkpoint={str(self.path)!r} is a folder; give a file name")
        try:
            handle, probe = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".probe",
                                             dir=folder)
        except OSError as err:
            raise ValueError(f"checkpoint={str(self.path)!r}: the folder {str(folder)!r} is "
                             f"not writable ({err.strerror or err})") from err
        os.close(handle)
        os.remove(probe)

    def load(self) -> dict:
        """The whole checkpoint payload (see :func:`load_checkpoint`)."""
        if self.path is None:
            raise ValueError("resume needs a checkpoint path")
        return load_checkpoint(self.path)

    def due(self, step: int) -> bool:
        """Whether a checkpoint should be written after ``step`` completed steps."""
        return self.path is not None and step % self.every == 0

    def save(self, step: int, modules: dict[str, torch.nn.Module], optimizer=None,
             generator: torch.Generator | None = None, extra: dict | None = None) -> Path:
        """Write the step, module and optimizer states and RNG states."""
        if self.path is None:
            raise ValueError("this Checkpointer has no path")
        payload = {
            "step": int(step),
            "modules": {name: m.state_dict() for name, m in modules.items()},
            "optimizer": None if optimizer is None else optimizer.state_dict(),
            "rng": rng_state(generator),
            "extra": extra or {},
        }
        return save_checkpoint(self.path, payload)

    def restore(self, modules: dict[str, torch.nn.Module], optimizer=None,
                generator: torch.Generator | None = None, payload: dict | None = None
                ) -> tuple[int, dict]:
        """Load states into ``modules`` / ``optimizer`` / RNGs; returns (step, extra).
        ``payload``: one already read by :meth:`load` (default: read the file)."""
        payload = self.load() if payload is None else payload
        saved = payload["modules"]
        if set(saved) != set(modules):
            raise ValueError(f"the checkpoint holds modules {sorted(saved)}, expected "
                             f"{sorted(modules)}")
        for name, module in modules.items():
            module.load_state_dict(saved[name])
        if optimizer is not None:
            if payload["optimizer"] is None:
                raise ValueError("the checkpoint holds no optimizer state")
            optimizer.load_state_dict(payload["optimizer"])
        set_rng_state(payload["rng"], generator)
        return int(payload["step"]), dict(payload["extra"])
