"""The preflight's checks of the versions, and what the window gate would say."""

from __future__ import annotations

from datetime import datetime

from runlayer_tf.errors import ConfigError, TagError, UpdateError
from runlayer_tf.tags import Selector, SelectorKind
from runlayer_tf.update._facts import PlannedChange
from runlayer_tf.update._spec import UpdateDeps, UpdateSpec, tag_of
from runlayer_tf.update._window import check_window

__all__ = ["check_version", "window_preview"]


def check_version(spec: UpdateSpec, deps: UpdateDeps, change: PlannedChange) -> None:
    """Refuse a target tag that does not exist, or a major jump without ``allow_major``."""
    target_tag, previous_tag = tag_of(change.target), tag_of(change.previous)
    if change.repository is None:
        raise ConfigError(
            f"cannot check that {target_tag} exists: {change.name} is a bare tag; "
            f"pass --repository {change.name}=REPO"
        )
    if not deps.version_exists(change.repository, target_tag):
        raise UpdateError(f"{change.repository}:{target_tag} does not exist")
    if spec.allow_major:
        return
    try:
        major = deps.crosses_major(previous_tag, target_tag)
    except TagError as err:
        raise UpdateError(_not_comparable(change, previous_tag, target_tag, err)) from err
    if major:
        raise UpdateError(
            f"{change.name} {previous_tag} -> {target_tag} crosses a major version; pass --allow-major"
        )


_SELECTORS = {
    SelectorKind.PARTIAL: "a partial version",
    SelectorKind.CONSTRAINT: "a version constraint",
    SelectorKind.LATEST: "the latest tag",
}


def _selector(tag: str) -> str | None:
    """What kind of selector ``tag`` is (``a partial version``...), None for a version or a plain tag."""
    try:
        return _SELECTORS.get(Selector.parse(tag).kind)
    except TagError:
        return None


def _not_comparable(change: PlannedChange, previous: str, target: str, err: TagError) -> str:
    """Why ``previous -> target`` cannot be checked for a major jump: selectors first, else the parse error."""
    if kind := _selector(previous):
        return (
            f"{change.name} holds the selector {previous} ({kind}), not a version, so there is no "
            f"current version to compare {target} with; pin {change.name} to the version it runs "
            "(a full MAJOR.MINOR.PATCH tag) first, or pass --allow-major to skip the comparison"
        )
    if kind := _selector(target):
        return (
            f"{change.name}: {target} is a selector ({kind}), not a version; "
            "give the exact version to deploy (a full MAJOR.MINOR.PATCH tag)"
        )
    return f"cannot compare {previous} and {target} ({err}); pass --allow-major to go ahead"


def window_preview(spec: UpdateSpec, now: datetime) -> str:
    """What the window gate would decide now, without refusing (a dry run only reports)."""
    if spec.window is None:
        return "no maintenance window"
    try:
        return "window gate: " + check_window(spec.window, now, force=spec.force_window)
    except UpdateError as err:
        return f"window gate would refuse: {err}"
