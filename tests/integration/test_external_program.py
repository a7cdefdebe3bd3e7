"""The external data source program, run as a subprocess exactly as Terraform runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYOUT = REPO_ROOT / "examples" / "oci-layout"
DEMO = f"oci-layout:{LAYOUT}"
V123 = "sha256:d00f74ec3be925829ac9b69e51ca4b2a3b4aff665ab32da7578e07863358d33f"
FORMS = {
    "module": [sys.executable, "-m", "runlayer_tf.external"],
    "subcommand": [str(Path(sys.executable).parent / "runlayer-tf"), "external"],
}


def run(stdin, *, form="module", env=None, args=()):
    data = stdin if isinstance(stdin, bytes) else stdin.encode()
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [*FORMS[form], *args], input=data, capture_output=True, env=full_env, timeout=60
    )


def q(**kw):
    return json.dumps(kw)


ALLOWED = (
    "allowed keys: repository, tag, registry, registry_id, region, allow_prerelease, insecure, "
    "platform"
)
BAD_INPUTS = [
    (
        "empty stdin",
        "",
        'empty query on stdin: expected a JSON object such as {"repository": "backend-production", "tag": "v1.2"}',
    ),
    (
        "whitespace",
        "  \n",
        'empty query on stdin: expected a JSON object such as {"repository": "backend-production", "tag": "v1.2"}',
    ),
    (
        "truncated JSON",
        '{"repository": "a"',
        "query on stdin is not valid JSON (Expecting ',' delimiter: line 1 column 19 (char 18))",
    ),
    (
        "not UTF-8",
        b'{"repository": "\xff"}',
        "query on stdin is not UTF-8 (invalid start byte at byte 16)",
    ),
    ("array", "[]", "query on stdin must be a JSON object, got list"),
    ("string", '"backend"', "query on stdin must be a JSON object, got str"),
    ("null", "null", "query on stdin must be a JSON object, got NoneType"),
    (
        "number value",
        q(repository="backend-production", tag=1),
        "query value 'tag' must be a string, got 1",
    ),
    (
        "bool value",
        q(repository="backend-production", tag="v1", allow_prerelease=True),
        "query value 'allow_prerelease' must be a string, got true",
    ),
    (
        "null value",
        q(repository=None, tag="v1"),
        "query value 'repository' must be a string, got null",
    ),
    (
        "object value",
        '{"repository": {"name": "x"}, "tag": "v1"}',
        'query value \'repository\' must be a string, got {"name": "x"}',
    ),
    (
        "list value",
        q(repository="backend-production", tag=["v1"]),
        "query value 'tag' must be a string, got [\"v1\"]",
    ),
    ("missing repository", q(tag="v1"), "query key 'repository' is required"),
    ("missing tag", q(repository="backend-production"), "query key 'tag' is required"),
    ("empty tag", q(repository="backend-production", tag=""), "query key 'tag' is required"),
    (
        "unknown key",
        q(repository="backend-production", tag="v1", image="x"),
        f"unknown query key 'image'; {ALLOWED}",
    ),
    (
        "unknown keys",
        q(repository="backend-production", tag="v1", b="x", a="y"),
        f"unknown query key 'a', 'b'; {ALLOWED}",
    ),
    (
        "wildcard selector",
        q(repository="backend-production", tag="v1.2.x", registry=DEMO),
        'invalid selector "v1.2.x": wildcards are not supported (write v1.2 or ~> 1.2)',
    ),
    (
        "bare operator",
        q(repository="backend-production", tag="~>", registry=DEMO),
        'invalid selector "~>": cannot read constraint \'~>\' (expected e.g. ">= 1.2", "~> 1.2.0")',
    ),
    (
        "uppercase commit",
        q(repository="backend-production", tag="v1.2.3-20241213-152430-A1B2C3D4", registry=DEMO),
        "invalid selector \"v1.2.3-20241213-152430-A1B2C3D4\": commit 'A1B2C3D4' must be lowercase hex",
    ),
    (
        "month 13",
        q(repository="backend-production", tag="v1.2.3-20241313-152430-a1b2c3d4", registry=DEMO),
        'invalid selector "v1.2.3-20241313-152430-a1b2c3d4": bad build timestamp (month must be in 1..12)',
    ),
    (
        "leading zero",
        q(repository="backend-production", tag="v01.2.3", registry=DEMO),
        "invalid selector \"v01.2.3\": leading zero in '01'",
    ),
    (
        "uppercase repository",
        q(repository="Backend-Production", tag="v1"),
        (
            'invalid repository name "Backend-Production": use lowercase letters, digits and separators '
            "(. _ __ -), path components joined by /"
        ),
    ),
    (
        "repository with space",
        q(repository="backend production", tag="v1"),
        (
            'invalid repository name "backend production": use lowercase letters, digits and separators '
            "(. _ __ -), path components joined by /"
        ),
    ),
    (
        "bad boolean",
        q(repository="backend-production", tag="v1", allow_prerelease="yes"),
        "query value 'allow_prerelease' must be \"true\" or \"false\", got 'yes'",
    ),
    (
        "bad insecure",
        q(repository="backend-production", tag="v1", insecure="1"),
        "query value 'insecure' must be \"true\" or \"false\", got '1'",
    ),
    (
        "plain http",
        q(repository="backend-production", tag="v1", registry="http://registry.example.com"),
        (
            'refusing plain HTTP to "registry.example.com": '
            'only loopback registries may use http:// unless insecure is "true"'
        ),
    ),
    (
        "ftp registry",
        q(repository="backend-production", tag="v1", registry="ftp://registry.example.com"),
        'invalid registry "ftp://registry.example.com": only https:// (or http:// for loopback) URLs are supported',
    ),
    (
        "empty layout path",
        q(repository="backend-production", tag="v1", registry="oci-layout:"),
        'invalid registry "oci-layout:": give the layout directory, e.g. oci-layout:./images',
    ),
    (
        "short registry_id",
        q(repository="backend-production", tag="v1", registry_id="123"),
        'invalid registry_id "123": an AWS account id has 12 digits',
    ),
    (
        "bad region",
        q(repository="backend-production", tag="v1", region="mars"),
        'invalid region "mars": expected an AWS region such as us-east-1',
    ),
    (
        "contradicting id",
        q(
            repository="backend-production",
            tag="v1",
            registry="170974506510.dkr.ecr.us-east-1.amazonaws.com",
            registry_id="123456789012",
        ),
        "registry_id 123456789012 contradicts the ECR host 170974506510.dkr.ecr.us-east-1.amazonaws.com",
    ),
    (
        "no such repository",
        q(repository="backend-staging", tag="v1", registry=DEMO),
        f"repository backend-staging not found in {DEMO} (no {LAYOUT / 'backend-staging' / 'index.json'})",
    ),
    (
        "no match",
        q(repository="backend-production", tag="v9", registry=DEMO),
        "no tag of backend-production matches v9 (newest release: v1.3.0)",
    ),
    (
        "no latest-like tag",
        q(repository="backend-production", tag="stable", registry=DEMO),
        "no tag of backend-production matches stable (newest release: v1.3.0)",
    ),
    (
        "prerelease hint",
        q(repository="backend-production", tag="v2", registry=DEMO),
        "no tag of backend-production matches v2 (newest release: v1.3.0; a prerelease matches: set allow_prerelease)",
    ),
    (
        "missing layout",
        q(repository="backend-production", tag="v1", registry="oci-layout:/nonexistent/layout"),
        "OCI layout directory /nonexistent/layout does not exist",
    ),
    (
        "unknown digest",
        q(repository="backend-production", tag="sha256:" + "ab" * 32, registry=DEMO),
        f"backend-production@sha256:{'ab' * 32} not found in {DEMO}",
    ),
    (
        "bad digest",
        q(repository="backend-production", tag="sha256:abc", registry=DEMO),
        'invalid selector "sha256:abc": sha256 needs 64 hex digits, got 3 characters',
    ),
]


@pytest.mark.parametrize(("stdin", "message"), [pytest.param(s, m, id=i) for i, s, m in BAD_INPUTS])
def test_bad_input_is_one_line_exit_1_nothing_on_stdout(stdin, message):
    proc = run(stdin, env={"RUNLAYER_TF_CACHE_TTL": "0"})
    assert (proc.returncode, proc.stdout, proc.stderr.decode()) == (
        1,
        b"",
        f"runlayer-tf external: {message}\n",
    )


@pytest.mark.parametrize("form", ["subcommand", "module"])
def test_arguments_are_refused_in_one_line_with_the_usage_code(form):
    proc = run(
        q(repository="backend-production", tag="v1", registry=DEMO),
        form=form,
        args=["extra", "--json"],
    )
    assert (proc.returncode, proc.stdout) == (2, b"")
    assert (
        proc.stderr.decode()
        == "runlayer-tf external: takes no arguments (got extra --json); it reads its query as JSON on stdin\n"
    )


def test_no_region_for_ecr(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        RUNLAYER_TF_CACHE_TTL="0",
    )
    proc = subprocess.run(
        FORMS["module"],
        input=q(repository="backend-production", tag="v1").encode(),
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout) == (1, b"")
    assert (
        proc.stderr.decode() == "runlayer-tf external: no AWS region: "
        "set region in the query, AWS_REGION or AWS_DEFAULT_REGION, or a profile's region\n"
    )


def test_debug_shows_a_traceback():
    proc = run(
        q(repository="backend-production", tag="v9", registry=DEMO),
        env={"RUNLAYER_TF_DEBUG": "1", "RUNLAYER_TF_CACHE_TTL": "0"},
    )
    err = proc.stderr.decode()
    assert proc.returncode == 1
    assert err.startswith("Traceback (most recent call last):")
    assert err.endswith(
        "runlayer-tf external: no tag of backend-production matches v9 (newest release: v1.3.0)\n"
    )


EXPECTED_V12 = {
    "build_timestamp": "2024-12-13T15:24:30Z",
    "commit": "a1b2c3d4",
    "digest": V123,
    "image": f"{DEMO}/backend-production@{V123}",
    "index_digest": "",
    "platform": "",
    "pushed_at": "",
    "registry": DEMO,
    "repository": "backend-production",
    "tag": "v1.2.3",
    "tags": "20241213-152430,v1.2.3,v1.2.3-20241213-152430-a1b2c3d4",
    "version": "1.2.3",
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_success_prints_one_object_of_strings(form):
    proc = run(
        q(repository="backend-production", tag="v1.2", registry=DEMO),
        form=form,
        env={"RUNLAYER_TF_CACHE_TTL": "0"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    assert json.loads(proc.stdout) == EXPECTED_V12
    assert proc.stdout.count(b"\n") == 1


def test_answers_come_from_the_cache_within_the_ttl(tmp_path):
    """A cached answer is served without touching the registry; TTL=0 turns the cache off."""
    import shutil

    layout = tmp_path / "layout"
    shutil.copytree(LAYOUT, layout)
    env = {"RUNLAYER_TF_CACHE_DIR": str(tmp_path / "cache")}
    query = q(repository="backend-production", tag="v1.2", registry=f"oci-layout:{layout}")
    first = run(query, env=env)
    assert first.returncode == 0, first.stderr
    shutil.rmtree(layout)
    cached = run(query, env=env)
    assert (cached.returncode, cached.stdout) == (0, first.stdout)
    off = run(query, env={**env, "RUNLAYER_TF_CACHE_TTL": "0"})
    assert off.returncode == 1
    assert (
        off.stderr.decode()
        == f"runlayer-tf external: OCI layout directory {layout} does not exist\n"
    )
    expired = run(query, env={**env, "RUNLAYER_TF_CACHE_TTL": "0.001"})
    assert expired.returncode == 1


def test_digest_answers_never_expire(tmp_path):
    import shutil

    layout = tmp_path / "layout"
    shutil.copytree(LAYOUT, layout)
    env = {"RUNLAYER_TF_CACHE_DIR": str(tmp_path / "cache")}
    query = q(repository="backend-production", tag=V123, registry=f"oci-layout:{layout}")
    first = run(query, env=env)
    assert json.loads(first.stdout)["tag"] == "v1.2.3"
    # Age every entry by a day, then remove the registry: the digest is still known.
    for entry in (tmp_path / "cache" / "resolve").iterdir():
        data = json.loads(entry.read_text())
        data["stored_at"] = time.time() - 86400
        entry.write_text(json.dumps(data))
    shutil.rmtree(layout)
    again = run(query, env=env)
    assert (again.returncode, again.stdout) == (0, first.stdout)


def test_resolving_from_a_layout_never_imports_boto3():
    code = (
        "import io, sys, json\n"
        "from runlayer_tf import external\n"
        "out = io.StringIO()\n"
        f"external.run(io.BytesIO({q(repository='backend-production', tag='v1.2', registry=DEMO)!r}.encode()), out)\n"
        "assert json.loads(out.getvalue())['tag'] == 'v1.2.3'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'hcl2', 'lark')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, RUNLAYER_TF_CACHE_TTL="0"),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"


def test_a_cache_hit_imports_only_the_standard_library(tmp_path):
    env = dict(os.environ, RUNLAYER_TF_CACHE_DIR=str(tmp_path / "cache"))
    query = q(repository="backend-production", tag="v1.2", registry=DEMO)
    assert run(query, env={"RUNLAYER_TF_CACHE_DIR": str(tmp_path / "cache")}).returncode == 0
    code = (
        "import io, sys\n"
        "from runlayer_tf import external\n"
        f"external.run(io.BytesIO({query!r}.encode()), io.StringIO())\n"
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('attrs', 'semver', 'boto3', 'typing', 'runlayer_tf')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout == "['runlayer_tf', 'runlayer_tf._fastjson', 'runlayer_tf._hashing', "
        "'runlayer_tf._version', 'runlayer_tf.cache', 'runlayer_tf.errors', 'runlayer_tf.external']\n"
    )
