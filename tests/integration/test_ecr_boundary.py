"""ECR answers are not trusted: an ``imageDigest`` that is not a digest is a registry error.

The moto server lies on request (``ECR_DIGESTS`` in tests/harness/moto_server.py):
its ListImages and DescribeImages answers report an attacker's string as an
image's digest. ``resolve`` and ``pins bump --digest`` refuse with one line and
write nothing (docs/security.md, "ECR API responses").
"""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pytest

from runlayer_tf.errors import RegistryError
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.registries._ecr import EcrRegistry
from tests.harness import ecr as ecr_push
from tests.harness import moto_server

REPO = "it/lying-digests"
HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
INJECTED = 'sha256:${file("~/.aws/credentials")}'
MALFORMED = [
    pytest.param(INJECTED, id="terraform-interpolation"),
    pytest.param("sha256:" + "A" * 64, id="uppercase"),
    pytest.param("sha256:" + "0" * 63 + "\n", id="newline"),
    pytest.param("md5:" + "0" * 32, id="other-algorithm"),
]


@pytest.fixture(scope="module")
def repo(moto_server):
    client = boto3.client("ecr", region_name="us-east-1")
    client.create_repository(repositoryName=REPO)
    return {
        tag: ecr_push.push(client, REPO, [tag], seed=f"{REPO}-{tag}")
        for tag in ("v1.0.0", "v1.0.1")
    }


@pytest.fixture
def lie(repo, monkeypatch):
    """``lie(value)``: ECR reports ``value`` as the digest of v1.0.1 (the bump's target)."""
    return lambda value: monkeypatch.setitem(moto_server.ECR_DIGESTS, repo["v1.0.1"], value)


def error_line(value):
    shown = value.replace("\n", "\\n")  # control characters are printed escaped
    return f'ECR ({REPO}) sent an invalid digest "{shown}"'


@pytest.mark.parametrize("value", MALFORMED)
def test_resolve_refuses_a_malformed_listed_digest(lie, cli, value):
    lie(value)
    code, out, err = cli("resolve", "--region", "us-east-1", REPO, "v1.0")
    assert (code, out) == (1, "")
    assert err == f"runlayer-tf: error: {error_line(value)}\n"


def test_the_external_program_refuses_it_and_caches_nothing(lie, moto_server, tmp_path):
    import os

    lie(INJECTED)
    env = dict(os.environ, RUNLAYER_TF_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "runlayer_tf.external"],
        input=json.dumps({"repository": REPO, "tag": "v1.0"}),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"runlayer-tf external: {error_line(INJECTED)}\n"
    cached = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert not any(INJECTED.encode() in p.read_bytes() for p in cached)


@pytest.mark.parametrize("value", MALFORMED)
def test_pins_bump_digest_writes_nothing(lie, cli, tmp_path, value):
    lie(value)
    main_tf = tmp_path / "main.tf"
    original = f'image = "{HOST}/{REPO}:v1.0.0"\n'
    main_tf.write_text(original)
    code, out, err = cli("pins", "bump", "--digest", str(main_tf))
    assert (code, out) == (1, "")
    assert err == f"runlayer-tf: error: {error_line(value)}\n"
    assert main_tf.read_text() == original


def test_a_malformed_described_digest_is_refused_every_time(lie, repo):
    """DescribeImages (a tag's digest): refused, and the refused answer is not kept for later."""
    lie(INJECTED)
    registry = EcrRegistry(
        RegistryAddress.parse(HOST), client=boto3.client("ecr", region_name="us-east-1")
    )
    for _ in range(2):
        with pytest.raises(RegistryError) as caught:
            registry.digest_of(REPO, "v1.0.1")
        assert str(caught.value) == error_line(INJECTED)
    assert registry.digest_of(REPO, "v1.0.0") == repo["v1.0.0"]


def test_versions_refuses_it(lie, cli):
    lie(INJECTED)
    code, out, err = cli("versions", "--json", "--region", "us-east-1", REPO)
    assert (code, out) == (1, "")
    assert err == f"runlayer-tf: error: {error_line(INJECTED)}\n"
