"""Dataset file entries, their canonical leaf encoding, the dataset Merkle root and its proofs.

A dataset commits to its files by an RFC 9162 Merkle tree (:mod:`mintloom.provenance.merkle`)
over one leaf per distinct file. The leaf data (``mintloom-dataset-leaf/1``) is, byte by byte::

    0x01                      version
    CIDv1 (36 bytes)          the file's CID, binary (the same CID an asset gets)
    size (8 bytes, BE)        the file's length in bytes
    licence length (2, BE)    then the licence (SPDX id or URI), UTF-8, 1..256 bytes
    contributor (20 bytes)    the contributor's Ethereum address

Leaves are sorted by their leaf data (hence by CID: a CID appears once), so the root depends on
the set of files only, never on paths or walk order. Paths are not committed (a renamed file
keeps its membership). A proof names its leaf's fields; the verifier recomputes the file's CID
and the leaf, so a proof for other bytes or other terms fails.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from mintloom.errors import DatasetProofError, LogError, ProvenanceError
from mintloom.provenance.merkle import MerkleTree, hash_leaf, root_from_inclusion_proof
from mintloom.store.cid import cid_bytes, parse_cid
from mintloom.types import CID

LEAF_VERSION = 1
LEAF_ENCODING = "mintloom-dataset-leaf/1"
PROOF_FORMAT = "mintloom-dataset-proof/1"
MAX_LICENSE_BYTES = 256
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True, order=True)
class FileEntry:
    """One distinct file of a dataset: what its leaf commits to."""

    cid: CID
    size: int
    license: str
    contributor: str
    """lower-case 0x address"""

    def leaf_data(self) -> bytes:
        return encode_leaf(self.cid, self.size, self.license, self.contributor)


def normalise_address(value: str) -> str:
    """A contributor address, lower-case; anything else is refused."""
    if not _ADDRESS.match(value):
        raise ProvenanceError(f"contributor {value!r} is not an Ethereum address (0x + 40 hex digits)")
    return value.lower()


def encode_leaf(cid: str, size: int, license: str, contributor: str) -> bytes:
    """The canonical leaf data of a file entry (see the module docstring)."""
    lic = license.encode("utf-8")
    if not 1 <= len(lic) <= MAX_LICENSE_BYTES:
        raise ProvenanceError(f"a licence must be 1..{MAX_LICENSE_BYTES} bytes of UTF-8, got {len(lic)}")
    if not 0 <= size < 1 << 64:
        raise ProvenanceError(f"file size {size} out of range")
    address = bytes.fromhex(normalise_address(contributor)[2:])
    return bytes([LEAF_VERSION]) + cid_bytes(cid) + struct.pack(">QH", size, len(lic)) + lic + address


def decode_leaf(data: bytes) -> FileEntry:
    """The entry a leaf encodes; refuses anything :func:`encode_leaf` would not produce."""
    if len(data) < 1 + 36 + 10 + 1 + 20 or data[0] != LEAF_VERSION:
        raise DatasetProofError("not a mintloom-dataset-leaf/1 leaf")
    size, n = struct.unpack(">QH", data[37:47])
    if len(data) != 47 + n + 20:
        raise DatasetProofError("leaf length does not match its licence length")
    try:
        entry = FileEntry(
            parse_cid("b" + _b32(data[1:37])),
            size,
            data[47 : 47 + n].decode("utf-8"),
            "0x" + data[-20:].hex(),
        )
        canonical = entry.leaf_data() == data
    except (ProvenanceError, UnicodeDecodeError) as exc:
        raise DatasetProofError(f"malformed leaf: {exc}") from exc
    if not canonical:
        raise DatasetProofError("leaf is not in canonical form")
    return entry


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").lower().rstrip("=")


class DatasetTree:
    """The Merkle tree over a dataset's entries, sorted canonically."""

    def __init__(self, entries: Sequence[FileEntry]) -> None:
        self.leaves = sorted(e.leaf_data() for e in entries)
        self._index = {ld[1:37]: i for i, ld in enumerate(self.leaves)}
        if len(self._index) != len(self.leaves):
            raise ProvenanceError("a dataset holds each CID once: deduplicate entries first")
        self._tree = MerkleTree()
        self._tree.extend(self.leaves)

    @property
    def size(self) -> int:
        return len(self.leaves)

    def root(self) -> bytes:
        return self._tree.root()

    def index_of(self, cid: str) -> int | None:
        return self._index.get(cid_bytes(cid))

    def proof(self, cid: str, *, dataset: str, registry: RegistryRef) -> DatasetProof:
        index = self.index_of(cid)
        if index is None:
            raise DatasetProofError(f"{cid} is not in dataset {dataset!r}")
        path = self._tree.inclusion_proof(index)
        entry = decode_leaf(self.leaves[index])
        return DatasetProof(dataset, entry, index, self.size, self.root(), tuple(path), registry)


