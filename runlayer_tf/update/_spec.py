"""What an update run is asked to do (:class:`UpdateSpec`) and the seams it runs through (:class:`UpdateDeps`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import attrs

from runlayer_tf.errors import ConfigError, TagError
from runlayer_tf.tags import ImageRef
from runlayer_tf.tags import crosses_major as tags_crosses_major
from runlayer_tf.update import _ecs as ecs_mod
from runlayer_tf.update import _snapshot as snap
from runlayer_tf.update._clock import utc_now
from runlayer_tf.update._health import HttpGet, check_health_url, urllib_get
from runlayer_tf.update._journal import DEFAULT_DIR
from runlayer_tf.update._progress import Progress, SilentProgress
from runlayer_tf.update._signed import ReleaseSigned, unchecked
from runlayer_tf.update._terraform import Runner, run_command
from runlayer_tf.update._varfile import read_vars, set_vars
from runlayer_tf.update._window import MaintenanceWindow

__all__ = [
    "JOURNAL_NAME",
    "LOCK_NAME",
    "UpdateDeps",
    "UpdateSpec",
    "Use",
    "VersionChange",
    "repository_of",
    "tag_of",
    "target_value",
]

JOURNAL_NAME = "update.jsonl"
LOCK_NAME = "update.lock"

Mode = Literal["set", "var"]
Use = Literal["previous", "target"]
# Set several variables of one var-file in one write; the names whose value changed.
SetPin = Callable[[Path, Mapping[str, str]], Sequence[str]]
# The values one var-file assigns to those of the names it assigns (one read).
ReadPin = Callable[[Path, Sequence[str]], Mapping[str, str]]
# The repository each of the names follows by default, given the workdir.
RepositoryDefaults = Callable[[Sequence[str], Path], Mapping[str, str]]
VersionExists = Callable[[str, str], bool]
PreviousRelease = Callable[[str, str], "str | None"]
CrossesMajor = Callable[[str, str], bool]


@attrs.frozen
class VersionChange:
    """``NAME=VERSION`` from the command line; ``version`` None means "the previous release"."""

    name: str
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.name}={self.version}" if self.version is not None else self.name


def _split_ref(value: str) -> tuple[str | None, str]:
    # "host:5000/team/app:v1.2" -> ("host:5000/team/app", "v1.2"); "v1.2" -> (None, "v1.2")
    if "/" not in value and ":" not in value.partition("@")[0]:
        return None, value
    try:
        ref = ImageRef.parse(value)
    except TagError:
        return None, value
    return ref.name, ref.tag or ""


def tag_of(value: str) -> str:
    """The tag of an image reference value, or the value itself when it is a bare tag."""
    return _split_ref(value)[1]


def repository_of(value: str) -> str | None:
    """The repository of an image reference value; None for a bare tag."""
    return _split_ref(value)[0]


def target_value(previous: str, version: str) -> str:
    """The new variable value for ``version``.

    ``version`` as-is when it is a full reference, else the previous repository with the new tag.
    """
    repository = repository_of(previous)
    if repository is None or repository_of(version) is not None:
        return version
    return f"{repository}:{version}"


def _check_health_urls(_spec: object, _field: object, urls: Sequence[str]) -> None:
    for url in urls:
        check_health_url(url)


@attrs.frozen
class UpdateSpec:
    """What one update (or roll-back) run should do.  Paths are absolute or relative to the cwd."""

    cluster: str
    workdir: Path
    changes: tuple[VersionChange, ...]
    mode: Mode = "set"
    var_files: tuple[Path, ...] = ()
    terraform: str = "tofu"
    # Checked here, so a bad URL is a UsageError before anything runs (dry run included).
    health_urls: tuple[str, ...] = attrs.field(default=(), validator=_check_health_urls)
    ecs_cluster: str | None = None
    services: tuple[str, ...] = ()
    target_groups: tuple[str, ...] = ()
    snapshot_template: str = snap.DEFAULT_SNAPSHOT_TEMPLATE
    allow_major: bool = False
    window: MaintenanceWindow | None = None
    force_window: bool = False
    journal: Path | None = None
    resume: bool = False
    dry_run: bool = False
    repositories: tuple[tuple[str, str], ...] = ()
    current: tuple[tuple[str, str], ...] = ()
    # Used only when neither ``repositories`` nor the value itself names the repository
    # (a name missing here is asked of ``UpdateDeps.repository_defaults``).
    default_repositories: tuple[tuple[str, str], ...] = ()
    kind: Literal["update", "rollback"] = "update"
    health_consecutive: int = 3
    health_deadline: float = 300.0
    health_interval: float = 5.0
    snapshot_timeout: float = 3600.0
    snapshot_interval: float = 15.0
    ecs_delay: int = 15
    ecs_max_attempts: int = 40
    terraform_wait: float = 3600.0  # on --resume, how long to wait for a lost Terraform

    @property
    def journal_path(self) -> Path:
        return (
            self.journal if self.journal is not None else self.workdir / DEFAULT_DIR / JOURNAL_NAME
        )


def _no_resolver(repository: str, tag: str) -> Any:
    raise ConfigError(f"no registry resolver configured to look up {repository}:{tag}")


def _no_repository_defaults(names: Sequence[str], workdir: Path) -> Mapping[str, str]:
    return {}


@attrs.frozen
class UpdateDeps:
    """The seams of an update run; every field has a real default except the AWS clients."""

    rds: snap.RdsApi
    ecs: ecs_mod.EcsApi | None = None
    elbv2: ecs_mod.Elbv2Api | None = None
    terraform_runner: Runner = run_command
    http_get: HttpGet = urllib_get
    set_pin: SetPin = set_vars
    read_pin: ReadPin = read_vars
    version_exists: VersionExists = _no_resolver
    previous_release: PreviousRelease = _no_resolver
    crosses_major: CrossesMajor = tags_crosses_major
    release_signed: ReleaseSigned = unchecked  # preflight: the target must be signed (--verify-key)
    # Asked only for names whose repository nothing else names (the CLI reads the workdir).
    repository_defaults: RepositoryDefaults = _no_repository_defaults
    clock: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep
    progress: Progress = attrs.field(factory=SilentProgress)
