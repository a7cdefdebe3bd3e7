"""Platform selection (``--platform``, the ``platform`` query key, ``pins bump --digest``)
against real multi-platform indexes in Debian's docker-registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from runlayer_tf.errors import NoMatchError
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.registries._oci import OciRegistry
from runlayer_tf.resolve import Query, resolve

REPO = "it/multi"
AMD64, ARM64_V8, ARM64, ARM_V6, ARM_V7 = (
    ("linux", "amd64"),
    ("linux", "arm64", "v8"),
    ("linux", "arm64"),
    ("linux", "arm", "v6"),
    ("linux", "arm", "v7"),
)


@pytest.fixture(scope="module")
def images(oci_registry):
    """v1.0.0 one amd64 manifest; v1.1.0 and v1.1.1 OCI indexes (amd64, arm64/v8 and
    buildx attestations); v1.2.0 a Docker manifest list (amd64, arm/v6, arm/v7, arm64)."""
    pusher = oci_registry.pusher()
    out = {"v1.0.0": {"index": pusher.push_image(REPO, ["v1.0.0"], seed="p-v1.0.0").digest}}
    for version in ("v1.1.0", "v1.1.1"):
        index, children = pusher.push_index(
            REPO, [version], seed=f"p-{version}", platforms=(AMD64, ARM64_V8), attestations=True
        )
        out[version] = {
            "index": index.digest,
            "linux/amd64": children[0].digest,
            "linux/arm64/v8": children[1].digest,
        }
    index, children = pusher.push_index(
        REPO,
        ["v1.2.0", "latest"],
        seed="p-v1.2.0",
        platforms=(AMD64, ARM_V6, ARM_V7, ARM64),
        docker_media_types=True,
    )
    out["v1.2.0"] = {
        "index": index.digest,
        "linux/amd64": children[0].digest,
        "linux/arm/v6": children[1].digest,
        "linux/arm/v7": children[2].digest,
        "linux/arm64": children[3].digest,
    }
    return out


def query(registry, tag, **extra):
    return Query.from_mapping({"repository": REPO, "tag": tag, "registry": registry.host, **extra})


def backend(registry):
    return OciRegistry(RegistryAddress.parse(registry.host))


def test_without_a_platform_the_index_digest_as_before(oci_registry, images):
    result = resolve(query(oci_registry, "v1.1.0"), backend(oci_registry))
    assert (result.digest, result.platform, result.index_digest) == (
        images["v1.1.0"]["index"],
        "",
        "",
    )


def test_a_platform_gives_its_manifest_from_an_oci_index(oci_registry, images):
    result = resolve(query(oci_registry, "v1.1", platform="linux/arm64"), backend(oci_registry))
    assert result.digest == images["v1.1.1"]["linux/arm64/v8"]
    assert result.platform == "linux/arm64/v8"
    assert result.index_digest == images["v1.1.1"]["index"]
    assert result.tag == "v1.1.1"
    assert result.tags == ("v1.1.1",)  # the tags on the index
    assert result.image == f"{oci_registry.host}/{REPO}@{images['v1.1.1']['linux/arm64/v8']}"


def test_a_docker_manifest_list_and_arm64s_default_variant(oci_registry, images):
    """linux/arm64/v8 matches an entry written linux/arm64 (v8 is arm64's default variant)."""
    registry = backend(oci_registry)
    for platform in ("linux/arm64/v8", "linux/arm64"):
        result = resolve(query(oci_registry, "v1.2.0", platform=platform), registry)
        assert (result.digest, result.platform) == (images["v1.2.0"]["linux/arm64"], "linux/arm64")
    result = resolve(query(oci_registry, "latest", platform="linux/arm/v7"), registry)
    assert result.digest == images["v1.2.0"]["linux/arm/v7"]
    # And the other way round: linux/arm64/v8 in the index serves linux/arm64/v8 and linux/arm64.
    result = resolve(query(oci_registry, "v1.1.0", platform="linux/arm64/v8"), registry)
    assert result.digest == images["v1.1.0"]["linux/arm64/v8"]


def test_no_match_names_the_platforms_of_the_index_without_attestations(oci_registry, images):
    with pytest.raises(NoMatchError) as err:
        resolve(query(oci_registry, "v1.1.0", platform="linux/s390x"), backend(oci_registry))
    assert str(err.value) == (
        f"{REPO}:v1.1.0 has no image for linux/s390x (platforms: linux/amd64, linux/arm64/v8)"
    )


def test_a_variant_must_be_named_when_the_matches_differ_in_it(oci_registry, images):
    with pytest.raises(NoMatchError) as err:
        resolve(query(oci_registry, "v1.2.0", platform="linux/arm"), backend(oci_registry))
    assert str(err.value) == (
        f"{REPO}:v1.2.0 has several images for linux/arm (linux/arm/v6, linux/arm/v7): "
        "name the variant"
    )


def test_a_single_platform_manifest_is_checked_against_its_config(oci_registry, images):
    registry = backend(oci_registry)
    result = resolve(query(oci_registry, "v1.0.0", platform="linux/amd64"), registry)
    assert (result.digest, result.platform, result.index_digest) == (
        images["v1.0.0"]["index"],
        "linux/amd64",
        "",
    )
    with pytest.raises(NoMatchError) as err:
        resolve(query(oci_registry, "v1.0.0", platform="linux/arm64"), registry)
    assert (
        str(err.value)
        == f"{REPO}:v1.0.0 is a single-platform image for linux/amd64, not linux/arm64"
    )


def test_a_digest_selector_with_a_platform(oci_registry, images):
    registry = backend(oci_registry)
    index = images["v1.1.0"]["index"]
    result = resolve(query(oci_registry, index, platform="linux/amd64"), registry)
    assert (result.digest, result.index_digest) == (images["v1.1.0"]["linux/amd64"], index)
    child = images["v1.1.0"]["linux/arm64/v8"]
    result = resolve(query(oci_registry, child, platform="linux/arm64"), registry)
    assert (result.digest, result.platform, result.index_digest) == (child, "linux/arm64/v8", "")


def test_cli_resolve_platform(oci_registry, images, cli):
    code, out, err = cli(
        "resolve", "--registry", oci_registry.host, "--platform", "linux/arm/v6", REPO, "v1.2"
    )
    assert (code, err) == (0, "")
    assert out == f"{oci_registry.host}/{REPO}@{images['v1.2.0']['linux/arm/v6']}\n"


@pytest.mark.parametrize(
    ("platform", "message"),
    [
        (
            "linux",
            'invalid platform "linux": expected OS/ARCH[/VARIANT] such as linux/amd64 or linux/arm64/v8',
        ),
        (
            "linux/x86_64",
            'invalid platform "linux/x86_64": the OCI name of x86_64 is amd64 (linux/amd64)',
        ),
        ("Linux/AMD64", 'invalid platform "Linux/AMD64": write it in lowercase'),
        (
            "linux/arm64/v8/x",
            'invalid platform "linux/arm64/v8/x": expected OS/ARCH[/VARIANT] such as linux/amd64 or linux/arm64/v8',
        ),
    ],
)
@pytest.mark.parametrize("command", ["resolve", "versions", "pins"])
def test_cli_bad_platform_is_one_line_exit_2(
    oci_registry, cli, tmp_path, command, platform, message
):
    argv = {
        "resolve": ["resolve", "--registry", oci_registry.host, "--platform", platform, REPO, "v1"],
        "versions": ["versions", "--registry", oci_registry.host, "--platform", platform, REPO],
        "pins": ["pins", "bump", "--platform", platform, str(tmp_path)],
    }[command]
    code, out, err = cli(*argv)
    assert (code, out, err) == (2, "", f"runlayer-tf: error: {message}\n")


def test_cli_no_match_is_one_line_exit_1(oci_registry, images, cli):
    code, out, err = cli(
        "resolve", "--registry", oci_registry.host, "--platform", "windows/amd64", REPO, "v1.2.0"
    )
    assert (code, out) == (1, "")
    assert err == (
        f"runlayer-tf: error: {REPO}:v1.2.0 has no image for windows/amd64 "
        "(platforms: linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64)\n"
    )


def test_versions_with_a_platform(oci_registry, images, cli):
    code, out, err = cli(
        "versions", "--registry", oci_registry.host, "--platform", "linux/arm64", "--json", REPO
    )
    assert (code, err) == (0, "")
    rows = {row["tag"]: row for row in json.loads(out)}
    assert rows["v1.2.0"]["digest"] == images["v1.2.0"]["linux/arm64"]
    assert rows["v1.2.0"]["index_digest"] == images["v1.2.0"]["index"]
    assert rows["v1.2.0"]["platform"] == "linux/arm64"
    assert rows["v1.1.1"]["digest"] == images["v1.1.1"]["linux/arm64/v8"]
    assert rows["v1.1.0"]["digest"] == images["v1.1.0"]["linux/arm64/v8"]
    assert (rows["v1.0.0"]["digest"], rows["v1.0.0"]["platform"]) == ("", "")  # amd64 only
    code, out, err = cli(
        "versions", "--registry", oci_registry.host, "--platform", "linux/arm/v7", REPO
    )
    lines = out.splitlines()
    assert lines[0].split() == ["VERSION", "TAG", "DIGEST", "PUSHED", "TAGS", "NOTE"]
    assert lines[1].split()[:3] == ["1.2.0", "v1.2.0", images["v1.2.0"]["linux/arm/v7"][:19] + "…"]
    assert lines[2].split() == ["1.1.1", "v1.1.1", "-", "-", "v1.1.1", "no", "linux/arm/v7"]
    assert lines[4].split() == ["1.0.0", "v1.0.0", "-", "-", "v1.0.0", "no", "linux/arm/v7"]


def run_external(query, env):
    return subprocess.run(
        [sys.executable, "-m", "runlayer_tf.external"],
        input=json.dumps(query).encode(),
        capture_output=True,
        env=dict(os.environ, **env),
        timeout=60,
    )


def test_external_platform_key_and_its_cache(oci_registry, images, tmp_path):
    """The platform is part of the cache key: neither answer is served for the other query."""
    env = {"RUNLAYER_TF_CACHE_DIR": str(tmp_path / "cache")}
    plain = {"repository": REPO, "tag": "v1.1.0", "registry": oci_registry.host}
    arm = {**plain, "platform": "linux/arm64"}
    for _round in range(2):  # the second round answers from the cache
        for asked, digest, platform in [
            (arm, images["v1.1.0"]["linux/arm64/v8"], "linux/arm64/v8"),
            (plain, images["v1.1.0"]["index"], ""),
            ({**plain, "platform": "linux/amd64"}, images["v1.1.0"]["linux/amd64"], "linux/amd64"),
        ]:
            proc = run_external(asked, env)
            assert (proc.returncode, proc.stderr) == (0, b"")
            result = json.loads(proc.stdout)
            assert (result["digest"], result["platform"]) == (digest, platform)
    assert len(os.listdir(tmp_path / "cache" / "resolve")) == 3


@pytest.mark.parametrize(
    ("platform", "message"),
    [
        (
            "linux/",
            'invalid platform "linux/": expected OS/ARCH[/VARIANT] such as linux/amd64 or linux/arm64/v8',
        ),
        (
            "linux/mips",
            f"{REPO}:v1.1.0 has no image for linux/mips (platforms: linux/amd64, linux/arm64/v8)",
        ),
    ],
)
def test_external_bad_or_unmatched_platform_exit_1_nothing_on_stdout(
    oci_registry, images, platform, message
):
    query = {
        "repository": REPO,
        "tag": "v1.1.0",
        "registry": oci_registry.host,
        "platform": platform,
    }
    proc = run_external(query, {"RUNLAYER_TF_CACHE_TTL": "0"})
    assert (proc.returncode, proc.stdout) == (1, b"")
    assert proc.stderr.decode() == f"runlayer-tf external: {message}\n"


@pytest.fixture
def pinned(tmp_path, oci_registry, images):
    host = oci_registry.host
    (tmp_path / "main.tf").write_text(
        "locals {\n"
        f'  arm   = "{host}/{REPO}:v1.1.0@{images["v1.1.0"]["linux/arm64/v8"]}"\n'
        f'  amd   = "{host}/{REPO}:v1.1.0@{images["v1.1.0"]["linux/amd64"]}"\n'
        f'  index = "{host}/{REPO}:v1.1.0@{images["v1.1.0"]["index"]}"\n'
        f'  plain = "{host}/{REPO}:v1.1.0"\n'
        "}\n"
    )
    return tmp_path


def test_bump_digest_keeps_what_each_pin_was(pinned, images, oci_registry, cli):
    code, out, err = cli("pins", "bump", "--to", "patch", "--digest", str(pinned))
    assert (code, err) == (0, "")
    host = oci_registry.host
    assert (pinned / "main.tf").read_text() == (
        "locals {\n"
        f'  arm   = "{host}/{REPO}:v1.1.1@{images["v1.1.1"]["linux/arm64/v8"]}"\n'
        f'  amd   = "{host}/{REPO}:v1.1.1@{images["v1.1.1"]["linux/amd64"]}"\n'
        f'  index = "{host}/{REPO}:v1.1.1@{images["v1.1.1"]["index"]}"\n'
        f'  plain = "{host}/{REPO}:v1.1.1@{images["v1.1.1"]["index"]}"\n'
        "}\n"
    )
    # The platform pins are not "moved tags" to the online check.
    code, out, err = cli("pins", "check", "--online", "--disable", "RTF002", str(pinned))
    assert (code, out) == (0, "")


def test_bump_digest_with_a_platform_writes_that_platforms(pinned, images, oci_registry, cli):
    code, out, err = cli(
        "pins", "bump", "--to", "patch", "--digest", "--platform", "linux/amd64", str(pinned)
    )
    assert (code, err) == (0, "")
    assert out.startswith(f"{pinned / 'main.tf'}: ")
    assert out.count(" -> ") == 4
    text = (pinned / "main.tf").read_text()
    assert text.count(f':v1.1.1@{images["v1.1.1"]["linux/amd64"]}"') == 4


def test_bump_leaves_a_pin_alone_when_its_kind_cannot_be_kept(pinned, images, oci_registry, cli):
    """A platform the new release lacks, or a pinned digest that is neither the old tag's nor
    one of its platforms' (a moved tag): a note, and the file is not touched."""
    host = oci_registry.host
    before = f'other = "{host}/{REPO}:v1.1.0@{images["v1.1.0"]["linux/arm64/v8"]}"\n'
    (pinned / "main.tf").write_text(before)
    code, out, err = cli("pins", "bump", "--to", "patch", "--platform", "linux/arm/v7", str(pinned))
    assert (code, out, (pinned / "main.tf").read_text()) == (0, "", before)
    assert err == (
        f"runlayer-tf: {pinned / 'main.tf'}:1:10: other: {REPO}:v1.1.1 has no image for "
        "linux/arm/v7 (platforms: linux/amd64, linux/arm64/v8); left alone\n"
        "runlayer-tf: every release pin is already the newest allowed\n"
    )
    before = f'other = "{host}/{REPO}:v1.0.0@{images["v1.1.0"]["linux/arm64/v8"]}"\n'
    (pinned / "main.tf").write_text(before)
    code, out, err = cli("pins", "bump", "--to", "minor", str(pinned))
    assert (code, out, (pinned / "main.tf").read_text()) == (0, "", before)
    assert err == (
        f"runlayer-tf: {pinned / 'main.tf'}:1:10: other: the pinned digest is neither "
        "\"v1.0.0\"'s nor one of its platforms' (the tag was moved?); left alone\n"
        "runlayer-tf: every release pin is already the newest allowed\n"
    )


def test_rtf004_still_reports_a_platform_digest_its_tag_does_not_list(
    images, oci_registry, cli, tmp_path
):
    """A platform's manifest in the tag's index passes; one from another release's index is a
    moved tag (the check does not accept any manifest of the repository)."""
    host = oci_registry.host
    stale = images["v1.1.1"]["linux/arm64/v8"]
    (tmp_path / "main.tf").write_text(f'image = "{host}/{REPO}:v1.1.0@{stale}"\n')
    code, out, err = cli("pins", "check", "--online", "--disable", "RTF002", str(tmp_path))
    assert (code, err) == (1, "")
    column = len(f'image = "{host}/{REPO}:v1.1.0@') + 1
    assert out == (
        f'{tmp_path / "main.tf"}:1:{column}: RTF004 image: tag "v1.1.0" of {REPO} now points at '
        f"{images['v1.1.0']['index']}, not the pinned {stale}: the tag was moved\n"
    )
