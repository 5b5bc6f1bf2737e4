"""Resident memory of this process, and its peak since a chosen moment (Linux ``/proc``).

Peak RSS counts what tracemalloc cannot see: Pillow's image buffers are allocated outside
Python's allocator. Writing ``5`` to ``/proc/self/clear_refs`` resets the kernel's peak
(``VmHWM``), so a peak can be read for one step rather than for the process's whole life.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_bytes(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} is not in {_STATUS}")


def rss() -> int:
    """Resident bytes now."""
    return _status_bytes("VmRSS")


def reset_peak() -> None:
    """Start a new peak from the current resident size."""
    _CLEAR_REFS.write_text("5")


def peak() -> int:
    """The largest resident size since the last ``reset_peak`` (or the process start)."""
    return _status_bytes("VmHWM")


def trimmed_rss() -> int:
    """Resident bytes after glibc's ``malloc_trim(0)`` hands free heap pages back to the OS.

    The difference from ``rss()`` is memory freed by the program but kept by the C
    allocator for reuse; without glibc nothing is trimmed.
    """
    name = ctypes.util.find_library("c")
    if name:
        libc = ctypes.CDLL(name)
        if hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)
    return rss()
