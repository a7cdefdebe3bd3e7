"""Find image and version pins in Terraform text, with exact byte spans.

The text is parsed once with python-hcl2's Lark grammar; string literals are
located through the positions of their quote tokens, so a pin's span is the
literal's content exactly as written.  ``.tfvars.json`` files are scanned by a
small position-keeping JSON walker after :mod:`json` has validated them.

:func:`may_hold_pins` is the cheap pre-scan used before parsing.  Why it never
drops a file that holds a pin:

* every image pin's value is a substring of the file's bytes (literal contents
  and heredoc bodies are not unescaped before matching, and an image reference
  has no escapable characters), and the finder only accepts values matching
  :data:`IMAGE_REF_PATTERN` or :data:`IMAGE_TEMPLATE_PATTERN`; the pre-scan
  searches the raw bytes for the same patterns without the finder's anchors,
  so whatever the finder accepts, the pre-scan finds;
* a version pin needs a name ending in ``_version``/``_tag`` (or a configured
  name) in the text, followed after optional ``"`` and whitespace by ``=``,
  ``:`` or ``{``, and a literal whose content starts with ``v<digit>``,
  ``latest`` or 8 digits, directly after a ``"``; the pre-scan requires both
  (anywhere, so it is a superset); a configured name alone keeps the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from runlayer_tf.errors import ParseError, PinError
from runlayer_tf.pins._config import PinConfig
from runlayer_tf.pins._files import iter_terraform_files, read_bytes
from runlayer_tf.pins._model import (
    IMAGE_REF_PATTERN,
    IMAGE_TEMPLATE_PATTERN,
    Pin,
    PinKind,
    interpolation_expression,
)

__all__ = [
    "NOT_VERSION_NAMES",
    "FileScan",
    "TerraformParseError",
    "all_pins",
    "find_pins",
    "find_pins_in_file",
    "is_version_name",
    "looks_like_image_tag",
    "may_hold_pins",
    "pins_in",
    "scan_file",
    "scan_paths",
    "syntax_for",
]

# Names that end like a version pin but hold something else.
NOT_VERSION_NAMES = frozenset({"required_version", "terraform_version", "version"})
_SKIP_KEYS = frozenset({"description"})
_IMAGE_KEYS = frozenset({"image"})

_VERSION_FORM = re.compile(r"v[0-9][0-9A-Za-z.+_-]*|latest|[0-9]{8}[-T]?[0-9]{6}[0-9A-Za-z.+_-]*")
_IMAGE_REF_FULL = re.compile(IMAGE_REF_PATTERN)
_IMAGE_TEMPLATE_FULL = re.compile(IMAGE_TEMPLATE_PATTERN)
# In heredocs a reference is a word among other text (JSON, YAML, shell).
_BEFORE = r"(?<![A-Za-z0-9_.:/@${}-])"
_AFTER = r"(?![A-Za-z0-9_./:@$+-])"
_IMAGE_REF_IN_TEXT = re.compile(_BEFORE + IMAGE_REF_PATTERN + _AFTER)
_KEY_BEFORE = re.compile(r"""["']?([A-Za-z_][A-Za-z0-9_-]*)["']?\s*[:=]\s*["']?$""")

# Pre-scan patterns (bytes), see the module docstring.
_SCAN_IMAGE = re.compile(IMAGE_REF_PATTERN.encode())
_SCAN_IMAGE_SLASH = re.compile(rb"/[a-z0-9][a-z0-9._/-]*[:@]")
_SCAN_TEMPLATE = re.compile(IMAGE_TEMPLATE_PATTERN.encode())
_SCAN_VERSION_NAME = re.compile(rb"(?:_version|_tag)\"?\s*[=:{]")
_SCAN_VERSION_VALUE = re.compile(rb"\"(?:v[0-9]|latest|[0-9]{8})")


class TerraformParseError(ParseError):
    """A file does not parse; ``line``/``column`` are the parser's (1-based, 0 when unknown)."""

    def __init__(self, file: str, line: int, column: int, reason: str) -> None:
        where = f"{file}:{line}:{column}" if line else file
        super().__init__(f"{where}: does not parse: {reason}")
        self.file = file
        self.line = line
        self.column = column
        self.reason = reason


@attrs.frozen
class FileScan:
    """The pins of one file, or why it could not be scanned (parse or read error)."""

    file: str
    pins: tuple[Pin, ...] = ()
    error: ParseError | None = None


def all_pins(scans: Iterable[FileScan]) -> list[Pin]:
    """The pins of every scan, in scan order."""
    return [pin for scan in scans for pin in scan.pins]


