"""Reading Terraform files for pins: the file I/O around the pure finder."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from runlayer_tf.errors import ParseError, PinError
from runlayer_tf.pins._config import PinConfig
from runlayer_tf.pins._files import iter_terraform_files, read_bytes
from runlayer_tf.pins._finder import TerraformParseError, find_pins
from runlayer_tf.pins._model import Pin
from runlayer_tf.pins._prescan import may_hold_pins

__all__ = ["FileScan", "all_pins", "find_pins_in_file", "pins_in", "scan_file", "scan_paths"]


@attrs.frozen
class FileScan:
    """The pins of one file, or why it could not be scanned (parse or read error)."""

    file: str
    pins: tuple[Pin, ...] = ()
    error: ParseError | None = None


def all_pins(scans: Iterable[FileScan]) -> list[Pin]:
    """The pins of every scan, in scan order."""
    return [pin for scan in scans for pin in scan.pins]


def find_pins_in_file(
    path: str | Path, *, config: PinConfig | None = None, prescan: bool = True
) -> list[Pin]:
    """Read ``path`` and return its pins; with ``prescan``, skip parsing files that hold none.

    Raises :class:`ParseError` for a file that does not parse and
    :class:`PinError` for one that cannot be read.
    """
    data = read_bytes(Path(path))
    if prescan and not may_hold_pins(data, config):
        return []
    return find_pins(data, file=str(path), config=config)


def scan_file(
    path: str | Path, *, config: PinConfig | None = None, prescan: bool = True
) -> FileScan:
    """Read and scan one file, parsing it only when :func:`may_hold_pins` says it may hold one.

    Parse and read errors are returned in :attr:`FileScan.error`, not raised.
    """
    file = str(path)
    try:
        pins = find_pins_in_file(path, config=config, prescan=prescan)
    except ParseError as err:  # before PinError: ParseError is a PinError
        return FileScan(file, error=err)
    except PinError as err:  # the file cannot be read
        return FileScan(
            file, error=TerraformParseError(file, 0, 0, str(err).removeprefix(f"{file}: "))
        )
    return FileScan(file, tuple(pins))


def scan_paths(paths: Sequence[str | Path], *, config: PinConfig | None = None) -> list[FileScan]:
    """:func:`scan_file` for every Terraform file named by ``paths`` (directories recurse)."""
    return [scan_file(path, config=config) for path in iter_terraform_files(paths)]


def pins_in(paths: Sequence[str | Path], *, config: PinConfig | None = None) -> list[Pin]:
    """All pins under ``paths``; raises the first file's :class:`ParseError` (parse or read)."""
    scans = scan_paths(paths, config=config)
    for scan in scans:
        if scan.error is not None:
            raise scan.error
    return all_pins(scans)
