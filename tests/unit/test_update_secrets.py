"""Secrets are masked in every shape they reach the screen or the journal in."""

from __future__ import annotations

import pytest

from runlayer_tf.update._secrets import redact, redact_data

# (shape, text, masked): the table the module docstring promises.
SHAPES = [
    ("access key id", "key AKIAIOSFODNN7EXAMPLE used", "key AKIA**************** used"),
    ("session key id", "ASIAABCDEFGHIJKLMNOP", "AKIA****************"),
    ("not a key id (too short)", "AKIA1234", "AKIA1234"),
    ("key=value", "AWS_SESSION_TOKEN=abc", "AWS_SESSION_TOKEN=***"),
    ("key after a non-ASCII letter", "\u00e9Password=hunter2", "\u00e9Password=***"),
    ("key after a micro sign", "x\u00b5token: abc", "x\u00b5token: ***"),
    ("key after a word", "Xpassword=hunter2", "Xpassword=***"),
    (
        "key = quoted",
        'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG"',
        'aws_secret_access_key = "***"',
    ),
    ("key=single-quoted with space", "db_password='my pass' next", "db_password='***' next"),
    ("yaml", "password: hunter2, user: bob", "password: ***, user: bob"),
    (
        "yaml indented",
        "  master_password: s3cr3t\n  user: bob",
        "  master_password: ***\n  user: bob",
    ),
    ("json", '{"password": "hunter2", "user": "bob"}', '{"password": "***", "user": "bob"}'),
    ("json compact", '{"MasterUserPassword":"a b","x":1}', '{"MasterUserPassword":"***","x":1}'),
    (
        "json escaped quote",
        r'{"client_secret": "a\"b", "k": "v"}',
        '{"client_secret": "***", "k": "v"}',
    ),
    ("json api key", '"api_key": "xyz"', '"api_key": "***"'),
    (
        "url userinfo",
        "https://admin:s3cret@app.example.com/health",
        "https://***@app.example.com/health",
    ),
    (
        "url password with @",
        "https://admin:p@ss@w0rd@app.example.com/h",
        "https://***@app.example.com/h",
    ),
    ("url @ in the path stays", "https://app.example.com/u/a@b", "https://app.example.com/u/a@b"),
    ("url in json", '"url": "https://u:p@h/x","m":"a@b"', '"url": "https://***@h/x","m":"a@b"'),
    ("postgres dsn", "postgres://app:pw@db:5432/app", "postgres://***@db:5432/app"),
    ("basic auth header", "Authorization: Basic YWRtaW46cHc=", "Authorization: Basic ***"),
    ("bearer", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "Bearer ***"),
    ("plain text", "plain v1.3.0 text", "plain v1.3.0 text"),
    (
        "image reference",
        "host:5000/team/app:v1.2.3@sha256:ab",
        "host:5000/team/app:v1.2.3@sha256:ab",
    ),
    ("word token without value", "the token expired", "the token expired"),
]


@pytest.mark.parametrize(("text", "masked"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_redact(text: str, masked: str) -> None:
    assert redact(text) == masked


def test_redact_data_masks_strings_and_secret_named_keys() -> None:
    assert redact_data(
        {
            "error": 'Error: "password": "pw" AKIAIOSFODNN7EXAMPLE',
            "token": "abc",
            "empty_token": "",
            "changes": [{"name": "a", "url": "https://u:p@h/"}],
            "count": 2,
        }
    ) == {
        "error": 'Error: "password": "***" AKIA****************',
        "token": "***",
        "empty_token": "",
        "changes": [{"name": "a", "url": "https://***@h/"}],
        "count": 2,
    }
