"""The file edge of pins: discovering Terraform files, reading, atomic writes."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from runlayer_tf.errors import PinError, UsageError

__all__ = [
    "TERRAFORM_SUFFIXES",
    "atomic_write",
    "is_terraform_file",
    "iter_terraform_files",
    "read_bytes",
    "write_if_changed",
]

TERRAFORM_SUFFIXES = (".tf", ".tfvars", ".tfvars.json")
_SKIP_DIRS = frozenset({".terraform", ".git", ".hg", ".svn", ".terragrunt-cache"})


def is_terraform_file(path: str | Path) -> bool:
    """True for ``*.tf``, ``*.tfvars`` and ``*.tfvars.json``."""
    return str(path).endswith(TERRAFORM_SUFFIXES)


def _note(text: str) -> None:
    print(f"runlayer-tf: note: {text}", file=sys.stderr)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def iter_terraform_files(
    paths: Iterable[str | Path], *, note: Callable[[str], None] = _note
) -> Iterator[Path]:
    """Files named on the command line, and Terraform files under named directories.

    Directories recurse in sorted order, follow symlinked directories (each
    real directory once, so a link loop ends and the result is the same however
    a path is named) and skip ``.terraform/`` (and VCS directories); a named
    file is used whatever its name.  Only regular files (or symlinks to them)
    are yielded, each real file once: a FIFO, device or socket is skipped with
    a one-line ``note`` and never opened.  Raises :class:`UsageError` for a
    path that does not exist.
    """
    seen: set[tuple[int, int]] = set()

    def regular(path: Path) -> bool:
        try:
            info = path.stat()  # follows a symlink, opens nothing
        except OSError as err:
            note(f"{path}: cannot read: {err.strerror or err}; skipped")
            return False
        if not stat.S_ISREG(info.st_mode):
            note(f"{path}: {_kind(info.st_mode)}, not a regular file; skipped")
            return False
        key = (info.st_dev, info.st_ino)
        if key in seen:
            return False
        seen.add(key)
        return True

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            walked: set[tuple[int, int]] = set()
            for root, dirs, files in os.walk(path, followlinks=True):
                info = os.stat(root)
                if (info.st_dev, info.st_ino) in walked:
                    dirs[:] = []  # a link back to a directory already walked
                    continue
                walked.add((info.st_dev, info.st_ino))
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                for name in sorted(files):
                    found = Path(root, name)
                    if is_terraform_file(name) and regular(found):
                        yield found
        elif path.exists():
            if regular(path):
                yield path
        else:
            raise UsageError(f"{path}: no such file or directory")


def read_bytes(path: Path) -> bytes:
    """The bytes of a regular file; raises :class:`PinError` naming the file otherwise.

    Opened non-blocking and checked with fstat, so a path swapped for a FIFO or
    device after discovery is refused, not read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise PinError(f"{path}: cannot read: {err.strerror or err}") from err
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise PinError(f"{path}: {_kind(mode)}, not a regular file; not read")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    except OSError as err:
        raise PinError(f"{path}: cannot read: {err.strerror or err}") from err
    finally:
        os.close(fd)


def atomic_write(path: str | Path, data: bytes) -> None:
    """Replace ``path``'s content by ``data`` so readers see the old or the new file, never a mix.

    Writes a temporary file in the same directory, fsyncs it, gives it the
    original file's mode, renames it over ``path`` and fsyncs the directory.
    Raises :class:`PinError` when any step fails (the original is untouched).
    """
    # A symlinked file (envs/prod.tfvars -> ../shared/common.tfvars) is
    # rewritten where it really lives; the link stays a link.
    target = Path(os.path.realpath(path))
    directory = target.parent
    owner: tuple[int, int] | None = None
    try:
        info = target.stat()
        mode = stat.S_IMODE(info.st_mode)
        owner = (info.st_uid, info.st_gid)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    except OSError as err:
        raise PinError(f"{target}: cannot stat: {err.strerror or err}") from err
    if owner is not None and (not mode & 0o222 or not os.access(target, os.W_OK)):
        # Renaming over it would succeed even so; a read-only file says "do not change me".
        raise PinError(f"{path}: is read-only (mode {mode:04o}); not rewriting it")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise PinError(f"{target}: cannot create a temporary file: {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if owner is not None and owner != (os.geteuid(), os.getegid()):
            with contextlib.suppress(OSError):  # only root (or a group member) may keep the owner
                os.chown(tmp, *owner)
        os.replace(tmp, target)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise PinError(f"{target}: cannot write: {err.strerror or err}") from err
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename already happened
    finally:
        os.close(fd)


def write_if_changed(path: Path, old: bytes, new: bytes) -> bool:
    """Atomically write ``new`` when it differs from ``old``; True when written.

    A file whose content would not change is left alone: bytes and mtime.
    """
    if new == old:
        return False
    with _locked(path) as current:
        if current != old:
            raise PinError(
                f"{path}: changed by another writer since it was read; not written (run again)"
            )
        atomic_write(path, new)
    return True


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[bytes]:
    """Hold an exclusive ``flock`` on the file ``path`` names now, yielding its content.

    Two writers of one file serialise here; each compares what it read earlier
    with what is there under the lock, so the second sees the first's rename
    (the lock is re-taken when the path moved to a new inode meanwhile).
    """
    import fcntl

    target = os.path.realpath(path)
    while True:
        try:
            fd = os.open(target, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            yield b""
            return
        except OSError as err:
            raise PinError(f"{path}: cannot read: {err.strerror or err}") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held, now = os.fstat(fd), _stat_or_none(target)
            if now is None or (held.st_dev, held.st_ino) != (now.st_dev, now.st_ino):
                continue  # replaced while we waited: lock the new file
            with os.fdopen(os.dup(fd), "rb") as handle:
                current = handle.read()
            yield current
            return
        finally:
            os.close(fd)


def _stat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None
