"""Small linear algebra without intra-op thread fan-out.

torch runs each operation on its pool of intra-op threads (2 on a 2-core machine). For the
d x d algebra of a surrogate posterior (d up to a few hundred) the fan-out costs far more
than the work, and on a busy machine a 15 x 15 Cholesky measured 966 us with 2 threads
against 36 us with 1 (a 1000 x 30 Gram matrix: 2,647 us against 247 us). Blocks of such
algebra run inside :func:`single_intra_op_thread`, which sets torch's intra-op threads to
1 for as long as any thread is inside such a block and restores the caller's setting when
the last one leaves. The setting is process-wide in torch, so the bookkeeping is too: a
counter under a lock (module-level state, because the state it manages is). Results are
bit-identical with any thread setting (tested); black-box queries run outside these
blocks, with all threads.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import torch

__all__ = ["single_intra_op_thread"]

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
