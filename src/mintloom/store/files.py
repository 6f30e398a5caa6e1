"""Hostile-input guards for files: one bounded reader, safe path names, output containment.

Every file a user names (spec, audience, logo, a file to verify) is read by :func:`read_regular`:
only a regular file (never a device such as ``/dev/zero``, a FIFO or a folder, also not through a
symlink), opened non-blocking so a FIFO cannot hang, and never more than its kind's cap.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import secrets
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mintloom.errors import MintloomError, OutputPathError

MiB = 1024 * 1024
MAX_SPEC_BYTES = 1 * MiB
MAX_AUDIENCE_BYTES = 32 * MiB
MAX_IMAGE_BYTES = 16 * MiB
"""Brand images (the logo)."""
MAX_LOGO_PIXELS = 16_000_000
MAX_VERIFY_BYTES = 256 * MiB
"""A file given to ``mintloom verify`` (the API has its own, smaller, upload cap)."""
MAX_SIDECAR_BYTES = 16 * MiB
MAX_SMALL_TEXT_BYTES = 1 * MiB
"""Receipts, trust-anchor PEM files and ``deployments.json``."""
MAX_DATASHEET_BYTES = 64 * MiB
"""A dataset's datasheet (read whole: hashed and content-addressed)."""
MAX_WEIGHTS_BYTES = 1024 * 1024 * MiB
"""A model's weights file (1 TiB; hashed a chunk at a time, never held in memory)."""

SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""What a name that becomes a path component may be: no separators, no leading dot (so never
``.`` or ``..``), at most 64 characters."""
_SAFE_NAME_RE = re.compile(SAFE_NAME)


def is_safe_name(name: str) -> bool:
    """True if ``name`` can be used as one path component as it is."""
    return _SAFE_NAME_RE.fullmatch(name) is not None


def read_regular(path: Path, *, limit: int, what: str, error: type[MintloomError]) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them; ``error`` otherwise.

    The type and size are checked on the opened descriptor, so a symlink or a swap between check
    and read cannot smuggle in a device; reading stops at ``limit + 1`` bytes whatever fstat said.
    """
    fd = _open_regular(path, limit=limit, what=what, error=error)
    try:
        data = _read_at_most(fd, limit + 1)
    except OSError as exc:
        raise error(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if len(data) > limit:
        raise error(f"{what}: {path} grew over the limit of {limit} bytes while being read")
    return data


def sha256_regular(path: Path, *, limit: int, what: str, error: type[MintloomError]) -> bytes:
    """The sha-256 digest of the regular file ``path`` (checked as :func:`read_regular` does),
    hashed a chunk at a time so a file of any size up to ``limit`` costs no memory."""
    fd = _open_regular(path, limit=limit, what=what, error=error)
    digest, total = hashlib.sha256(), 0
    try:
        while chunk := os.read(fd, MiB):
            total += len(chunk)
            if total > limit:
                raise error(f"{what}: {path} grew over the limit of {limit} bytes while being read")
            digest.update(chunk)
    except OSError as exc:
        raise error(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    return digest.digest()


def _open_regular(path: Path, *, limit: int, what: str, error: type[MintloomError]) -> int:
    """A descriptor on ``path`` if it is a regular file of at most ``limit`` bytes (opened
    non-blocking, so a FIFO cannot hang the open); ``error`` otherwise. The caller closes it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise error(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(
                f"{what}: {path} is not a regular file (a device, FIFO or folder)",
                hint="give the path of an ordinary file",
            )
        if st.st_size > limit:
            raise error(f"{what}: {path} is {st.st_size} bytes, over the limit of {limit}")
    except OSError as exc:
        os.close(fd)
        raise error(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
    except MintloomError:
        os.close(fd)
        raise
    return fd


def _read_at_most(fd: int, n: int) -> bytes:
    chunks: list[bytes] = []
    left = n
    while left > 0:
        chunk = os.read(fd, min(left, MiB))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def contained(root: Path, target: Path) -> Path:
    """``target`` unchanged, if the folder it is written into resolves inside ``root`` (symlinks
    on the way followed) and its own name is a plain one; :class:`OutputPathError` otherwise:
    defence in depth behind name validation. ``target`` itself may be a symlink: it is replaced by
    the atomic rename (:func:`write_atomic`), never written through."""
    base = root.resolve()
    folder = target.parent.resolve()
    if not folder.is_relative_to(base) or target.name in ("", ".", ".."):
        raise OutputPathError(
            f"refusing to write {target}: its folder resolves to {folder}, outside the output folder {base}",
            hint="remove the symlink in the output folder, or rename the asset",
        )
    return target


def write_atomic(target: Path, data: bytes, *, before_rename: Callable[[], None] | None = None) -> None:
    """Write ``target`` as a whole or not at all: a fresh temp file beside it (never opened
    through a symlink planted there), fsynced, then renamed over ``target`` (replacing, not
    following, a symlink at that name)."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if before_rename is not None:
        before_rename()
    tmp.replace(target)


def write_atomic_many(
    items: Sequence[tuple[Path, bytes]], *, before_rename: Callable[[], None] | None = None
) -> None:
    """:func:`write_atomic` for many files with one flush to disk: every temp file is written,
    then their file systems are synced once, then each is renamed over its target. One fsync per
    file cost ~10 ms on a busy ext4, the slowest step of a run at 20k assets; a target still
    never holds a partial file."""
    tmps: list[tuple[Path, Path]] = []
    renamed = 0
    try:
        for target, data in items:
            # unique (many writers), naming its writer (a killed writer's leftovers are found)
            tmp = target.with_name(f"{target.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
            tmps.append((tmp, target))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        sync_files([tmp for tmp, _ in tmps])
        for tmp, target in tmps:
            if before_rename is not None:
                before_rename()
            tmp.replace(target)
            renamed += 1
    except BaseException:
        for tmp, _ in tmps[renamed:]:
            tmp.unlink(missing_ok=True)
        raise


def remove_dead_writers_tmp(targets: Sequence[Path]) -> None:
    """Remove the temp files :func:`write_atomic_many` left next to ``targets`` when their writer
    died (SIGKILL between writing and renaming): a live writer's are kept."""
    wanted: dict[Path, set[str]] = {}
    for target in targets:
        wanted.setdefault(target.parent, set()).add(target.name)
    for folder, names in wanted.items():
        try:
            entries = [e for e in os.scandir(folder) if e.name.endswith(".tmp")]
        except FileNotFoundError:
            continue
        for entry in entries:
            name, _, writer = entry.name.removesuffix(".tmp").rpartition(".")
            pid = writer.split("-", 1)[0]
            if name in names and pid.isdigit() and not pid_alive(int(pid)):
                Path(entry.path).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a writer whose leftovers must be kept)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def sync_files(paths: Sequence[Path]) -> None:
    """Make the written ``paths`` durable: one ``syncfs`` per file system they are on (Linux),
    else one ``fsync`` per file."""
    syncfs = _syncfs()
    done: set[int] = set()
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            dev = os.fstat(fd).st_dev
            if syncfs is None:
                os.fsync(fd)
            elif dev not in done and syncfs(fd) == 0:
                done.add(dev)
            elif dev not in done:
                os.fsync(fd)  # syncfs refused (errno): this file at least
        finally:
            os.close(fd)


def _syncfs() -> Callable[[int], int] | None:
    """libc's ``syncfs(fd)`` (Linux), None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    return fn