def syntax_for(file: str | Path) -> str:
    """``"json"`` for ``*.json`` files, else ``"hcl"``."""
    return "json" if str(file).endswith(".json") else "hcl"


def is_version_name(name: str, config: PinConfig | None = None) -> bool:
    """True when an attribute, local or variable called ``name`` may hold a version pin."""
    if config is not None and name in config.version_names:
        return True
    if name in NOT_VERSION_NAMES:
        return False
    return name.endswith(("_version", "_tag"))


def looks_like_image_tag(value: str) -> bool:
    """True for the tag forms of version pins: ``v1.2.3``, ``latest``, timestamps, build tags."""
    return _VERSION_FORM.fullmatch(value) is not None


def _line_with(data: bytes, pos: int) -> bytes:
    start = data.rfind(b"\n", 0, pos) + 1
    end = data.find(b"\n", pos)
    return data[start : len(data) if end < 0 else end]


def may_hold_pins(data: bytes, config: PinConfig | None = None) -> bool:
    """Cheap pre-scan: False only when ``data`` provably holds no pin (see module docstring)."""
    # Every image reference contains "/<repository>:" or "/<repository>@"; look
    # for that first (a literal start makes `re` fast), then confirm on its line.
    for match in _SCAN_IMAGE_SLASH.finditer(data):
        if _SCAN_IMAGE.search(_line_with(data, match.start())):
            return True
    if b"${" in data and _SCAN_TEMPLATE.search(data):
        return True
    if config is not None and any(name.encode() in data for name in config.version_names):
        return True
    return bool(_SCAN_VERSION_NAME.search(data) and _SCAN_VERSION_VALUE.search(data))


@attrs.frozen
class _Site:
    """A string literal (or heredoc body) found in the tree, in str offsets."""

    start: int
    end: int
    path: str
    key: str | None
    name: str | None
    literal: bool  # no interpolation or directive: a plain value
    heredoc: bool = False


class _Text:
    """The decoded file and the offset arithmetic between str and bytes."""

    def __init__(self, data: bytes, file: str) -> None:
        self.bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        try:
            self.text = data[self.bom :].decode("utf-8")
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            raise TerraformParseError(file, line, 1, "not UTF-8 text") from err
        self.ascii = self.text.isascii()

    def byte_offset(self, index: int) -> int:
        if self.ascii:
            return self.bom + index
        return self.bom + len(self.text[:index].encode("utf-8"))

    def line_column(self, index: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, index) + 1
        column = index - (self.text.rfind("\n", 0, index) + 1) + 1
        return line, column


