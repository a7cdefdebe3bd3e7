"""``runlayer-tf update``/``rollback``/``ecs`` option handling, output and exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from runlayer_tf import cli
from runlayer_tf.cli import _update as _cli
from runlayer_tf.errors import UsageError
from runlayer_tf.update._runbook import UpdateDeps, UpdateSpec, VersionChange, run_update
from runlayer_tf.update._window import MaintenanceWindow
from tests.fakes.update import FakeClock, FakeEcs, FakeHealth, FakeRds, FakeTerraform

REPO = "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "production.tfvars").write_text('backend_version = "v1.2.3"\n')
    return tmp_path


def parse(kind: str, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.set_defaults(command=kind)
    _cli.configure_parser(parser)
    return parser.parse_args(argv)


def test_spec_from_args(root: Path) -> None:
    args = parse(
        "update",
        [
            "--cluster",
            "anysource-production",
            "--workdir",
            str(root),
            "--set",
            "backend_version=v1.3.0",
            "--var-file",
            "production.tfvars",
            "--backend-url",
            "https://app.example.com",
            "--health-url",
            "https://x/y",
            "--ecs-cluster",
            "prod",
            "--service",
            "backend-service",
            "--service",
            "frontend-service",
            "--target-group",
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/1",
            "--target-group",
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/2",
            "--within-window",
            "sun:05:00-sun:06:00",
            "--allow-major",
            "--terraform",
            "tofu",
            "--dry-run",
            "--repository",
            f"backend_version={REPO}",
        ],
    )
    assert _cli.spec_from_args(args, kind="update") == UpdateSpec(
        cluster="anysource-production",
        workdir=root,
        changes=(VersionChange("backend_version", "v1.3.0"),),
        mode="set",
        var_files=(root / "production.tfvars",),
        terraform="tofu",
        health_urls=("https://x/y", "https://app.example.com/api/v1/utils/health-check/"),
        ecs_cluster="prod",
        services=("backend-service", "frontend-service"),
        target_groups=(
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/1",
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/2",
        ),
        allow_major=True,
        window=MaintenanceWindow.parse("sun:05:00-sun:06:00"),
        dry_run=True,
        repositories=(("backend_version", REPO),),
    )


@pytest.mark.parametrize(
    ("argv", "wait"),
    [([], 3600.0), (["--wait-timeout", "90"], 90.0), (["--no-wait"], 0.0)],
)
def test_how_long_a_resume_waits_for_a_lost_terraform(
    root: Path, argv: list[str], wait: float
) -> None:
    base = ["--cluster", "c", "--workdir", str(root), "--var", "a=v1", "--dry-run"]
    spec = _cli.spec_from_args(parse("update", [*base, *argv]), kind="update")
    assert spec.terraform_wait == wait


def test_rollback_names_without_versions_take_to(root: Path) -> None:
    args = parse(
        "rollback",
        [
            "--cluster",
            "c",
            "--workdir",
            str(root),
            "--var",
            "a",
            "--var",
            "b=v1.0.0",
            "--to",
            "v1.2.2",
            "--dry-run",
        ],
    )
    spec = _cli.spec_from_args(args, kind="rollback")
    assert (spec.kind, spec.mode, spec.changes) == (
        "rollback",
        "var",
        (VersionChange("a", "v1.2.2"), VersionChange("b", "v1.0.0")),
    )
    args = parse("rollback", ["--cluster", "c", "--workdir", str(root), "--set", "a", "--dry-run"])
    assert _cli.spec_from_args(args, kind="rollback").changes == (VersionChange("a", None),)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--health-consecutive", "0"], "--health-consecutive must be 1 or more, got 0"),
        (["--health-consecutive", "-2"], "--health-consecutive must be 1 or more, got -2"),
        (["--health-timeout", "-1"], "--health-timeout must be more than 0, got -1"),
        (["--health-timeout", "0"], "--health-timeout must be more than 0, got 0"),
        (["--health-timeout", "nan"], "--health-timeout must be a finite number, got nan"),
        (["--health-timeout", "inf"], "--health-timeout must be a finite number, got inf"),
        (["--health-interval", "-0.5"], "--health-interval must be more than 0, got -0.5"),
        (["--health-interval", "0"], "--health-interval must be more than 0, got 0"),
        (["--health-interval", "NaN"], "--health-interval must be a finite number, got nan"),
        (["--snapshot-timeout", "0"], "--snapshot-timeout must be more than 0, got 0"),
        (["--snapshot-interval", "-15"], "--snapshot-interval must be more than 0, got -15"),
        (["--ecs-interval", "0"], "--ecs-interval must be 1 or more, got 0"),
        (["--ecs-attempts", "-1"], "--ecs-attempts must be 1 or more, got -1"),
        (["--wait-timeout", "-1"], "--wait-timeout must be 0 or more, got -1"),
        (["--wait-timeout", "inf"], "--wait-timeout must be a finite number, got inf"),
        (
            ["--health-consecutive", "3", "--health-interval", "2", "--health-timeout", "3"],
            "--health-consecutive 3 answers 2s apart take 4s, more than --health-timeout 3",
        ),
        (
            ["--snapshot-template", "backup-{date}"],
            "--snapshot-template: bad snapshot template 'backup-{date}': "
            "only {utc:FORMAT} and {cluster} are known",
        ),
        (
            # {utc:...} is formatted (a literal strftime text, so the case cannot race the clock).
            ["--snapshot-template", "{cluster}--{utc:x}"],
            "--snapshot-template: bad DB cluster snapshot identifier "
            "'c--x': must not contain two consecutive hyphens",
        ),
        (
            ["--snapshot-template", "9-{cluster}"],
            "--snapshot-template: bad DB cluster snapshot identifier '9-c': "
            "must start with a letter and hold only letters, digits and hyphens",
        ),
    ],
)
@pytest.mark.parametrize("dry_run", [["--dry-run"], []])
def test_numbers_and_template_checked_at_parse_time(
    root: Path, argv: list[str], message: str, dry_run: list[str]
) -> None:
    """Out-of-range options are usage errors naming the option, before any step (dry run or not)."""
    args = parse(
        "update", ["--cluster", "c", "--workdir", str(root), "--set", "a=1", *dry_run, *argv]
    )
    with pytest.raises(UsageError) as caught:
        _cli.spec_from_args(args, kind="update")
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "argv",
    [
        ["--health-consecutive", "3", "--health-interval", "2", "--health-timeout", "4"],
        ["--health-consecutive", "1", "--health-interval", "600", "--health-timeout", "1"],
        ["--ecs-interval", "1", "--ecs-attempts", "1", "--snapshot-interval", "0.1"],
    ],
)
def test_numbers_at_the_edge_of_their_range_pass(root: Path, argv: list[str]) -> None:
    args = parse(
        "update", ["--cluster", "c", "--workdir", str(root), "--set", "a=1", "--dry-run", *argv]
    )
    assert _cli.spec_from_args(args, kind="update").cluster == "c"


def test_main_negative_interval_exits_two_before_anything_runs(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["update", "--cluster", "c", "--workdir", str(root), "--set", "a=1"]
    code = cli.main([*argv, "--var-file", "production.tfvars", "--health-interval", "-1"])
    assert (code, capsys.readouterr().err) == (
        2,
        "runlayer-tf: error: --health-interval must be more than 0, got -1\n",
    )
    assert not (root / ".runlayer").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--set", "a=1", "--var", "b=2"],
            "use --set (rewrite the var-file) or --var (pass -var), not both",
        ),
        ([], "nothing to update: give --set NAME=VERSION or --var"),
        (["--set", "a=1", "--service", "s"], "--ecs-cluster and --service go together"),
        (["--set", "a"], "--set expects NAME=VERSION, got 'a'"),
        (["--set", "a=1", "--current", "a"], "--current expects NAME=VALUE, got 'a'"),
        (
            ["--set", "a=1", "--health-url", "runlayer.example.com/api/v1/utils/health-check/"],
            "bad health URL 'runlayer.example.com/api/v1/utils/health-check/': "
            "expected http://HOST/... or https://HOST/...",
        ),
        (
            ["--set", "a=1", "--backend-url", "app.example.com"],
            "bad health URL 'app.example.com/api/v1/utils/health-check/': "
            "expected http://HOST/... or https://HOST/...",
        ),
    ],
)
def test_usage_errors(root: Path, argv: list[str], message: str) -> None:
    args = parse("update", ["--cluster", "c", "--workdir", str(root), "--dry-run", *argv])
    with pytest.raises(UsageError) as caught:
        _cli.spec_from_args(args, kind="update")
    assert str(caught.value) == message


def test_main_dry_run_prints_plan_and_exits_zero(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        [
            "update",
            "--cluster",
            "anysource-production",
            "--workdir",
            str(root),
            "--set",
            "backend_version=v1.3.0",
            "--var-file",
            "production.tfvars",
            "--terraform",
            "tofu",
            "--dry-run",
        ]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "dry run of update backend_version=v1.3.0: nothing was changed"
    assert (
        out[3]
        == f"  set-version      planned      rewrite backend_version in {root / 'production.tfvars'}: v1.2.3 -> v1.3.0"
    )
    assert (root / "production.tfvars").read_text() == 'backend_version = "v1.2.3"\n'


def test_main_usage_error_exits_two(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        [
            "update",
            "--cluster",
            "c",
            "--workdir",
            str(root),
            "--dry-run",
            "--set",
            "a=1",
            "--var",
            "b=1",
        ]
    )
    assert code == 2
    assert (
        capsys.readouterr().err
        == "runlayer-tf: error: use --set (rewrite the var-file) or --var (pass -var), not both\n"
    )


def _faked_runner(root: Path, *, bad: set[str]) -> Any:
    """A run_update wired to the fakes, as the CLI would call it."""
    rds = FakeRds()
    tf = FakeTerraform(rds)
    clock = FakeClock()

    def runner(spec: UpdateSpec, deps: UpdateDeps) -> Any:
        deps = attrs.evolve(
            deps,
            rds=rds,
            ecs=FakeEcs().completed(),
            terraform_runner=tf,
            http_get=FakeHealth(tf, bad),
            version_exists=lambda r, t: True,
            crosses_major=lambda a, b: False,
            clock=clock,
            sleep=clock.sleep,
        )
        return run_update(spec, deps)

    return runner


@pytest.mark.parametrize(
    ("bad", "outcome", "code"), [(set(), "succeeded", 0), ({"v1.3.0"}, "rolled-back", 1)]
)
def test_json_report_and_exit_code(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    bad: set[str],
    outcome: str,
    code: int,
) -> None:
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "tofu").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "tofu").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    args = parse(
        "update",
        [
            "--cluster",
            "anysource-production",
            "--workdir",
            str(root),
            "--set",
            "backend_version=v1.3.0",
            "--var-file",
            "production.tfvars",
            "--repository",
            f"backend_version={REPO}",
            "--json",
            "--health-url",
            "https://admin:pw@app.example.com/",
            "--health-consecutive",
            "1",
            "--health-timeout",
            "10",
        ],
    )
    assert _cli.run(args, runner=_faked_runner(root, bad=bad)) == code
    report = json.loads(capsys.readouterr().out)
    assert (report["outcome"], report["exit_code"], report["snapshot"]) == (
        outcome,
        code,
        "backup-before-update-20260301-053000",
    )
    assert report["changes"] == [
        {
            "name": "backend_version",
            "previous": "v1.2.3",
            "target": "v1.3.0",
            "var_file": str(root / "production.tfvars"),
        }
    ]
    assert "admin:pw" not in json.dumps(report)


def test_ecs_force_deploy_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ecs = FakeEcs()
    monkeypatch.setattr("runlayer_tf.aws.ecs", lambda: ecs)
    assert (
        cli.main(["ecs", "force-deploy", "--cluster", "prod", "--service", "backend-service"]) == 0
    )
    assert (
        capsys.readouterr().out
        == "backend-service: 2/2 running, primary COMPLETED 2/2 backend-service:7\n"
    )
    assert (
        "update_service",
        {"cluster": "prod", "service": "backend-service", "forceNewDeployment": True},
    ) in ecs.calls


def test_ecs_scale_bounce_command_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ecs = FakeEcs({"backend-service": 2})
    monkeypatch.setattr("runlayer_tf.aws.ecs", lambda: ecs)
    assert (
        cli.main(
            ["ecs", "scale-bounce", "--cluster", "prod", "--service", "backend-service", "--json"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == [
        {
            "previous_desired": 2,
            "service": "backend-service",
            "state": "backend-service: 2/2 running, primary COMPLETED 2/2 backend-service:7",
        }
    ]


def _lock(root: Path, *hosts: str) -> None:
    blocks = [
        f'provider "{host}/hashicorp/external{i}" {{\n  version = "2.3.4"\n  hashes = ["h1:x="]\n}}\n'
        for i, host in enumerate(hosts)
    ]
    (root / ".terraform.lock.hcl").write_text(
        "# This file is maintained automatically by init.\n\n" + "\n".join(blocks)
    )


@pytest.mark.parametrize(
    ("hosts", "given", "force", "binary"),
    [
        (("registry.terraform.io",), None, False, "terraform"),
        (("registry.opentofu.org",), None, False, "tofu"),
        (
            ("registry.opentofu.org", "registry.opentofu.org"),
            "/opt/tools/bin/tofu",
            False,
            "/opt/tools/bin/tofu",
        ),
        (("registry.terraform.io",), "terraform", False, "terraform"),
        (("registry.terraform.io",), "tofu", True, "tofu"),
        (("registry.terraform.io",), "/opt/custom-wrapper", False, "/opt/custom-wrapper"),
        (("registry.terraform.io", "registry.opentofu.org"), "tofu", False, "tofu"),
    ],
)
def test_the_binary_defaults_to_the_one_that_made_the_lock_file(
    root: Path, hosts: tuple[str, ...], given: str | None, force: bool, binary: str
) -> None:
    _lock(root, *hosts)
    argv = ["--cluster", "c", "--workdir", str(root), "--set", "a=1", "--dry-run"]
    argv += [*(["--terraform", given] if given else []), *(["--force-terraform"] if force else [])]
    assert _cli.spec_from_args(parse("update", argv), kind="update").terraform == binary


def test_without_a_lock_file_the_default_is_tofu_on_path_else_terraform(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["--cluster", "c", "--workdir", str(root), "--set", "a=1", "--dry-run"]
    monkeypatch.setenv("PATH", str(root))
    assert _cli.spec_from_args(parse("update", argv), kind="update").terraform == "terraform"
    (root / "tofu").write_text("#!/bin/sh\n")
    (root / "tofu").chmod(0o755)
    assert _cli.spec_from_args(parse("update", argv), kind="update").terraform == "tofu"


@pytest.mark.parametrize(
    ("host", "given", "tool", "other"),
    [
        ("registry.terraform.io", "tofu", "tofu", "terraform"),
        ("registry.opentofu.org", "/usr/local/bin/terraform", "terraform", "tofu"),
    ],
)
def test_the_other_binary_is_refused_unless_forced(
    root: Path, host: str, given: str, tool: str, other: str
) -> None:
    _lock(root, host)
    argv = ["--cluster", "c", "--workdir", str(root), "--set", "a=1", "--terraform", given]
    with pytest.raises(UsageError) as caught:
        _cli.spec_from_args(parse("update", argv), kind="update")
    assert str(caught.value) == (
        f"--terraform {given} is {tool}, but {root / '.terraform.lock.hcl'} names providers from "
        f"{host}: {tool} would rewrite it and the state for {tool}; "
        f"use --terraform {other}, or pass --force-terraform"
    )
