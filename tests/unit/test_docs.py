"""The documentation cannot drift from the tool: the site builds, console examples run, Python examples type-check.

The conventions are written down in docs/development.md ("The documentation").
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
NOT_RUN = re.compile(r"<!-- console: not run \((?P<reason>[^)]+)\) -->")
FENCE = re.compile(r"^```(?P<lang>\S*)\s*$")
BIN = Path(sys.executable).parent
PLACEHOLDER = re.compile(r"sha256:…|@sha256:\.\.\.|^\.\.\.$|<[a-z ]+>", re.M)


@attrs.frozen
class Block:
    file: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    marker: str  # the HTML comment on the line before the fence, or ""

    @property
    def id(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file (fences at the start of a line)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m and m["lang"]:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```")
            previous = lines[i - 1].strip() if i else ""
            found.append(
                Block(
                    path,
                    i + 1,
                    m["lang"],
                    "\n".join(lines[i + 1 : end]) + "\n",
                    previous if previous.startswith("<!--") else "",
                )
            )
            i = end + 1
        elif m:
            i = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```") + 1
        else:
            i += 1
    return found


ALL_BLOCKS = [b for path in DOC_FILES for b in blocks(path)]
CONSOLE = [b for b in ALL_BLOCKS if b.lang == "console"]
EXECUTED = [b for b in CONSOLE if not b.marker]


@attrs.frozen
class Command:
    command: str
    expected: str


def commands(block: Block) -> list[Command]:
    """``$ cmd`` lines (``\\`` continues one), each with the output lines under it."""
    result: list[Command] = []
    lines = block.text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        assert line.startswith("$ "), f"{block.id}: output before any command: {line!r}"
        command = line[2:]
        while command.endswith("\\"):
            i += 1
            command = command[:-1] + "\n" + lines[i]
        i += 1
        output: list[str] = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i].rstrip())
            i += 1
        result.append(Command(command, "\n".join(output)))
    return result


def test_the_conventions_hold_for_every_console_block() -> None:
    assert DOC_FILES[0] == ROOT / "README.md"
    assert len(DOC_FILES) >= 10
    assert len(EXECUTED) >= 15
    for block in CONSOLE:
        if block.marker:
            assert NOT_RUN.fullmatch(block.marker), f"{block.id}: unknown marker {block.marker}"
            continue
        for command in commands(block):
            assert (
                "runlayer-tf" in command.command.split("|")[-1] or command.command == "echo $?"
            ), f"{block.id}: an executed command must run runlayer-tf: {command.command!r}"
            # Placeholders instead of real output (the tool's own shortened digests,
            # sha256:0123456789ab…, are real output).
            assert not PLACEHOLDER.search(command.expected), f"{block.id}: {command.command!r}"


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RUNLAYER_TF_"))}
    docker = tmp_path / "docker"
    docker.mkdir()
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        RUNLAYER_TF_CACHE_TTL="0",
        DOCKER_CONFIG=str(docker),
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        COLUMNS="80",
        LC_ALL="C.UTF-8",
    )
    return env


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.parametrize("block", EXECUTED, ids=[b.id for b in EXECUTED])
def test_console_example_prints_what_the_docs_show(block: Block, tmp_path: Path) -> None:
    cmds = commands(block)
    separator = "@@runlayer-tf-docs-command-end@@"
    script = "".join(
        f"{c.command} 2>&1\n__rc=$?\nprintf '\\n%s\\n' '{separator}'\n(exit $__rc)\n" for c in cmds
    )
    before = _git_status() if shutil.which("git") else ""
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        cwd=ROOT,
        env=_environment(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.stderr == ""
    outputs = proc.stdout.split(f"\n{separator}\n")
    assert outputs[-1] == ""
    actual = ["\n".join(line.rstrip() for line in out.strip("\n").splitlines()) for out in outputs]
    assert [(c.command, a) for c, a in zip(cmds, actual[:-1], strict=True)] == [
        (c.command, c.expected) for c in cmds
    ]
    if before:
        assert _git_status() == before, "an executed example changed the working tree"


PYTHON_EXAMPLES = [
    *(b for b in ALL_BLOCKS if b.lang == "python"),
    *(
        Block(p, 1, "python", p.read_text(encoding="utf-8"), "")
        for p in sorted((ROOT / "examples" / "python").glob("*.py"))
    ),
]
# Examples that fail a check for a reason outside the docs: block id -> reason (none today).
KNOWN_MYPY_FAILURES: dict[str, str] = {}
KNOWN_PRIVATE_IMPORTS: dict[str, str] = {}


def _case(block: Block, known: dict[str, str]) -> object:
    reason = known.get(block.id)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(block, id=block.id, marks=marks)


def private_imports(source: str) -> list[str]:
    """``runlayer_tf`` modules or names imported by ``source`` that are private (``_name``)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("runlayer_tf"):
            module = node.module or ""
            names = [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("runlayer_tf")]
        else:
            continue
        found += [n for n in names if any(part.startswith("_") for part in n.split("."))]
    return found


