"""Planning and applying pin edits: only the literal's bytes change."""

from __future__ import annotations

from pathlib import Path

import pytest

from runlayer_tf.errors import PinError
from runlayer_tf.pins import find_pins, plan_edits, rewrite
from runlayer_tf.pins._rewrite import PinValue
from runlayer_tf.tags import Digest

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "pins"
R = "170974506510.dkr.ecr.us-east-1.amazonaws.com"
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def changed_lines(old: bytes, new: bytes) -> list[tuple[int, bytes, bytes]]:
    a, b = old.split(b"\n"), new.split(b"\n")
    assert len(a) == len(b)
    return [(i + 1, x, y) for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


# (fixture, assignments, [(line, new line bytes)])
SET_CASES = [
    (
        "misc/tfvars_aligned.tfvars",
        {"backend_version": "v1.2.4"},
        [(2, b'backend_version   = "v1.2.4"          # api + migrations')],
    ),
    (
        "envs/prod.tfvars",
        {"backend_version": "v1.3.0", "frontend_version": "v1.3.0"},
        [
            (4, b'backend_version  = "v1.3.0"   # tested in staging 2024-12-13'),
            (5, b'frontend_version = "v1.3.0"   # tested in staging 2024-12-13'),
        ],
    ),
    (
        "crlf/main.tf",
        {"backend-production": "v1.2.4"},
        [
            (4, f'  image  = "{R}/backend-production:v1.2.4" # pinned\r'.encode()),
            (8, b'  backend_version = "v1.2.4"\r'),
        ],
    ),
    (
        "bom/prod.tfvars",
        {"frontend_version": "v1.2.4"},
        [(3, 'frontend_version = "v1.2.4" # équipe'.encode())],
    ),
    (
        "misc/nonascii.tf",
        {"backend-production": "v1.2.4"},
        [(3, f'  meta = {{ note = "café ☕", image = "{R}/backend-production:v1.2.4" }}'.encode())],
    ),
    (
        "ecs/task_heredoc.tf",
        {"frontend-production": "v1.2.4"},
        [(8, f'    "image": "{R}/frontend-production:v1.2.4",'.encode())],
    ),
    (
        "ecs/task_digest.tf",
        {"backend-production": f"v1.2.4@{D1}"},
        [(5, f'    image = "{R}/backend-production:v1.2.4@{D1}"'.encode())],
    ),
    (
        "ecs/task_digest_only.tf",
        {"backend-production": D2},
        [(5, f'    image   = "{R}/backend-production@{D2}"'.encode())],
    ),
    (
        "misc/escapes.tf",
        {"sidecar": "v1.30.0"},
        [(5, b'  sidecar = "ghcr.io/acme/envoy-proxy:v1.30.0" # "quoted" comment')],
    ),
    (
        "misc/registry_interp.tf",
        {"image": "v1.2.4"},
        [(7, b'  image  = "${local.ecr}/backend-production:v1.2.4"')],
    ),
    (
        # A version variable that follows a repository moves the repository's literal images too.
        "misc/nested.tf",
        {"backend_version": "v1.2.4"},
        [
            (3, f'    backend  = "{R}/backend-production:v1.2.4"'.encode()),
            (6, f'      celery = "{R}/backend-production:v1.2.4"'.encode()),
            (9, b'  backend_version = "v1.2.4"'),
        ],
    ),
    (
        "envs/production.tfvars.json",
        {"backend_version": "v1.3.1"},
        [(3, b'  "backend_version": "v1.3.1",')],
    ),
]


@pytest.mark.parametrize(("name", "assignments", "lines"), SET_CASES, ids=[c[0] for c in SET_CASES])
def test_set_changes_only_the_pins_lines(name, assignments, lines):
    data = (CORPUS / name).read_bytes()
    pins = find_pins(data, file=name)
    follows = {"backend_version": "backend-production"}
    new = rewrite(data, plan_edits(pins, assignments, follows=follows))
    assert [(n, y) for n, _, y in changed_lines(data, new)] == lines
    assert new.startswith(b"\xef\xbb\xbf") == data.startswith(b"\xef\xbb\xbf")
    # The result re-parses and holds the new values; setting again changes nothing.
    again = find_pins(new, file=name)
    assert plan_edits(again, assignments, follows=follows) == []


def test_digest_pin_refuses_a_bare_tag():
    data = (CORPUS / "ecs/task_digest.tf").read_bytes()
    pins = find_pins(data, file="task_digest.tf")
    with pytest.raises(
        PinError, match=r"task_digest.tf:5:14: .* pins a digest; give v1.2.4@sha256:\.\.\."
    ):
        plan_edits(pins, {"backend-production": "v1.2.4"})


def test_digest_pin_gets_the_digest_from_the_lookup():
    data = (CORPUS / "ecs/task_digest.tf").read_bytes()
    pins = find_pins(data, file="task_digest.tf")
    calls = []

    def digest_for(image: str, tag: str) -> Digest:
        calls.append((image, tag))
        return Digest.parse(D2)

    (edit,) = plan_edits(pins, {"backend-production": "v1.2.4"}, digest_for=digest_for)
    assert calls == [(f"{R}/backend-production", "v1.2.4")]
    assert edit.new == f"{R}/backend-production:v1.2.4@{D2}"


@pytest.mark.parametrize(
    ("assignment", "allow_major", "error"),
    [
        (
            "backend_version=v2.0.0",
            False,
            "v1.2.3 -> v2.0.0 crosses a major version; pass --allow-major",
        ),
        ("backend_version=v2.0.0", True, None),
        ("backend_version=v1.9.0", False, None),
        ("backend_version=" + D1, False, "holds a tag, not a digest"),
        ("nothing_here=v1.0.0", False, "no pin named 'nothing_here'"),
    ],
)
def test_plan_errors(assignment, allow_major, error):
    pins = find_pins('backend_version = "v1.2.3"\n', file="x.tfvars")
    name, _, text = assignment.partition("=")
    value = PinValue.parse(text)
    if error is None:
        (edit,) = plan_edits(pins, [(name, value)], allow_major=allow_major)
        assert edit.new == str(value)
    else:
        with pytest.raises(PinError, match=error.replace(".", r"\.")):
            plan_edits(pins, [(name, value)], allow_major=allow_major)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v1.2.3", PinValue("v1.2.3", None)),
        (D1, PinValue(None, D1)),
        (f"v1.2.3@{D1}", PinValue("v1.2.3", D1)),
    ],
)
def test_pin_value_parse(text, expected):
    assert PinValue.parse(text) == expected
    assert str(expected) == text


def test_templates_are_never_rewritten():
    text = f'image = "{R}/backend-production:${{var.backend_version}}"\n'
    pins = find_pins(text)
    assert pins[0].depends_on == "var.backend_version"
    with pytest.raises(PinError, match="no pin named"):
        plan_edits(pins, {"image": "v1.2.4"})


def test_rewrite_str_and_stale_edit():
    text = 'a_version = "v1.0.0" # é\n'
    edits = plan_edits(find_pins(text), {"a_version": "v1.0.1"})
    assert rewrite(text, edits) == 'a_version = "v1.0.1" # é\n'
    with pytest.raises(PinError, match="no longer holds"):
        rewrite('a_version = "v9.0.0" # é\n', edits)
