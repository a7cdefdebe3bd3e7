"""`versions` against a real HTTP server that records requests: no request is sent twice."""

from __future__ import annotations

import collections
import json

import pytest

from runlayer_tf.cli import main

RELEASES = 30


def _tags() -> dict[str, str]:
    """RELEASES versions, each with its plain, build and timestamp tag on one image; latest on the newest."""
    tags = {}
    for n in range(RELEASES):
        digest = "sha256:" + f"{n:064x}"
        stamp = f"202401{n % 28 + 1:02d}-{n:06d}"
        tags[f"v1.{n}.0"] = digest
        tags[f"v1.{n}.0-{stamp}-abcdef{n % 10}"] = digest
        tags[stamp] = digest
    tags["latest"] = tags[f"v1.{RELEASES - 1}.0"]
    return tags


TAGS = _tags()


def _serve(handler) -> None:  # type: ignore[no-untyped-def]
    path = handler.path
    if path.startswith("/v2/app/tags/list"):
        handler.answer(200, json.dumps({"name": "app", "tags": sorted(TAGS)}).encode())
        return
    prefix = "/v2/app/manifests/"
    ref = path[len(prefix) :] if path.startswith(prefix) else ""
    if ref in TAGS or ref in TAGS.values():
        handler.answer(200, headers={"Docker-Content-Digest": TAGS.get(ref, ref)})
        return
    handler.answer(404)


@pytest.mark.parametrize(
    ("limit", "rows", "requests"),
    [
        # 1 tag list + per row its plain, build and timestamp tag + latest once.
        ("0", RELEASES, 1 + 3 * RELEASES + 1),
        ("5", 5, 1 + 3 * 5 + 1),
    ],
)
def test_versions_sends_no_request_twice(hostile, capsys, limit, rows, requests):
    plain, _, _ = hostile
    plain.behaviour = _serve
    assert main(["versions", "--json", "--limit", limit, "--registry", plain.host, "app"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == rows
    assert out[0]["tags"] == sorted(
        [
            f"v1.{RELEASES - 1}.0",
            *[t for t in TAGS if TAGS[t] == out[0]["digest"] and t != f"v1.{RELEASES - 1}.0"],
        ]
    )
    sent = collections.Counter((s.method, s.path) for s in plain.seen)
    assert [key for key, count in sent.items() if count > 1] == []
    assert sum(sent.values()) == requests
    assert sent[("HEAD", "/v2/app/manifests/latest")] == 1


NEWEST = TAGS["latest"]
OLD = TAGS["v1.5.0"]


@pytest.mark.parametrize(
    ("selector", "requests"),
    [
        # tag list + HEAD of the chosen tag + HEAD of each tag that can share the
        # image: the version's build tag, that build's timestamp tag, latest.
        ("v1.5.0", 5),
        ("v1.5", 5),
        ("v1", 5),
        ("~> 1.5", 5),
        ("latest", 5),
        # A digest: tag list + HEAD of the digest, then releases newest first
        # until one is on the image, then the same siblings as above.
        (NEWEST, 6),
        (OLD, 30),  # 24 newer releases asked before v1.5.0
    ],
)
def test_resolve_request_counts(hostile, capsys, selector, requests):
    plain, _, _ = hostile
    plain.behaviour = _serve
    assert main(["resolve", "--registry", plain.host, "app", selector]) == 0
    capsys.readouterr()
    sent = collections.Counter((s.method, s.path) for s in plain.seen)
    assert [key for key, count in sent.items() if count > 1] == []
    assert sum(sent.values()) == requests
