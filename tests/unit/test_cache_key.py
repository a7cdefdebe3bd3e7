"""What the answer cache's key covers: an answer is reused only where it would be the same answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from runlayer_tf import cache

ECR = {"repository": "backend-production", "tag": "v1.2"}


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ACCESS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".aws").mkdir()
    config = tmp_path / ".aws" / "config"
    config.write_text("[default]\nregion = us-east-1\n")
    monkeypatch.delenv("AWS_CONFIG_FILE", raising=False)
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE", raising=False)
    return tmp_path


def test_the_key_is_stable(aws: Path) -> None:
    assert cache.key_for(ECR) == cache.key_for(dict(ECR))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AWS_PROFILE", "production"),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/deploy"),
        ("AWS_ACCESS_KEY_ID", "AKIAOTHERACCOUNT"),
        ("AWS_CONFIG_FILE", "/etc/aws/other-config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/etc/aws/other-credentials"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ("AWS_REGION", "eu-west-1"),
    ],
)
def test_another_identity_or_place_is_another_key(
    aws: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    before = cache.key_for(ECR)
    monkeypatch.setenv(name, value)
    assert cache.key_for(ECR) != before


@pytest.mark.parametrize(
    "change",
    ["config", "credentials", "sso login"],
)
def test_editing_the_aws_files_is_another_key(aws: Path, change: str) -> None:
    before = cache.key_for(ECR)
    if change == "config":
        (aws / ".aws" / "config").write_text("[default]\nregion = eu-west-1\n")
    elif change == "credentials":
        (aws / ".aws" / "credentials").write_text(
            "[default]\naws_access_key_id = AKIA\naws_secret_access_key = s\n"
        )
    else:
        (aws / ".aws" / "sso" / "cache").mkdir(parents=True)
    assert cache.key_for(ECR) != before


def test_a_layout_query_ignores_the_aws_files_but_not_the_directory(
    aws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = {"repository": "backend-production", "tag": "v1.2", "registry": "oci-layout:images"}
    before = cache.key_for(layout, cwd="/srv/a")
    (aws / ".aws" / "config").write_text("[default]\nregion = eu-west-1\n")
    assert cache.key_for(layout, cwd="/srv/a") == before
    assert cache.key_for(layout, cwd="/srv/b") != before
