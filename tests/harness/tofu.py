"""Run a real Terraform-compatible binary (OpenTofu or HashiCorp Terraform) on a temp copy of a module.

One class for both binaries: :class:`TfBinary` carries the binary's ``name``
(``tofu`` or ``terraform``), which is also the id of the ``tf`` fixture's
parameter, and the registry host its lock files record for a provider source
without a host (``registry.opentofu.org`` or ``registry.terraform.io``).

Every command runs with ``-input=false -no-color``, without a shell, in the
copy; state, plans, lock files and ``.terraform/`` stay in the temp dir.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

_IGNORED = shutil.ignore_patterns(
    ".terraform", ".terraform.lock.hcl", "*.tfstate*", "tf_resources.json", "tfplan"
)

# name -> (what the binary is called in messages, the host its lock files record)
KINDS = {
    "tofu": ("OpenTofu", "registry.opentofu.org"),
    "terraform": ("Terraform", "registry.terraform.io"),
}


class TfFailed(AssertionError):
    def __init__(self, argv: Sequence[str], proc: subprocess.CompletedProcess[str]) -> None:
        super().__init__(
            f"{' '.join(argv)} exited {proc.returncode}\n"
            f"--- stdout\n{proc.stdout[-4000:]}\n"
            f"--- stderr\n{proc.stderr[-4000:]}"
        )
        self.proc = proc


@attrs.frozen
class TfBinary:
    """A provisioned ``tofu`` or ``terraform`` and the CLI configuration with our provider mirror."""

    name: str = attrs.field(validator=attrs.validators.in_(KINDS))
    binary: Path
    cli_config: Path

    @property
    def product(self) -> str:
        """``OpenTofu`` or ``Terraform``."""
        return KINDS[self.name][0]

    @property
    def registry_host(self) -> str:
        """The host a source such as ``hashicorp/external`` means (in lock files and ``providers``)."""
        return KINDS[self.name][1]

    def provider(self, source: str) -> str:
        """The full address of a provider source without a host, e.g. ``registry.terraform.io/hashicorp/external``."""
        return f"{self.registry_host}/{source}"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "TF_CLI_CONFIG_FILE": str(self.cli_config),
                "TF_IN_AUTOMATION": "1",
                "CHECKPOINT_DISABLE": "1",
            }
        )
        env.pop("TF_DATA_DIR", None)
        env.pop("TF_PLUGIN_CACHE_DIR", None)
        if extra:
            env.update(extra)
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(self.binary), *args]
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=self.env(env),
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if check and proc.returncode != 0:
            raise TfFailed(argv, proc)
        return proc

    def workspace(self, module: Path, into: Path) -> TfWorkspace:
        """Copy ``module`` (without run artefacts) into ``into`` and return a workspace there."""
        shutil.copytree(module, into, ignore=_IGNORED, dirs_exist_ok=True)
        return TfWorkspace(self, into)


def _var_args(variables: Mapping[str, str] | None) -> list[str]:
    return [f"-var={name}={value}" for name, value in (variables or {}).items()]


@attrs.frozen
class TfWorkspace:
    tf: TfBinary
    path: Path

    def init(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        return self.tf.run(
            ["init", "-input=false", "-no-color", *args], cwd=self.path, env=env
        ).stdout

    def plan(
        self,
        variables: Mapping[str, str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        return self.tf.run(
            ["plan", "-input=false", "-no-color", "-out=tfplan", *_var_args(variables)],
            cwd=self.path,
            env=env,
            check=check,
        )

    def apply(
        self,
        variables: Mapping[str, str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        return self.tf.run(
            ["apply", "-input=false", "-no-color", "-auto-approve", *_var_args(variables)],
            cwd=self.path,
            env=env,
            check=check,
        )

    def outputs(self, *, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """``output -json`` as ``{name: value}``."""
        raw = json.loads(
            self.tf.run(["output", "-json", "-no-color"], cwd=self.path, env=env).stdout
        )
        return {name: entry["value"] for name, entry in raw.items()}

    def providers(self) -> str:
        return self.tf.run(["providers", "-no-color"], cwd=self.path).stdout

    def lock_file(self) -> str:
        return (self.path / ".terraform.lock.hcl").read_text()
