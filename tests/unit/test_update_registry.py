"""Registry look-ups of an update: tag existence, the previous release, which registry and repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from runlayer_tf.errors import NotFoundError, TagError
from runlayer_tf.registries import RegistryAddress
from runlayer_tf.update._registry import (
    RegistryLookups,
    conventional_repository,
    previous_release_in,
    repository_defaults,
    split_repository,
)
from tests.fakes import FakeRegistry

LAYOUT = Path(__file__).resolve().parents[2] / "examples" / "oci-layout"
TAGS = (
    "latest",
    "v1.0.0",
    "v1.2.0",
    "v1.2.1-20241202-111500-3a4b5c6d",
    "v1.2.3",
    "v1.2.3-20241213-152430-a1b2c3d4",
    "20241213-152430",
    "v1.3.0-rc.1",
    "v1.3.0",
    "v2.0.0-beta.2",
)


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        ("backend-production", (None, "backend-production")),
        ("team/app", (None, "team/app")),
        (
            "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production",
            ("170974506510.dkr.ecr.us-east-1.amazonaws.com", "backend-production"),
        ),
        ("127.0.0.1:5000/team/app", ("127.0.0.1:5000", "team/app")),
        ("localhost/app", ("localhost", "app")),
    ],
)
def test_split_repository(repository: str, expected: tuple[str | None, str]) -> None:
    assert split_repository(repository) == expected


@pytest.mark.parametrize(
    ("current", "allow_prerelease", "expected"),
    [
        ("v1.3.0", False, "v1.2.3"),
        ("v1.2.3", False, "v1.2.0"),  # 1.2.1 has only a build tag: not released
        ("v1.3.0", True, "v1.3.0-rc.1"),
        ("v1.3.0-20250114-090000-b2c3d4e5", False, "v1.2.3"),
        ("v2.0.0", False, "v1.3.0"),
        ("v1.0.0", False, None),
        ("v0.9.0", False, None),
    ],
)
def test_previous_release_in(current: str, allow_prerelease: bool, expected: str | None) -> None:
    """Only released versions (a plain tag) count; prereleases only when allowed."""
    assert previous_release_in(TAGS, current, allow_prerelease=allow_prerelease) == expected


def test_previous_release_of_latest_is_refused() -> None:
    with pytest.raises(TagError, match=r"^cannot tell the release before 'latest': "):
        previous_release_in(TAGS, "latest")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("backend_version", "backend-production"),
        ("frontend_version", "frontend-production"),
        ("admin_ui_version", "admin-ui-production"),
        ("backend_image", None),
        ("version", None),
    ],
)
def test_conventional_repository(name: str, expected: str | None) -> None:
    assert conventional_repository(name) == expected


def test_repository_defaults_prefer_templates_then_convention(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'locals {\n  image = "170974506510.dkr.ecr.us-east-1.amazonaws.com/api-server:${var.backend_version}"\n}\n'
    )
    assert repository_defaults(["backend_version", "frontend_version", "image"], tmp_path) == {
        "backend_version": "api-server",
        "frontend_version": "frontend-production",
    }


def test_repository_defaults_follow_the_pins_config(tmp_path: Path) -> None:
    (tmp_path / ".runlayer-tf.toml").write_text('[pins.follows]\nbackend_version = "core-api"\n')
    assert repository_defaults(["backend_version"], tmp_path) == {"backend_version": "core-api"}


def _lookups(explicit: bool) -> tuple[RegistryLookups, list[RegistryAddress], FakeRegistry]:
    opened: list[RegistryAddress] = []
    registry = FakeRegistry({"backend-production": dict.fromkeys(TAGS)}, host="fake")

    def opener(address: RegistryAddress) -> FakeRegistry:
        opened.append(address)
        return registry

    lookups = RegistryLookups(RegistryAddress.parse(""), explicit=explicit, opener=opener)
    return lookups, opened, registry


def test_lookups_list_each_repository_once() -> None:
    lookups, opened, registry = _lookups(explicit=False)
    assert lookups.version_exists("backend-production", "v1.3.0") is True
    assert lookups.version_exists("backend-production", "v9.9.9") is False
    assert lookups.previous_release("backend-production", "v1.3.0") == "v1.2.3"
    assert registry.calls == ["backend-production"]
    assert opened == [RegistryAddress("ecr")]


@pytest.mark.parametrize(
    ("explicit", "address"),
    [
        (
            False,
            RegistryAddress(
                "ecr",
                host="170974506510.dkr.ecr.us-east-1.amazonaws.com",
                registry_id="170974506510",
                region="us-east-1",
            ),
        ),
        (True, RegistryAddress("ecr")),
    ],
)
def test_a_repository_host_is_asked_unless_registry_is_given(
    explicit: bool, address: RegistryAddress
) -> None:
    lookups, opened, registry = _lookups(explicit=explicit)
    repository = "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production"
    assert lookups.version_exists(repository, "v1.2.3") is True
    assert opened == [address]
    assert registry.calls == ["backend-production"]


def test_unknown_repository_raises_not_found() -> None:
    lookups, _, _ = _lookups(explicit=False)
    with pytest.raises(NotFoundError, match=r"^repository nope not found$"):
        lookups.version_exists("nope", "v1.0.0")


@pytest.mark.parametrize(
    ("repository", "tag", "exists"),
    [
        ("backend-production", "v1.3.0", True),
        ("frontend-production", "v1.2.0", True),
        ("backend-production", "v1.4.0", False),
    ],
)
def test_lookups_on_the_demo_oci_layout(repository: str, tag: str, exists: bool) -> None:
    """The real layout backend answers through the same look-ups."""
    lookups = RegistryLookups(RegistryAddress.parse(f"oci-layout:{LAYOUT}"), explicit=True)
    assert lookups.version_exists(repository, tag) is exists
    assert lookups.previous_release(repository, "v1.3.0") == "v1.2.3"
