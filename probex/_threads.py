"""Small linear algebra without intra-op thread fan-out.

torch runs each operation on its pool of intra-op threads (2 on a 2-core machine). For the
d x d algebra of a surrogate posterior (d up to a few hundred) the fan-out costs far more
than the work, and on a busy machine a 15 x 15 Cholesky measured 966 us with 2 threads
against 36 us with 1 (a 1000 x 30 Gram matrix: 2,647 us against 247 us). Blocks of such
algebra run inside :func:`single_intra_op_thread`, which sets torch's intra-op threads to
1 for as long as any thread is inside such a block and restores the caller's setting when
the last one leaves. The setting is process-wide in torch, so the bookkeeping is too: a
counter under a lock (module-level state, because the state it manages is). Results are
bit-identical with any thread setting (tested). An explainer runs its whole work in such
a block, and its black-box queries inside :func:`caller_intra_op_threads`, which gives
the model back the caller's thread count for the duration of the call.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import torch

__all__ = ["single_intra_op_thread", "caller_intra_op_threads"]

_LOCK = threading.Lock()
_STATE = {"depth": 0, "saved": None}


@contextmanager
def single_intra_op_thread():
    """Run the block with torch's intra-op threads set to 1 (process-wide, re-entrant)."""
    with _LOCK:
        if _STATE["depth"] == 0:
            _STATE["saved"] = torch.get_num_threads()
            if _STATE["saved"] != 1:
                torch.set_num_threads(1)
        _STATE["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["depth"] -= 1
            if _STATE["depth"] == 0 and _STATE["saved"] not in (None, 1):
                torch.set_num_threads(_STATE["saved"])


@contextmanager
def caller_intra_op_threads():
    """Inside a :func:`single_intra_op_thread` block, run this block (a model call) with
    the caller's thread setting again; elsewhere, change nothing."""
    with _LOCK:
        saved = _STATE["saved"] if _STATE["depth"] > 0 else None
        if saved not in (None, 1):
            torch.set_num_threads(saved)
    try:
        yield
    finally:
        if saved not in (None, 1):
            with _LOCK:
                if _STATE["depth"] > 0:
                    torch.set_num_threads(1)
