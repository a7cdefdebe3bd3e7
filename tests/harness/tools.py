"""Locate the tools provisioned by ``scripts/provision-tools``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs


def tools_dir() -> Path:
    return Path(
        os.environ.get("RUNLAYER_TF_TOOLS") or Path.home() / ".cache" / "runlayer-tf" / "tools"
    ).expanduser()


@attrs.frozen
class ProvisionedTools:
    """What a provisioning run left in the tools directory."""

    root: Path
    tofu: Path
    cli_config: Path
    manifest: dict
    external_version: str

    @classmethod
    def find(cls) -> ProvisionedTools | None:
        root = tools_dir()
        tofu, cli_config, manifest_path = (
            root / "bin" / "tofu",
            root / "cli.tfrc",
            root / "manifest.json",
        )
        if not (
            tofu.exists()
            and os.access(tofu, os.X_OK)
            and cli_config.is_file()
            and manifest_path.is_file()
        ):
            return None
        manifest = json.loads(manifest_path.read_text())
        return cls(
            root=root,
            tofu=tofu,
            cli_config=cli_config,
            manifest=manifest,
            external_version=str(manifest["external"]["provider_version"]),
        )


def find_docker_registry() -> Path | None:
    for candidate in (os.environ.get("RUNLAYER_TF_DOCKER_REGISTRY"), "/usr/bin/docker-registry"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None
