"""The runnable examples: staging (tracks latest) and production (pinned by
production.tfvars) under real OpenTofu and Terraform against the shipped layout, ECR on moto
and the distribution registry, and the Python library example.

Each test copies ``examples/`` and ``terraform-modules/`` into a temp dir,
keeping their layout so the relative module sources resolve.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from runlayer_tf import pins
from tests.conftest import REPO, start_registry
from tests.harness import ecr as ecr_push
from tests.harness.registry import DistributionRegistry
from tests.harness.tofu import TfBinary, TfWorkspace

ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
NO_CACHE = {"RUNLAYER_TF_CACHE_TTL": "0"}
_ARTEFACTS = shutil.ignore_patterns(
    ".terraform", ".terraform.lock.hcl", "*.tfstate*", "tf_resources.json", "tfplan", "__pycache__"
)

# Digests in examples/oci-layout (scripts/build-example-layout).
LAYOUT = {
    (
        "backend-production",
        "1.2.3",
    ): "sha256:d00f74ec3be925829ac9b69e51ca4b2a3b4aff665ab32da7578e07863358d33f",
    (
        "backend-production",
        "1.3.0",
    ): "sha256:a2adbb7af71be17527a272008b77b9215bc97b951d14c8810996c4f544ab7a51",
    (
        "frontend-production",
        "1.2.3",
    ): "sha256:6285e8428b828df978ec92d373590a155d47cc71b2507183383d453215ba5858",
    (
        "frontend-production",
        "1.3.0",
    ): "sha256:507ead83e7dfcb64514f828eb2f8ca3e128c95fd741f832224af21555040fcaa",
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for part in ("examples", "terraform-modules"):
        shutil.copytree(REPO / part, tmp_path / part, ignore=_ARTEFACTS)
    return tmp_path


def example(tf: TfBinary, tree: Path, name: str) -> TfWorkspace:
    ws = TfWorkspace(tf, tree / "examples" / name)
    ws.init()
    return ws


def tf_cmd(
    ws: TfWorkspace,
    command: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    extra = ["-auto-approve"] if command == "apply" else []
    return ws.tf.run(
        [command, "-input=false", "-no-color", *extra, *args], cwd=ws.path, env=env, check=check
    )


def container(name: str, image: str, version: str) -> list[dict[str, Any]]:
    return [
        {
            "environment": [{"name": "RUNLAYER_VERSION", "value": version}],
            "essential": True,
            "image": image,
            "name": name,
        }
    ]


def expected_outputs(
    backend: tuple[str, str, str], frontend: tuple[str, str, str]
) -> dict[str, Any]:
    """Outputs for (image, tag, version) of each service; container definitions decoded."""
    return {
        "backend_image": backend[0],
        "backend_tag": backend[1],
        "backend_version": backend[2],
        "frontend_image": frontend[0],
        "frontend_tag": frontend[1],
        "frontend_version": frontend[2],
        "container_definitions": {
            "backend": container("backend", backend[0], backend[2]),
            "frontend": container("frontend", frontend[0], frontend[2]),
        },
    }


def decoded_outputs(ws: TfWorkspace) -> dict[str, Any]:
    outputs = ws.outputs()
    outputs["container_definitions"] = {
        k: json.loads(v) for k, v in outputs["container_definitions"].items()
    }
    return outputs


def layout_image(tree: Path, repository: str, version: str) -> str:
    return f"oci-layout:{tree / 'examples' / 'oci-layout'}/{repository}@{LAYOUT[(repository, version)]}"


# --- against the shipped demo layout (the examples' default) -----------------------


def test_staging_tracks_latest_in_the_shipped_layout(tf, tree):
    ws = example(tf, tree, "staging")
    plan = tf_cmd(ws, "plan")
    assert (
        f'+ backend_image         = "{layout_image(tree, "backend-production", "1.3.0")}"'
        in plan.stdout
    )
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in plan.stdout
    tf_cmd(ws, "apply")
    assert decoded_outputs(ws) == expected_outputs(
        (layout_image(tree, "backend-production", "1.3.0"), "latest", "1.3.0"),
        (layout_image(tree, "frontend-production", "1.3.0"), "latest", "1.3.0"),
    )
    again = tf_cmd(ws, "plan")
    assert "No changes. Your infrastructure matches the configuration." in again.stdout


def test_production_pins_v1_2_through_production_tfvars(tf, tree):
    ws = example(tf, tree, "production")
    plan = tf_cmd(ws, "plan", "-var-file=production.tfvars")
    assert '+ backend_tag           = "v1.2.3"' in plan.stdout
    tf_cmd(ws, "apply", "-var-file=production.tfvars")
    assert decoded_outputs(ws) == expected_outputs(
        (layout_image(tree, "backend-production", "1.2.3"), "v1.2.3", "1.2.3"),
        (layout_image(tree, "frontend-production", "1.2.3"), "v1.2.3", "1.2.3"),
    )


def test_production_upgrade_is_one_var_away(tf, tree):
    """The runbook's `apply -var="backend_version=v1.3.0"` moves only the backend, by digest."""
    ws = example(tf, tree, "production")
    tf_cmd(ws, "apply", "-var-file=production.tfvars")
    upgrade = tf_cmd(ws, "apply", "-var-file=production.tfvars", "-var=backend_version=v1.3.0")
    assert "Resources: 0 added, 1 changed, 0 destroyed." in upgrade.stdout
    outputs = decoded_outputs(ws)
    assert (outputs["backend_image"], outputs["backend_tag"], outputs["backend_version"]) == (
        layout_image(tree, "backend-production", "1.3.0"),
        "v1.3.0",
        "1.3.0",
    )
    assert outputs["frontend_image"] == layout_image(tree, "frontend-production", "1.2.3")


