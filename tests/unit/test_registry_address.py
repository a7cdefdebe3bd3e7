"""Parsing the ``registry`` query value into a registry address."""

from __future__ import annotations

import pytest

from runlayer_tf.errors import UsageError
from runlayer_tf.registries._base import RegistryAddress, is_loopback, validate_repository

ADDRESSES = [
    # (text, kwargs, kind, host, scheme, registry_id, region, path)
    ("", {}, "ecr", "", "https", "", "", ""),
    (
        "",
        {"registry_id": "170974506510", "region": "us-east-1"},
        "ecr",
        "",
        "https",
        "170974506510",
        "us-east-1",
        "",
    ),
    (
        "170974506510.dkr.ecr.us-east-1.amazonaws.com",
        {},
        "ecr",
        "170974506510.dkr.ecr.us-east-1.amazonaws.com",
        "https",
        "170974506510",
        "us-east-1",
        "",
    ),
    (
        "170974506510.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
        {},
        "ecr",
        "170974506510.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
        "https",
        "170974506510",
        "us-gov-west-1",
        "",
    ),
    (
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
        {},
        "ecr",
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
        "https",
        "123456789012",
        "cn-north-1",
        "",
    ),
    ("ghcr.io", {}, "oci", "ghcr.io", "https", "", "", ""),
    ("https://harbor.example.com", {}, "oci", "harbor.example.com", "https", "", "", ""),
    ("https://harbor.example.com/", {}, "oci", "harbor.example.com", "https", "", "", ""),
    ("registry.example.com:5443", {}, "oci", "registry.example.com:5443", "https", "", "", ""),
    ("127.0.0.1:5000", {}, "oci", "127.0.0.1:5000", "http", "", "", ""),
    ("localhost:5000", {}, "oci", "localhost:5000", "http", "", "", ""),
    ("http://127.0.0.1:5000", {}, "oci", "127.0.0.1:5000", "http", "", "", ""),
    ("[::1]:5000", {}, "oci", "[::1]:5000", "http", "", "", ""),
    (
        "registry.internal:5000",
        {"insecure": True},
        "oci",
        "registry.internal:5000",
        "http",
        "",
        "",
        "",
    ),
    (
        "http://registry.internal:5000",
        {"insecure": True},
        "oci",
        "registry.internal:5000",
        "http",
        "",
        "",
        "",
    ),
    ("docker.io", {}, "oci", "registry-1.docker.io", "https", "", "", ""),
    ("index.docker.io", {}, "oci", "registry-1.docker.io", "https", "", "", ""),
    (
        "oci-layout:examples/oci-layout",
        {},
        "oci-layout",
        "",
        "https",
        "",
        "",
        "examples/oci-layout",
    ),
    ("oci-layout:/abs/path", {}, "oci-layout", "", "https", "", "", "/abs/path"),
]


@pytest.mark.parametrize(
    ("text", "kwargs", "kind", "host", "scheme", "registry_id", "region", "path"), ADDRESSES
)
def test_parse(text, kwargs, kind, host, scheme, registry_id, region, path):
    address = RegistryAddress.parse(text, **kwargs)
    assert (
        address.kind,
        address.host,
        address.scheme,
        address.registry_id,
        address.region,
        address.path,
    ) == (
        kind,
        host,
        scheme,
        registry_id,
        region,
        path,
    )


BAD = [
    (
        "http://registry.example.com",
        {},
        (
            'refusing plain HTTP to "registry.example.com": '
            'only loopback registries may use http:// unless insecure is "true"'
        ),
    ),
    (
        "ftp://registry.example.com",
        {},
        'invalid registry "ftp://registry.example.com": only https:// (or http:// for loopback) URLs are supported',
    ),
    (
        "registry.example.com/path",
        {},
        'invalid registry "registry.example.com/path": expected host[:port], a URL, an ECR host or oci-layout:PATH',
    ),
    (
        "bad host",
        {},
        'invalid registry "bad host": expected host[:port], a URL, an ECR host or oci-layout:PATH',
    ),
    (
        "oci-layout:",
        {},
        'invalid registry "oci-layout:": give the layout directory, e.g. oci-layout:./images',
    ),
    ("", {"registry_id": "1234"}, 'invalid registry_id "1234": an AWS account id has 12 digits'),
    (
        "",
        {"region": "US-EAST-1"},
        'invalid region "US-EAST-1": expected an AWS region such as us-east-1',
    ),
    (
        "170974506510.dkr.ecr.us-east-1.amazonaws.com",
        {"registry_id": "123456789012"},
        "registry_id 123456789012 contradicts the ECR host 170974506510.dkr.ecr.us-east-1.amazonaws.com",
    ),
    (
        "170974506510.dkr.ecr.us-east-1.amazonaws.com",
        {"region": "eu-west-1"},
        "region eu-west-1 contradicts the ECR host 170974506510.dkr.ecr.us-east-1.amazonaws.com",
    ),
]


@pytest.mark.parametrize(("text", "kwargs", "message"), BAD)
def test_parse_rejects(text, kwargs, message):
    with pytest.raises(UsageError) as info:
        RegistryAddress.parse(text, **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("address", "text"),
    [
        (
            RegistryAddress.parse("170974506510.dkr.ecr.us-east-1.amazonaws.com"),
            "170974506510.dkr.ecr.us-east-1.amazonaws.com",
        ),
        (
            RegistryAddress.parse("", registry_id="170974506510", region="eu-west-1"),
            "170974506510.dkr.ecr.eu-west-1.amazonaws.com",
        ),
        (RegistryAddress.parse(""), "ecr"),
        (RegistryAddress.parse("ghcr.io"), "ghcr.io"),
        (RegistryAddress.parse("oci-layout:x"), "oci-layout:x"),
    ],
)
def test_str(address, text):
    assert str(address) == text


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("[::1]:80", True),
        ("::1", True),
        ("10.0.0.1:5000", False),
        ("example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    "name", ["backend-production", "team/backend", "a", "a.b_c__d---e", "library/nginx", "x" * 255]
)
def test_valid_repository(name):
    assert validate_repository(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "Backend", "backend-", "-backend", "a//b", "/a", "a/", "a b", "a:b", "x" * 256, "a@b"],
)
def test_invalid_repository(name):
    with pytest.raises(UsageError, match="invalid repository name"):
        validate_repository(name)
