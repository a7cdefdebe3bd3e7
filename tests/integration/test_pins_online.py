"""`pins bump` and `pins check --online` against the real distribution registry."""

from __future__ import annotations

import pytest

from runlayer_tf.cli import main

REPO = "it/pins-backend"


@pytest.fixture(scope="module")
def releases(oci_registry):
    pusher = oci_registry.pusher()
    digests = {}
    for version, extra in [
        ("v1.2.0", []),
        ("v1.2.3", ["v1.2.3-20241213-152430-a1b2c3d4"]),
        ("v1.3.0", ["latest"]),
        ("v2.0.0", []),
    ]:
        digests[version] = pusher.push_image(REPO, [version, *extra], seed=f"pins-{version}").digest
    return digests


@pytest.fixture
def project(tmp_path, oci_registry, releases):
    host = oci_registry.host
    (tmp_path / "main.tf").write_text(
        'variable "backend_version" {\n  type = string\n}\n\n'
        "locals {\n"
        f'  backend_image = "{host}/{REPO}:${{var.backend_version}}"\n'
        f'  worker_image  = "{host}/{REPO}:v1.2.0@{releases["v1.2.0"]}" # pinned by digest\n'
        "}\n"
    )
    (tmp_path / "prod.tfvars").write_text('backend_version = "v1.2.0"   # bumped by runlayer-tf\n')
    return tmp_path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("level", "version"),
    [("patch", "v1.2.3"), ("minor", "v1.3.0"), ("major", "v2.0.0")],
)
def test_bump_levels(project, releases, oci_registry, capsys, level, version):
    code, out, err = run(capsys, "pins", "bump", "--to", level, str(project))
    assert code == 0, err
    assert (
        project / "prod.tfvars"
    ).read_text() == f'backend_version = "{version}"   # bumped by runlayer-tf\n'
    main_tf = (project / "main.tf").read_text()
    assert (
        f'worker_image  = "{oci_registry.host}/{REPO}:{version}@{releases[version]}" # pinned by digest'
        in main_tf
    )
    assert "${var.backend_version}" in main_tf
    assert sorted(out.splitlines()) == sorted(
        [
            (
                f"{project / 'main.tf'}: {oci_registry.host}/{REPO}:v1.2.0@{releases['v1.2.0']}"
                f" -> {oci_registry.host}/{REPO}:{version}@{releases[version]}"
            ),
            f"{project / 'prod.tfvars'}: v1.2.0 -> {version}",
        ]
    )


def test_bump_digest_dry_run_writes_nothing(project, releases, oci_registry, capsys):
    before = {p.name: p.read_bytes() for p in project.iterdir()}
    code, out, err = run(capsys, "pins", "bump", "--digest", "--dry-run", str(project))
    assert code == 0
    assert {p.name: p.read_bytes() for p in project.iterdir()} == before
    assert '+backend_version = "v1.3.0"   # bumped by runlayer-tf' in out
    assert (
        f'+  worker_image  = "{oci_registry.host}/{REPO}:v1.3.0@{releases["v1.3.0"]}" # pinned by digest'
        in out
    )
    assert (
        err == f"runlayer-tf: {project / 'prod.tfvars'}:1:20: backend_version: "
        "a version variable holds no digest; pin the image reference to keep one\n"
    )


def test_bump_when_newest_already(project, capsys):
    assert run(capsys, "pins", "bump", "--to", "major", str(project))[0] == 0
    stamp = (project / "prod.tfvars").stat().st_mtime_ns
    code, out, err = run(capsys, "pins", "bump", "--to", "major", str(project))
    assert (code, out) == (0, "")
    assert err == "runlayer-tf: every release pin is already the newest allowed\n"
    assert (project / "prod.tfvars").stat().st_mtime_ns == stamp


def test_online_check_clean(project, capsys):
    assert run(capsys, "pins", "check", "--online", str(project)) == (0, "", "")


def test_online_check_finds_missing_tag(project, oci_registry, capsys):
    (project / "prod.tfvars").write_text('backend_version = "v1.9.9"\n')
    code, out, _ = run(capsys, "pins", "check", "--online", str(project))
    assert code == 1
    assert out.splitlines() == [
        f'{project / "prod.tfvars"}:1:20: RTF005 backend_version: tag "v1.9.9" does not exist '
        f"in {REPO} ({oci_registry.host}) (newest release: v2.0.0)"
    ]


def test_online_check_accepts_a_version_selector_that_matches(project, capsys):
    """A version variable may hold a selector that the image-pin module resolves."""
    (project / "prod.tfvars").unlink()
    (project / "staging.tfvars").write_text('backend_version = "v1.2"\n')
    assert run(capsys, "pins", "check", "--online", str(project)) == (0, "", "")
    (project / "staging.tfvars").write_text('backend_version = "v1.7"\n')
    code, out, _ = run(capsys, "pins", "check", "--online", str(project))
    assert (code, out) == (
        1,
        (
            f'{project / "staging.tfvars"}:1:20: RTF005 backend_version: tag "v1.7" does not exist '
            f"in {REPO} ({_host(project)}) (newest release: v2.0.0)\n"
        ),
    )


def _host(project):
    return (project / "main.tf").read_text().split('"')[3].split("/")[0]


def test_online_check_finds_a_moved_tag(project, oci_registry, releases, capsys):
    """Re-pushing v1.2.0 with other content makes the digest pin in main.tf stale."""
    pusher = oci_registry.pusher()
    moved = pusher.push_image(REPO, ["v1.2.0"], seed="pins-v1.2.0-rebuilt").digest
    try:
        code, out, _ = run(capsys, "pins", "check", "--online", str(project))
        assert code == 1
        line = 7
        column = len(f'  worker_image  = "{oci_registry.host}/{REPO}:v1.2.0@') + 1
        assert out.splitlines() == [
            f'{project / "main.tf"}:{line}:{column}: RTF004 local.worker_image: tag "v1.2.0" of {REPO} '
            f"now points at {moved}, "
            f"not the pinned {releases['v1.2.0']}: the tag was moved"
        ]
        # Offline, nothing is wrong.
        assert run(capsys, "pins", "check", str(project))[0] == 0
    finally:
        pusher.push_image(REPO, ["v1.2.0"], seed="pins-v1.2.0")


def test_online_check_reports_an_unreachable_registry(tmp_path, capsys):
    (tmp_path / "main.tf").write_text('locals {\n  image = "127.0.0.1:9/it/none:v1.0.0"\n}\n')
    code, out, _ = run(capsys, "pins", "check", "--online", str(tmp_path))
    assert code == 1
    assert out.startswith(
        f"{tmp_path / 'main.tf'}:2:12: RTF005 local.image: "
        "cannot check it/none (127.0.0.1:9): cannot reach 127.0.0.1:9: "
    )
