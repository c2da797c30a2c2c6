"""Keep freed host memory in the process while training on a CPU (glibc's allocator settings).

glibc serves large allocations with ``mmap`` and gives them back on ``free``; its heap is trimmed
when a large free block sits at the top. A training step allocates and frees the same activation
buffers every step, so each step page-faults them in afresh (element-wise kernels writing fresh
pages run several times slower). PyTorch's CPU performance guide swaps in jemalloc or tcmalloc by
``LD_PRELOAD`` for this; ``mallopt`` does the same job from inside the process without a
dependency: no ``mmap`` for allocations and no trimming, so the buffers are reused. The peak RSS
stays about the same (the step's working set is allocated either way); memory is not handed back to
the OS between steps. No library offers this switch, hence the few lines here. Measured in
``eval/bench/profile.md``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

logger = logging.getLogger(__name__)

# mallopt parameters, from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
_INT_MAX = 2**31 - 1  # mallopt takes a C int


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to serve every allocation from its heap and never trim it. True if applied.

    A no-op (False) off Linux or without glibc (musl, macOS, Windows), and on CUDA the host side is
    small anyway. Process-wide and one-way: call it in a process that trains.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    applied = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, _INT_MAX) == 1
    logger.debug("glibc malloc: no mmap, trim threshold %d: %s", _INT_MAX, "applied" if applied else "refused")
    return applied