def test_production_bad_version_fails_plan_with_the_program_error(tf, tree):
    ws = example(tf, tree, "production")
    proc = tf_cmd(ws, "plan", "-var-file=production.tfvars", "-var=backend_version=v9", check=False)
    assert proc.returncode == 1
    assert (
        "runlayer-tf external: no tag of backend-production matches v9 (newest release: v1.3.0)"
        in proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_production_tfvars_pins_are_what_the_pins_tool_reads():
    """production.tfvars holds the two selectors, as runlayer-tf pins finds them."""
    path = REPO / "examples" / "production" / "production.tfvars"
    found = [(p.name, p.tag) for p in pins.find_pins(path.read_text(), file=str(path))]
    assert found == [("backend_version", "v1.2"), ("frontend_version", "v1.2")]
    assert 'backend_version = "v1.2"\n' in path.read_text()


# --- against ECR on moto (-var registry=...) -------------------------------------------


@pytest.fixture
def ecr_repositories(moto_server: Any) -> Iterator[Any]:
    """backend-production and frontend-production on moto, as the runbook's account holds them."""
    import boto3

    client = boto3.client("ecr", region_name="us-east-1")
    names = ["backend-production", "frontend-production"]
    for name in names:
        with contextlib.suppress(client.exceptions.RepositoryNotFoundException):
            client.delete_repository(repositoryName=name, force=True)
        client.create_repository(repositoryName=name)
    for name in names:
        prefix = name.split("-")[0]
        ecr_push.push(
            client,
            name,
            ["v1.2.3", "20241213-152430", "v1.2.3-20241213-152430-a1b2c3d4"],
            seed=f"{prefix}-1.2.3",
        )
        ecr_push.push(
            client,
            name,
            ["v1.2.4", "20241220-101010", "v1.2.4-20241220-101010-0a1b2c3d"],
            seed=f"{prefix}-1.2.4",
        )
        ecr_push.push(
            client,
            name,
            ["v1.3.0", "20250114-090000", "v1.3.0-20250114-090000-b2c3d4e5", "latest"],
            seed=f"{prefix}-1.3.0",
        )
    yield client
    for name in names:
        client.delete_repository(repositoryName=name, force=True)


def ecr_image(repository: str, seed: str) -> str:
    return f"{ECR_HOST}/{repository}@{ecr_push.moto_digest(seed)}"


def production_stays_while_staging_moves(
    tf: TfBinary, tree: Path, host: str, image: Any, release_v1_4_0: Any
) -> dict[str, Any]:
    """The scenario run against each registry; returns staging's outputs before the release.

    Production (v1.2 in production.tfvars) and staging (latest) are applied;
    CI releases backend v1.4.0 and moves ``latest`` to it; staging's next
    apply changes exactly its one resource, and production plans no changes.
    ``image(repository, version)`` is the expected reference of a release;
    ``release_v1_4_0()`` pushes backend v1.4.0 and returns its reference.
    """
    registry = f"-var=registry={host}"
    production = example(tf, tree, "production")
    staging = example(tf, tree, "staging")

    tf_cmd(production, "apply", "-var-file=production.tfvars", registry, env=NO_CACHE)
    assert decoded_outputs(production) == expected_outputs(
        (image("backend-production", "1.2.4"), "v1.2.4", "1.2.4"),
        (image("frontend-production", "1.2.4"), "v1.2.4", "1.2.4"),
    )
    tf_cmd(staging, "apply", registry, env=NO_CACHE)
    staged = decoded_outputs(staging)
    assert staged == expected_outputs(
        (image("backend-production", "1.3.0"), "latest", "1.3.0"),
        (image("frontend-production", "1.3.0"), "latest", "1.3.0"),
    )

    released = release_v1_4_0()
    moved = tf_cmd(staging, "apply", registry, env=NO_CACHE)
    assert "Resources: 0 added, 1 changed, 0 destroyed." in moved.stdout
    assert decoded_outputs(staging) == expected_outputs(
        (released, "latest", "1.4.0"),
        (image("frontend-production", "1.3.0"), "latest", "1.3.0"),
    )
    pinned = tf_cmd(production, "plan", "-var-file=production.tfvars", registry, env=NO_CACHE)
    assert "No changes. Your infrastructure matches the configuration." in pinned.stdout
    return staged


def test_examples_against_ecr_pinned_production_and_moving_staging(tf, tree, ecr_repositories):
    """Against ECR, production stays on v1.2.x while staging follows a new `latest` on its next apply."""

    def release() -> str:
        tags = ["v1.4.0", "20250301-120000", "v1.4.0-20250301-120000-deadbeef", "latest"]
        ecr_push.push(ecr_repositories, "backend-production", tags, seed="backend-1.4.0")
        return ecr_image("backend-production", "backend-1.4.0")

    production_stays_while_staging_moves(
        tf,
        tree,
        ECR_HOST,
        lambda repository, version: ecr_image(repository, f"{repository.split('-')[0]}-{version}"),
        release,
    )


# --- against the distribution registry (-var registry=host:port) ----------------------


EXAMPLE_REPOSITORIES = ("backend-production", "frontend-production")


@pytest.fixture
def example_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributionRegistry]:
    """A distribution registry of the test's own.

    The examples hard-code their repository names and the scenario moves
    ``latest``; a registry cannot forget tags, so the session's ``oci_registry``
    would hand the second binary's run the first one's releases.
    """
    yield from start_registry(tmp_path_factory, "example-registry", None)


