"""``--resume`` acts on the journalled values, not on whatever the var-file holds now.

Between an interrupted run and its resume someone may edit the var-file.  The
resume refuses a file that holds a third value (neither the run's previous
nor its target value: :func:`check_held_values`), and, before it goes on,
writes the journalled value back where the file holds the other one
(:func:`reassert`: only those variables, so a file that already holds it
keeps its bytes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from runlayer_tf.errors import UpdateError
from runlayer_tf.update._facts import Facts, PlannedChange
from runlayer_tf.update._spec import Use

__all__ = ["check_held_values", "reassert"]

ReadPin = Callable[[Path, Sequence[str]], Mapping[str, str]]
SetPin = Callable[[Path, Mapping[str, str]], Sequence[str]]


def _held(facts: Facts, read_pin: ReadPin) -> list[tuple[PlannedChange, str | None]]:
    """Each change of a ``set``-mode run with the value its var-file holds now (one read per file)."""
    if facts.mode != "set":
        return []
    by_file: dict[str, list[PlannedChange]] = {}
    for change in facts.changes:
        assert change.var_file is not None
        by_file.setdefault(change.var_file, []).append(change)
    held = []
    for var_file, changes in by_file.items():
        values = read_pin(Path(var_file), [c.name for c in changes])
        held += [(c, values.get(c.name)) for c in changes]
    return held


def check_held_values(facts: Facts, read_pin: ReadPin) -> None:
    """Raise UpdateError when a var-file holds neither the previous nor the target value."""
    for change, value in _held(facts, read_pin):
        if value in (change.previous, change.target):
            continue
        found = (
            f"holds {change.name}={value}"
            if value is not None
            else (f"no longer assigns {change.name}")
        )
        raise UpdateError(
            f"--resume refused: {change.var_file} {found}, neither the previous value "
            f"{change.previous} nor the target {change.target} of the interrupted run "
            f"{facts.run}; put one of them back and resume again"
        )


def reassert(facts: Facts, use: Use, read_pin: ReadPin, set_pin: SetPin) -> list[str]:
    """Write the ``use`` value of every change whose var-file holds the other one.

    Returns ``NAME=VALUE`` of each variable written (none when every file
    already holds its value: then nothing is written at all).
    """
    wrong: dict[str, dict[str, str]] = {}
    for change, value in _held(facts, read_pin):
        if value != change.value(use):
            assert change.var_file is not None
            wrong.setdefault(change.var_file, {})[change.name] = change.value(use)
    written = []
    for var_file, values in wrong.items():
        set_pin(Path(var_file), values)
        written += [f"{name}={value}" for name, value in values.items()]
    return written
