"""The Terraform argv builder (a table) and the one subprocess choke point (with a real child process)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from runlayer_tf.errors import ConfigError, TerraformError
from runlayer_tf.update._terraform import (
    Apply,
    Init,
    Plan,
    RunResult,
    Terraform,
    TerraformCommand,
    build_argv,
    find_binary,
    run_command,
)


@pytest.mark.parametrize(
    ("binary", "command", "argv"),
    [
        ("tofu", Init(), ("tofu", "init", "-input=false", "-no-color")),
        ("terraform", Init(), ("terraform", "init", "-input=false", "-no-color")),
        (
            "tofu",
            Plan("/w/.runlayer/r.tfplan"),
            (
                "tofu",
                "plan",
                "-input=false",
                "-no-color",
                "-detailed-exitcode",
                "-out=/w/.runlayer/r.tfplan",
            ),
        ),
        (
            "/opt/bin/tofu",
            Plan(
                "p.tfplan",
                variables=(("backend_version", "v1.3.0"), ("x", "a b")),
                var_files=("prod.tfvars", "extra.tfvars"),
            ),
            (
                "/opt/bin/tofu",
                "plan",
                "-input=false",
                "-no-color",
                "-detailed-exitcode",
                "-out=p.tfplan",
                "-var-file=prod.tfvars",
                "-var-file=extra.tfvars",
                "-var=backend_version=v1.3.0",
                "-var=x=a b",
            ),
        ),
        (
            "tofu",
            Apply("p.tfplan"),
            ("tofu", "apply", "-input=false", "-no-color", "-auto-approve", "p.tfplan"),
        ),
    ],
)
def test_build_argv(binary: str, command: TerraformCommand, argv: tuple[str, ...]) -> None:
    assert build_argv(binary, command) == argv


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_run_command_streams_both_streams_and_keeps_stdout(tmp_path: Path) -> None:
    lines: list[tuple[str, str]] = []
    result = run_command(
        _python(
            "import sys, os; print('out1'); print(os.getcwd()); print('err1', file=sys.stderr)"
        ),
        cwd=tmp_path,
        on_line=lambda stream, line: lines.append((stream, line)),
    )
    assert result.returncode == 0
    assert result.stdout == f"out1\n{tmp_path}"
    assert result.stderr_tail == ("err1",)
    assert sorted(lines) == sorted(
        [("stdout", "out1"), ("stdout", str(tmp_path)), ("stderr", "err1")]
    )


def test_run_command_error_carries_stderr_tail(tmp_path: Path) -> None:
    code = "import sys\nfor i in range(30): print(f'line {i}', file=sys.stderr)\nsys.exit(3)"
    with pytest.raises(TerraformError) as caught:
        run_command(_python(code), cwd=tmp_path, on_line=lambda s, line: None)
    tail = " | ".join(f"line {i}" for i in range(10, 30))
    assert str(caught.value) == f"{Path(sys.executable).name} -c exited 3: {tail}"


def test_run_command_accepts_listed_exit_codes_and_sets_automation_env(tmp_path: Path) -> None:
    code = (
        "import os, sys; print(os.environ['TF_IN_AUTOMATION'], os.environ['TF_INPUT']); sys.exit(2)"
    )
    result = run_command(
        _python(code),
        cwd=tmp_path,
        on_line=lambda s, line: None,
        ok_codes=frozenset({0, 2}),
        env={},
    )
    assert (result.returncode, result.stdout) == (2, "1 0")


def test_run_command_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(
        TerraformError, match=r"^cannot run /nonexistent/tofu: No such file or directory$"
    ):
        run_command(["/nonexistent/tofu", "init"], cwd=tmp_path, on_line=lambda s, line: None)


def test_find_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = tmp_path / "tofu"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_binary("tofu") == str(tool)
    assert find_binary(str(tool)) == str(tool)
    with pytest.raises(
        ConfigError, match=r"^Terraform binary 'terraform' is not on PATH; pass --terraform PATH$"
    ):
        find_binary("terraform")
    with pytest.raises(ConfigError, match="is not an executable file"):
        find_binary(str(tmp_path / "missing" / "tofu"))


class ScriptedRunner:
    def __init__(self, returncode: int = 0, stdout: str = "") -> None:
        self.returncode, self.stdout = returncode, stdout
        self.calls: list[dict[str, Any]] = []

    def __call__(
        self,
        argv: Any,
        *,
        cwd: Path,
        on_line: Any,
        ok_codes: frozenset[int] = frozenset({0}),
        env: Any = None,
        logs: Any = None,
    ) -> RunResult:
        self.calls.append({"argv": tuple(argv), "cwd": cwd, "ok_codes": ok_codes})
        return RunResult(tuple(argv), self.returncode, self.stdout, ())


@pytest.mark.parametrize(("returncode", "changes"), [(0, False), (2, True)])
def test_plan_reports_changes_from_detailed_exit_code(returncode: int, changes: bool) -> None:
    runner = ScriptedRunner(returncode)
    tf = Terraform("tofu", Path("/w"), runner=runner)
    assert tf.plan("p", variables=[("a", "1")], var_files=["f.tfvars"]) is changes
    assert runner.calls == [
        {
            "argv": (
                "tofu",
                "plan",
                "-input=false",
                "-no-color",
                "-detailed-exitcode",
                "-out=p",
                "-var-file=f.tfvars",
                "-var=a=1",
            ),
            "cwd": Path("/w"),
            "ok_codes": frozenset({0, 2}),
        }
    ]
