"""The file edge of pins: discovering Terraform files, reading, atomic writes."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
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


def iter_terraform_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named on the command line, and Terraform files under named directories.

    Directories recurse in sorted order and skip ``.terraform/`` (and VCS
    directories); a named file is used whatever its name.  Raises
    :class:`UsageError` for a path that does not exist.
    """
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                for name in sorted(files):
                    if is_terraform_file(name):
                        found = Path(root, name)
                        if found not in seen:
                            seen.add(found)
                            yield found
        elif path.exists():
            if path not in seen:
                seen.add(path)
                yield path
        else:
            raise UsageError(f"{path}: no such file or directory")


def read_bytes(path: Path) -> bytes:
    """The file's bytes; raises :class:`PinError` naming the file when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise PinError(f"{path}: cannot read: {err.strerror or err}") from err


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
    atomic_write(path, new)
    return True
