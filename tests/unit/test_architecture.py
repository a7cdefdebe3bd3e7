"""The package's layout, checked: layers, one botocore boundary, private modules, module size."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "runlayer_tf"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def test_lint_imports_keeps_every_contract() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint), "--config", str(ROOT / "setup.cfg")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout


def test_only_the_aws_boundary_imports_botocore() -> None:
    importers = {
        _module_name(path)
        for path in MODULES
        if any(name.split(".")[0] in ("botocore", "boto3") for name in _imports(path))
    }
    assert importers == {"runlayer_tf.aws"}


def test_argparse_only_under_cli() -> None:
    importers = {_module_name(path) for path in MODULES if "argparse" in _imports(path)}
    assert importers
    assert all(name.startswith("runlayer_tf.cli") for name in importers)


def test_no_private_module_is_imported_from_outside_its_package() -> None:
    offenders = []
    for path in MODULES:
        here = _module_name(path)
        package = here if path.name == "__init__.py" else here.rpartition(".")[0]
        for name in _imports(path):
            parts = name.split(".")
            for i, part in enumerate(parts):
                if part.startswith("_") and not part.startswith("__") and i > 0:
                    owner = ".".join(parts[:i])
                    if not (package == owner or package.startswith(owner + ".")):
                        offenders.append(f"{here} imports {name}")
                    break
    assert offenders == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_500_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES


@pytest.mark.parametrize(
    "package",
    sorted(p.parent for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE),
    ids=lambda p: p.name,
)
def test_implementation_modules_are_private(package: Path) -> None:
    public = sorted(
        p.stem
        for p in package.glob("*.py")
        if not p.stem.startswith("_") and p.stem not in DEPRECATED_OR_FACADES
    )
    assert public == []


# Public modules inside packages: the deprecated aliases, the pins' sub-facades and the
# update's building blocks.
DEPRECATED_OR_FACADES = {"checks", "online", "parts", "varfile"}


@pytest.mark.parametrize(
    "facade", ["runlayer_tf.pins", "runlayer_tf.pins.checks", "runlayer_tf.pins.online"]
)
def test_the_pins_facades_stay_small_and_resolve(facade: str) -> None:
    """Issue 9: about 15 public names a package; the pins sub-facades hold the rest."""
    import importlib

    module = importlib.import_module(facade)
    assert len(module.__all__) <= 15
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None


@pytest.mark.parametrize("package", ["runlayer_tf.pins", "runlayer_tf.update"])
def test_every_deprecated_name_still_imports_with_a_warning(package: str) -> None:
    import importlib

    module = importlib.import_module(package)
    moved = module._DEPRECATED
    assert moved
    for name in moved:
        with pytest.warns(DeprecationWarning, match=f"^{package}.{name} is deprecated"):
            assert getattr(module, name) is not None
        assert name not in module.__all__
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        module.nothing  # noqa: B018


def test_content_digests_are_computed_in_one_place() -> None:
    """Only ``Digest.of_bytes`` turns bytes into a ``sha256:`` digest (other hashes are keys)."""
    hand_made = [
        str(path.relative_to(PACKAGE))
        for path in MODULES
        if path != PACKAGE / "tags" / "_digest.py"
        and '"sha256:" + hashlib' in path.read_text(encoding="utf-8")
    ]
    assert hand_made == []
