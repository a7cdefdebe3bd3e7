"""Where an interrupted update stopped: the state read back from the journal, and the summary printed.

The runs are driven over the fakes of ``test_update_runbook`` and stopped at a
step boundary (KeyboardInterrupt, as Ctrl-C raises it); the CLI's signal
handling itself is exercised in a real pseudo-terminal by
``tests/integration/test_update_display.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from runlayer_tf.cli import _update as _cli
from runlayer_tf.cli._update_report import Stopped, resume_command, stopping_on_signals
from runlayer_tf.update import UpdateDeps, UpdateReport, UpdateSpec, run_update
from runlayer_tf.update._interrupt import InterruptedRun, interrupted_run, interrupted_summary
from tests.fakes.update import START
from tests.unit.test_update_runbook import SNAPSHOT, VARS_NEW, World

RESUME = "runlayer-tf update --cluster anysource-production --set backend_version=v1.3.0 --resume"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def interrupt_at(world: World, where: str) -> InterruptedRun:
    """Run the update until ``where``, stop it there as Ctrl-C does, and read back the state."""
    if where == "snapshot":
        world.rds.kill_on_describe_snapshot_at = 2
    elif where == "verify":
        world.health.kill_at = 1
    else:
        world.tf.kill_on.add(where)
    with pytest.raises(Exception, match="killed"):
        world.run()
    return interrupted_run(world.spec.journal_path, since=START)


def test_interrupted_in_apply_says_the_outcome_is_unknown(world: World) -> None:
    state = interrupt_at(world, "apply")
    assert (state.step, state.snapshot, state.completed[-1]) == ("apply", SNAPSHOT, "plan")
    assert interrupted_summary(state, signal="SIGINT", resume_command=RESUME).splitlines() == [
        f"interrupted (SIGINT) during apply of update run {state.run}",
        f"  snapshot: {SNAPSHOT} (available, taken before any apply)",
        f"  var-file: {world.var_file} holds backend_version=v1.3.0",
        "  apply was interrupted: what Terraform changed is unknown until a fresh plan; "
        "--resume plans again before it applies",
        f"  journal: {world.spec.journal_path} (resumable)",
        "  resume with:",
        f"    {RESUME}",
    ]


@pytest.mark.parametrize(
    ("where", "snapshot", "held", "meaning"),
    [
        (
            "snapshot",
            f"snapshot: {SNAPSHOT} was being created; --resume reuses it",
            "v1.2.3",
            "nothing was applied",
        ),
        (
            "plan",
            f"snapshot: {SNAPSHOT} (available, taken before any apply)",
            "v1.3.0",
            "nothing was applied",
        ),
        (
            "verify",
            f"snapshot: {SNAPSHOT} (available, taken before any apply)",
            "v1.3.0",
            "apply had completed: the new version is deployed but not yet verified",
        ),
    ],
)
def test_each_step_says_what_the_interruption_left(
    world: World, where: str, snapshot: str, held: str, meaning: str
) -> None:
    state = interrupt_at(world, where)
    lines = interrupted_summary(state, signal="SIGTERM", resume_command=RESUME).splitlines()
    assert lines[0] == f"interrupted (SIGTERM) during {where} of update run {state.run}"
    assert lines[1:4] == [
        f"  {snapshot}",
        f"  var-file: {world.var_file} holds backend_version={held}",
        f"  {meaning}",
    ]
    assert lines[-1] == f"    {RESUME}"


def test_interrupted_during_the_roll_back(world: World) -> None:
    """Verify fails, the roll-back's apply is interrupted (the second apply of the run)."""
    world.health.bad = {"v1.3.0"}
    applies: list[Any] = []

    def stop_in_the_second_apply(argv: Any, **kw: Any) -> Any:
        if argv[1] == "apply":
            applies.append(argv)
            if len(applies) == 2:
                raise KeyboardInterrupt
        return world.tf(argv, **kw)

    deps = attrs.evolve(world.deps(), terraform_runner=stop_in_the_second_apply)
    with pytest.raises(KeyboardInterrupt):
        run_update(world.spec, deps)
    state = interrupted_run(world.spec.journal_path, since=START)
    assert (state.step, state.rolling_back) == ("rollback-apply", "verify")
    lines = interrupted_summary(state, signal="SIGINT", resume_command=RESUME).splitlines()
    assert lines[0] == f"interrupted (SIGINT) during rollback-apply of update run {state.run}"
    assert lines[2:4] == [
        f"  var-file: {world.var_file} holds backend_version=v1.2.3",
        "  rollback-apply was interrupted: what Terraform changed is unknown until a fresh plan; "
        "--resume plans again before it applies",
    ]


def test_nothing_begun_and_finished_runs(world: World) -> None:
    empty = interrupted_run(world.spec.journal_path, since=START)
    assert interrupted_summary(empty, signal="SIGINT", resume_command=RESUME) == (
        "interrupted (SIGINT) before the update began: nothing was changed"
    )
    assert world.run().outcome == "succeeded"
    # A run that finished before this command started is not this command's.
    later = interrupted_run(world.spec.journal_path, since=world.clock.now + timedelta(hours=1))
    assert later.run is None
    just = interrupted_run(world.spec.journal_path, since=START)
    assert interrupted_summary(just, signal="SIGINT", resume_command=RESUME) == (
        f"interrupted (SIGINT) as {just.run} finished (succeeded); journal: {just.journal}"
    )


