"""c2pa-rs's data-hashed signing, which c2pa-python 0.38 ships in its library but does not wrap.

Text has no container c2pa-rs can embed into, so mintloom embeds the manifest itself
(:mod:`mintloom.provenance.text_wrapper`) and asks c2pa-rs only to sign a manifest whose
``c2pa.hash.data`` it computed: ``c2pa_builder_data_hashed_placeholder`` sizes the manifest store,
``c2pa_builder_sign_data_hashed_embeddable`` signs it with the caller's data hash (the store has the
placeholder's size). Both are public entry points of the c2pa C API; only the ctypes glue is ours.
"""

from __future__ import annotations

import ctypes
import json
from typing import Any

import c2pa
from c2pa import c2pa as _native

_lib: Any = _native._lib
_BYTES = ctypes.POINTER(ctypes.c_ubyte)
_lib.c2pa_builder_data_hashed_placeholder.argtypes = [
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_char_p,
    ctypes.POINTER(_BYTES),
]
_lib.c2pa_builder_data_hashed_placeholder.restype = ctypes.c_int64
_lib.c2pa_builder_sign_data_hashed_embeddable.argtypes = [
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_void_p,
    ctypes.POINTER(_BYTES),
]
_lib.c2pa_builder_sign_data_hashed_embeddable.restype = ctypes.c_int64
_FORMAT = b"application/c2pa"  # a bare JUMBF manifest store, not preformatted for a container


def _negative(result: int) -> bool:
    return result < 0


def _take(ptr: Any, size: int) -> bytes:
    """Copy and free the bytes c2pa returned; a negative size is c2pa's error."""
    if size < 0:
        _native._check_ffi_operation_result(size, "C2PA data-hashed signing failed: {}", check=_negative)
    try:
        return ctypes.string_at(ptr, size)
    finally:
        _lib.c2pa_free(ptr)


def placeholder_size(builder: c2pa.Builder, signer: c2pa.Signer) -> int:
    """Size of the signed manifest store (adds the placeholder ``c2pa.hash.data`` to ``builder``)."""
    ptr = _BYTES()
    with builder._exclusive_native_call():
        size = _lib.c2pa_builder_data_hashed_placeholder(
            builder._handle, signer.reserve_size(), _FORMAT, ctypes.byref(ptr)
        )
    return len(_take(ptr, size))


def sign(
    builder: c2pa.Builder, signer: c2pa.Signer, alg: str, digest: bytes, exclusion: tuple[int, int]
) -> bytes:
    """The manifest store signed with the hard binding ``digest`` (over the asset minus ``exclusion``)."""
    start, length = exclusion
    data_hash = {
        "exclusions": [{"start": start, "length": length}],
        "name": "jumbf manifest",
        "alg": alg,
        "hash": list(digest),
        "pad": [],
    }
    ptr = _BYTES()
    with builder._exclusive_native_call(), signer._native_call():
        size = _lib.c2pa_builder_sign_data_hashed_embeddable(
            builder._handle, signer._handle, json.dumps(data_hash).encode(), _FORMAT, None, ctypes.byref(ptr)
        )
    return _take(ptr, size)
