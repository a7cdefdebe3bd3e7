"""Locate the tools provisioned by ``scripts/provision-tools``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs

# The Terraform-compatible binaries provision-tools provides, by name in its bin/.
BINARIES = ("tofu", "terraform")


def tools_dir() -> Path:
    return Path(
        os.environ.get("RUNLAYER_TF_TOOLS") or Path.home() / ".cache" / "runlayer-tf" / "tools"
    ).expanduser()


@attrs.frozen
class ProvisionedTools:
    """What a provisioning run left in the tools directory."""

    root: Path
    cli_config: Path
    manifest: dict
    external_version: str

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    def binary(self, name: str) -> Path | None:
        """``bin/tofu`` or ``bin/terraform`` when the manifest records it and it runs, else None."""
        path = self.bin_dir / name
        if name in self.manifest and path.exists() and os.access(path, os.X_OK):
            return path
        return None

    @classmethod
    def find(cls) -> ProvisionedTools | None:
        root = tools_dir()
        cli_config, manifest_path = root / "cli.tfrc", root / "manifest.json"
        if not (cli_config.is_file() and manifest_path.is_file()):
            return None
        manifest = json.loads(manifest_path.read_text())
        if "external" not in manifest:
            return None
        return cls(
            root=root,
            cli_config=cli_config,
            manifest=manifest,
            external_version=str(manifest["external"]["provider_version"]),
        )


def find_docker_registry() -> Path | None:
    for candidate in (os.environ.get("RUNLAYER_TF_DOCKER_REGISTRY"), "/usr/bin/docker-registry"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None
