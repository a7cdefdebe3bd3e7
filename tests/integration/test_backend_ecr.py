"""The ECR backend against ECR's HTTP API on the moto server, with more than 1,000 images."""

from __future__ import annotations

import datetime
import subprocess
import sys

import boto3
import pytest

from runlayer_tf.errors import NoMatchError, NotFoundError
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.registries._ecr import EcrRegistry
from runlayer_tf.resolve import Query, resolve
from tests.harness import ecr as ecr_push

REPO = "it/backend-production"
HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
IMAGES = 1020  # > 1,000 tag ids, so ListImages needs two pages of 1,000


def versions():
    """1,020 releases v1.0.0 .. v1.50.19 (20 patches per minor)."""
    return [f"v1.{minor}.{patch}" for minor in range(51) for patch in range(20)]


@pytest.fixture(scope="module")
def big_repo(moto_server):
    client = boto3.client("ecr", region_name="us-east-1")
    client.create_repository(repositoryName=REPO)
    digests = {}
    for tag in versions()[:IMAGES]:
        digests[tag] = ecr_push.push(client, REPO, [tag], seed=f"{REPO}-{tag}")
    # Two releases also carry a build tag, a timestamp tag and latest.
    ecr_push.push(
        client,
        REPO,
        ["v1.2.19-20241213-152430-a1b2c3d4", "20241213-152430"],
        seed=f"{REPO}-v1.2.19",
    )
    ecr_push.push(
        client, REPO, ["latest", "v1.50.19-20250114-090000-b2c3d4e5"], seed=f"{REPO}-v1.50.19"
    )
    ecr_push.push(client, REPO, ["v1.51.0-rc.1"], seed=f"{REPO}-rc")
    return digests


def counting_registry(address=None):
    client = boto3.client("ecr", region_name="us-east-1")
    calls = []
    client.meta.events.register("before-call.ecr.*", lambda model, **kw: calls.append(model.name))
    return EcrRegistry(address or RegistryAddress.parse(""), client=client), calls


def q(tag, **extra):
    return Query.from_mapping({"repository": REPO, "tag": tag, **extra})


def test_listing_pages_through_more_than_1000_images(big_repo):
    registry, calls = counting_registry()
    tags = registry.list_tags(REPO)
    assert len(tags) == IMAGES + 5
    assert calls == ["ListImages", "ListImages"]
    assert tags["v1.2.3"] == big_repo["v1.2.3"] == ecr_push.moto_digest(f"{REPO}-v1.2.3")


