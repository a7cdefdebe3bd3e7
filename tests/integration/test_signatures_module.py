"""The image-pin module's cosign_public_key under real OpenTofu and Terraform, on the signed
demo layout: a signed release plans with signed_by, an unsigned one fails the plan on one line,
and a value that is not a PEM public key fails validation before the program runs."""

from __future__ import annotations

from tests.conftest import REPO
from tests.harness.tofu import TfBinary, TfWorkspace

MODULE = REPO / "terraform-modules" / "image-pin"
LAYOUT = REPO / "examples" / "oci-layout"
DEMO_PUB = REPO / "examples" / "demo-signing" / "DEMO-ONLY-cosign.pub"
DEMO_FP = "sha256:7028bd3da9f0950266a6d5c698956eae16de2b9759accf695996e18df8d5edfb"
V121 = "sha256:2f3dfeca12e99ea60e04d0cfae829bd9a258ed74f80474b3111fec9018a4e849"
NO_CACHE = {"RUNLAYER_TF_CACHE_TTL": "0"}


def workspace(tf: TfBinary, tmp_path) -> TfWorkspace:
    ws = tf.workspace(MODULE, tmp_path / "image-pin")
    ws.init()
    return ws


def variables(tag: str, key: str) -> dict[str, str]:
    return {
        "repository": "backend-production",
        "tag": tag,
        "registry": f"oci-layout:{LAYOUT}",
        "cosign_public_key": key,
    }


def test_a_signed_release_plans_and_reports_its_signer(tf, tmp_path):
    ws = workspace(tf, tmp_path)
    applied = ws.apply(variables("v1.2", DEMO_PUB.read_text()), env=NO_CACHE)
    assert "Apply complete!" in applied.stdout
    outputs = ws.outputs()
    assert (outputs["tag"], outputs["signed_by"]) == ("v1.2.3", DEMO_FP)


def test_an_unsigned_release_fails_the_plan_with_one_line(tf, tmp_path):
    ws = workspace(tf, tmp_path)
    proc = ws.plan(variables("v1.2.1", DEMO_PUB.read_text()), check=False, env=NO_CACHE)
    assert proc.returncode == 1
    line = (
        f"runlayer-tf external: backend-production@{V121} is not signed by key {DEMO_FP}: "
        f"no signature (no tag {V121.replace(':', '-')}.sig)"
    )
    assert line in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_key_that_is_not_a_pem_public_key_fails_validation(tf, tmp_path):
    ws = workspace(tf, tmp_path)
    private = (REPO / "examples" / "demo-signing" / "DEMO-ONLY-signing-key.pem").read_text()
    for value in (private, str(DEMO_PUB)):
        proc = ws.plan(variables("v1.2", value), check=False)
        assert proc.returncode == 1
        assert "Error: Invalid value for variable" in proc.stderr
        assert "The cosign_public_key must be empty or PEM public keys" in proc.stderr
        assert "runlayer-tf external:" not in proc.stderr


def test_the_production_example_verifies_with_the_demo_key(tf, tmp_path):
    import shutil

    tree = tmp_path / "tree"
    shutil.copytree(REPO / "examples", tree / "examples")
    shutil.copytree(MODULE, tree / "terraform-modules" / "image-pin")
    ws = TfWorkspace(tf, tree / "examples" / "production")
    ws.init()
    key = "-var=cosign_public_key_file=../demo-signing/DEMO-ONLY-cosign.pub"
    base = ["-input=false", "-no-color", "-var-file=production.tfvars", key]
    plan = tf.run(["plan", *base], cwd=ws.path, env=NO_CACHE)
    assert '+ backend_tag           = "v1.2.3"' in plan.stdout
    refused = tf.run(
        ["plan", *base, "-var=backend_version=v1.2.1"], cwd=ws.path, env=NO_CACHE, check=False
    )
    assert refused.returncode == 1
    assert f"backend-production@{V121} is not signed by key {DEMO_FP}" in refused.stderr