@dataclass(frozen=True)
class RegistryRef:
    """Where a dataset's root is registered: chain, LineageRegistry address, entry and curator."""

    chain_id: int
    registry: str
    dataset_id: int
    curator: str


@dataclass(frozen=True)
class DatasetProof:
    """A file's inclusion proof in a dataset, as exported (JSON) and checked by ``verify``."""

    dataset: str
    entry: FileEntry
    index: int
    size: int
    root: bytes
    path: tuple[bytes, ...]
    registry: RegistryRef

    def computed_root(self) -> bytes:
        """The root the path leads to from this entry's leaf (raises if malformed)."""
        try:
            return root_from_inclusion_proof(
                self.index, self.size, hash_leaf(self.entry.leaf_data()), self.path
            )
        except LogError as exc:
            raise DatasetProofError(f"malformed dataset proof: {exc.message}") from exc

    def to_json(self) -> str:
        e, r = self.entry, self.registry
        doc = {
            "format": PROOF_FORMAT,
            "leaf_encoding": LEAF_ENCODING,
            "dataset": self.dataset,
            "entry": {"cid": e.cid, "size": e.size, "license": e.license, "contributor": e.contributor},
            "leaf_index": self.index,
            "tree_size": self.size,
            "root": self.root.hex(),
            "path": [p.hex() for p in self.path],
            "registry": {
                "chain_id": r.chain_id,
                "address": r.registry,
                "dataset_id": r.dataset_id,
                "curator": r.curator,
            },
        }
        return json.dumps(doc, indent=2)


def proof_from_json(text: str | bytes) -> DatasetProof:
    """Parse an exported proof; refuses any other shape by name (:class:`DatasetProofError`)."""
    try:
        doc = json.loads(text)
        if doc["format"] != PROOF_FORMAT:
            raise DatasetProofError(f"not a dataset proof (format {doc['format']!r})")
        e, r = doc["entry"], doc["registry"]
        entry = FileEntry(parse_cid(str(e["cid"])), _int(e["size"]), str(e["license"]),
                          normalise_address(str(e["contributor"])))  # fmt: skip
        entry.leaf_data()  # the licence and size are in range
        ref = RegistryRef(_int(r["chain_id"]), str(r["address"]), _int(r["dataset_id"]), str(r["curator"]))
        proof = DatasetProof(
            str(doc["dataset"]), entry, _int(doc["leaf_index"]), _int(doc["tree_size"]),
            _hash(doc["root"]), tuple(_hash(p) for p in doc["path"]), ref,
        )  # fmt: skip
    except (ValueError, KeyError, TypeError, ProvenanceError) as exc:
        if isinstance(exc, DatasetProofError):
            raise
        raise DatasetProofError(f"malformed dataset proof: {exc}") from exc
    return proof


def _int(v: object) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise DatasetProofError(f"expected a non-negative integer, got {v!r}")
    return v


def _hash(v: object) -> bytes:
    if not isinstance(v, str) or not re.fullmatch(r"[0-9a-f]{64}", v):
        raise DatasetProofError(f"expected a 32-byte hex hash, got {v!r}")
    return bytes.fromhex(v)