def test_resolve_partial_version_describes_only_the_chosen_image(big_repo):
    registry, calls = counting_registry()
    result = resolve(q("v1.2"), registry).to_external()
    assert calls == ["ListImages", "ListImages", "DescribeImages"]
    assert result["tag"] == "v1.2.19"
    assert result["digest"] == big_repo["v1.2.19"]
    assert result["image"] == f"{HOST}/{REPO}@{big_repo['v1.2.19']}"
    assert result["tags"] == "20241213-152430,v1.2.19,v1.2.19-20241213-152430-a1b2c3d4"
    assert result["version"] == "1.2.19"
    assert result["build_timestamp"] == "2024-12-13T15:24:30Z"
    assert result["commit"] == "a1b2c3d4"
    assert result["registry"] == HOST
    pushed = datetime.datetime.strptime(result["pushed_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc
    )
    assert abs((datetime.datetime.now(datetime.timezone.utc) - pushed).total_seconds()) < 3600


@pytest.mark.parametrize(
    ("selector", "tag"),
    [
        ("latest", "latest"),
        ("v1", "v1.50.19"),
        ("~> 1.49.0", "v1.49.19"),
        (">= 1.10.3, < 1.10.7", "v1.10.6"),
        ("v1.7.7", "v1.7.7"),
        ("20241213-152430", "20241213-152430"),
    ],
)
def test_selectors(big_repo, selector, tag):
    registry, _ = counting_registry()
    assert resolve(q(selector), registry).tag == tag


def test_latest_reports_the_release_on_the_same_digest(big_repo):
    registry, _ = counting_registry()
    result = resolve(q("latest"), registry).to_external()
    assert result["version"] == "1.50.19"
    assert result["tags"] == "latest,v1.50.19,v1.50.19-20250114-090000-b2c3d4e5"


def test_prerelease_needs_allow(big_repo):
    registry, _ = counting_registry()
    with pytest.raises(NoMatchError) as info:
        resolve(q("v1.51"), registry)
    assert (
        str(info.value)
        == f"no tag of {REPO} matches v1.51 (newest release: v1.50.19; a prerelease matches: set allow_prerelease)"
    )
    assert resolve(q("v1.51", allow_prerelease="true"), registry).tag == "v1.51.0-rc.1"


def test_digest_selector_is_checked_and_reported(big_repo):
    registry, calls = counting_registry()
    digest = big_repo["v1.7.7"]
    result = resolve(q(digest), registry).to_external()
    assert (result["digest"], result["tag"], result["version"]) == (digest, "v1.7.7", "1.7.7")
    assert calls.count("DescribeImages") == 1
    with pytest.raises(NotFoundError):
        resolve(q("sha256:" + "0" * 64), counting_registry()[0])


def test_registry_host_sets_account_and_region(big_repo):
    registry, _ = counting_registry(RegistryAddress.parse(HOST))
    result = resolve(
        Query.from_mapping({"repository": REPO, "tag": "v1.3", "registry": HOST}), registry
    )
    assert result.image == f"{HOST}/{REPO}@{big_repo['v1.3.19']}"


def test_missing_repository(moto_server):
    registry, _ = counting_registry()
    with pytest.raises(NotFoundError) as info:
        resolve(Query.from_mapping({"repository": "no-such-repo", "tag": "v1"}), registry)
    assert str(info.value).startswith("listing no-such-repo: repository not found (")


def test_wrong_registry_id_is_not_found(big_repo):
    registry, _ = counting_registry(
        RegistryAddress.parse("", registry_id="999999999999", region="us-east-1")
    )
    with pytest.raises(NotFoundError):
        registry.list_tags(REPO)


def test_missing_credentials_one_line(moto_server, tmp_path):
    """Without any AWS credentials the external program says so in one line."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": moto_server.endpoint_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "RUNLAYER_TF_CACHE_TTL": "0",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "runlayer_tf.external"],
        input=f'{{"repository": "{REPO}", "tag": "v1.2"}}',
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        f"runlayer-tf external: listing {REPO}: no AWS credentials found "
        "(set AWS_PROFILE, run 'aws sso login', or export AWS_ACCESS_KEY_ID)\n"
    )


def test_concurrent_identical_data_sources_ask_ecr_once(moto_server, tmp_path):
    """Many data sources of one plan start at once; the first resolves, the others read its answer."""
    import json
    import os
    from pathlib import Path

    from tests.harness.moto_server import LIST_IMAGES_CALLS

    client = boto3.client("ecr", region_name="us-east-1")
    client.create_repository(repositoryName="it/single-flight")
    ecr_push.push(client, "it/single-flight", ["v1.0.0", "v1.0.1"], seed="single-flight")
    before = len(LIST_IMAGES_CALLS)
    env = dict(os.environ, RUNLAYER_TF_CACHE_DIR=str(tmp_path / "cache"))
    program = [str(Path(sys.executable).parent / "runlayer-tf"), "external"]
    query = json.dumps({"repository": "it/single-flight", "tag": "v1.0"})
    procs = [
        subprocess.Popen(
            program,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(8)
    ]
    for proc in procs:  # all eight hold their query before any answer is read
        assert proc.stdin is not None
        proc.stdin.write(query)
        proc.stdin.close()
    outputs = [(p.stdout.read(), p.stderr.read()) for p in procs]
    for proc in procs:
        proc.wait(timeout=120)
    assert [p.returncode for p in procs] == [0] * 8, outputs
    assert len({out for out, _ in outputs}) == 1
    assert json.loads(outputs[0][0])["tag"] == "v1.0.1"
    assert len(LIST_IMAGES_CALLS) - before == 1


def test_versions_on_ecr_reports_push_times_in_one_describe_per_100(big_repo, capsys):
    """`runlayer-tf versions` lists releases newest first with digests and ECR push times."""
    import json

    from runlayer_tf.cli import main

    assert main(["versions", "--json", "--limit", "3", "--region", "us-east-1", REPO]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["version"], r["tag"], r["digest"]) for r in rows] == [
        ("1.50.19", "v1.50.19", ecr_push.moto_digest(f"{REPO}-v1.50.19")),
        ("1.50.18", "v1.50.18", big_repo["v1.50.18"]),
        ("1.50.17", "v1.50.17", big_repo["v1.50.17"]),
    ]
    assert rows[0]["tags"] == ["latest", "v1.50.19", "v1.50.19-20250114-090000-b2c3d4e5"]
    assert all(r["pushed_at"].endswith("Z") and len(r["pushed_at"]) == 20 for r in rows)


def test_aws_region_alone_is_enough(big_repo, tmp_path):
    """botocore reads only AWS_DEFAULT_REGION; AWS_REGION (AWS CLI v2, other SDKs) works too."""
    import json
    import os

    env = {k: v for k, v in os.environ.items() if k != "AWS_DEFAULT_REGION"}
    env.update(
        AWS_REGION="us-east-1", RUNLAYER_TF_CACHE_TTL="0", AWS_CONFIG_FILE=str(tmp_path / "none")
    )
    proc = subprocess.run(
        [sys.executable, "-m", "runlayer_tf.external"],
        input=json.dumps({"repository": REPO, "tag": "v1.3"}),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["image"] == f"{HOST}/{REPO}@{big_repo['v1.3.19']}"


def test_throttling_is_retried_five_times_in_all_then_reported(monkeypatch):
    """An ECR endpoint that always throttles: 5 requests (the first and 4 retries), then one line.

    The endpoint is a loopback stub (moto cannot throttle); botocore's real
    retry handler runs, with its backoff delay set to 0 so the test is quick.
    """
    import http.server
    import json
    import threading

    import botocore.retries.standard

    from runlayer_tf.errors import RegistryError

    requests_seen: list[str] = []

    class Throttling(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            requests_seen.append(self.headers.get("X-Amz-Target", ""))
            body = json.dumps(
                {"__type": "ThrottlingException", "message": "Rate exceeded"}
            ).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("x-amzn-ErrorType", "ThrottlingException")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Throttling)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setattr(
        botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0
    )
    try:
        with pytest.raises(RegistryError) as info:
            EcrRegistry(RegistryAddress("ecr", region="us-east-1")).list_tags("it/throttled")
    finally:
        server.shutdown()
        server.server_close()
    assert (
        str(info.value)
        == "listing it/throttled: ECR throttled the request and 5 attempts failed (ThrottlingException)"
    )
    assert requests_seen == ["AmazonEC2ContainerRegistry_V20150921.ListImages"] * 5
