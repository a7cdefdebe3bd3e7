"""Pin settings: production globs, extra version-pin names, follows map, disabled rules.

Read from ``[tool.runlayer-tf.pins]`` in ``pyproject.toml`` or ``[pins]`` in
``.runlayer-tf.toml`` (the latter wins when a directory has both).  Parsing is
pure (:func:`parse_config`); only :func:`load_config` touches the disk.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from runlayer_tf.errors import ConfigError
from runlayer_tf.pins._model import Pin
from runlayer_tf.pins._rewrite import follows_map
from runlayer_tf.pins._rules import RULES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_PRODUCTION_GLOBS",
    "PinConfig",
    "find_config_file",
    "glob_matches",
    "load_config",
    "parse_config",
]

CONFIG_FILE = ".runlayer-tf.toml"
DEFAULT_PRODUCTION_GLOBS: tuple[str, ...] = ("**/*prod*.tfvars", "**/prod/**", "**/production/**")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_RULE_ID = re.compile(r"RTF[0-9]{3}")
# Every rule id pins check knows.
RULE_IDS = frozenset(RULES)


def validate_rule_ids(rules: Iterable[str], where: str) -> frozenset[str]:
    """``rules`` as a set; ConfigError naming the first id that is malformed or unknown."""
    chosen = frozenset(rules)
    for rule in sorted(chosen):
        if not _RULE_ID.fullmatch(rule):
            raise ConfigError(f"{where}: {rule!r} is not a rule id like RTF002")
        if rule not in RULE_IDS:
            raise ConfigError(f"{where}: no rule {rule} (rules: {', '.join(sorted(RULE_IDS))})")
    return chosen


@attrs.frozen
class PinConfig:
    """How pins are found and checked.

    ``follows`` maps a version variable to the repository whose tag it holds
    (``{"backend_version": "backend-production"}``).  ``root`` is the directory
    production globs are relative to.
    """

    production_globs: tuple[str, ...] = DEFAULT_PRODUCTION_GLOBS
    version_names: frozenset[str] = frozenset()
    follows: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    disabled_rules: frozenset[str] = frozenset()
    root: Path | None = None
    # PEM public keys (paths, relative ones from ``root``) for RTF006.
    verify_keys: tuple[str, ...] = ()

    def is_production(self, file: str | Path) -> bool:
        """True when ``file`` matches one of the production globs."""
        path = Path(file)
        if self.root is not None:
            with contextlib.suppress(ValueError):  # outside the root: match the whole path
                # abspath, not resolve(): a production file that is a symlink is
                # judged by where it is, not by where its target lives.
                path = Path(os.path.abspath(path)).relative_to(self.root.resolve())
        posix = PurePosixPath(*path.parts).as_posix().lstrip("/")
        return any(glob_matches(pattern, posix) for pattern in self.production_globs)

    def rule_enabled(self, rule_id: str) -> bool:
        return rule_id not in self.disabled_rules

    def with_overrides(
        self,
        *,
        production_globs: Iterable[str] | None = None,
        version_names: Iterable[str] | None = None,
        follows: Mapping[str, str] | None = None,
        disabled_rules: Iterable[str] | None = None,
        verify_keys: Iterable[str] | None = None,
    ) -> PinConfig:
        """This configuration with command-line values replacing (globs) or extending (the
        rest) it; raises :class:`ConfigError` for an unknown rule id."""
        return merge_overrides(
            self,
            production_globs=production_globs,
            version_names=version_names,
            follows=follows,
            disabled_rules=disabled_rules,
            verify_keys=verify_keys,
        )

    def follows_for(self, pins: Iterable[Pin]) -> dict[str, str]:
        """Version name -> the repository it holds the tag of: :attr:`follows`, plus what
        the templates among ``pins`` say (``.../backend-production:${var.backend_version}``
        means ``backend_version`` follows ``backend-production``); configuration wins."""
        return follows_map(pins, self.follows)


# Glob tokens: "**/" spans zero or more directories, "**" anything, "*" and "?"
# anything but "/", any other character itself.
_DIRS, _ANY, _STAR, _ONE = "**/", "**", "*", "?"


@functools.lru_cache(maxsize=64)
def _glob_tokens(pattern: str) -> tuple[str, ...]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        token = next(
            (t for t in (_DIRS, _ANY, _STAR, _ONE) if pattern.startswith(t, i)), pattern[i]
        )
        out.append(token)
        i += len(token)
    return tuple(out)


def _closure(tokens: tuple[str, ...], states: set[tuple[int, bool]]) -> set[tuple[int, bool]]:
    """``states`` with every state reachable without consuming a character."""
    todo = list(states)
    while todo:
        i, inside = todo.pop()
        if inside or i == len(tokens):
            continue
        more = [(i + 1, False)] if tokens[i] in (_DIRS, _ANY, _STAR) else []
        if tokens[i] == _DIRS:
            more.append((i, True))  # inside "**/": consuming up to a "/"
        for state in more:
            if state not in states:
                states.add(state)
                todo.append(state)
    return states


def glob_matches(pattern: str, path: str) -> bool:
    """Match a POSIX relative ``path`` against a glob where ``**/`` spans directories.

    ``**/x`` matches ``x`` at any depth including the top; ``a/**`` matches
    everything under ``a``; ``*`` and ``?`` never cross a ``/``.  Matched by
    simulating the pattern's automaton over ``path`` (time linear in the path
    for a given pattern), not by a backtracking regex: a repository's config
    could otherwise hang ``pins check`` with ``**/**/**/**/**/**/**/**/**/**/x``.
    """
    tokens = _glob_tokens(pattern)
    states = _closure(tokens, {(0, False)})
    for char in path:
        after: set[tuple[int, bool]] = set()
        for i, inside in states:
            if inside:  # within "**/": any character; a "/" may end it
                after.add((i, True))
                if char == "/":
                    after.add((i + 1, False))
            elif i < len(tokens):
                token = tokens[i]
                if token == _ANY or (token == _STAR and char != "/"):
                    after.add((i, False))
                elif (token == _ONE and char != "/") or token == char:
                    after.add((i + 1, False))
        if not after:
            return False
        states = _closure(tokens, after)
    return (len(tokens), False) in states


def _string_list(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return list(value)


def parse_config(
    table: Mapping[str, Any], *, where: str = "config", root: Path | None = None
) -> PinConfig:
    """Build a :class:`PinConfig` from the ``pins`` table; raises :class:`ConfigError`."""
    known = {"production-globs", "version-names", "follows", "disable", "verify-keys"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown pins setting {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    config = PinConfig(root=root)
    if "production-globs" in table:
        config = attrs.evolve(
            config, production_globs=tuple(_string_list(table, "production-globs", where))
        )
    if "version-names" in table:
        names = _string_list(table, "version-names", where)
        bad = [n for n in names if not _NAME.fullmatch(n)]
        if bad:
            raise ConfigError(f"{where}: version-names: {bad[0]!r} is not a Terraform name")
        config = attrs.evolve(config, version_names=frozenset(names))
    if "follows" in table:
        follows = table["follows"]
        if not isinstance(follows, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in follows.items()
        ):
            raise ConfigError(f'{where}: follows must be a table of variable = "repository"')
        config = attrs.evolve(config, follows=dict(follows))
    if "disable" in table:
        rules = _string_list(table, "disable", where)
        config = attrs.evolve(config, disabled_rules=validate_rule_ids(rules, f"{where}: disable"))
    if "verify-keys" in table:
        keys = _string_list(table, "verify-keys", where)
        if any(not k.strip() for k in keys):
            raise ConfigError(f"{where}: verify-keys: an empty path")
        base = root or Path.cwd()
        config = attrs.evolve(
            config, verify_keys=tuple(str(base / Path(k).expanduser()) for k in keys)
        )
    return config


def find_config_file(start: Path) -> Path | None:
    """The nearest ``.runlayer-tf.toml`` or ``pyproject.toml`` with our table, upwards from ``start``."""
    here = start.resolve()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_FILE
        if candidate.is_file():
            return candidate
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and "runlayer-tf" in pyproject.read_text(
            encoding="utf-8", errors="replace"
        ):
            return pyproject
    return None


def _pins_table(document: Mapping[str, Any], path: Path) -> Mapping[str, Any]:
    if path.name == "pyproject.toml":
        tool = document.get("tool", {})
        if not isinstance(tool, dict):
            raise ConfigError(f"{path}: [tool] must be a table")
        section: Any = tool.get("runlayer-tf", {})
        where = "[tool.runlayer-tf.pins]"
    else:
        section = document
        where = "[pins]"
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: runlayer-tf settings must be a table")
    pins = section.get("pins", {})
    if not isinstance(pins, dict):
        raise ConfigError(f"{path}: {where} must be a table")
    return pins


def load_config(path: Path | None = None, *, start: Path | None = None) -> PinConfig:
    """Read settings from ``path``, or from the nearest config file above ``start`` (default: cwd).

    No config file gives the defaults.  Raises :class:`ConfigError` for an
    unreadable or invalid file.
    """
    if path is None:
        path = find_config_file(start or Path.cwd())
        if path is None:
            return PinConfig(root=(start or Path.cwd()).resolve())
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 ({err.reason} at byte {err.start})") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from err
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    return parse_config(_pins_table(document, path), where=str(path), root=path.resolve().parent)


def merge_overrides(
    config: PinConfig,
    *,
    production_globs: Iterable[str] | None = None,
    version_names: Iterable[str] | None = None,
    follows: Mapping[str, str] | None = None,
    disabled_rules: Iterable[str] | None = None,
    verify_keys: Iterable[str] | None = None,
) -> PinConfig:
    """``config`` with command-line values replacing (globs) or extending (the rest) it."""
    changes: dict[str, Any] = {}
    if production_globs is not None:
        changes["production_globs"] = tuple(production_globs)
    if version_names is not None:
        changes["version_names"] = config.version_names | frozenset(version_names)
    if follows is not None:
        changes["follows"] = {**config.follows, **follows}
    if disabled_rules is not None:
        changes["disabled_rules"] = config.disabled_rules | validate_rule_ids(
            disabled_rules, "--disable"
        )
    if verify_keys:
        changes["verify_keys"] = (*config.verify_keys, *verify_keys)
    return attrs.evolve(config, **changes)