def test_the_python_examples_are_all_collected() -> None:
    ids = [b.id for b in PYTHON_EXAMPLES]
    assert len(ids) == len(set(ids))
    assert {b.file.name for b in PYTHON_EXAMPLES} >= {
        "tags.md",
        "pins.md",
        "updates.md",
        "resolve_example.py",
        "pins_example.py",
        "update_example.py",
    }
    assert set(KNOWN_MYPY_FAILURES) | set(KNOWN_PRIVATE_IMPORTS) <= set(ids)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from runlayer_tf import pins\n", []),
        ("from runlayer_tf.update import UpdateSpec\n", []),
        (
            "from runlayer_tf.update._aws import LazyClient\n",
            ["runlayer_tf.update._aws.LazyClient"],
        ),
        ("from runlayer_tf.update import _aws\n", ["runlayer_tf.update._aws"]),
        ("import runlayer_tf._version\n", ["runlayer_tf._version"]),
        ("import os._private_looking\n", []),
    ],
)
def test_private_imports_finds_private_runlayer_tf_names(source: str, expected: list[str]) -> None:
    assert private_imports(source) == expected


@pytest.mark.parametrize("block", [_case(b, KNOWN_PRIVATE_IMPORTS) for b in PYTHON_EXAMPLES])
def test_python_example_uses_only_public_names(block: Block) -> None:
    assert private_imports(block.text) == []


@pytest.mark.parametrize("block", [_case(b, KNOWN_MYPY_FAILURES) for b in PYTHON_EXAMPLES])
def test_python_example_passes_mypy_strict(block: Block, tmp_path: Path) -> None:
    name = re.sub(r"\W", "_", block.id) + ".py"
    (tmp_path / name).write_text(block.text, encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--follow-imports=silent",  # the package is checked by test_quality, not here
            "--cache-dir",
            os.devnull,
            "--config-file",
            str(ROOT / "setup.cfg"),
            "--python-version",
            "3.10",
            name,
        ],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    mkdocs = BIN / "mkdocs"
    assert mkdocs.exists(), "install the docs extra: pip install -e '.[docs]'"
    proc = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert [line for line in log.splitlines() if "WARNING" in line] == []
    site = tmp_path / "site"
    for page in ("tags", "resolving", "image-pin", "pins", "updates", "api", "environment"):
        assert (site / page / "index.html").is_file(), page
    for page in ("security", "development"):
        assert (site / page / "index.html").is_file(), page
    image_pin = (site / "image-pin" / "index.html").read_text(encoding="utf-8")
    # The module's inputs table comes from its README, included, not copied.
    assert "--8&lt;--" not in image_pin
    assert "<code>allow_prerelease</code>" in image_pin
    # ... and no page or README holds a copy of that table.
    row = "| `allow_prerelease` | `bool` |"
    assert [p.name for p in DOC_FILES if row in p.read_text(encoding="utf-8")] == []
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("runlayer_tf.tags.Selector", "runlayer_tf.pins.find_pins", "UpdateSpec"):
        assert name in api, name