def find_pins(
    text: str | bytes,
    *,
    file: str = "<text>",
    config: PinConfig | None = None,
    syntax: str | None = None,
) -> list[Pin]:
    """All pins in ``text`` (the content of ``file``), in file order.

    ``syntax`` is ``"hcl"`` (``.tf``, ``.tfvars``) or ``"json"``
    (``.tfvars.json``); by default it follows ``file``'s name.  A ``str`` is
    treated as the file's UTF-8 decoding (a leading BOM counts 3 bytes).
    Raises :class:`ParseError` (one line, with the parser's line) when the text
    does not parse.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    source = _Text(data, file)
    config = config or PinConfig()
    syntax = syntax or syntax_for(file)
    if syntax == "json":
        sites = list(_json_sites(source.text, file))
    elif syntax == "hcl":
        sites = list(_hcl_sites(source.text, file))
    else:
        raise ValueError(f"unknown syntax {syntax!r}")
    pins: list[Pin] = []
    for site in sites:
        pins.extend(_pins_at(site, source, file, config))
    pins.sort(key=lambda p: p.start)
    return pins


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


def _pins_at(site: _Site, source: _Text, file: str, config: PinConfig) -> Iterator[Pin]:
    if site.key in _SKIP_KEYS:
        return
    content = source.text[site.start : site.end]
    name = site.name or site.key or ""
    if site.heredoc:
        for match in _IMAGE_REF_IN_TEXT.finditer(content):
            before = _KEY_BEFORE.search(content, max(0, match.start() - 80), match.start())
            key = before.group(1) if before else name
            yield _image_pin(match, site.start + match.start(), source, file, site.path, key)
        return
    whole = _IMAGE_REF_FULL.fullmatch(content)
    if whole is not None:
        yield _image_pin(whole, site.start, source, file, site.path, name)
        return
    if site.key in _IMAGE_KEYS or (site.key or "").endswith("_image"):
        template = _IMAGE_TEMPLATE_FULL.fullmatch(content)
        if template is not None:
            yield _located_pin(
                source,
                file,
                site.path,
                site.start,
                site.end,
                kind=PinKind.IMAGE,
                name=name,
                value=content,
                registry=None,
                repository=None,
                tag=template["tag"],
                depends_on=interpolation_expression(template["tag"]),
            )
            return
    if (
        site.literal
        and site.name is not None
        and is_version_name(site.name, config)
        and (
            looks_like_image_tag(content) or (site.name in config.version_names and content.strip())
        )
    ):
        yield _located_pin(
            source,
            file,
            site.path,
            site.start,
            site.end,
            kind=PinKind.VERSION,
            name=site.name,
            value=content,
            tag=content,
        )


def _located_pin(source: _Text, file: str, path: str, start: int, end: int, **fields: Any) -> Pin:
    """A Pin spanning characters ``start:end`` of ``source``: line, column and byte offsets filled in."""
    line, column = source.line_column(start)
    return Pin(
        file=file,
        line=line,
        column=column,
        start=source.byte_offset(start),
        end=source.byte_offset(end),
        path=path,
        **fields,
    )


def _image_pin(
    match: re.Match[str], start: int, source: _Text, file: str, path: str, name: str
) -> Pin:
    end = start + (match.end() - match.start())
    tag = match["tag"]
    return _located_pin(
        source,
        file,
        path,
        start,
        end,
        kind=PinKind.IMAGE,
        name=name,
        value=match.group(0),
        registry=match["registry"],
        repository=match["repository"],
        tag=tag,
        digest=match["digest1"] or match["digest2"],
        depends_on=interpolation_expression(tag) if tag else None,
    )


# ---------------------------------------------------------------------------
# HCL: walk the Lark tree
# ---------------------------------------------------------------------------


def _parse_hcl(text: str, file: str) -> object:
    import hcl2
    from lark.exceptions import LarkError, UnexpectedInput

    try:
        return hcl2.parses_to_tree(text)
    except UnexpectedInput as err:
        line = getattr(err, "line", 0)
        column = getattr(err, "column", 0)
        token = getattr(err, "token", None)
        if token is None:
            token = getattr(err, "char", None)
        shown = str(token).split("\n")[0].strip()[:30] if token is not None else ""
        what = f"unexpected {shown!r}" if shown else "syntax error"
        if not isinstance(line, int) or line < 1:
            line = text.count("\n") + 1
            column = 1
        raise TerraformParseError(file, line, column, what) from err
    except (LarkError, RecursionError) as err:
        raise TerraformParseError(file, 0, 0, type(err).__name__) from err


def _hcl_sites(text: str, file: str) -> Iterator[_Site]:
    from lark import Token, Tree

    tree = _parse_hcl(text, file)

    def plain(parts: Sequence[object]) -> bool:
        """True when a string's parts are plain text only (no interpolation or directive)."""
        return all(
            isinstance(p, Tree) and len(p.children) == 1 and isinstance(p.children[0], Token)
            for p in parts
        )

    def token_text(node: object) -> str | None:
        """The identifier or plain-string text a key/label node stands for."""
        if isinstance(node, Token):
            return str(node)
        if not isinstance(node, Tree):
            return None
        if node.data == "string":
            parts = node.children[1:-1]
            if plain(parts):
                return "".join(str(p.children[0]) for p in parts if isinstance(p, Tree))
            return None
        if (
            node.data in ("identifier", "keyword", "literal_value", "expr_term", "object_elem_key")
            and len(node.children) == 1
        ):
            return token_text(node.children[0])
        return None

    def block_path(path: str, labels: list[str], kind: str, top: bool) -> str:
        if top and kind == "resource" and len(labels) == 2:
            parts = labels
        elif top and kind == "locals":
            parts = ["local"]
        else:
            parts = [kind, *labels]
        return ".".join([p for p in [path, *parts] if p])

    def walk(
        node: object, path: str, key: str | None, name: str | None, top: bool, in_var: str | None
    ) -> Iterator[_Site]:
        if not isinstance(node, Tree):
            return
        data = node.data
        if data == "block":
            labels: list[str] = []
            kind = ""
            body: object = None
            for i, child in enumerate(node.children):
                if isinstance(child, Tree) and child.data == "body":
                    body = child
                elif isinstance(child, Tree) and child.data != "new_line_or_comment":
                    label = token_text(child) or "?"
                    if i == 0:
                        kind = label
                    else:
                        labels.append(label)
            if top and kind == "terraform":
                return  # required_version and provider constraints: never pins
            variable = labels[0] if top and kind == "variable" and labels else None
            yield from walk(body, block_path(path, labels, kind, top), None, None, False, variable)
        elif data in ("start",):
            for child in node.children:
                yield from walk(child, path, key, name, True, None)
        elif data == "body":
            for child in node.children:
                yield from walk(child, path, key, name, top, in_var)
        elif data == "attribute":
            attr = token_text(node.children[0]) or "?"
            attr_name = in_var if (in_var and attr == "default") else attr
            yield from walk(
                node.children[-1], f"{path}.{attr}" if path else attr, attr, attr_name, False, None
            )
        elif data == "object":
            for child in node.children:
                yield from walk(child, path, key, name, False, None)
        elif data == "object_elem":
            elem_key = token_text(node.children[0]) or "?"
            yield from walk(
                node.children[-1],
                f"{path}.{elem_key}" if path else elem_key,
                elem_key,
                elem_key,
                False,
                None,
            )
        elif data == "tuple":
            index = 0
            for child in node.children:
                if isinstance(child, Tree) and child.data != "new_line_or_comment":
                    yield from walk(child, f"{path}[{index}]", key, name, False, None)
                    index += 1
        elif data == "string":
            first, last = node.children[0], node.children[-1]
            assert isinstance(first, Token)
            assert isinstance(last, Token)
            parts = node.children[1:-1]
            literal = plain(parts)
            assert first.end_pos is not None
            assert last.start_pos is not None
            yield _Site(first.end_pos, last.start_pos, path, key, name, literal)
            for part in parts:  # nested strings inside interpolations
                if isinstance(part, Tree):
                    for child in part.children:
                        yield from walk(child, path, None, None, False, None)
        elif data in ("heredoc_template", "heredoc_template_trim"):
            token = node.children[0]
            assert isinstance(token, Token)
            assert token.start_pos is not None
            assert token.end_pos is not None
            body_start = token.start_pos + str(token).index("\n") + 1
            yield _Site(body_start, token.end_pos, path, key, name, literal=False, heredoc=True)
        elif data == "new_line_or_comment":
            return
        else:
            for child in node.children:
                yield from walk(child, path, key, name, False, None)

    yield from walk(tree, "", None, None, True, None)