def test_no_snapshot_is_named_before_its_step(world: World) -> None:
    state = interrupt_at(world, "init")
    assert (state.step, state.snapshot) == ("preflight", None)
    lines = interrupted_summary(state, signal="SIGINT", resume_command=RESUME).splitlines()
    assert lines[1:3] == [
        f"  var-file: {world.var_file} holds backend_version=v1.2.3",
        "  nothing was applied",
    ]


def test_an_unreadable_journal_is_said_to_be_one(world: World) -> None:
    journal = world.spec.journal_path
    journal.parent.mkdir(parents=True)
    journal.write_text("not json\n")
    state = interrupted_run(journal, since=START)
    assert interrupted_summary(state, signal="SIGINT", resume_command=RESUME) == (
        f"interrupted (SIGINT); the journal {journal} cannot be read ({state.unreadable}), "
        "so where the run stopped is unknown"
    )
    assert state.unreadable is not None
    assert str(journal) in state.unreadable


def test_var_mode_names_no_var_file(tmp_path: Path) -> None:
    world = World(tmp_path, mode="var")
    state = interrupt_at(world, "plan")
    lines = interrupted_summary(state, signal="SIGINT", resume_command=RESUME).splitlines()
    assert lines[2] == "  var-file: none changed (values passed with -var)"
    assert world.var_file.read_text() != VARS_NEW


def test_an_unreadable_var_file_is_part_of_the_state(world: World) -> None:
    interrupt_at(world, "plan")
    world.var_file.write_text("backend_version = \n")
    state = interrupted_run(world.spec.journal_path, since=START)
    [(path, name, value)] = state.var_files
    assert (path, name) == (str(world.var_file), "backend_version")
    assert value.startswith("(unreadable: ")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.set_defaults(command="update", raw_arguments=tuple(argv))
    _cli.configure_parser(parser)
    return parser.parse_args(argv)


def test_the_resume_command_repeats_the_arguments() -> None:
    argv = ["--cluster", "c 1", "--set", "backend_version=v1.3.0", "--var-file", "p.tfvars"]
    assert resume_command(parse(argv)) == (
        "runlayer-tf update --cluster 'c 1' --set backend_version=v1.3.0 --var-file p.tfvars --resume"
    )
    again = [*argv, "--resume"]
    assert resume_command(parse(again)) == resume_command(parse(argv))


def parse_argv(world: World) -> list[str]:
    return [
        "--cluster",
        "anysource-production",
        "--workdir",
        str(world.workdir),
        "--set",
        "backend_version=v1.3.0",
        "--var-file",
        "production.tfvars",
    ]


def _signalled_cli(
    world: World, monkeypatch: pytest.MonkeyPatch, signum: int, *extra: str
) -> tuple[int, list[str]]:
    """Run the CLI's ``run`` over the fakes; ``signum`` arrives (a real signal) in apply."""
    bin_dir = world.workdir / "bin"
    bin_dir.mkdir()
    (bin_dir / "tofu").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "tofu").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    argv = [*parse_argv(world), *extra]

    def signal_in_apply(argv: Any, **kw: Any) -> Any:
        if argv[1] == "apply":
            os.kill(os.getpid(), signum)
        return world.tf(argv, **kw)

    def runner(spec: UpdateSpec, deps: UpdateDeps) -> UpdateReport:
        # The fakes' spec and seams (the journal is the same: WORKDIR/.runlayer/update.jsonl).
        return run_update(world.spec, attrs.evolve(world.deps(), terraform_runner=signal_in_apply))

    before = signal.getsignal(signal.SIGTERM)
    code = _cli.run(parse(argv), runner=runner)
    assert signal.getsignal(signal.SIGTERM) == before  # the handlers are put back
    return code, argv


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_run_prints_the_summary_and_exits_128_plus_the_signal(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    signum: int,
    code: int,
) -> None:
    """The CLI: a real signal to this process in apply; stderr has the summary, stdout nothing."""
    assert _signalled_cli(world, monkeypatch, signum) == (code, argv := parse_argv(world))
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    name = signal.Signals(signum).name
    assert lines[0].startswith(f"interrupted ({name}) during apply of update run update-")
    assert lines[-2:] == ["  resume with:", f"    runlayer-tf update {shlex.join(argv)} --resume"]
    assert world.journal()[-1] == ("start", "apply", None)  # resumable
    assert not (world.workdir / ".runlayer" / "update.lock").exists()


def test_with_json_the_interruption_is_a_json_report_too(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, argv = _signalled_cli(world, monkeypatch, signal.SIGTERM, "--json")
    assert code == 143
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert err.rstrip("\n") == report["message"]
    assert {k: report[k] for k in ("outcome", "signal", "exit_code", "step", "snapshot")} == {
        "outcome": "interrupted",
        "signal": "SIGTERM",
        "exit_code": 143,
        "step": "apply",
        "snapshot": SNAPSHOT,
    }
    assert report["var_files"] == [
        {"var_file": str(world.var_file), "name": "backend_version", "value": "v1.3.0"}
    ]
    assert report["resume_command"] == f"runlayer-tf update {shlex.join(argv)} --resume"


def test_stopped_names_its_signal() -> None:
    with pytest.raises(Stopped) as caught, stopping_on_signals():
        signal.raise_signal(signal.SIGTERM)
    assert caught.value.signum == signal.SIGTERM
    assert isinstance(caught.value, KeyboardInterrupt)