@pytest.fixture
def registry_repositories(example_registry: DistributionRegistry) -> dict[tuple[str, str], str]:
    """The ECR fixture's releases on a fresh registry, as CI pushes them; digests by (repository, version).

    Backend v1.3.0 is a multi-platform index; the rest are single images.
    """
    for name in EXAMPLE_REPOSITORIES:
        listing = requests.get(f"{example_registry.url}/v2/{name}/tags/list", timeout=10)
        assert listing.status_code == 404, f"{name} already holds tags: {listing.text}"
    pusher = example_registry.pusher()
    digests: dict[tuple[str, str], str] = {}
    for name in EXAMPLE_REPOSITORIES:
        prefix = name.split("-")[0]
        v123 = pusher.push_image(
            name,
            ["v1.2.3", "20241213-152430", "v1.2.3-20241213-152430-a1b2c3d4"],
            seed=f"{prefix}-1.2.3",
            created="2024-12-13T15:24:30Z",
        )
        v124 = pusher.push_image(
            name,
            ["v1.2.4", "20241220-101010", "v1.2.4-20241220-101010-0a1b2c3d"],
            seed=f"{prefix}-1.2.4",
            created="2024-12-20T10:10:10Z",
        )
        v130_tags = ["v1.3.0", "20250114-090000", "v1.3.0-20250114-090000-b2c3d4e5", "latest"]
        if name == "backend-production":
            index, children = pusher.push_index(
                name, v130_tags, seed=f"{prefix}-1.3.0", created="2025-01-14T09:00:00Z"
            )
            v130 = index.digest
            digests[(name, "1.3.0-linux-amd64")] = children[0].digest
        else:
            v130 = pusher.push_image(
                name, v130_tags, seed=f"{prefix}-1.3.0", created="2025-01-14T09:00:00Z"
            ).digest
        digests.update(
            {(name, "1.2.3"): v123.digest, (name, "1.2.4"): v124.digest, (name, "1.3.0"): v130}
        )
    assert len(set(digests.values())) == len(digests)
    return digests