# ---------------------------------------------------------------------------
# JSON (.tfvars.json): validate with json, then walk keeping offsets
# ---------------------------------------------------------------------------

_JSON_WS = re.compile(r"[ \t\r\n]*")
_JSON_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_JSON_SCALAR = re.compile(r"-?[0-9][0-9.eE+-]*|true|false|null")


def _reject_constant(name: str) -> object:
    # Python's json accepts NaN and Infinity; JSON (and Terraform) do not.
    raise ValueError(f"{name} is not valid JSON")


def _json_sites(text: str, file: str) -> Iterator[_Site]:
    try:
        json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise TerraformParseError(file, err.lineno, err.colno, err.msg) from err
    except ValueError as err:
        raise TerraformParseError(file, 1, 1, str(err)) from err
    sites: list[_Site] = []

    def skip(pos: int) -> int:
        match = _JSON_WS.match(text, pos)
        assert match is not None
        return match.end()

    def value(pos: int, path: str, key: str | None) -> int:
        pos = skip(pos)
        char = text[pos]
        if char == "{":
            pos = skip(pos + 1)
            if text[pos] == "}":
                return pos + 1
            while True:
                match = _JSON_STRING.match(text, pos)
                assert match is not None
                member = json.loads(match.group(0))
                pos = skip(match.end())
                assert text[pos] == ":"
                pos = value(pos + 1, f"{path}.{member}" if path else member, member)
                pos = skip(pos)
                if text[pos] == "}":
                    return pos + 1
                pos = skip(pos + 1)
        if char == "[":
            pos = skip(pos + 1)
            if text[pos] == "]":
                return pos + 1
            index = 0
            while True:
                pos = skip(value(pos, f"{path}[{index}]", key))
                index += 1
                if text[pos] == "]":
                    return pos + 1
                pos += 1
        if char == '"':
            match = _JSON_STRING.match(text, pos)
            assert match is not None
            raw = match.group(1)
            sites.append(
                _Site(match.start(1), match.end(1), path, key, key, literal="\\" not in raw)
            )
            return match.end()
        match = _JSON_SCALAR.match(text, pos)
        assert match is not None
        return match.end()

    value(0, "", None)
    yield from sites


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
