"""The ``runlayer-tf-check-pins`` hook run by the real ``pre-commit try-repo``.

try-repo builds a virtualenv from this repository (its committed HEAD, plus
uncommitted changes as a shadow commit) and pip-installs it from PyPI, so the
first run is slow; the cache lives in ``~/.cache/runlayer-tf/pre-commit``
unless ``PRE_COMMIT_HOME`` is set.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
R = "170974506510.dkr.ecr.us-east-1.amazonaws.com"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    files = {
        "clean/main.tf": f'module "backend" {{\n  image = "{R}/backend-production:v1.2.3"\n}}\n',
        "clean/prod.tfvars": 'backend_version = "v1.2.3" # tested\n',
        "clean/staging.tfvars.json": '{"backend_version": "latest"}\n',
        "bad/prod/main.tf": f'module "backend" {{\n  image = "{R}/backend-production:latest"\n}}\n',
        "bad/prod.tfvars": 'backend_version = "v1.2.3.4"\n',
        # Broken and holding a pin: parsed, so reported (files that cannot hold
        # a pin are never parsed; their syntax is terraform validate's job).
        "bad/broken.tf": f'module "x" {{\n  image = "{R}/backend-production:v1.2.3"\n',
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "."], check=True)
    return root


def try_repo(project: Path, *files: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.setdefault("PRE_COMMIT_HOME", str(Path.home() / ".cache" / "runlayer-tf" / "pre-commit"))
    env.pop("RUNLAYER_TF_DEBUG", None)
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(REPO), "runlayer-tf-check-pins", "--files", *files],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_hook_passes_clean_files(project):
    result = try_repo(project, "clean/main.tf", "clean/prod.tfvars", "clean/staging.tfvars.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "runlayer-tf check pins" in result.stdout
    assert "Passed" in result.stdout


def test_hook_fails_bad_files_with_rule_lines(project):
    result = try_repo(
        project, "bad/prod/main.tf", "bad/prod.tfvars", "bad/broken.tf", "clean/main.tf"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for expected in [
        'bad/prod/main.tf:2:76: RTF002 module.backend.image: moving tag "latest" in a production file; '
        "pin a release such as v1.2.3",
        'bad/prod.tfvars:1:20: RTF001 backend_version: invalid tag "v1.2.3.4": '
        "not a semantic version vMAJOR.MINOR.PATCH[-PRERELEASE]",
        "bad/broken.tf:3:1: RTF000 does not parse: syntax error",
    ]:
        assert expected in lines, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
