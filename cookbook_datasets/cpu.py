"""What this CPU can do fast, and process settings that make training and scoring faster on it.

Both are measured levers (``benchmarks/training.py``): bf16 autocast runs 2 to 2.5x faster than
fp32 on CPUs with AVX512-BF16 or AMX and slower on CPUs without them, and glibc's default
allocator returns large tensors to the kernel after every step, which shows up as system time
(page faults on the next step's allocations).
"""

from __future__ import annotations

import contextlib

import ctypes
import ctypes.util
import logging
import os
import platform

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "bf16", "fp32")

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4
_INT_MAX = 2**31 - 1  # mallopt takes a C int

_allocator_tuned = False


def cpu_has_fast_bf16() -> bool:
    """True when the CPU has bf16 matrix instructions (AVX512-BF16 or AMX), which oneDNN uses."""
    import torch

    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if any(check is not None for check in checks):
        return any(check() for check in checks if check is not None)
    try:  # older torch: read the flags the kernel reports
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return False


def resolve_precision(precision: str, device: str) -> str:
    """``"bf16"`` or ``"fp32"`` for a requested precision on ``device`` ("auto" picks bf16 on GPUs
    that support it and on CPUs with fast bf16, fp32 elsewhere)."""
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)} (got {precision!r})")
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device == "cpu" and cpu_has_fast_bf16() else "fp32"


def tune_allocator() -> bool:
    """Keep freed memory in the process instead of handing it back to the kernel (glibc only).

    Without this, every training step maps its activation buffers afresh and the kernel zeroes the
    pages again: a third of the step went to system time on the 2-core development machine. Memory
    that a step frees is reused by the next one, so peak memory stays that of one step. Returns
    whether the setting was applied; ``COOKBOOK_TUNE_ALLOCATOR=0`` turns it off.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    if os.environ.get("COOKBOOK_TUNE_ALLOCATOR", "1") == "0" or platform.system() != "Linux":
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    ok = (mallopt(_M_MMAP_MAX, 0) == 1 and mallopt(_M_TRIM_THRESHOLD, _INT_MAX) == 1
          and mallopt(_M_TOP_PAD, 1 << 28) == 1)
    _allocator_tuned = ok
    if ok:
        logger.info("allocator: large blocks kept in the heap between steps (COOKBOOK_TUNE_ALLOCATOR=0 to disable)")
    return ok


def release_memory() -> bool:
    """Hand the memory the process has freed back to the kernel (glibc's ``malloc_trim``).

    With :func:`tune_allocator` in effect the heap never shrinks, so a process that trains and
    then does other work of other shapes (embedding a pool, scoring) would hold the peak of all of
    them at once; this is called when a training run ends. Returns whether anything was released.
    """
    if platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False


CPU_LOCK = "/tmp/cookbook_cpu.lock"


@contextlib.contextmanager
def cpu_lock(path: str = CPU_LOCK):
    """Hold the machine-wide CPU lock (``flock``): long jobs sharing a small machine take turns
    instead of slowing each other down and distorting each other's timings."""
    import fcntl

    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
