"""RTF006 (`pins check --online` with verify keys) on the signed demo layout."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = f"oci-layout:{REPO_ROOT / 'examples' / 'oci-layout'}"
DEMO_PUB = REPO_ROOT / "examples" / "demo-signing" / "DEMO-ONLY-cosign.pub"
DEMO_FP = "sha256:7028bd3da9f0950266a6d5c698956eae16de2b9759accf695996e18df8d5edfb"
V121 = "sha256:2f3dfeca12e99ea60e04d0cfae829bd9a258ed74f80474b3111fec9018a4e849"
V123 = "sha256:d00f74ec3be925829ac9b69e51ca4b2a3b4aff665ab32da7578e07863358d33f"
ONLINE = ("pins", "check", "--online", "--follow", "backend_version=backend-production")


def tree(tmp_path: Path, value: str, config: str = "") -> Path:
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "prod.tfvars").write_text(f'backend_version = "{value}"\n')
    if config:
        (tmp_path / ".runlayer-tf.toml").write_text(config)
    return tmp_path


def test_an_unsigned_pinned_release_is_rtf006(cli, tmp_path):
    root = tree(tmp_path, "v1.2.1")
    code, out, err = cli(*ONLINE, "--registry", DEMO, "--verify-key", str(DEMO_PUB), str(root))
    assert (code, err) == (1, "")
    assert out == (
        f"{root}/envs/prod.tfvars:1:20: RTF006 backend_version: backend-production@{V121} is not "
        f"signed by key {DEMO_FP}: no signature (no tag {V121.replace(':', '-')}.sig)\n"
    )


def test_a_signed_pinned_release_passes(cli, tmp_path):
    root = tree(tmp_path, "v1.2.3")
    assert cli(*ONLINE, "--registry", DEMO, "--verify-key", str(DEMO_PUB), str(root)) == (0, "", "")


def test_verify_keys_in_the_config_are_read_relative_to_it(cli, tmp_path, monkeypatch):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "release.pub").write_text(DEMO_PUB.read_text())
    root = tree(tmp_path, "v1.2.1", '[pins]\nverify-keys = ["keys/release.pub"]\n')
    monkeypatch.chdir(root)
    code, out, _ = cli(*ONLINE, "--registry", DEMO, "envs")
    assert code == 1
    assert "RTF006" in out
    assert DEMO_FP in out
    # Offline, the configured keys are not used (nothing asks the registry).
    assert cli("pins", "check", "envs").code == 0
    # And RTF006 can be disabled like any rule.
    assert cli(*ONLINE, "--registry", DEMO, "--disable", "RTF006", "envs").code == 0


def test_a_digest_pin_is_checked_at_its_own_digest(cli, tmp_path):
    unknown = "sha256:" + "12" * 32  # never verified, so no cached verdict answers
    (tmp_path / "main.tf").write_text(
        f'locals {{\n  image = "127.0.0.1:9/backend-production@{unknown}"\n}}\n'
    )
    # The registry in the pin is unreachable: reported under the rule, never passed unchecked.
    code, out, _ = cli("pins", "check", "--online", "--verify-key", str(DEMO_PUB), str(tmp_path))
    assert code == 1
    assert f"RTF006 local.image: cannot check the signature of backend-production@{unknown}" in out
    assert out.count("RTF006") == 1


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('[pins]\nverify-keys = "k.pub"\n', "verify-keys must be a list of strings"),
        ('[pins]\nverify-keys = [""]\n', "verify-keys: an empty path"),
    ],
)
def test_bad_verify_keys_settings_are_configuration_errors(
    cli, tmp_path, monkeypatch, config, message
):
    root = tree(tmp_path, "v1.2.3", config)
    monkeypatch.chdir(root)
    code, out, err = cli(*ONLINE, "--registry", DEMO, "envs")
    assert (code, out) == (2, "")
    assert message in err


def test_verify_key_without_online_is_a_usage_error(cli, tmp_path):
    root = tree(tmp_path, "v1.2.3")
    code, out, err = cli("pins", "check", "--verify-key", str(DEMO_PUB), str(root))
    assert (code, out) == (2, "")
    assert "--verify-key needs --online" in err
