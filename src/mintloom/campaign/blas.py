"""One BLAS thread per worker process (the local pool's and Ray's): the executor decides how many
cores work, not each worker's OpenBLAS."""

from __future__ import annotations

import ctypes
import os

_BLAS_THREAD_SETTERS = (
    "scipy_openblas_set_num_threads64_",  # numpy's OpenBLAS (64-bit ints)
    "scipy_openblas_set_num_threads",  # scipy's
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)


def single_threaded_blas() -> int:
    """A worker is one core's work: its BLAS (the fingerprints' matrix products) runs on one
    thread. Forked from a parent whose OpenBLAS started a thread per core, two workers on two
    cores each woke a second BLAS thread that spun against the other worker (the two-worker pass
    spent 15% more CPU per image than one worker). Sets the OpenBLAS libraries loaded in this
    process (read from ``/proc/self/maps``; none elsewhere) and the environment for any loaded
    later; returns how many libraries it set."""
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = sorted(
                {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
            )
    except OSError:
        return 0
    done = 0
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        setter = next((getattr(lib, n) for n in _BLAS_THREAD_SETTERS if hasattr(lib, n)), None)
        if setter is not None:
            setter(ctypes.c_int(1))
            done += 1
    return done


_set_here: list[int] = []


def single_threaded_blas_once() -> None:
    """:func:`single_threaded_blas` the first time a process calls it (a Ray worker runs many tasks)."""
    if not _set_here:
        _set_here.append(single_threaded_blas())
