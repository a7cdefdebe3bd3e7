"""Finding pins: positions, spans, kinds and names on the fixture corpus and inline text."""

from __future__ import annotations

from pathlib import Path

import pytest

from runlayer_tf.errors import ParseError
from runlayer_tf.pins import PinConfig, PinKind, find_pins
from runlayer_tf.pins._finder import (
    TerraformParseError,
    find_pins_in_file,
    may_hold_pins,
    scan_paths,
)

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "pins"
R = "170974506510.dkr.ecr.us-east-1.amazonaws.com"
CORPUS_FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and ".terraform" not in p.parts)
PARSEABLE = [p for p in CORPUS_FILES if p.name != "broken.tf"]

# fixture -> [(line, column, kind, path, name, tag, depends_on)]
EXPECTED = {
    "runbook/latest.tf": [(5, 12, "image", "module.backend.image", "image", "latest", None)],
    "runbook/stable.tf": [(4, 13, "image", "module.backend.image", "image", "v1.2.3", None)],
    "runbook/timestamp.tf": [
        (3, 13, "image", "module.backend.image", "image", "20241213-152430", None)
    ],
    "runbook/partial.tf": [(4, 13, "image", "module.backend.image", "image", "v1.2", None)],
    "runbook/build.tf": [
        (4, 12, "image", "module.backend.image", "image", "v1.2.3-20241213-152430-a1b2c3d4", None)
    ],
    "runbook/staging_and_prod.tf": [
        (4, 13, "image", "module.backend_staging.image", "image", "latest", None),
        (10, 13, "image", "module.backend_production.image", "image", "v1.2.3", None),
    ],
    "ecs/task_jsonencode.tf": [
        (
            11,
            20,
            "image",
            "aws_ecs_task_definition.backend.container_definitions[0].image",
            "image",
            "${var.backend_version}",
            "var.backend_version",
        ),
        (
            20,
            20,
            "image",
            "aws_ecs_task_definition.backend.container_definitions[1].image",
            "image",
            "2.32.2",
            None,
        ),
    ],
    "ecs/task_heredoc.tf": [
        (
            8,
            15,
            "image",
            "aws_ecs_task_definition.frontend.container_definitions",
            "image",
            "v1.2.3",
            None,
        )
    ],
    "ecs/task_heredoc_trim.tf": [
        (
            8,
            19,
            "image",
            "aws_ecs_task_definition.worker.container_definitions",
            "image",
            "${var.backend_version}",
            "var.backend_version",
        ),
        (
            14,
            19,
            "image",
            "aws_ecs_task_definition.worker.container_definitions",
            "image",
            "v0.98.0",
            None,
        ),
    ],
    "ecs/service.tf": [],
    "modules/main.tf": [
        (
            5,
            24,
            "image",
            "module.backend.image",
            "image",
            "${var.backend_version}",
            "var.backend_version",
        ),
        (
            13,
            24,
            "image",
            "module.frontend.image",
            "image",
            "${var.frontend_version}",
            "var.frontend_version",
        ),
    ],
    "modules/variables.tf": [
        (4, 18, "version", "variable.backend_version.default", "backend_version", "v1.2.3", None),
        (
            10,
            18,
            "version",
            "variable.frontend_version.default",
            "frontend_version",
            "v1.2.3",
            None,
        ),
    ],
    "modules/versions.tf": [],
    "envs/staging.tfvars": [
        (4, 21, "version", "backend_version", "backend_version", "latest", None),
        (5, 21, "version", "frontend_version", "frontend_version", "latest", None),
    ],
    "envs/production.tfvars.json": [
        (3, 23, "version", "backend_version", "backend_version", "v1.3.0", None),
        (4, 24, "version", "frontend_version", "frontend_version", "v1.3.0", None),
    ],
    "envs/staging.tfvars.json": [
        (1, 20, "image", "backend_image", "backend_image", "v1.4.0-rc.1", None),
        (1, 113, "version", "worker_tag", "worker_tag", "20241213-152430", None),
    ],
    "crlf/main.tf": [
        (4, 13, "image", "module.backend.image", "image", "v1.2.3", None),
        (8, 22, "version", "local.backend_version", "backend_version", "v1.2.3", None),
        (10, 7, "image", "local.note", "note", "v1.2.3", None),
    ],
    "bom/prod.tfvars": [
        (2, 21, "version", "backend_version", "backend_version", "v1.2.3", None),
        (3, 21, "version", "frontend_version", "frontend_version", "v1.2.3", None),
    ],
    "misc/escapes.tf": [
        (3, 14, "image", "local.backend", "backend", "v1.2.3", None),
        (5, 14, "image", "local.sidecar", "sidecar", "v1.29.1", None),
    ],
    "misc/nonascii.tf": [
        (3, 38, "image", "local.meta.image", "image", "v1.2.3", None),
        (9, 13, "image", "module.api.image", "image", "v2.3.1", None),
    ],
    "misc/rds.tf": [],
    "misc/description_only.tf": [],
    "misc/k8s_manifest.tf": [
        (12, 18, "image", "kubectl_manifest.api.yaml_body", "image", "v2.3.1", None),
        (14, 19, "image", "kubectl_manifest.api.yaml_body", "image", "v1.8.1", None),
    ],
    "misc/localhost_registry.tf": [
        (3, 19, "image", "local.api_image", "api_image", "v0.9.1", None),
        (4, 19, "image", "local.worker_image", "worker_image", "v0.9.1", None),
    ],
    "misc/registry_interp.tf": [(7, 13, "image", "module.backend.image", "image", "v1.2.3", None)],
    "misc/tfvars_aligned.tfvars": [
        (2, 22, "version", "backend_version", "backend_version", "v1.2.3", None),
        (3, 22, "version", "frontend_version", "frontend_version", "v1.2.3", None),
        (
            4,
            22,
            "version",
            "worker_image_tag",
            "worker_image_tag",
            "v1.2.3-20241213-152430-a1b2c3d4",
            None,
        ),
        (5, 22, "version", "image_tag", "image_tag", "20241213-152430", None),
    ],
    "prod/main.tf": [
        (3, 13, "image", "module.backend.image", "image", "v1", None),
        (8, 13, "image", "module.frontend.image", "image", "latest", None),
    ],
}


