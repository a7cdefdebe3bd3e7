"""The var-file seam over the pins API: read a string assignment, rewrite only its literal, atomically."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from runlayer_tf.errors import PinError
from runlayer_tf.update import read_vars, set_vars


def read_var(path: Path, name: str) -> str | None:
    """One variable through the many-variable API the runbook uses."""
    return read_vars(path, [name]).get(name)


def set_var(path: Path, name: str, value: str) -> bool:
    return bool(set_vars(path, {name: value}))


FIXTURE = Path(__file__).parent.parent / "fixtures" / "update" / "production.tfvars"


@pytest.fixture
def var_file(tmp_path: Path) -> Path:
    path = tmp_path / "production.tfvars"
    shutil.copy(FIXTURE, path)
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("backend_version", "v1.2.3"),
        ("frontend_version", "v1.2.3"),
        ("region", "us-east-1"),
        ("absent", None),
    ],
)
def test_read_var(var_file: Path, name: str, value: str | None) -> None:
    assert read_var(var_file, name) == value


def test_read_var_refuses_non_strings(var_file: Path) -> None:
    with pytest.raises(PinError, match=r"assigns tags something other than a plain string$"):
        read_var(var_file, "tags")


def test_set_var_changes_only_the_literal(var_file: Path) -> None:
    before = var_file.read_text()
    assert set_var(var_file, "backend_version", "v1.3.0") is True
    assert var_file.read_text() == before.replace(
        'backend_version  = "v1.2.3"', 'backend_version  = "v1.3.0"'
    )
    assert var_file.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in var_file.parent.iterdir()) == ["production.tfvars"]


def test_set_var_same_value_does_not_touch_the_file(var_file: Path) -> None:
    os.utime(var_file, (1_000_000, 1_000_000))
    assert set_var(var_file, "frontend_version", "v1.2.3") is False
    assert var_file.stat().st_mtime == 1_000_000


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("absent", "v1", "has no plain string assignment of absent"),
        ("backend_version", 'v1"; x = "y', "quotes, backslashes and templates are not allowed"),
        ("backend_version", "${var.x}", "quotes, backslashes and templates are not allowed"),
    ],
)
def test_set_var_refuses(var_file: Path, name: str, value: str, problem: str) -> None:
    before = var_file.read_bytes()
    with pytest.raises(PinError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        set_var(var_file, name, value)
    assert var_file.read_bytes() == before


def test_duplicate_assignment_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.tfvars"
    path.write_text('v = "1"\nv = "2"\n')
    with pytest.raises(PinError, match="assigns v 2 times"):
        read_var(path, "v")


@pytest.mark.parametrize(
    ("file", "text", "name", "value", "expected"),
    [
        (
            "prod.tfvars.json",
            '{\n  "backend_version": "v1.2.3",\n  "region": "us-east-1"\n}\n',
            "backend_version",
            "v1.3.0",
            '{\n  "backend_version": "v1.3.0",\n  "region": "us-east-1"\n}\n',
        ),
        (
            "prod.tfvars",
            'backend_image = "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production:v1.2.3"\r\n',
            "backend_image",
            "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production:v1.3.0",
            'backend_image = "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production:v1.3.0"\r\n',
        ),
        (
            "prod.tfvars",
            'images = { backend_version = "v0" }\nbackend_version = "v1.2.3"\n',
            "backend_version",
            "v1.3.0",
            'images = { backend_version = "v0" }\nbackend_version = "v1.3.0"\n',
        ),
    ],
)
def test_set_var_rewrites_only_the_top_level_literal(
    tmp_path: Path, file: str, text: str, name: str, value: str, expected: str
) -> None:
    """JSON var-files, image references and CRLF work; a nested key of the same name is left alone."""
    path = tmp_path / file
    path.write_bytes(text.encode())
    assert set_var(path, name, value) is True
    assert path.read_bytes() == expected.encode()
    assert read_var(path, name) == value


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            'backend_version = "${var.x}"\n',
            "assigns backend_version something other than a plain string",
        ),
        ("backend_version = 3\n", "assigns backend_version something other than a plain string"),
        ('backend_version = "v1\n', "cannot read backend_version from"),
    ],
)
def test_read_var_refuses(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "p.tfvars"
    path.write_text(text)
    with pytest.raises(PinError, match=problem):
        read_var(path, "backend_version")


def test_read_vars_reads_several_names_at_once(var_file: Path) -> None:
    assert read_vars(var_file, ["backend_version", "absent", "region"]) == {
        "backend_version": "v1.2.3",
        "region": "us-east-1",
    }


def test_set_vars_writes_every_value_in_one_write(var_file: Path) -> None:
    before = var_file.read_text()
    inode = var_file.stat().st_ino
    os.utime(var_file, (1_000_000, 1_000_000))
    changed = set_vars(
        var_file,
        {"backend_version": "v1.3.0", "frontend_version": "v1.3.0", "region": "us-east-1"},
    )
    assert changed == ["backend_version", "frontend_version"]
    assert var_file.read_text() == before.replace('"v1.2.3"', '"v1.3.0"')
    assert var_file.stat().st_ino != inode  # replaced (atomically), not edited in place
    assert var_file.stat().st_mtime != 1_000_000
    assert sorted(p.name for p in var_file.parent.iterdir()) == ["production.tfvars"]


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"backend_version": "v1.3.0", "absent": "v1"}, "has no plain string assignment of absent"),
        (
            {"backend_version": "v1.3.0", "frontend_version": "${var.x}"},
            "templates are not allowed",
        ),
        (
            {"backend_version": "v1.3.0", "tags": "v1"},
            "assigns tags something other than a plain string",
        ),
    ],
)
def test_set_vars_writes_nothing_when_one_value_is_refused(
    var_file: Path, values: dict[str, str], problem: str
) -> None:
    before = var_file.read_bytes()
    os.utime(var_file, (1_000_000, 1_000_000))
    with pytest.raises(PinError, match=problem):
        set_vars(var_file, values)
    assert (var_file.read_bytes(), var_file.stat().st_mtime) == (before, 1_000_000)
