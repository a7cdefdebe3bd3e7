"""The image-pin module under real OpenTofu and Terraform: plan and apply against ECR on moto, a
distribution registry (anonymous and with credentials) and the shipped OCI layout.

The module is applied as a root module in a temp copy (its variables given with
``-var``), so what is tested is exactly what users call.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REGISTRY_CREDENTIALS, REPO
from tests.harness import ecr as ecr_push
from tests.harness.tofu import TfBinary, TfWorkspace

MODULE = REPO / "terraform-modules" / "image-pin"
LAYOUT = REPO / "examples" / "oci-layout"
ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
# Fresh registry answers, not the resolver cache of an earlier test.
NO_CACHE = {"RUNLAYER_TF_CACHE_TTL": "0"}

OUTPUT_NAMES = [
    "build_timestamp",
    "commit",
    "digest",
    "image",
    "index_digest",
    "platform",
    "pushed_at",
    "registry",
    "repository",
    "signed_by",
    "tag",
    "tags",
    "version",
]


def workspace(tf: TfBinary, tmp_path: Path) -> TfWorkspace:
    ws = tf.workspace(MODULE, tmp_path / "image-pin")
    ws.init()
    return ws


def plan_and_apply(
    ws: TfWorkspace, variables: Mapping[str, str], env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Plan (asserting the planned image output), apply, and return the outputs."""
    plan = ws.plan(variables, env=env)
    applied = ws.apply(variables, env=env)
    outputs = ws.outputs()
    assert f'+ image           = "{outputs["image"]}"' in plan.stdout
    assert "Apply complete! Resources: 0 added, 0 changed, 0 destroyed." in applied.stdout
    return outputs


def expected(
    *,
    registry: str,
    repository: str,
    digest: str,
    tag: str,
    version: str,
    tags: list[str],
    build_timestamp: str = "",
    commit: str = "",
    pushed_at: str = "",
    image_prefix: str | None = None,
    platform: str = "",
    index_digest: str = "",
) -> dict[str, Any]:
    return {
        "build_timestamp": build_timestamp,
        "commit": commit,
        "digest": digest,
        "image": f"{image_prefix or registry}/{repository}@{digest}",
        "index_digest": index_digest,
        "platform": platform,
        "pushed_at": pushed_at,
        "registry": registry,
        "repository": repository,
        "signed_by": "",
        "tag": tag,
        "tags": tags,
        "version": version,
    }


# --- ECR on moto -----------------------------------------------------------------

ECR_REPO = "image-pin/backend-production"
# (tags, seed): releases the product's CI pushes, oldest first.
ECR_RELEASES = [
    (["v1.1.0", "20241015-093000", "v1.1.0-20241015-093000-5e6f7a8b"], "1.1.0"),
    (["v1.2.1", "20241202-111500", "v1.2.1-20241202-111500-3a4b5c6d"], "1.2.1"),
    (["v1.2.3", "20241213-152430", "v1.2.3-20241213-152430-a1b2c3d4"], "1.2.3"),
    (["v1.3.0-rc.1"], "1.3.0-rc.1"),
    (["v1.3.0", "20250114-090000", "v1.3.0-20250114-090000-b2c3d4e5", "latest"], "1.3.0"),
    (["v2.0.0-beta.2"], "2.0.0-beta.2"),
]
D = {seed: ecr_push.moto_digest(seed) for _tags, seed in ECR_RELEASES}


@pytest.fixture(scope="module")
def ecr_releases(moto_server: Any) -> Iterator[str]:
    import boto3

    client = boto3.client("ecr", region_name="us-east-1")
    client.create_repository(repositoryName=ECR_REPO)
    for tags, seed in ECR_RELEASES:
        assert ecr_push.push(client, ECR_REPO, tags, seed=seed) == D[seed]
    yield ECR_REPO
    client.delete_repository(repositoryName=ECR_REPO, force=True)


