"""`--verify-key` on `resolve` and `versions`, and the external program's `verify_key`, on the
signed demo layout: verdicts, one-line errors, the verdict cache and the warm path's imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.harness.cosign import public_pem

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYOUT = REPO_ROOT / "examples" / "oci-layout"
DEMO = f"oci-layout:{LAYOUT}"
DEMO_PUB = REPO_ROOT / "examples" / "demo-signing" / "DEMO-ONLY-cosign.pub"
# openssl pkey -pubin -in examples/demo-signing/DEMO-ONLY-cosign.pub -outform DER | sha256sum
DEMO_FP = "sha256:7028bd3da9f0950266a6d5c698956eae16de2b9759accf695996e18df8d5edfb"
V123 = "sha256:d00f74ec3be925829ac9b69e51ca4b2a3b4aff665ab32da7578e07863358d33f"
V121 = "sha256:2f3dfeca12e99ea60e04d0cfae829bd9a258ed74f80474b3111fec9018a4e849"
V130_INDEX = "sha256:a2adbb7af71be17527a272008b77b9215bc97b951d14c8810996c4f544ab7a51"


@pytest.fixture
def other_pub(tmp_path):
    path = tmp_path / "other.pub"
    path.write_text(public_pem(ec.generate_private_key(ec.SECP256R1())))
    return path


def test_resolve_with_the_demo_key_passes_and_reports_the_signer(cli):
    code, out, err = cli(
        "resolve",
        "--json",
        "--registry",
        DEMO,
        "--verify-key",
        str(DEMO_PUB),
        "backend-production",
        "v1.2",
    )
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert (result["digest"], result["signed_by"], result["verified"]) == (V123, DEMO_FP, "true")


def test_a_multi_platform_release_is_verified_at_its_index_digest(cli):
    code, out, err = cli(
        "resolve", "--registry", DEMO, "--verify-key", str(DEMO_PUB), "backend-production", "v1.3.0"
    )
    assert (code, err) == (0, "")
    assert out.strip().endswith("@" + V130_INDEX)


def test_the_unsigned_release_is_refused_on_one_line(cli):
    code, out, err = cli(
        "resolve", "--registry", DEMO, "--verify-key", str(DEMO_PUB), "backend-production", "v1.2.1"
    )
    assert (code, out) == (1, "")
    assert err == (
        f"runlayer-tf: error: backend-production@{V121} is not signed by key {DEMO_FP}: "
        f"no signature (no tag {V121.replace(':', '-')}.sig)\n"
    )


def test_another_key_is_refused_naming_it(cli, other_pub):
    from runlayer_tf.signatures import load_keys

    (other,) = load_keys(str(other_pub))
    code, out, err = cli(
        "resolve", "--registry", DEMO, "--verify-key", str(other_pub), "backend-production", "v1.2"
    )
    assert (code, out) == (1, "")
    assert f"backend-production@{V123} is not signed by key {other.fingerprint}" in err
    assert "does not verify" in err
    assert err.count("\n") == 1


def test_any_of_several_keys_passes(cli, other_pub):
    code, out, err = cli(
        "resolve", "--json", "--registry", DEMO, "--verify-key", str(other_pub),
        "--verify-key", str(DEMO_PUB), "backend-production", "v1.2",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert json.loads(out)["signed_by"] == DEMO_FP


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--verify-key", "/nonexistent.pub"], 2, "--verify-key /nonexistent.pub: cannot read"),
        (["--verify-reference"], 2, "--verify-reference needs --verify-key"),
        (["--verify-key", "README.md"], 2, 'no "-----BEGIN PUBLIC KEY-----" block'),
        (
            ["--verify-key", "examples/demo-signing/DEMO-ONLY-signing-key.pem"],
            2,
            "that is a private key: give the public key (cosign.pub)",
        ),
    ],
    ids=["missing", "reference-without-key", "not-pem", "private-key"],
)
def test_bad_verify_options_are_usage_errors(cli, argv, code, message, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    got = cli("resolve", "--registry", DEMO, *argv, "backend-production", "v1.2")
    assert (got.code, got.out) == (code, "")
    assert message in got.err
    assert got.err.count("\n") == 1


def test_versions_shows_a_signed_column(cli):
    code, out, err = cli(
        "versions", "--registry", DEMO, "--verify-key", str(DEMO_PUB), "backend-production"
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split()[-1] == "SIGNED"
    signed = {line.split()[0]: line.split()[-1] for line in lines[1:]}
    assert signed["1.2.1"] == "no"
    assert {v for k, v in signed.items() if k != "1.2.1"} == {f"({DEMO_FP[:19]})"}


def test_versions_json_has_signed_by(cli):
    code, out, _ = cli(
        "versions",
        "--json",
        "--registry",
        DEMO,
        "--verify-key",
        str(DEMO_PUB),
        "frontend-production",
    )
    assert code == 0
    assert {row["signed_by"] for row in json.loads(out)} == {DEMO_FP}


def test_a_positive_verdict_is_cached_by_digest_and_key(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("RUNLAYER_TF_CACHE_DIR", str(tmp_path / "cache"))
    layout = tmp_path / "layout"
    shutil.copytree(LAYOUT, layout)
    argv = ("resolve", "--registry", f"oci-layout:{layout}", "--verify-key", str(DEMO_PUB))
    assert cli(*argv, "backend-production", "v1.2.3").code == 0
    assert len(list((tmp_path / "cache" / "verified").iterdir())) == 1
    # Remove the signature from the layout: the cached verdict still answers ...
    index = json.loads((layout / "backend-production" / "index.json").read_text())
    sig = V123.replace(":", "-") + ".sig"
    index["manifests"] = [
        m
        for m in index["manifests"]
        if m["annotations"]["org.opencontainers.image.ref.name"] != sig
    ]
    (layout / "backend-production" / "index.json").write_text(json.dumps(index))
    assert cli(*argv, "backend-production", "v1.2.3").code == 0
    # ... and with the cache off, the registry's answer is all there is.
    monkeypatch.setenv("RUNLAYER_TF_CACHE_TTL", "0")
    code, out, err = cli(*argv, "backend-production", "v1.2.3")
    assert (code, out) == (1, "")
    assert "no signature" in err


# --- the external program ----------------------------------------------------------


def external(query: dict[str, str], env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "runlayer_tf.external"],
        input=json.dumps(query).encode(),
        capture_output=True,
        env=dict(os.environ, **(env or {})),
        timeout=60,
    )


@pytest.mark.parametrize("form", ["pem", "path", "env"])
def test_the_external_program_verifies_with_a_pem_a_path_or_an_env_var(form, tmp_path):
    query = {"repository": "backend-production", "tag": "v1.2", "registry": DEMO}
    env = {"RUNLAYER_TF_CACHE_DIR": str(tmp_path / "cache")}
    if form == "pem":
        query["verify_key"] = DEMO_PUB.read_text()
    elif form == "path":
        query["verify_key"] = str(DEMO_PUB)
    else:
        query["verify_key_env"] = "DEMO_COSIGN_KEY"
        env["DEMO_COSIGN_KEY"] = DEMO_PUB.read_text()
    proc = external(query, env)
    assert (proc.returncode, proc.stderr) == (0, b"")
    result = json.loads(proc.stdout)
    assert (result["digest"], result["signed_by"], result["verified"]) == (V123, DEMO_FP, "true")


@pytest.mark.parametrize(
    ("extra", "env", "message"),
    [
        (
            {"tag": "v1.2.1", "verify_key": str(DEMO_PUB)},
            {},
            f"backend-production@{V121} is not signed by key {DEMO_FP}: no signature",
        ),
        ({"verify_key_env": "NOT_SET_ANYWHERE"}, {}, "verify_key_env names NOT_SET_ANYWHERE, which is not set"),
        ({"verify_key_env": "1-bad"}, {}, "is not an environment variable name"),
        ({"verify_key": "x", "verify_key_env": "K"}, {"K": "y"}, "not both"),
        ({"verify_reference": "true"}, {}, "verify_reference needs verify_key"),
        ({"verify_reference": "yes", "verify_key": str(DEMO_PUB)}, {}, "must be \"true\" or \"false\""),
        (
            {"verify_key": str(DEMO_PUB), "verify_reference": "true"},
            {},
            "names docker-reference 'oci-layout/backend-production'",
        ),
    ],
    ids=["unsigned", "env-unset", "env-name", "both", "reference-alone", "reference-value", "reference-mismatch"],
)  # fmt: skip
def test_the_external_program_refuses_on_one_line(extra, env, message, tmp_path):
    query = {"repository": "backend-production", "tag": "v1.2", "registry": DEMO, **extra}
    proc = external(query, {"RUNLAYER_TF_CACHE_DIR": str(tmp_path / "cache"), **env})
    assert (proc.returncode, proc.stdout) == (1, b"")
    err = proc.stderr.decode()
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_an_empty_verify_key_means_no_verification(tmp_path):
    # The image-pin module passes "" when no cosign_public_key is set.
    query = {
        "repository": "backend-production",
        "tag": "v1.2.1",
        "registry": DEMO,
        "verify_key": "",
    }
    proc = external(query, {"RUNLAYER_TF_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    assert "signed_by" not in json.loads(proc.stdout)


def test_a_warm_verified_answer_imports_only_the_standard_library(tmp_path):
    env = {"RUNLAYER_TF_CACHE_DIR": str(tmp_path / "cache")}
    query = {
        "repository": "backend-production",
        "tag": "v1.2",
        "registry": DEMO,
        "verify_key": str(DEMO_PUB),
    }
    assert external(query, env).returncode == 0
    code = (
        "import io, json, sys\n"
        "from runlayer_tf import external\n"
        "out = io.StringIO()\n"
        f"external.run(io.BytesIO({json.dumps(query)!r}.encode()), out)\n"
        "assert json.loads(out.getvalue())['verified'] == 'true'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('attrs', 'cryptography', 'typing', 'runlayer_tf')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "['runlayer_tf', 'runlayer_tf._fastjson', 'runlayer_tf._files', 'runlayer_tf._hashing', "
        "'runlayer_tf._version', 'runlayer_tf.cache', 'runlayer_tf.errors', 'runlayer_tf.external', "
        "'runlayer_tf.signatures', 'runlayer_tf.signatures._keys']\n"
    )


def test_a_platform_image_is_vouched_for_by_its_signed_index(cli):
    # The demo signs v1.3.0 at its index only: the arm64 manifest is accepted through it.
    code, out, err = cli(
        "resolve",
        "--json",
        "--registry",
        DEMO,
        "--platform",
        "linux/arm64",
        "--verify-key",
        str(DEMO_PUB),
        "backend-production",
        "v1.3.0",
    )
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert result["digest"] != V130_INDEX
    assert result["index_digest"] == V130_INDEX
    assert (result["platform"], result["signed_by"], result["verified"]) == (
        "linux/arm64",
        DEMO_FP,
        "true",
    )


def test_a_platform_image_signed_by_neither_itself_nor_its_index_names_both(cli, other_pub):
    code, out, err = cli(
        "resolve",
        "--registry",
        DEMO,
        "--platform",
        "linux/arm64",
        "--verify-key",
        str(other_pub),
        "backend-production",
        "v1.3.0",
    )
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert "nor is its index" in err
    assert V130_INDEX in err