def summary(pins):
    return [(p.line, p.column, p.kind.value, p.path, p.name, p.tag, p.depends_on) for p in pins]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_pins(name):
    assert summary(find_pins_in_file(CORPUS / name)) == EXPECTED[name]


def test_corpus_is_large_enough():
    assert len(CORPUS_FILES) >= 30


@pytest.mark.parametrize("path", PARSEABLE, ids=lambda p: str(p.relative_to(CORPUS)))
def test_span_holds_value_and_line_column_point_at_it(path):
    """Every pin's byte span holds exactly its value, and line/column locate the same text."""
    data = path.read_bytes()
    text = data.decode("utf-8-sig")
    lines = text.split("\n")
    for pin in find_pins(data, file=str(path)):
        assert data[pin.start : pin.end].decode("utf-8") == pin.value
        line = lines[pin.line - 1]
        assert line[pin.column - 1 :].startswith(pin.value.split("\n")[0])


@pytest.mark.parametrize("path", PARSEABLE, ids=lambda p: str(p.relative_to(CORPUS)))
def test_prescan_keeps_every_file_with_pins(path):
    data = path.read_bytes()
    if find_pins(data, file=str(path)):
        assert may_hold_pins(data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('engine_version = "15.4"\n', False),
        ('required_version = ">= 1.5"\n', False),
        ('x = "arn:aws:iam::123456789012:role/deploy"\n', False),
        ('backend_version = "v1.2.3"\n', True),
        (f'image = "{R}/backend-production:v1.2.3"\n', True),
        ('image = "${var.repo}:${var.tag}"\n', True),
    ],
)
def test_prescan(text, expected):
    assert may_hold_pins(text.encode()) is expected


def test_directories_skip_dot_terraform():
    files = {Path(s.file).relative_to(CORPUS).as_posix() for s in scan_paths([CORPUS])}
    assert "misc/rds.tf" in files
    assert not any(f.startswith(".terraform/") for f in files)


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ('engine_version = "15.4"', []),
        ('required_version = "v1.5.0"', []),
        ('description = "use v1.2.3"', []),
        ('backend_version = "v1.2.3"', ["v1.2.3"]),
        ('worker_tag = "20241213-152430"', ["20241213-152430"]),
        ('image_tag = "latest"', ["latest"]),
        ('backend_version = "${var.other}"', []),
        ('terraform {\n  required_version = "v1.5.0"\n}', []),
        ('provider "aws" {\n  version = "v5.0.0"\n}', []),
        (f'image = "{R}/backend-production:v1.2.3@sha256:{"a" * 64}"', ["v1.2.3"]),
        ('image = "nginx:1.25"', []),  # no registry: not a pin
        ('x = "$${TAG}"', []),
    ],
)
def test_inline(text, tags):
    assert [p.tag for p in find_pins(text + "\n")] == tags


def test_configured_version_name_takes_any_value():
    config = PinConfig(version_names=frozenset({"backend_release"}))
    pins = find_pins('backend_release = "2024.12"\n', config=config)
    assert [(p.kind, p.name, p.value) for p in pins] == [
        (PinKind.VERSION, "backend_release", "2024.12")
    ]


def test_image_fields():
    (pin,) = find_pins(f'image = "{R}/team/backend-production:v1.2.3@sha256:{"b" * 64}"\n')
    assert (pin.registry, pin.repository, pin.tag, pin.digest) == (
        R,
        "team/backend-production",
        "v1.2.3",
        "sha256:" + "b" * 64,
    )
    assert str(pin.image) == pin.value


def test_byte_offsets_after_non_ascii_and_bom():
    data = '\ufeff# é\nbackend_version = "v1.2.3" # ü\n'.encode()
    (pin,) = find_pins(data)
    assert data[pin.start : pin.end] == b"v1.2.3"
    assert (pin.line, pin.column, pin.start) == (2, 20, 3 + len("# é\n".encode()) + 19)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "broken.tf",
            'module "x" {\n  image = "a"\n',
            "broken.tf:3:1: does not parse: syntax error",
        ),
        ("bad.tf", "a = = 1\n", "bad.tf:1:5: does not parse: unexpected '= 1'"),
        ("bad.tfvars.json", '{"a": }', "bad.tfvars.json:1:7: does not parse: Expecting value"),
    ],
)
def test_parse_errors_are_one_line_with_the_parser_line(name, text, message):
    with pytest.raises(ParseError) as info:
        find_pins(text, file=name)
    assert isinstance(info.value, TerraformParseError)
    assert str(info.value) == message
