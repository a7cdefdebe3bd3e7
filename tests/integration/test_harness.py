"""Smoke tests proving the harness: real OpenTofu, a real AWS endpoint, a real registry."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
import requests
from pytest_terraform import terraform

import runlayer_tf
from tests.conftest import REGISTRY_CREDENTIALS, TESTS
from tests.harness import ecr as ecr_push
from tests.harness.registry import OCI_INDEX, OCI_MANIFEST

terraform("smoke_info", scope="session")


def test_pytest_terraform_applies_external_data_source(smoke_info):
    """pytest-terraform applies a module whose data "external" runs `runlayer-tf info`."""
    assert smoke_info.outputs["name"]["value"] == "runlayer-tf"
    assert smoke_info.outputs["version"]["value"] == runlayer_tf.__version__
    assert smoke_info["external.info.result.version"] == runlayer_tf.__version__


def test_provisioned_tofu_is_v1_12(tofu):
    version = json.loads(tofu.run(["version", "-json"], cwd=TESTS).stdout)
    assert re.fullmatch(r"1\.12\.\d+", version["terraform_version"])


def test_tofu_workspace_init_apply_output(tofu, tmp_path, provisioned_tools):
    """The typed helper runs init/apply/output in a temp copy and lists the mirrored provider."""
    ws = tofu.workspace(TESTS / "terraform" / "smoke_info", tmp_path / "smoke")
    ws.init()
    providers = ws.providers()
    assert "provider[registry.opentofu.org/hashicorp/external]" in providers
    ws.apply()
    assert ws.outputs() == {"name": "runlayer-tf", "version": runlayer_tf.__version__}
    lock = (tmp_path / "smoke" / ".terraform.lock.hcl").read_text()
    assert f'version = "{provisioned_tools.external_version}"' in lock
    # Nothing was written into the source tree.
    source = TESTS / "terraform" / "smoke_info"
    assert sorted(p.name for p in source.iterdir()) == ["main.tf"]


def test_ecr_on_moto_push_and_read_digest(ecr):
    repo = ecr.create_repository(repositoryName="harness/backend-production")["repository"]
    assert repo["repositoryUri"].endswith(
        ".dkr.ecr.us-east-1.amazonaws.com/harness/backend-production"
    )
    pushed = ecr_push.push(
        ecr, "harness/backend-production", ["v1.2.3", "latest"], seed="harness-1"
    )
    assert pushed == ecr_push.moto_digest("harness-1")
    details = ecr.describe_images(
        repositoryName="harness/backend-production", imageIds=[{"imageTag": "v1.2.3"}]
    )["imageDetails"]
    assert [d["imageDigest"] for d in details] == [pushed]
    assert sorted(details[0]["imageTags"]) == ["latest", "v1.2.3"]


def test_moto_list_images_pages_like_ecr(ecr):
    """The harness makes moto page ListImages (moto alone returns everything at once)."""
    ecr.create_repository(repositoryName="harness/paged")
    for i in range(5):
        ecr_push.push(ecr, "harness/paged", [f"v0.0.{i}"], seed=f"paged-{i}")
    first = ecr.list_images(repositoryName="harness/paged", maxResults=2)
    assert len(first["imageIds"]) == 2
    assert "nextToken" in first
    pages = list(
        ecr.get_paginator("list_images").paginate(
            repositoryName="harness/paged", PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["imageIds"]) for p in pages] == [2, 2, 1]
    assert sorted(i["imageTag"] for p in pages for i in p["imageIds"]) == [
        f"v0.0.{i}" for i in range(5)
    ]


def test_registry_serves_manifest_with_content_digest(oci_registry):
    pusher = oci_registry.pusher()
    image = pusher.push_image("harness/frontend-production", ["v1.2.3"], seed="reg-1")
    resp = requests.get(
        f"{oci_registry.url}/v2/harness/frontend-production/manifests/v1.2.3",
        headers={"Accept": OCI_MANIFEST},
        timeout=10,
    )
    assert resp.status_code == 200
    assert resp.content == image.manifest
    assert (
        resp.headers["Docker-Content-Digest"]
        == "sha256:" + hashlib.sha256(resp.content).hexdigest()
        == image.digest
    )
    assert resp.headers["Content-Type"] == OCI_MANIFEST
    tags = requests.get(
        f"{oci_registry.url}/v2/harness/frontend-production/tags/list", timeout=10
    ).json()
    assert tags == {"name": "harness/frontend-production", "tags": ["v1.2.3"]}


def test_registry_index_push(oci_registry):
    index, children = oci_registry.pusher().push_index("harness/multi", ["v2.0.0"], seed="idx")
    resp = requests.head(
        f"{oci_registry.url}/v2/harness/multi/manifests/v2.0.0",
        headers={"Accept": OCI_INDEX},
        timeout=10,
    )
    assert resp.headers["Docker-Content-Digest"] == index.digest
    assert len(children) == 2


def test_auth_registry_refuses_anonymous_and_accepts_credentials(auth_registry):
    anonymous = requests.get(f"{auth_registry.url}/v2/", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="runlayer-tf-test"'
    wrong = requests.get(
        f"{auth_registry.url}/v2/", auth=(REGISTRY_CREDENTIALS[0], "wrong"), timeout=10
    )
    assert wrong.status_code == 401
    right = requests.get(f"{auth_registry.url}/v2/", auth=REGISTRY_CREDENTIALS, timeout=10)
    assert right.status_code == 200
    image = auth_registry.pusher().push_image("harness/private", ["v1.0.0"], seed="auth-1")
    pulled = requests.get(
        f"{auth_registry.url}/v2/harness/private/manifests/v1.0.0",
        auth=REGISTRY_CREDENTIALS,
        headers={"Accept": OCI_MANIFEST},
        timeout=10,
    )
    assert pulled.headers["Docker-Content-Digest"] == image.digest
    assert (
        requests.get(
            f"{auth_registry.url}/v2/harness/private/manifests/v1.0.0", timeout=10
        ).status_code
        == 401
    )


@pytest.mark.parametrize(
    "variable", ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_REGION"]
)
def test_no_inherited_aws_variables(variable):
    """The suite never sees a user's AWS configuration."""
    import os

    assert variable not in os.environ
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
