"""Reading a file from outside without being led astray: one place for the rules.

:func:`read_regular` is how runlayer-tf reads files it did not write and whose
paths come from outside (image layout blobs and their ``index.json`` and
``oci-layout``, signature blobs in a layout, verify-key files): the path is
opened without following a symlink (unless the caller allows it, for a path the
user typed), without blocking (a FIFO cannot hang the read), must be a regular
file (a device cannot feed an endless read), and at most ``limit + 1`` bytes are
read, so the caller can tell "too big" without holding a big file.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["NotRegularFile", "SymlinkRefused", "read_regular"]


class SymlinkRefused(OSError):
    """The path is a symlink and symlinks are not followed here."""


class NotRegularFile(OSError):
    """The path is a FIFO, a device, a directory or a socket."""


def read_regular(
    path: str | os.PathLike[str], limit: int, *, follow_symlinks: bool = False
) -> bytes:
    """At most ``limit + 1`` bytes of the regular file ``path``.

    Raises FileNotFoundError when it is absent, :class:`SymlinkRefused`,
    :class:`NotRegularFile`, or OSError for any other reason it cannot be read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as err:
        if err.errno == errno.ELOOP and not follow_symlinks:
            raise SymlinkRefused(err.errno, err.strerror, str(path)) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(f"{os.fspath(path)} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit + 1)
    finally:
        os.close(fd)