def test_examples_against_the_distribution_registry_pinned_production_and_moving_staging(
    tf, tree, example_registry, registry_repositories
):
    """Against a real registry, production stays on v1.2.x while staging follows a new `latest` on its next apply."""
    host = example_registry.host
    digests = registry_repositories

    def release() -> str:
        tags = ["v1.4.0", "20250301-120000", "v1.4.0-20250301-120000-deadbeef", "latest"]
        v140 = example_registry.pusher().push_image(
            "backend-production", tags, seed="backend-1.4.0", created="2025-03-01T12:00:00Z"
        )
        assert v140.digest not in digests.values()
        return f"{host}/backend-production@{v140.digest}"

    staged = production_stays_while_staging_moves(
        tf,
        tree,
        host,
        lambda repository, version: f"{host}/{repository}@{digests[(repository, version)]}",
        release,
    )
    # backend v1.3.0 is an index: staging deploys the index digest, not a platform's.
    assert digests[("backend-production", "1.3.0-linux-amd64")] not in staged["backend_image"]


# --- the Python example and the source tree -------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        (
            [],
            "backend-production v1.2 -> v1.2.3 (version 1.2.3)\n"
            f"image:  oci-layout:{REPO}/examples/oci-layout/backend-production"
            f"@{LAYOUT[('backend-production', '1.2.3')]}\n"
            "tags:   20241213-152430, v1.2.3, v1.2.3-20241213-152430-a1b2c3d4\n"
            "built:  2024-12-13T15:24:30Z from commit a1b2c3d4\n",
        ),
        (
            ["latest", "frontend-production"],
            "frontend-production latest -> latest (version 1.3.0)\n"
            f"image:  oci-layout:{REPO}/examples/oci-layout/frontend-production"
            f"@{LAYOUT[('frontend-production', '1.3.0')]}\n"
            "tags:   20250114-091500, latest, v1.3.0, v1.3.0-20250114-091500-feedface\n"
            "built:  2025-01-14T09:15:00Z from commit feedface\n",
        ),
    ],
)
def test_python_example_resolves_against_the_demo_layout(args, stdout):
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "resolve_example.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, stdout, "")


def test_python_example_reports_no_match_in_one_line():
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "resolve_example.py"), "v7"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1,
        "",
        "resolve_example: no tag of backend-production matches v7 (newest release: v1.3.0)\n",
    )


@pytest.mark.parametrize(
    ("directory", "files"),
    [
        (
            "terraform-modules/image-pin",
            ["README.md", "main.tf", "outputs.tf", "variables.tf", "versions.tf"],
        ),
        ("examples/staging", ["main.tf", "outputs.tf", "variables.tf"]),
        ("examples/production", ["main.tf", "outputs.tf", "production.tfvars", "variables.tf"]),
    ],
)
def test_source_tree_holds_no_run_artefacts(directory, files):
    """Tests run OpenTofu and Terraform in temp copies: no .terraform/, lock file or state lands in the repository."""
    assert sorted(p.name for p in (REPO / directory).iterdir()) == files
