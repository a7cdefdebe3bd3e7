"""`runlayer-tf resolve` and `runlayer-tf versions` on the demo layout: exact output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runlayer_tf.cli import main

LAYOUT = Path(__file__).resolve().parent.parent / "examples" / "oci-layout"
DEMO = f"oci-layout:{LAYOUT}"
FRONTEND_LATEST = "sha256:507ead83e7dfcb64514f828eb2f8ca3e128c95fd741f832224af21555040fcaa"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_resolve_prints_the_digest_pinned_reference(capsys):
    code, out, err = run(capsys, "resolve", "--registry", DEMO, "backend-production", "v1.2")
    assert (code, err) == (0, "")
    assert (
        out
        == f"{DEMO}/backend-production@sha256:d00f74ec3be925829ac9b69e51ca4b2a3b4aff665ab32da7578e07863358d33f\n"
    )


def test_resolve_json_is_the_external_result(capsys):
    code, out, _ = run(
        capsys, "resolve", "--json", "--registry", DEMO, "frontend-production", "latest"
    )
    assert code == 0
    result = json.loads(out)
    assert (result["tag"], result["version"], result["commit"], result["digest"]) == (
        "latest",
        "1.3.0",
        "feedface",
        FRONTEND_LATEST,
    )
    assert all(isinstance(v, str) for v in result.values())


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (
            ["resolve", "--registry", DEMO, "frontend-production", "v7"],
            1,
            "no tag of frontend-production matches v7 (newest release: v1.3.0)",
        ),
        (
            ["resolve", "--registry", DEMO, "Frontend", "v1"],
            2,
            (
                'invalid repository name "Frontend": use lowercase letters, digits and separators '
                "(. _ __ -), path components joined by /"
            ),
        ),
        (
            ["resolve", "--registry", "http://registry.example.com", "frontend-production", "v1"],
            2,
            (
                'refusing plain HTTP to "registry.example.com": '
                'only loopback registries may use http:// unless insecure is "true"'
            ),
        ),
        (
            ["resolve", "--registry", DEMO, "frontend-production", "v1.*"],
            1,
            'invalid selector "v1.*": wildcards are not supported (write v1.2 or ~> 1.2)',
        ),
        (
            ["versions", "--limit", "-1", "--registry", DEMO, "frontend-production"],
            2,
            "--limit must be 0 (all) or a positive number",
        ),
        (
            ["versions", "--registry", DEMO, "nothing-here"],
            1,
            f"repository nothing-here not found in {DEMO} (no {LAYOUT / 'nothing-here' / 'index.json'})",
        ),
    ],
)
def test_errors_are_one_line_with_exit_codes(capsys, argv, code, message):
    assert run(capsys, *argv) == (code, "", f"runlayer-tf: error: {message}\n")


def test_versions_table(capsys):
    code, out, err = run(capsys, "versions", "--registry", DEMO, "frontend-production")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "VERSION  TAG     DIGEST                PUSHED  TAGS",
        "1.3.0    v1.3.0  sha256:507ead83e7df…  -       20250114-091500,latest,v1.3.0,v1.3.0-20250114-091500-feedface",
        "1.2.3    v1.2.3  sha256:6285e8428b82…  -       20241213-153000,v1.2.3,v1.2.3-20241213-153000-a1b2c3d4",
        "1.2.0    v1.2.0  sha256:dc68c0d735cb…  -       20241120-141000,v1.2.0,v1.2.0-20241120-141000-0badc0de",
    ]


def test_versions_json_limit_and_prereleases(capsys):
    code, out, _ = run(
        capsys,
        "versions",
        "--json",
        "--limit",
        "3",
        "--allow-prerelease",
        "--registry",
        DEMO,
        "backend-production",
    )
    assert code == 0
    rows = json.loads(out)
    assert [(r["version"], r["tag"]) for r in rows] == [
        ("2.0.0-beta.2", "v2.0.0-beta.2"),
        ("1.3.0", "v1.3.0"),
        ("1.3.0-rc.1", "v1.3.0-rc.1"),
    ]
    assert rows[1]["tags"] == [
        "20250114-090000",
        "latest",
        "v1.3.0",
        "v1.3.0-20250114-090000-b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5",
    ]
    assert rows[1]["pushed_at"] == ""
    code, out, _ = run(
        capsys, "versions", "--json", "--limit", "0", "--registry", DEMO, "backend-production"
    )
    assert [r["version"] for r in json.loads(out)] == [
        "1.3.0",
        "1.2.3",
        "1.2.1",
        "1.2.0",
        "1.1.0",
        "1.0.0",
    ]
