"""Dataset ingestion: a folder streamed into file entries, opt-outs honoured, a manifest built.

The folder is walked one directory at a time (``os.scandir``, names sorted, symlinked folders not
followed); every regular file is read a chunk at a time for its CID, so memory holds one chunk
plus one small entry per distinct file (CID, size, licence, contributor: about 200 bytes), never
a file's content. Files with an opt-out (:mod:`mintloom.provenance.optout`) or on the opt-out
list, duplicates of an earlier CID, FIFOs, devices, sockets, symlinks inside the folder and
unreadable files are excluded and reported with their reason. A symlink pointing out of the
folder refuses the whole ingest (:class:`~mintloom.errors.SymlinkEscapeError`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mintloom.errors import DatasetInputError, ProvenanceError, SymlinkEscapeError
from mintloom.provenance.dataset import LEAF_ENCODING, DatasetTree, FileEntry, normalise_address
from mintloom.provenance.optout import MARKER_OVERLAP, Markers, OptOut, markers, opt_out_of
from mintloom.store.cid import CHUNK_SIZE, cid_for_stream, raw_cid
from mintloom.store.files import MiB, read_regular
from mintloom.types import CID

MAX_LIST_BYTES = 64 * MiB
MAX_CREDENTIAL_SCAN_BYTES = 256 * MiB
"""A file hinting at an opt-out is read whole for c2pa/XMP up to this size; beyond, it is excluded."""
MANIFEST_FORMAT = "mintloom-dataset/1"


@dataclass(frozen=True)
class Contributor:
    address: str
    weight: int = 1


@dataclass(frozen=True)
class Excluded:
    path: str
    reason: str
    """opt-out reason, ``opt-out-list``, ``duplicate``, ``not-regular``, ``symlink`` or ``unreadable``"""
    detail: str


@dataclass(frozen=True)
class IngestOptions:
    license: str
    curator: str
    """default contributor of files the contributors CSV does not list"""
    contributors: dict[str, Contributor] = field(default_factory=dict)
    opt_out: frozenset[str] = frozenset()
    """CIDs and folder-relative paths"""


@dataclass
class Ingested:
    entries: list[FileEntry] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)
    weights: dict[str, int] = field(default_factory=dict)
    """contributor address -> royalty weight (sum over their included files)"""
    paths: dict[str, str] = field(default_factory=dict)
    """CID -> the folder-relative path it was first seen at"""


def load_contributors(path: Path) -> dict[str, Contributor]:
    """``path,contributor[,weight]`` rows (header optional) keyed by folder-relative path."""
    text = _text(path, "contributors CSV")
    out: dict[str, Contributor] = {}
    for n, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or row[0].strip().startswith("#") or (n == 1 and row[0].strip().lower() == "path"):
            continue
        try:
            weight = int(row[2]) if len(row) > 2 and row[2].strip() else 1
            if weight < 0 or len(row) < 2:
                raise ValueError("need path,contributor[,weight>=0]")
            out[_rel(row[0].strip())] = Contributor(normalise_address(row[1].strip()), weight)
        except (ValueError, ProvenanceError) as exc:
            raise DatasetInputError(f"{path}:{n}: bad contributor row {row!r}: {exc}") from exc
    return out


def load_opt_out(path: Path) -> frozenset[str]:
    """One CID or folder-relative path per line; ``#`` starts a comment."""
    lines = (ln.split("#", 1)[0].strip() for ln in _text(path, "opt-out list").splitlines())
    return frozenset(_rel(ln) if "/" in ln or "." in ln else ln for ln in lines if ln)


def _text(path: Path, what: str) -> str:
    try:
        return read_regular(path, limit=MAX_LIST_BYTES, what=what, error=DatasetInputError).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetInputError(f"{what} {path} is not UTF-8 text") from exc


def _rel(p: str) -> str:
    """A folder-relative path as the walk names it (``./a/b`` is ``a/b``)."""
    return Path(p).as_posix()


def ingest(root: Path, options: IngestOptions) -> Ingested:
    """Every file under ``root`` as an entry or an exclusion (see the module docstring)."""
    if not root.is_dir() or root.is_symlink():
        raise DatasetInputError(f"{root} is not a folder", hint="give the dataset's folder")
    out = Ingested()
    base = root.resolve()
    for rel, entry in walk(base):
        _ingest_one(base, rel, entry, options, out)
    return out


