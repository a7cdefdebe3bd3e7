"""Plan and write pin changes across files: the shell around the pure rewrite."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from runlayer_tf.pins._config import PinConfig
from runlayer_tf.pins._files import read_bytes, write_if_changed
from runlayer_tf.pins._finder import pins_in
from runlayer_tf.pins._model import Edit
from runlayer_tf.pins._rewrite import DigestLookup, PinValue, apply_edits, plan_edits

__all__ = ["FileChange", "apply_changes", "changes_for", "plan_changes", "set_in_files"]


@attrs.frozen
class FileChange:
    """One file's planned content change."""

    path: Path
    old: bytes
    new: bytes
    edits: tuple[Edit, ...]

    def diff(self) -> str:
        """A unified diff of the change (``a/`` and ``b/`` prefixed paths)."""
        old = self.old.decode("utf-8", errors="replace").splitlines(keepends=True)
        new = self.new.decode("utf-8", errors="replace").splitlines(keepends=True)
        name = self.path.as_posix().lstrip("/")
        lines = difflib.unified_diff(old, new, f"a/{name}", f"b/{name}")
        return "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            for line in lines
        )


def changes_for(edits: Iterable[Edit]) -> list[FileChange]:
    """Read each edited file and apply its edits (in the given order); files left unchanged are dropped.

    Files come in sorted order.  Raises whatever :func:`read_bytes` and
    :func:`apply_edits` raise.  Nothing is written.
    """
    by_file: dict[str, list[Edit]] = {}
    for edit in edits:
        by_file.setdefault(edit.file, []).append(edit)
    changes = []
    for file, file_edits in sorted(by_file.items()):
        path = Path(file)
        old = read_bytes(path)
        new = apply_edits(old, file_edits)
        if new != old:
            changes.append(FileChange(path, old, new, tuple(file_edits)))
    return changes


def plan_changes(
    paths: Sequence[str | Path],
    assignments: Mapping[str, PinValue | str] | Sequence[tuple[str, PinValue | str]],
    *,
    config: PinConfig | None = None,
    digest_for: DigestLookup | None = None,
    allow_major: bool = False,
) -> list[FileChange]:
    """Find pins under ``paths`` and plan ``assignments``; files that would not change are left out.

    Raises :class:`ParseError` for a file that does not parse, and whatever
    :func:`plan_edits` raises.  Nothing is written.
    """
    config = config or PinConfig()
    pins = pins_in(paths, config=config)
    edits = plan_edits(
        pins, assignments, follows=config.follows, digest_for=digest_for, allow_major=allow_major
    )
    return changes_for(edits)


def apply_changes(changes: Sequence[FileChange]) -> list[Path]:
    """Write each change atomically (unchanged content is never written); the paths written."""
    return [
        change.path for change in changes if write_if_changed(change.path, change.old, change.new)
    ]


def set_in_files(
    paths: Sequence[str | Path],
    assignments: Mapping[str, PinValue | str] | Sequence[tuple[str, PinValue | str]],
    *,
    config: PinConfig | None = None,
    digest_for: DigestLookup | None = None,
    allow_major: bool = False,
    dry_run: bool = False,
) -> list[FileChange]:
    """:func:`plan_changes`, then write them unless ``dry_run``; returns the changes."""
    changes = plan_changes(
        paths, assignments, config=config, digest_for=digest_for, allow_major=allow_major
    )
    if not dry_run:
        apply_changes(changes)
    return changes
