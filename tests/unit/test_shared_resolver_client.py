"""The data-source half of the shared resolver: when it is used, where its socket lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runlayer_tf import shared_resolver


@pytest.mark.parametrize(
    ("registry", "ecr"),
    [
        ("", True),
        ("ecr", True),
        (" ecr ", True),
        ("ECR", False),  # RegistryAddress.parse takes "ECR" for an OCI host named ecr
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com", True),
        ("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/", True),
        ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", True),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", True),
        ("ghcr.io", False),
        ("127.0.0.1:5000", False),
        ("oci-layout:examples/oci-layout", False),
        ("dkr.ecr.example.com", False),
        ("oci-layout:123456789012.dkr.ecr.us-east-1.amazonaws.com", False),
        ("ftp://123456789012.dkr.ecr.us-east-1.amazonaws.com", False),
    ],
)
def test_only_ecr_queries_go_to_the_resolver(
    registry: str, ecr: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNLAYER_TF_SHARED_RESOLVER", raising=False)
    monkeypatch.delenv("RUNLAYER_TF_CACHE_TTL", raising=False)
    assert shared_resolver.usable({"repository": "r", "tag": "v1", "registry": registry}) is ecr


@pytest.mark.parametrize(
    ("name", "value", "usable"),
    [
        ("RUNLAYER_TF_SHARED_RESOLVER", "0", False),
        ("RUNLAYER_TF_SHARED_RESOLVER", "OFF", False),
        ("RUNLAYER_TF_SHARED_RESOLVER", "false", False),
        ("RUNLAYER_TF_SHARED_RESOLVER", "1", True),
        ("RUNLAYER_TF_SHARED_RESOLVER", "", True),
        ("RUNLAYER_TF_CACHE_TTL", "0", False),
        ("RUNLAYER_TF_CACHE_TTL", "5", True),
        ("RUNLAYER_TF_DEBUG", "1", False),
        ("RUNLAYER_TF_DEBUG", "0", True),
    ],
)
def test_switches(name: str, value: str, usable: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    for other in ("RUNLAYER_TF_SHARED_RESOLVER", "RUNLAYER_TF_CACHE_TTL", "RUNLAYER_TF_DEBUG"):
        monkeypatch.delenv(other, raising=False)
    monkeypatch.setenv(name, value)
    assert shared_resolver.usable({"repository": "r", "tag": "v1"}) is usable


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("", 10.0), ("2.5", 2.5), ("junk", 10.0), ("0", 0.05), ("-3", 0.05), ("99999", 600.0)],
)
def test_idle_timeout(raw: str, seconds: float, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLAYER_TF_SHARED_RESOLVER_IDLE", raw)
    assert shared_resolver.idle_timeout() == seconds


def test_the_socket_name_follows_the_environment_and_directory(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLAYER_TF_CACHE_DIR", str(short_tmp / "c"))
    monkeypatch.chdir(short_tmp)
    first = shared_resolver.socket_path()
    assert first == shared_resolver.socket_path()
    monkeypatch.setenv("AWS_PROFILE", "production")
    second = shared_resolver.socket_path()
    (short_tmp / "elsewhere").mkdir()
    monkeypatch.chdir(short_tmp / "elsewhere")
    third = shared_resolver.socket_path()
    assert None not in (first, second, third)
    assert len({first, second, third}) == 3
    assert {os.path.dirname(str(p)) for p in (first, second, third)} == {
        str(short_tmp / "c" / "resolver")
    }
    assert (short_tmp / "c" / "resolver").stat().st_mode & 0o777 == 0o700


def test_a_too_long_cache_dir_moves_the_socket_to_the_runtime_dir(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = short_tmp / ("d" * 90)
    monkeypatch.setenv("RUNLAYER_TF_CACHE_DIR", str(deep))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_tmp / "run"))
    path = shared_resolver.socket_path("f" * 24)
    assert path == str(short_tmp / "run" / "runlayer-tf" / ("f" * 24 + ".sock"))
    assert not (deep / "resolver").exists()


def test_a_group_writable_directory_of_ours_is_closed_first(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLAYER_TF_CACHE_DIR", str(short_tmp / "c"))
    (short_tmp / "c" / "resolver").mkdir(parents=True)
    (short_tmp / "c" / "resolver").chmod(0o777)
    path = shared_resolver.socket_path("a" * 24)
    assert path == str(short_tmp / "c" / "resolver" / ("a" * 24 + ".sock"))
    assert (short_tmp / "c" / "resolver").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize(
    "registry",
    [
        "",
        "ecr",
        "ECR",
        " ecr",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "HTTPS://123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "https://123456789012.DKR.ECR.us-east-1.amazonaws.com/",
        "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
        "12345678901.dkr.ecr.us-east-1.amazonaws.com",
        "oci-layout:x.dkr.ecr.y.amazonaws.com",
        "ghcr.io",
        "localhost:5000",
    ],
)
def test_ecr_detection_agrees_with_the_address_parser(registry: str) -> None:
    from runlayer_tf.errors import UsageError
    from runlayer_tf.registries._base import RegistryAddress

    try:
        kind = RegistryAddress.parse(registry).kind
    except UsageError:
        return  # refused either way: the resolver returns the same error as in process
    assert shared_resolver._is_ecr(registry) is (kind == "ecr")


def test_the_ecr_host_pattern_is_the_parsers_without_its_group_names() -> None:
    import re

    from runlayer_tf.registries._base import ECR_HOST

    assert shared_resolver._ECR_HOST.pattern == re.sub(
        r"\(\?P<\w+>([^)]*)\)", r"\1", ECR_HOST.pattern
    )