ECR_CASES = [
    # (selector, allow_prerelease, seed, tag, version, tags on the digest, build timestamp, commit)
    (
        "v1.2", "false", "1.2.3", "v1.2.3", "1.2.3",
        ["20241213-152430", "v1.2.3", "v1.2.3-20241213-152430-a1b2c3d4"], "2024-12-13T15:24:30Z", "a1b2c3d4",
    ),
    (
        "latest", "false", "1.3.0", "latest", "1.3.0",
        ["20250114-090000", "latest", "v1.3.0", "v1.3.0-20250114-090000-b2c3d4e5"], "2025-01-14T09:00:00Z", "b2c3d4e5",
    ),
    (
        "~> 1.2.0", "false", "1.2.3", "v1.2.3", "1.2.3",
        ["20241213-152430", "v1.2.3", "v1.2.3-20241213-152430-a1b2c3d4"], "2024-12-13T15:24:30Z", "a1b2c3d4",
    ),
    (
        ">= 1.1.0, < 1.2.2", "false", "1.2.1", "v1.2.1", "1.2.1",
        ["20241202-111500", "v1.2.1", "v1.2.1-20241202-111500-3a4b5c6d"], "2024-12-02T11:15:00Z", "3a4b5c6d",
    ),
    (
        "v1.1.0-20241015-093000-5e6f7a8b", "false", "1.1.0", "v1.1.0-20241015-093000-5e6f7a8b", "1.1.0",
        ["20241015-093000", "v1.1.0", "v1.1.0-20241015-093000-5e6f7a8b"], "2024-10-15T09:30:00Z", "5e6f7a8b",
    ),
    ("v2", "true", "2.0.0-beta.2", "v2.0.0-beta.2", "2.0.0-beta.2", ["v2.0.0-beta.2"], "", ""),
    (
        D["1.2.1"], "false", "1.2.1", "v1.2.1", "1.2.1",
        ["20241202-111500", "v1.2.1", "v1.2.1-20241202-111500-3a4b5c6d"], "2024-12-02T11:15:00Z", "3a4b5c6d",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("selector", "allow_prerelease", "seed", "tag", "version", "tags", "build_timestamp", "commit"),
    ECR_CASES,
)
def test_module_resolves_ecr_selector(
    tf,
    tmp_path,
    ecr_releases,
    selector,
    allow_prerelease,
    seed,
    tag,
    version,
    tags,
    build_timestamp,
    commit,
):
    """With the ECR host as registry, each selector yields the digest moto stored and the image's build metadata."""
    ws = workspace(tf, tmp_path)
    outputs = plan_and_apply(
        ws,
        {
            "repository": ecr_releases,
            "tag": selector,
            "registry": ECR_HOST,
            "allow_prerelease": allow_prerelease,
        },
        NO_CACHE,
    )
    assert RFC3339.fullmatch(outputs["pushed_at"])
    assert outputs == expected(
        registry=ECR_HOST,
        repository=ECR_REPO,
        digest=D[seed],
        tag=tag,
        version=version,
        tags=tags,
        build_timestamp=build_timestamp,
        commit=commit,
        pushed_at=outputs["pushed_at"],
    )


def test_module_default_registry_is_ecr_of_current_account(tf, tmp_path, ecr_releases):
    """An empty registry means ECR of the caller's account and region (moto's 123456789012, us-east-1)."""
    ws = workspace(tf, tmp_path)
    outputs = plan_and_apply(ws, {"repository": ecr_releases, "tag": "v1"}, NO_CACHE)
    assert outputs["image"] == f"{ECR_HOST}/{ECR_REPO}@{D['1.3.0']}"
    assert outputs["registry"] == ECR_HOST
    assert (outputs["tag"], outputs["version"]) == ("v1.3.0", "1.3.0")


def test_module_registry_id_and_region_select_ecr(tf, tmp_path, ecr_releases):
    ws = workspace(tf, tmp_path)
    variables = {
        "repository": ecr_releases,
        "tag": "v1.2.1",
        "registry_id": "123456789012",
        "region": "us-east-1",
    }
    outputs = plan_and_apply(ws, variables, NO_CACHE)
    assert outputs["image"] == f"{ECR_HOST}/{ECR_REPO}@{D['1.2.1']}"
    assert outputs["tags"] == ["20241202-111500", "v1.2.1", "v1.2.1-20241202-111500-3a4b5c6d"]


def test_module_follows_a_new_release_on_the_next_plan(tf, tmp_path, moto_server):
    """After CI pushes v1.2.4, the same configuration's next plan resolves v1.2 to it."""
    import boto3

    client = boto3.client("ecr", region_name="us-east-1")
    repository = "image-pin/moving"
    client.create_repository(repositoryName=repository)
    try:
        ecr_push.push(client, repository, ["v1.2.3"], seed="moving-1.2.3")
        ws = workspace(tf, tmp_path)
        variables = {"repository": repository, "tag": "v1.2", "registry": ECR_HOST}
        first = plan_and_apply(ws, variables, NO_CACHE)
        assert (first["tag"], first["digest"], first["tags"]) == (
            "v1.2.3",
            ecr_push.moto_digest("moving-1.2.3"),
            ["v1.2.3"],
        )
        ecr_push.push(client, repository, ["v1.2.4"], seed="moving-1.2.4")
        plan = ws.plan(variables, env=NO_CACHE)
        digest = ecr_push.moto_digest("moving-1.2.4")
        assert f'~ digest          = "{first["digest"]}" -> "{digest}"' in plan.stdout
        ws.apply(variables, env=NO_CACHE)
        second = ws.outputs()
        assert (second["tag"], second["version"], second["digest"], second["image"]) == (
            "v1.2.4",
            "1.2.4",
            digest,
            f"{ECR_HOST}/{repository}@{digest}",
        )
    finally:
        client.delete_repository(repositoryName=repository, force=True)


# --- the distribution registry ------------------------------------------------------


@pytest.fixture(scope="module")
def registry_releases(oci_registry: Any) -> dict[str, str]:
    """Push frontend releases; v1.3.0 (and latest) is a multi-platform index."""
    pusher = oci_registry.pusher()
    repo = "image-pin/frontend-production"
    digests = {
        "1.2.0": pusher.push_image(
            repo, ["v1.2.0", "20241120-141000", "v1.2.0-20241120-141000-0badc0de"], seed="f-1.2.0"
        ).digest,
        "1.2.3": pusher.push_image(
            repo, ["v1.2.3", "20241213-153000", "v1.2.3-20241213-153000-a1b2c3d4"], seed="f-1.2.3"
        ).digest,
    }
    index, children = pusher.push_index(
        repo,
        ["v1.3.0", "20250114-091500", "v1.3.0-20250114-091500-feedface", "latest"],
        seed="f-1.3.0",
    )
    digests["1.3.0"] = index.digest
    digests["1.3.0-amd64"] = children[0].digest
    digests["1.3.0-arm64"] = children[1].digest
    return digests


REGISTRY_REPO = "image-pin/frontend-production"


@pytest.mark.parametrize(
    ("selector", "seed", "tag", "version", "tags", "build_timestamp", "commit"),
    [
        (
            "v1.2", "1.2.3", "v1.2.3", "1.2.3",
            ["20241213-153000", "v1.2.3", "v1.2.3-20241213-153000-a1b2c3d4"],
            "2024-12-13T15:30:00Z", "a1b2c3d4",
        ),
        (
            "latest", "1.3.0", "latest", "1.3.0",
            ["20250114-091500", "latest", "v1.3.0", "v1.3.0-20250114-091500-feedface"],
            "2025-01-14T09:15:00Z", "feedface",
        ),
        (
            "1.2.0", "1.2.0", "v1.2.0", "1.2.0",
            ["20241120-141000", "v1.2.0", "v1.2.0-20241120-141000-0badc0de"],
            "2024-11-20T14:10:00Z", "0badc0de",
        ),
    ],
)  # fmt: skip
def test_module_resolves_distribution_registry_selector(
    tf,
    tmp_path,
    oci_registry,
    registry_releases,
    selector,
    seed,
    tag,
    version,
    tags,
    build_timestamp,
    commit,
):
    ws = workspace(tf, tmp_path)
    outputs = plan_and_apply(
        ws, {"repository": REGISTRY_REPO, "tag": selector, "registry": oci_registry.host}
    )
    assert outputs == expected(
        registry=oci_registry.host,
        repository=REGISTRY_REPO,
        digest=registry_releases[seed],
        tag=tag,
        version=version,
        tags=tags,
        build_timestamp=build_timestamp,
        commit=commit,
    )


def test_module_multi_platform_digest_is_the_index_digest(
    tf, tmp_path, oci_registry, registry_releases
):
    """For an image index the outputs carry the index digest (what one deploys), never a platform's."""
    ws = workspace(tf, tmp_path)
    outputs = plan_and_apply(
        ws, {"repository": REGISTRY_REPO, "tag": "~> 1.3", "registry": oci_registry.url}
    )
    assert outputs["digest"] == registry_releases["1.3.0"] != registry_releases["1.3.0-amd64"]
    assert outputs["image"] == f"{oci_registry.host}/{REGISTRY_REPO}@{registry_releases['1.3.0']}"
    assert (outputs["tag"], outputs["version"]) == ("v1.3.0", "1.3.0")


@pytest.mark.parametrize(
    ("platform", "child"), [("linux/arm64", "arm64"), ("linux/amd64", "amd64")]
)
def test_module_platform_input_gives_that_platforms_digest(
    tf, tmp_path, oci_registry, registry_releases, platform, child
):
    ws = workspace(tf, tmp_path)
    variables = {
        "repository": REGISTRY_REPO,
        "tag": "latest",
        "registry": oci_registry.host,
        "platform": platform,
    }
    outputs = plan_and_apply(ws, variables)
    assert outputs == expected(
        registry=oci_registry.host,
        repository=REGISTRY_REPO,
        digest=registry_releases[f"1.3.0-{child}"],
        tag="latest",
        version="1.3.0",
        tags=["20250114-091500", "latest", "v1.3.0", "v1.3.0-20250114-091500-feedface"],
        build_timestamp="2025-01-14T09:15:00Z",
        commit="feedface",
        platform=platform,
        index_digest=registry_releases["1.3.0"],
    )
    # A platform the index lacks fails the plan, naming the platforms it has.
    proc = ws.plan({**variables, "platform": "linux/s390x"}, check=False)
    assert proc.returncode == 1
    assert (
        f"runlayer-tf external: {REGISTRY_REPO}:latest has no image for linux/s390x "
        "(platforms: linux/amd64, linux/arm64)"
    ) in proc.stderr


def test_module_uses_docker_config_credentials(tf, tmp_path, auth_registry):
    """Against a registry behind basic auth, the program reads the credentials from DOCKER_CONFIG's auths."""
    image = auth_registry.pusher().push_image(
        "image-pin/private", ["v3.1.4", "latest"], seed="private-3.1.4"
    )
    docker = tmp_path / "docker"
    docker.mkdir()
    token = base64.b64encode(":".join(REGISTRY_CREDENTIALS).encode()).decode()
    (docker / "config.json").write_text(
        json.dumps({"auths": {auth_registry.host: {"auth": token}}})
    )
    ws = workspace(tf, tmp_path)
    variables = {"repository": "image-pin/private", "tag": "v3", "registry": auth_registry.host}
    outputs = plan_and_apply(ws, variables, {"DOCKER_CONFIG": str(docker), **NO_CACHE})
    assert outputs == expected(
        registry=auth_registry.host,
        repository="image-pin/private",
        digest=image.digest,
        tag="v3.1.4",
        version="3.1.4",
        tags=["latest", "v3.1.4"],
    )
    # Without credentials the plan fails with the program's one-line message.
    empty = tmp_path / "no-docker"
    empty.mkdir()
    failed = ws.plan(variables, env={"DOCKER_CONFIG": str(empty), **NO_CACHE}, check=False)
    assert failed.returncode == 1
    assert (
        f"runlayer-tf external: registry {auth_registry.host} requires credentials: "
        f"run 'docker login {auth_registry.host}' "
        f"or add it to {empty / 'config.json'}" in failed.stderr
    )


# --- the shipped OCI layout ---------------------------------------------------------


LAYOUT_BACKEND = {
    "1.2.3": "sha256:d00f74ec3be925829ac9b69e51ca4b2a3b4aff665ab32da7578e07863358d33f",
    "1.3.0": "sha256:a2adbb7af71be17527a272008b77b9215bc97b951d14c8810996c4f544ab7a51",
}


@pytest.mark.parametrize(
    ("selector", "allow_prerelease", "digest", "tag", "version", "tags", "build_timestamp", "commit"),
    [
        (
            "v1.2", "false", LAYOUT_BACKEND["1.2.3"], "v1.2.3", "1.2.3",
            ["20241213-152430", "v1.2.3", "v1.2.3-20241213-152430-a1b2c3d4"], "2024-12-13T15:24:30Z", "a1b2c3d4",
        ),
        (
            "latest", "false", LAYOUT_BACKEND["1.3.0"], "latest", "1.3.0",
            ["20250114-090000", "latest", "v1.3.0", "v1.3.0-20250114-090000-b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5"],
            "2025-01-14T09:00:00Z", "b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5",
        ),
        (
            "20241213-152430", "false", LAYOUT_BACKEND["1.2.3"], "20241213-152430", "1.2.3",
            ["20241213-152430", "v1.2.3", "v1.2.3-20241213-152430-a1b2c3d4"], "2024-12-13T15:24:30Z", "a1b2c3d4",
        ),
    ],
)  # fmt: skip
def test_module_resolves_shipped_layout(
    tf, tmp_path, selector, allow_prerelease, digest, tag, version, tags, build_timestamp, commit
):
    ws = workspace(tf, tmp_path)
    registry = f"oci-layout:{LAYOUT}"
    variables = {
        "repository": "backend-production",
        "tag": selector,
        "registry": registry,
        "allow_prerelease": allow_prerelease,
    }
    outputs = plan_and_apply(ws, variables)
    assert outputs == expected(
        registry=registry,
        repository="backend-production",
        digest=digest,
        tag=tag,
        version=version,
        tags=tags,
        build_timestamp=build_timestamp,
        commit=commit,
    )


def test_module_relative_layout_path_is_read_from_the_working_directory(tf, tmp_path):
    """As the README says, a relative oci-layout: path is read from where the binary runs (the root module here)."""
    shutil.copytree(LAYOUT, tmp_path / "demo-layout")
    ws = workspace(tf, tmp_path)
    outputs = plan_and_apply(
        ws,
        {
            "repository": "frontend-production",
            "tag": "v1.2",
            "registry": "oci-layout:../demo-layout",
        },
    )
    assert (
        outputs["image"] == "oci-layout:../demo-layout/frontend-production"
        "@sha256:6285e8428b828df978ec92d373590a155d47cc71b2507183383d453215ba5858"
    )
    assert outputs["tag"] == "v1.2.3"


def test_module_outputs_are_the_documented_set(tf, tmp_path):
    ws = workspace(tf, tmp_path)
    outputs = plan_and_apply(
        ws,
        {"repository": "backend-production", "tag": "v1.2.3", "registry": f"oci-layout:{LAYOUT}"},
    )
    assert sorted(outputs) == OUTPUT_NAMES
    assert outputs["tags"] == ["20241213-152430", "v1.2.3", "v1.2.3-20241213-152430-a1b2c3d4"]


# --- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"tag": "v9"}, "no tag of backend-production matches v9 (newest release: v1.3.0)"),
        (
            {"tag": "v2"},
            (
                "no tag of backend-production matches v2 "
                "(newest release: v1.3.0; a prerelease matches: set allow_prerelease)"
            ),
        ),
        (
            {"tag": "v1.2.3.4"},
            'invalid selector "v1.2.3.4": not a semantic version vMAJOR.MINOR.PATCH[-PRERELEASE]',
        ),
        (
            {"tag": "~> banana"},
            """invalid selector "~> banana": cannot read constraint '~> banana' (expected e.g. ">= 1.2", "~> 1.2.0")""",
        ),
        (
            {"tag": "sha256:abc"},
            'invalid selector "sha256:abc": sha256 needs 64 hex digits, got 3 characters',
        ),
        (
            {"repository": "no-such-repo"},
            "repository no-such-repo not found in oci-layout:{layout} (no {layout}/no-such-repo/index.json)",
        ),
    ],
)
def test_module_plan_fails_with_the_program_error(tf, tmp_path, variables, message):
    """A selector the program rejects fails `plan` with its one-line message in stderr, and no traceback."""
    ws = workspace(tf, tmp_path)
    full = {
        "repository": "backend-production",
        "tag": "v1.2",
        "registry": f"oci-layout:{LAYOUT}",
        **variables,
    }
    proc = ws.plan(full, check=False)
    assert proc.returncode == 1
    assert f"runlayer-tf external: {message.format(layout=LAYOUT)}" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"repository": "Backend_Production"},
            "The repository must be a valid OCI repository name",
        ),
        (
            {"repository": "backend//production"},
            "The repository must be a valid OCI repository name",
        ),
        ({"tag": "  "}, "The tag must not be empty"),
        ({"registry_id": "12345"}, "The registry_id must be empty or a 12-digit AWS account id."),
        ({"region": "US-EAST-1"}, "The region must be empty or an AWS region such as us-east-1."),
        ({"registry": "oci-layout:"}, "The registry must be empty, an ECR host"),
        ({"registry": "ghcr.io/acme"}, "The registry must be empty, an ECR host"),
        ({"registry": "ftp://registry.example.com"}, "The registry must be empty, an ECR host"),
        ({"registry": "registry.example.com:port"}, "The registry must be empty, an ECR host"),
        ({"registry": "-registry.example.com"}, "The registry must be empty, an ECR host"),
        ({"platform": "linux"}, "The platform must be empty or OS/ARCH[/VARIANT]"),
        ({"platform": "linux/x86_64"}, "The platform must be empty or OS/ARCH[/VARIANT]"),
        ({"platform": "Linux/amd64"}, "The platform must be empty or OS/ARCH[/VARIANT]"),
        ({"platform": "unknown/unknown"}, "The platform must be empty or OS/ARCH[/VARIANT]"),
    ],
)
def test_module_validation_rejects_bad_inputs_before_running_the_program(
    tf, tmp_path, variables, message
):
    ws = workspace(tf, tmp_path)
    full = {
        "repository": "backend-production",
        "tag": "v1.2",
        "registry": f"oci-layout:{LAYOUT}",
        **variables,
    }
    proc = ws.plan(full, check=False)
    assert proc.returncode == 1
    assert "Error: Invalid value for variable" in proc.stderr
    assert message in proc.stderr
    assert "runlayer-tf external:" not in proc.stderr


def test_module_program_can_be_python_dash_m(tf, tmp_path):
    """The documented alternative `program` (the module run with python -m) gives the same answer."""
    ws = workspace(tf, tmp_path)
    program = json.dumps(["python", "-m", "runlayer_tf.external"])
    outputs = plan_and_apply(
        ws,
        {
            "repository": "frontend-production",
            "tag": "~> 1.2.0",
            "registry": f"oci-layout:{LAYOUT}",
            "program": program,
        },
    )
    assert (outputs["tag"], outputs["digest"]) == (
        "v1.2.3",
        "sha256:6285e8428b828df978ec92d373590a155d47cc71b2507183383d453215ba5858",
    )