def walk(root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(relative posix path, entry) of every non-directory under ``root``, depth first, sorted;
    one directory listing in memory at a time per level."""
    stack: list[tuple[str, Path]] = [("", root)]
    while stack:
        prefix, folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                listing = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise DatasetInputError(f"cannot list {folder}: {exc.strerror or exc}") from exc
        subfolders = [e for e in listing if e.is_dir(follow_symlinks=False)]
        for e in listing:
            if not e.is_dir(follow_symlinks=False):
                yield prefix + e.name, e
        stack.extend((prefix + e.name + "/", Path(e.path)) for e in reversed(subfolders))


def _ingest_one(base: Path, rel: str, e: os.DirEntry[str], options: IngestOptions, out: Ingested) -> None:
    try:
        skip = _not_a_file(base, rel, e)
        if skip is None:
            cid, size, hit = hash_file(e.path)
            skip = _decide(rel, cid, size, hit, options=options, out=out)
    except OSError as exc:  # vanished, unreadable, or swapped for a non-regular file
        skip = Excluded(rel, "unreadable", exc.strerror or str(exc))
    if skip is not None:
        out.excluded.append(skip)


def _not_a_file(base: Path, rel: str, e: os.DirEntry[str]) -> Excluded | None:
    if e.is_symlink():
        target = Path(os.path.realpath(e.path))
        if not target.is_relative_to(base):
            raise SymlinkEscapeError(
                f"{rel} is a symlink to {target}, outside the dataset folder {base}",
                hint="copy the file into the folder, or remove the link",
            )
        return Excluded(rel, "symlink", f"link to {target.relative_to(base).as_posix()}: ingested there")
    if e.is_file(follow_symlinks=False):  # d_type: no syscall; the opened fd is checked again
        return None
    mode = e.stat(follow_symlinks=False).st_mode
    if not stat.S_ISREG(mode):
        kind = "FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "device"
        return Excluded(rel, "not-regular", f"a {kind}, not a regular file")
    return None


def _decide(
    rel: str, cid: CID, size: int, hit: OptOut | None, *, options: IngestOptions, out: Ingested
) -> Excluded | None:
    if hit is not None:
        return Excluded(rel, hit.reason, hit.detail)
    if cid in options.opt_out or rel in options.opt_out:
        return Excluded(rel, "opt-out-list", f"{cid} is on the opt-out list")
    if cid in out.paths:
        return Excluded(rel, "duplicate", f"same CID {cid} as {out.paths[cid]}: kept once")
    who = options.contributors.get(rel, Contributor(normalise_address(options.curator)))
    out.paths[cid] = rel
    out.entries.append(FileEntry(cid, size, options.license, who.address))
    out.weights[who.address] = out.weights.get(who.address, 0) + who.weight
    return None


def hash_file(path: Path | str) -> tuple[CID, int, OptOut | None]:
    """The file's CID and size, read a chunk at a time, and the opt-out it carries if any."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} changed into a non-regular file while being ingested")
        first = os.read(fd, CHUNK_SIZE + 1)
        if len(first) <= CHUNK_SIZE:  # the common case: one raw block
            found = markers(first)
            return raw_cid(first), len(first), _opt_out(Path(path), first, found) if found.any else None
        with os.fdopen(os.dup(fd), "rb", buffering=0) as f:
            return _hash_large(Path(path), f, first)
    finally:
        os.close(fd)


def _hash_large(path: Path, f: io.RawIOBase, first: bytes) -> tuple[CID, int, OptOut | None]:
    size, found, tail = 0, Markers(), b""

    def pieces() -> Iterator[bytes]:
        nonlocal size, found, tail
        chunk: bytes | None = first
        while chunk:
            size += len(chunk)
            found = found | markers(tail + chunk)
            tail = chunk[-MARKER_OVERLAP:]
            yield chunk
            chunk = f.read(CHUNK_SIZE)

    cid = cid_for_stream(pieces())
    if not found.any:
        return cid, size, None
    if size > MAX_CREDENTIAL_SCAN_BYTES:
        return cid, size, OptOut("unreadable", f"{size} bytes: too large to read its opt-out signals")
    f.seek(0)  # the same open file, not the path again: no swap between hashing and scanning
    return cid, size, _opt_out(path, f.read(size) or b"", found)


def _opt_out(path: Path, data: bytes, found: Markers) -> OptOut | None:
    return opt_out_of(data, path.suffix, found) if found.any else None


def manifest_json(name: str, license: str, curator: str, datasheet: CID, done: Ingested) -> bytes:
    """The dataset manifest (canonical JSON, stored content-addressed): the terms, the root, every
    entry (sorted like the leaves) with its path, every exclusion with its reason."""
    tree = DatasetTree(done.entries)
    entries = sorted(done.entries, key=FileEntry.leaf_data)
    doc = {
        "format": MANIFEST_FORMAT,
        "leaf_encoding": LEAF_ENCODING,
        "name": name,
        "license": license,
        "curator": normalise_address(curator),
        "datasheet": datasheet,
        "root": tree.root().hex(),
        "count": tree.size,
        "entries": [[e.cid, e.size, e.license, e.contributor, done.paths[e.cid]] for e in entries],
        "excluded": [[x.path, x.reason, x.detail] for x in done.excluded],
        "contributors": dict(sorted(done.weights.items())),
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entries_of(manifest: bytes) -> list[FileEntry]:
    """The entries of a stored manifest (as :func:`manifest_json` wrote them)."""
    try:
        doc = json.loads(manifest)
        return [FileEntry(CID(c), int(s), str(lic), str(who)) for c, s, lic, who, _p in doc["entries"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetInputError(f"not a mintloom dataset manifest: {exc}") from exc


DATASHEET_SECTIONS = (
    ("Motivation", "Why was the dataset created, by whom, and for which tasks?"),
    ("Composition", "What do the files represent? Any sensitive or personal content?"),
    ("Collection process", "How, when and by whom were the files collected or shot?"),
    ("Consent", "Did the people depicted and the contributors consent to AI training? Where is it recorded?"),
    ("Licences", "Which licence covers the files; any third-party material with other terms?"),
    ("Known limits", "Biases, gaps, errors, uses the dataset is not fit for."),
)


def datasheet_template(name: str, license: str, done: Ingested) -> str:
    """A Gebru-style datasheet ("Datasheets for Datasets") for the curator to complete: the facts
    ingestion knows are filled in, every question is left as a TODO."""
    reasons: dict[str, int] = {}
    for x in done.excluded:
        reasons[x.reason] = reasons.get(x.reason, 0) + 1
    facts = [
        f"- files: {len(done.entries)} distinct (by CID); contributors: {len(done.weights)}",
        f"- licence: {license}",
        "- excluded: " + (", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) or "none"),
        f"- file entries committed by an RFC 9162 Merkle root ({LEAF_ENCODING})",
    ]
    body = [f"# Datasheet: {name}", "", "## Facts recorded at ingestion", "", *facts, ""]
    for title, question in DATASHEET_SECTIONS:
        body += [f"## {title}", "", f"TODO (curator): {question}", ""]
    return "\n".join(body)
