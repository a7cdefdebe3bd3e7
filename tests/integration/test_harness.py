"""Smoke tests proving the harness: real OpenTofu and Terraform, a real AWS endpoint, a real registry."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import attrs
import pytest
import requests
from py.path import local
from pytest_terraform import tf as pytest_terraform

import runlayer_tf
from tests.conftest import REGISTRY_CREDENTIALS, TESTS, provisioned_binary
from tests.harness import ecr as ecr_push
from tests.harness.registry import OCI_INDEX, OCI_MANIFEST
from tests.harness.tofu import TfBinary

SMOKE = TESTS / "terraform" / "smoke_info"
# The versions scripts/provision-tools provides (README, terraform-modules/image-pin/README.md).
VERSIONS = {"tofu": r"1\.12\.\d+", "terraform": r"1\.(1[1-9]|[5-9])\.\d+"}
# Any network access during `init` fails: nothing answers on port 9 of loopback.
OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


class BoundTerraformFixture(pytest_terraform.TerraformFixture):
    """pytest-terraform's fixture (init, apply, state API, destroy at teardown) for one binary.

    pytest-terraform runs one binary per session (``--tf-binary``, else ``tofu``
    or ``terraform`` from PATH) and keeps one fixture per module directory, so
    its ``terraform()`` decorator cannot give one module under two binaries.
    This binds its runner to ``tf`` and to a copy of the module of its own (the
    runner writes the lock file and ``tf_resources.json`` into the module dir).
    """

    def __init__(self, tf: TfBinary, module_dir: Path, config: pytest.Config) -> None:
        super().__init__(
            tf_bin=None,
            plugin_cache=None,
            scope="session",
            tf_root_module=module_dir.name,
            test_dir=local(module_dir.parent),
            replay=False,
            teardown=pytest_terraform.td.DEFAULT,
            pytest_config=config,
        )
        self.binary = tf.binary
        self.module_dir = module_dir

    def resolve_module_dir(self) -> local:
        return local(self.module_dir)

    def get_runner(self, module_dir: local, work_dir: local) -> pytest_terraform.TerraformRunner:
        return pytest_terraform.TerraformRunner(
            str(work_dir), module_dir=module_dir, tf_bin=str(self.binary)
        )


@pytest.fixture(scope="session")
def smoke_info(
    tf: TfBinary, request: pytest.FixtureRequest, tmpdir_factory: pytest.TempdirFactory
) -> pytest_terraform.TerraformTestApi:
    """``terraform("smoke_info", scope="session")``, once per binary."""
    module = Path(tmpdir_factory.mktemp(f"pytest-terraform-{tf.name}")) / "smoke_info"
    shutil.copytree(SMOKE, module)
    return BoundTerraformFixture(tf, module, request.config)(request, tmpdir_factory, "master")


@pytest.mark.terraform
def test_pytest_terraform_applies_external_data_source(smoke_info):
    """pytest-terraform applies a module whose data "external" runs `runlayer-tf info`."""
    assert smoke_info.outputs["name"]["value"] == "runlayer-tf"
    assert smoke_info.outputs["version"]["value"] == runlayer_tf.__version__
    assert smoke_info["external.info.result.version"] == runlayer_tf.__version__


def test_provisioned_binary_is_the_documented_version(tf, provisioned_tools):
    version = json.loads(tf.run(["version", "-json"], cwd=TESTS).stdout)
    assert re.fullmatch(VERSIONS[tf.name], version["terraform_version"])
    assert provisioned_tools.manifest[tf.name]["version"] == version["terraform_version"]


def lock_file_pattern(tf: TfBinary, version: str) -> str:
    """The whole lock file ``init`` writes for hashicorp/external from our mirror."""
    return (
        re.escape(
            f'# This file is maintained automatically by "{tf.name} init".\n'
            "# Manual edits may be lost in future updates.\n\n"
            f'provider "{tf.provider("hashicorp/external")}" {{\n'
            f'  version = "{version}"\n'
            "  hashes = [\n"
        )
        + r'    "h1:[A-Za-z0-9+/]{43}=",\n'
        + re.escape("  ]\n}\n")
    )


def test_workspace_init_apply_output_offline(tf, tmp_path, provisioned_tools):
    """init (with no network: the mirror only), apply and output in a temp copy."""
    ws = tf.workspace(SMOKE, tmp_path / "smoke")
    ws.init(env=OFFLINE)
    assert ws.providers().splitlines() == [
        "",
        "Providers required by configuration:",
        ".",
        f"└── provider[{tf.provider('hashicorp/external')}]",
        "",
    ]
    assert re.fullmatch(lock_file_pattern(tf, provisioned_tools.external_version), ws.lock_file())
    ws.apply()
    assert ws.outputs() == {"name": "runlayer-tf", "version": runlayer_tf.__version__}
    # Nothing was written into the source tree.
    assert sorted(p.name for p in SMOKE.iterdir()) == ["main.tf"]


@pytest.mark.parametrize(("first", "second"), [("tofu", "terraform"), ("terraform", "tofu")])
def test_switching_binaries_needs_a_new_init(first, second, tmp_path, provisioned_tools):
    """A root's lock file names the registry host of the binary that ran init; the other one
    refuses to plan until it runs init again (its message says `init -upgrade`; a plain init
    rewrites the entry too)."""
    one, other = (provisioned_binary(provisioned_tools, name) for name in (first, second))
    ws = one.workspace(SMOKE, tmp_path / "smoke")
    ws.init()
    switched = attrs.evolve(ws, tf=other)
    refused = switched.plan(check=False)
    assert refused.returncode == 1
    assert "Error: Inconsistent dependency lock file" in refused.stderr
    assert (
        f"  - provider {other.provider('hashicorp/external')}: required by this configuration "
        "but no version is selected"
    ) in refused.stderr
    assert f"  {second} init -upgrade" in refused.stderr
    switched.init(env=OFFLINE)
    assert re.fullmatch(
        lock_file_pattern(other, provisioned_tools.external_version), ws.lock_file()
    )
    switched.apply()
    assert switched.outputs() == {"name": "runlayer-tf", "version": runlayer_tf.__version__}


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
