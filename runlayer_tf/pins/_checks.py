"""``pins check`` rules: pure functions from scanned files to violations.

Rule ids are stable; each is documented in the README (section "Pins").

=======  ===========================================================
RTF000   the file does not parse (or cannot be read)
RTF001   malformed tag or digest
RTF002   ``latest`` or a moving selector (``v1``, ``v1.2``) in a production file
RTF003   an image pin's tag disagrees with the version variable it follows
RTF004   (``--online``) a pinned ``tag@digest`` whose tag now points at another digest
RTF005   (``--online``) a pinned tag that does not exist in its repository
=======  ===========================================================

A rule is a :class:`Rule` holding a :data:`Check`: a function of a
:class:`CheckContext`.  Online rules are built by the caller with a resolver
(``Rule(id="RTF004", ..., check=make_check(resolver), online=True)``) and passed
to :func:`run_checks` alongside :data:`OFFLINE_RULES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import attrs

from runlayer_tf.errors import TagError
from runlayer_tf.pins._config import PinConfig
from runlayer_tf.pins._finder import FileScan, TerraformParseError, all_pins
from runlayer_tf.pins._model import Pin, PinKind
from runlayer_tf.pins._rewrite import follows_map, repository_matches
from runlayer_tf.pins._rules import RULES
from runlayer_tf.tags import Digest, Selector, SelectorKind, Tag

__all__ = [
    "OFFLINE_RULES",
    "RESERVED_ONLINE_RULES",
    "Check",
    "CheckContext",
    "Rule",
    "Violation",
    "check_scans",
    "position_of",
    "run_checks",
]


@attrs.frozen
class Violation:
    """One problem, printed as ``path:line:col: RTFnnn message``."""

    file: str
    line: int
    column: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.rule} {self.message}"


@attrs.frozen
class CheckContext:
    """What every rule sees: all scanned files, the settings, and the follows map."""

    scans: tuple[FileScan, ...]
    config: PinConfig
    follows: Mapping[str, str] = attrs.field(hash=False)

    @classmethod
    def build(cls, scans: Sequence[FileScan], config: PinConfig) -> CheckContext:
        return cls(tuple(scans), config, follows_map(all_pins(scans), config.follows))

    @property
    def pins(self) -> Iterator[Pin]:
        return iter(all_pins(self.scans))


Check = Callable[[CheckContext], Iterable[Violation]]


@attrs.frozen
class Rule:
    """A rule id, a one-line summary, and the check implementing it."""

    id: str
    summary: str
    check: Check = attrs.field(eq=False)
    online: bool = False


def position_of(pin: Pin, part: str | None) -> tuple[int, int]:
    """Line and column of ``part`` (the tag or digest) inside ``pin``'s value; the pin's start otherwise."""
    if part and "\n" not in pin.value:
        index = pin.value.rfind(part)
        if index >= 0:
            return pin.line, pin.column + index
    return pin.line, pin.column


def _parse_errors(ctx: CheckContext) -> Iterator[Violation]:
    for scan in ctx.scans:
        err = scan.error
        if err is None:
            continue
        if isinstance(err, TerraformParseError):
            yield Violation(
                scan.file,
                max(err.line, 1),
                max(err.column, 1),
                "RTF000",
                f"does not parse: {err.reason}",
            )
        else:
            yield Violation(scan.file, 1, 1, "RTF000", str(err))


def _malformed(ctx: CheckContext) -> Iterator[Violation]:
    for pin in ctx.pins:
        if pin.tag is not None and pin.rewritable:
            try:
                Tag.parse(pin.tag)
            except TagError as err:
                yield Violation(
                    pin.file, *position_of(pin, pin.tag), "RTF001", f"{pin.path}: {err}"
                )
        if pin.digest is not None:
            try:
                Digest.parse(pin.digest)
            except TagError as err:
                yield Violation(
                    pin.file, *position_of(pin, pin.digest), "RTF001", f"{pin.path}: {err}"
                )


def is_moving(tag: str) -> bool:
    """True for ``latest`` and partial versions (``v1``, ``v1.2``): tags that move to new releases."""
    if tag == "latest":
        return True
    try:
        return Selector.parse(tag).kind is SelectorKind.PARTIAL
    except TagError:
        return False


def _moving_in_production(ctx: CheckContext) -> Iterator[Violation]:
    for scan in ctx.scans:
        if not scan.pins or not ctx.config.is_production(scan.file):
            continue
        for pin in scan.pins:
            if pin.tag is None or not pin.rewritable or pin.digest is not None:
                continue  # a digest pins the content even when the tag moves
            if is_moving(pin.tag):
                yield Violation(
                    pin.file,
                    *position_of(pin, pin.tag),
                    "RTF002",
                    f'{pin.path}: moving tag "{pin.tag}" in a production file; pin a release such as v1.2.3',
                )


def _same_scope(a: str, b: str) -> bool:
    """Same file, or two ``.tf`` files of one module directory."""
    if a == b:
        return True
    pa, pb = Path(a), Path(b)
    return pa.suffix == ".tf" and pb.suffix == ".tf" and pa.parent == pb.parent


def _disagreeing(ctx: CheckContext) -> Iterator[Violation]:
    versions = [p for p in ctx.pins if p.kind is PinKind.VERSION and p.name in ctx.follows]
    for image in ctx.pins:
        if image.kind is not PinKind.IMAGE or image.tag is None or not image.rewritable:
            continue
        candidates = [
            v
            for v in versions
            if repository_matches(image.repository, ctx.follows[v.name])
            and _same_scope(v.file, image.file)
        ]
        # Prefer the version pin in the image's own file.
        candidates.sort(key=lambda v: (v.file != image.file, v.file, v.start))
        for version in candidates[:1]:
            if version.tag != image.tag:
                where = (
                    f"line {version.line}"
                    if version.file == image.file
                    else f"{version.file}:{version.line}"
                )
                yield Violation(
                    image.file,
                    *position_of(image, image.tag),
                    "RTF003",
                    f'{image.path}: tag "{image.tag}" disagrees with {version.name} = "{version.tag}" '
                    f"({where})",
                )


_OFFLINE_CHECKS: Mapping[str, Check] = {
    "RTF000": _parse_errors,
    "RTF001": _malformed,
    "RTF002": _moving_in_production,
    "RTF003": _disagreeing,
}
OFFLINE_RULES: tuple[Rule, ...] = tuple(
    Rule(rule_id, RULES[rule_id].summary, check) for rule_id, check in _OFFLINE_CHECKS.items()
)
# Implemented with a resolver by the caller (``pins check --online``).
RESERVED_ONLINE_RULES: Mapping[str, str] = {
    rule_id: info.summary for rule_id, info in RULES.items() if info.online
}


def run_checks(ctx: CheckContext, rules: Iterable[Rule] = OFFLINE_RULES) -> list[Violation]:
    """Violations of the enabled ``rules``, sorted by file, line, column and rule."""
    found = [
        violation
        for rule in rules
        if ctx.config.rule_enabled(rule.id)
        for violation in rule.check(ctx)
    ]
    return sorted(set(found), key=lambda v: (v.file, v.line, v.column, v.rule, v.message))


def check_scans(
    scans: Sequence[FileScan],
    config: PinConfig | None = None,
    *,
    rules: Iterable[Rule] = OFFLINE_RULES,
) -> list[Violation]:
    """Check scanned files with ``rules`` (default: the offline rules)."""
    return run_checks(CheckContext.build(scans, config or PinConfig()), rules)
