"""Platform selection on ECR (the moto server over HTTP): BatchGetImage reads the index and the
chosen manifest, each checked to hash to its digest; a single-platform image is accepted."""

from __future__ import annotations

import hashlib
import json

import boto3
import pytest

from runlayer_tf.errors import NoMatchError, RegistryError
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.registries._ecr import EcrRegistry
from runlayer_tf.resolve import Query, resolve
from tests.harness import ecr as ecr_push

REPO = "it/platforms"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def put(client, body: str, media_type: str, tag: str | None = None) -> str:
    """put_image as a pipeline does; the digest given is the manifest's, as real ECR computes it
    (moto would otherwise derive one from the layer digests)."""
    kwargs = {"imageTag": tag} if tag else {}
    client.put_image(
        repositoryName=REPO,
        imageManifest=body,
        imageManifestMediaType=media_type,
        imageDigest=sha(body),
        **kwargs,
    )
    return sha(body)


@pytest.fixture(scope="module")
def pushed(moto_server):
    client = boto3.client("ecr", region_name="us-east-1")
    client.create_repository(repositoryName=REPO)
    children = {}
    for arch in ("amd64", "arm64"):
        children[arch] = put(client, ecr_push.image_manifest(f"{REPO}-{arch}"), DOCKER_MANIFEST)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": DOCKER_MANIFEST,
                    "digest": children[arch],
                    "size": 1,
                    "platform": {"os": "linux", "architecture": arch},
                }
                for arch in ("amd64", "arm64")
            ],
        }
    )
    single = put(client, ecr_push.image_manifest(f"{REPO}-single"), DOCKER_MANIFEST, "v1.0.0")
    # moto's own digest (from the layer digests) is not the manifest's hash: a lying registry.
    lying = ecr_push.push(client, REPO, ["v0.9.0"], seed=f"{REPO}-lying")
    return {
        "index": put(client, index, OCI_INDEX, "v1.1.0"),
        **children,
        "single": single,
        "lying": lying,
    }


def ask(tag, platform):
    client = boto3.client("ecr", region_name="us-east-1")
    calls = []
    client.meta.events.register("before-call.ecr.*", lambda model, **kw: calls.append(model.name))
    query = Query.from_mapping({"repository": REPO, "tag": tag, "platform": platform})
    return resolve(query, EcrRegistry(RegistryAddress.parse(""), client=client)), calls


def test_ecr_index_gives_the_platforms_manifest(pushed):
    result, calls = ask("v1.1", "linux/arm64")
    assert (result.digest, result.platform, result.index_digest) == (
        pushed["arm64"],
        "linux/arm64",
        pushed["index"],
    )
    assert result.tags == ("v1.1.0",)
    assert calls == ["ListImages", "DescribeImages", "BatchGetImage", "BatchGetImage"]


def test_ecr_no_match_names_the_platforms(pushed):
    with pytest.raises(NoMatchError) as err:
        ask("v1.1.0", "linux/arm/v7")
    assert str(err.value) == (
        f"{REPO}:v1.1.0 has no image for linux/arm/v7 (platforms: linux/amd64, linux/arm64)"
    )


def test_ecr_single_platform_image_is_accepted_unchecked(pushed):
    """ECR cannot give the config cheaply: the manifest is accepted as it is (documented)."""
    result, calls = ask("v1.0.0", "linux/arm64")
    assert (result.digest, result.platform, result.index_digest) == (
        pushed["single"],
        "linux/arm64",
        "",
    )
    assert calls == ["ListImages", "DescribeImages", "BatchGetImage"]


def test_ecr_manifest_that_does_not_hash_to_its_digest_is_refused(pushed):
    with pytest.raises(RegistryError) as err:
        ask("v0.9.0", "linux/amd64")
    assert str(err.value) == (
        f"ECR ({REPO}): the manifest of {pushed['lying']} does not hash to it"
    )


def test_the_shared_resolver_answers_platform_queries(pushed, short_tmp):
    """ECR data sources go to the plan's shared resolver: a platform query's answer comes from it
    (the data source never imports botocore), equal to the in-process answer, and the
    platform-less query of the same tag still gets the index."""
    from tests.integration.test_shared_resolver import (
        alive,
        environment,
        in_process,
        probed,
        resolver_dir,
        resolver_pid,
        sockets,
        wait_until,
    )

    env = environment(short_tmp, RUNLAYER_TF_SHARED_RESOLVER_IDLE="1")
    arm = {"repository": REPO, "tag": "v1.1", "platform": "linux/arm64"}
    expected = in_process(arm, env, short_tmp)
    assert (expected.returncode, expected.stderr) == (0, "")
    answer, loaded = probed(arm, env, short_tmp)
    assert (answer.returncode, answer.stderr) == (0, "")
    assert json.loads(answer.stdout) == json.loads(expected.stdout)
    assert json.loads(answer.stdout)["digest"] == pushed["arm64"]
    assert loaded is False
    plain, loaded = probed({"repository": REPO, "tag": "v1.1"}, env, short_tmp)
    assert (json.loads(plain.stdout)["digest"], loaded) == (pushed["index"], False)
    missing, _ = probed({**arm, "platform": "linux/s390x"}, env, short_tmp)
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == (
        f"runlayer-tf external: {REPO}:v1.1.0 has no image for linux/s390x "
        "(platforms: linux/amd64, linux/arm64)\n"
    )
    (sock,) = sockets(resolver_dir(short_tmp))
    pid = resolver_pid(sock)
    assert wait_until(lambda: not alive(pid))
