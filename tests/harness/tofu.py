"""Run real OpenTofu on a temp copy of a module (for cases pytest-terraform's model does not fit).

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


class TofuFailed(AssertionError):
    def __init__(self, argv: Sequence[str], proc: subprocess.CompletedProcess[str]) -> None:
        super().__init__(
            f"{' '.join(argv)} exited {proc.returncode}\n"
            f"--- stdout\n{proc.stdout[-4000:]}\n"
            f"--- stderr\n{proc.stderr[-4000:]}"
        )
        self.proc = proc


@attrs.frozen
class Tofu:
    """A provisioned OpenTofu binary and the CLI configuration with our provider mirror."""

    binary: Path
    cli_config: Path

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
            raise TofuFailed(argv, proc)
        return proc

    def workspace(self, module: Path, into: Path) -> TofuWorkspace:
        """Copy ``module`` (without run artefacts) into ``into`` and return a workspace there."""
        shutil.copytree(module, into, ignore=_IGNORED, dirs_exist_ok=True)
        return TofuWorkspace(self, into)


def _var_args(variables: Mapping[str, str] | None) -> list[str]:
    return [f"-var={name}={value}" for name, value in (variables or {}).items()]


@attrs.frozen
class TofuWorkspace:
    tofu: Tofu
    path: Path

    def init(self, *, env: Mapping[str, str] | None = None) -> str:
        return self.tofu.run(["init", "-input=false", "-no-color"], cwd=self.path, env=env).stdout

    def plan(
        self,
        variables: Mapping[str, str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        return self.tofu.run(
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
        return self.tofu.run(
            ["apply", "-input=false", "-no-color", "-auto-approve", *_var_args(variables)],
            cwd=self.path,
            env=env,
            check=check,
        )

    def outputs(self, *, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """``tofu output -json`` as ``{name: value}``."""
        raw = json.loads(
            self.tofu.run(["output", "-json", "-no-color"], cwd=self.path, env=env).stdout
        )
        return {name: entry["value"] for name, entry in raw.items()}

    def providers(self) -> str:
        return self.tofu.run(["providers", "-no-color"], cwd=self.path).stdout
