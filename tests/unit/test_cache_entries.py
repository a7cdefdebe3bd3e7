"""Every cache entry is checked before it is served; a corrupt one is a miss."""

from __future__ import annotations

import json
import os
import time

import pytest

from runlayer_tf import cache

DIGEST = "sha256:" + "a" * 64
GOOD = {
    "digest": DIGEST,
    "image": f"registry.example.com/app@{DIGEST}",
    "registry": "registry.example.com",
    "repository": "app",
    "tag": "v1",
    "platform": "",
}
QUERY = {"repository": "app", "tag": "v1"}


def write(key, text):
    path = os.path.join(cache.cache_dir(), "resolve", f"{key}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def entry(result=GOOD, stored_at=None):
    return json.dumps(
        {"stored_at": time.time() if stored_at is None else stored_at, "result": result}
    )


CORRUPT = [
    ("not JSON", "{"),
    ("a list", "[]"),
    ("deep nesting", "[" * 100_000 + "]" * 100_000),
    ("NaN time", entry(stored_at=float("nan"))),
    ("infinite time", '{"stored_at": Infinity, "result": {}}'),
    ("time as a string", entry(stored_at="now")),
    ("time as a bool", entry(stored_at=True)),
    ("no digest", entry({k: v for k, v in GOOD.items() if k != "digest"})),
    ("no image", entry({k: v for k, v in GOOD.items() if k != "image"})),
    ("injected digest", entry({**GOOD, "digest": 'sha256:${file("~/.aws/credentials")}'})),
    (
        "image of another digest",
        entry({**GOOD, "image": "registry.example.com/app@sha256:" + "b" * 64}),
    ),
    ("a number value", entry({**GOOD, "tag": 1})),
    ("a result list", entry([GOOD])),
    ("oversized", entry({**GOOD, "tags": "x" * (2 << 20)})),
]


@pytest.mark.parametrize(("name", "text"), CORRUPT, ids=[c[0] for c in CORRUPT])
def test_a_corrupt_entry_is_a_miss(name, text):
    write(f"corrupt-{abs(hash(name))}", text)
    assert cache.load(f"corrupt-{abs(hash(name))}", QUERY) is None


def test_a_good_entry_is_served():
    write("good", entry())
    assert cache.load("good", QUERY) == GOOD


@pytest.mark.parametrize("kind", ["fifo", "symlink", "device"])
def test_an_entry_that_is_not_a_regular_file_is_a_miss_not_a_hang(tmp_path, kind):
    """A FIFO where an entry belongs was opened and waited on forever (a data source hung)."""
    import threading

    path = os.path.join(cache.cache_dir(), "resolve", f"odd-{kind}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":  # even to a good entry: entries are only ever renamed into place
        (tmp_path / "elsewhere.json").write_text(entry())
        os.symlink(tmp_path / "elsewhere.json", path)
    else:
        os.symlink("/dev/zero", path)
    answers = []
    loader = threading.Thread(target=lambda: answers.append(cache.load(f"odd-{kind}", QUERY)))
    loader.daemon = True
    loader.start()
    loader.join(10)  # a bound on a hang, not a speed measurement
    assert answers == [None]
