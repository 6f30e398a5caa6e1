"""Encrypted PKCS#8 private keys with a memory-hard KDF, and a reader of their KDF parameters.

cryptography's ``BestAvailableEncryption`` writes PBES2 with PBKDF2-HMAC-SHA256 at 2,048
iterations, and (as of 50.x) offers no ``kdf_rounds`` for PKCS#8. So the EncryptedPrivateKeyInfo
(RFC 5958) is built here: PBES2 (RFC 8018) with scrypt (RFC 7914, N=2^17, r=8, p=1: the
parameters of the workspace's ``eth.json`` family) and AES-256-CBC; cryptography's own loader
reads it back. :func:`kdf_of` parses any encrypted PKCS#8 PEM so weak files can be found and
re-encrypted (see :meth:`~mintloom.provenance.keys.KeyStore`).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from mintloom.errors import KeyStoreError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
MIN_PBKDF2_ITERATIONS = 600_000
"""OWASP's floor for PBKDF2-HMAC-SHA256; a file below it (or below our scrypt cost) is migrated."""

OID_PBES2 = "1.2.840.113549.1.5.13"
OID_PBKDF2 = "1.2.840.113549.1.5.12"
OID_SCRYPT = "1.3.6.1.4.1.11591.4.11"
OID_AES256_CBC = "2.16.840.1.101.3.4.1.42"
_STRONG_PRFS = frozenset({"1.2.840.113549.2.9", "1.2.840.113549.2.11"})  # hmacWithSHA256, SHA512


@dataclass(frozen=True)
class KdfParams:
    """The key-derivation settings of an encrypted PKCS#8 file."""

    kdf: Literal["scrypt", "pbkdf2", "other"]
    cost: int
    """scrypt's N, or PBKDF2's iteration count (0 for other schemes)."""
    block_size: int = 0
    parallelism: int = 0
    prf: str | None = None

    @property
    def strong(self) -> bool:
        if self.kdf == "scrypt":
            return self.cost >= SCRYPT_N and self.block_size >= SCRYPT_R
        if self.kdf == "pbkdf2":
            return self.cost >= MIN_PBKDF2_ITERATIONS and self.prf in _STRONG_PRFS
        return False


# --- DER, the few types EncryptedPrivateKeyInfo needs ----------------------------------------------
def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _int(n: int) -> bytes:
    return _tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(x) for x in dotted.split("."))
    out = bytearray([40 * first + second])
    for arc in rest:
        chunk, left = [arc & 0x7F], arc >> 7
        while left:
            chunk.append(0x80 | (left & 0x7F))
            left >>= 7
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


def _read(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """(tag, body, next position) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, data[pos : pos + length], pos + length


def _items(body: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(body):
        tag, value, pos = _read(body, pos)
        out.append((tag, value))
    return out


def _oid_str(body: bytes) -> str:
    arcs, value = [], 0
    for byte in body[1:]:
        value = value << 7 | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(str(a) for a in (body[0] // 40, body[0] % 40, *arcs))


# --- writing and reading ---------------------------------------------------------------------------
def encrypt_pkcs8(key: PrivateKeyTypes, password: bytes) -> bytes:
    """``key`` as an ``ENCRYPTED PRIVATE KEY`` PEM: PBES2, scrypt(N=2^17, r=8, p=1), AES-256-CBC."""
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt, iv = os.urandom(16), os.urandom(16)
    derived = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(password)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(derived), modes.CBC(iv)).encryptor()
    sealed = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    kdf = _seq(
        _oid(OID_SCRYPT), _seq(_tlv(0x04, salt), _int(SCRYPT_N), _int(SCRYPT_R), _int(SCRYPT_P), _int(32))
    )
    scheme = _seq(_oid(OID_AES256_CBC), _tlv(0x04, iv))
    der = _seq(_seq(_oid(OID_PBES2), _seq(kdf, scheme)), _tlv(0x04, sealed))
    b64 = base64.encodebytes(der).replace(b"\n", b"")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return (
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        + b"\n".join(lines)
        + b"\n-----END ENCRYPTED PRIVATE KEY-----\n"
    )


def kdf_of(pem: bytes) -> KdfParams:
    """The KDF parameters of an encrypted PKCS#8 PEM (:class:`KeyStoreError` if it is not one)."""
    try:
        body = pem.split(b"-----BEGIN ENCRYPTED PRIVATE KEY-----", 1)[1].split(b"-----END", 1)[0]
        der = base64.b64decode(b"".join(body.split()), validate=True)
        _, info, _ = _read(der)
        (_, alg), _sealed = _items(info)
        (_, scheme_oid), *params = _items(alg)
        if _oid_str(scheme_oid) != OID_PBES2:
            return KdfParams("other", 0)  # PKCS#5 v1 / PKCS#12 PBE: legacy, always weak
        (_, kdf), _enc = _items(params[0][1])
        (_, kdf_oid), (_, kdf_params) = _items(kdf)
        fields = _items(kdf_params)
        ints = [int.from_bytes(v, "big") for t, v in fields if t == 0x02]
        if _oid_str(kdf_oid) == OID_SCRYPT:
            return KdfParams("scrypt", ints[0], block_size=ints[1], parallelism=ints[2])
        if _oid_str(kdf_oid) == OID_PBKDF2:
            prfs = [_oid_str(_items(v)[0][1]) for t, v in fields if t == 0x30]
            return KdfParams("pbkdf2", ints[0], prf=prfs[0] if prfs else "1.2.840.113549.2.7")
        return KdfParams("other", 0)
    except (IndexError, ValueError) as exc:
        raise KeyStoreError("not an encrypted PKCS#8 private key (damaged key file?)") from exc
