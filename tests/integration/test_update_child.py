"""Terraform as a child runlayer-tf can lose: SIGKILL of runlayer-tf alone, Ctrl-C, a held state lock.

The same real parts as ``test_update_faults.py`` (its :class:`World`: moto, real
OpenTofu and real Terraform applying ``tests/terraform/update_app``, a health
server, the demo OCI layout), with the CLI as a subprocess.  Here the kill
takes runlayer-tf **alone** (``os.kill(pid)``, not its process group), so the
Terraform it started lives on: an orphan that must finish its work and write
its state, and that ``--resume`` must wait for (or refuse, naming its pid).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from tests.integration.test_update_faults import (
    NEW_VARS,
    OLD_VARS,
    World,
    _wait_for,
    assert_invariants,
)


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not reaped by its new parent, does not)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] not in ("Z", "X")


def _wait_gone(pid: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while _running(pid):
        assert time.monotonic() < deadline, f"pid {pid} still runs"
        time.sleep(0.05)


def _children(world: World, step: str) -> list[dict[str, Any]]:
    return [r["detail"] for r in world.journal() if r["event"] == "child" and r["step"] == step]


def _kill_alone(proc: subprocess.Popen[str]) -> None:
    """SIGKILL runlayer-tf only (not its process group, so not the Terraform it started)."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


class _Lines:
    """Collects a process's stderr lines as they come; :meth:`wait_for` one containing a text."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        self.lines: list[str] = []
        self._stream = proc.stderr
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines if text in line]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r} in {self.lines}")

    def text(self) -> str:
        self._thread.join(timeout=30)
        return "\n".join(self.lines)


def _finish(proc: subprocess.Popen[str]) -> str:
    """Its stdout once it exits. Not communicate(): that would read stderr too, racing the
    :class:`_Lines` thread for its lines (a line read by one is lost to the other)."""
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    proc.wait(timeout=120)
    return stdout


def _no_stale_lock(world: World) -> None:
    """No lock file left, and a plan (which takes the lock) runs: no changes, the state holds v1.3.0."""
    assert not (world.workdir / ".terraform.tfstate.lock.info").exists()
    proc = world.tf.run(
        [
            "plan",
            "-input=false",
            "-no-color",
            "-lock-timeout=0s",
            "-detailed-exitcode",
            "-var-file=production.tfvars",
        ],
        cwd=world.workdir,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def _resume_waiting(world: World, orphan: int, step: str) -> tuple[subprocess.Popen[str], _Lines]:
    """Start ``--resume`` (human output) and see it say it waits for ``orphan``, still running."""
    argv = [
        a for a in world.argv("update", ("--set", "backend_version=v1.3.0"), ()) if a != "--json"
    ]
    resume = subprocess.Popen(
        [*argv, "--resume"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines = _Lines(resume)
    waiting = lines.wait_for("still running: waiting for it to exit")
    name = Path(world.tf.binary).name
    assert f"{name} {step} (pid {orphan}), started by the interrupted run's {step} step" in waiting
    time.sleep(0.5)
    assert resume.poll() is None  # waiting, not planning beside it
    assert _running(orphan)
    return resume, lines


def _messages(world: World) -> list[str]:
    return [str(r["detail"].get("message", "")) for r in world.journal()]


def test_killed_alone_during_apply_resume_refuses_then_waits_for_the_orphan(world: World) -> None:
    """The issue's fault: runlayer-tf SIGKILLed alone during apply, then an immediate --resume."""
    gate = world.fault("hold-apply")
    proc = world.start()
    _wait_for(world.workdir / "faults" / "holding-apply", proc)
    [child] = _children(world, "apply")
    assert child["argv"][1] == "apply"
    _kill_alone(proc)
    orphan = int(child["pid"])
    assert _running(orphan)  # the apply lives on: no pipe to die on, not in the killed group
    log = Path(child["log"])
    assert log.parent == world.workdir / ".runlayer"
    assert stat.S_IMODE(log.lstat().st_mode) == 0o600

    refused = world.run("--resume", "--no-wait")
    assert (refused.code, refused.stdout) == (1, "")
    name = Path(world.tf.binary).name
    assert refused.stderr == (
        f"runlayer-tf: error: {name} apply (pid {orphan}), started by the interrupted run, is "
        f"still running (its output: {log}); wait for it to finish, or stop it with "
        f"kill -INT {orphan}, then --resume again\n"
    )
    assert _running(orphan)

    resume, lines = _resume_waiting(world, orphan, "apply")
    gate.unlink()
    stdout = _finish(resume)
    stderr = lines.text()
    assert resume.returncode == 0, (stdout, stderr)
    assert not _running(orphan)
    assert stdout.startswith("update backend_version=v1.3.0 succeeded\n"), stdout
    assert "nothing was applied" not in stdout
    assert f"{name} apply (pid {orphan}) exited after" in stderr
    assert (
        "the interrupted apply's outcome was unknown until this plan; "
        "plan has no changes: the interrupted apply had finished" in stdout
    )
    # The orphan finished and wrote its state: the fresh plan had nothing left to apply.
    assert world.applies() == ["v1.3.0"]
    assert (world.var_file.read_text(), world.deployed(), world.state_version()) == (
        NEW_VARS,
        "v1.3.0",
        "v1.3.0",
    )
    assert "Apply complete!" in log.read_text()
    assert_invariants(world, None)
    records = world.journal()
    assert [r["result"] for r in records if r["event"] == "finish"] == ["succeeded"]
    [waited] = [
        r for r in records if r["event"] == "note" and r["detail"].get("action") == "waited"
    ]
    assert (waited["step"], waited["detail"]["pid"]) == ("apply", orphan)
    assert not any("nothing was applied" in m for m in _messages(world))
    _no_stale_lock(world)


def test_killed_alone_during_plan_resume_waits_and_plans_again(world: World) -> None:
    gate = world.fault("hold-plan")
    proc = world.start()
    _wait_for(world.workdir / "faults" / "holding-plan", proc)
    [child] = _children(world, "plan")
    _kill_alone(proc)
    orphan = int(child["pid"])
    assert _running(orphan)
    resume, lines = _resume_waiting(world, orphan, "plan")
    gate.unlink()
    stdout = _finish(resume)
    assert resume.returncode == 0, (stdout, lines.text())
    assert_invariants(world, None)
    assert [line.split()[:2] for line in stdout.splitlines()[4:7]] == [
        ["plan", "ok"],
        ["apply", "ok"],
        ["verify", "ok"],
    ], stdout
    waited = [r for r in world.journal() if r["detail"].get("action") == "waited"]
    assert [(r["step"], r["detail"]["pid"]) for r in waited] == [("plan", orphan)]
    assert (world.applies(), world.state_version()) == (["v1.3.0"], "v1.3.0")
    _no_stale_lock(world)


def test_state_lock_held_by_another_terraform_is_reported_not_restored(world: World) -> None:
    """Another Terraform holds the state lock: the run stops unfinished, the var-file is not "restored"."""
    gate = world.fault("hold-plan")
    other = subprocess.Popen(
        [str(world.tf.binary), "plan", "-input=false", "-no-color", "-var-file=production.tfvars"],
        cwd=world.workdir,
        env=world.tf.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(world.workdir / "faults" / "holding-plan", other)  # type: ignore[arg-type]
        lock = json.loads((world.workdir / ".terraform.tfstate.lock.info").read_text())
        result = world.run()
    finally:
        gate.unlink()
        other.wait(timeout=60)
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (1, "unfinished"), result.stderr
    assert [(s["name"], s["status"]) for s in report["steps"]] == [
        ("preflight", "ok"),
        ("snapshot", "ok"),
        ("set-version", "ok"),
        ("plan", "failed"),
    ]
    name = Path(world.tf.binary).name
    plan = report["steps"][3]["message"]
    assert plan.startswith(
        f"the Terraform state is locked (lock {lock['ID']} on terraform.tfstate held by "
        f"{lock['Who']} for plan since "
    ), plan
    assert plan.endswith(
        f"another Terraform holds it; wait for it to finish, and run `{name} force-unlock "
        f"{lock['ID']}` only if you are sure no Terraform is running on this state"
    ), plan
    assert report["message"] == (
        f"update backend_version=v1.3.0 is unfinished: stopped at plan: {plan}; nothing was "
        f"restored or rolled back; {world.var_file} holds backend_version=v1.3.0; snapshot "
        f"{report['snapshot']} was taken and is kept; once that is resolved, run the same "
        "command with --resume"
    )
    assert world.var_file.read_text() == NEW_VARS  # not "restored" over a plan that never ran
    assert world.applies() == []
    assert ("finish", None, "unfinished") not in world.events()
    assert "holds the unfinished run" in world.run().stderr

    resumed = world.run("--resume")
    assert_invariants(world, resumed)
    assert (resumed.code, resumed.report["outcome"]) == (0, "succeeded"), resumed.stderr
    assert (world.applies(), world.state_version()) == (["v1.3.0"], "v1.3.0")
    assert len(world.snapshots()) == 1


def test_ctrl_c_during_apply_is_forwarded_once_and_waited_for(world: World) -> None:
    """SIGINT to runlayer-tf (as a terminal's Ctrl-C would be, Terraform being in its own session)."""
    world.fault("hold-apply")
    proc = world.start()
    _wait_for(world.workdir / "faults" / "holding-apply", proc)
    [child] = _children(world, "apply")
    os.kill(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    interrupted = json.loads(stdout)  # --json: the interruption as JSON, the summary on stderr
    assert (interrupted["outcome"], interrupted["signal"], interrupted["step"]) == (
        "interrupted",
        "SIGINT",
        "apply",
    )
    assert "interrupted (SIGINT) during apply" in stderr
    # Terraform stopped gracefully (its provisioner was cancelled) before runlayer-tf exited.
    assert not _running(int(child["pid"]))
    assert "Gracefully shutting down" in Path(child["log"]).read_text()
    assert [r["event"] for r in world.journal()][-2:] == ["start", "child"]
    assert world.events()[-1] == ("start", "apply", None)  # no end: the apply was interrupted
    assert not (world.workdir / ".terraform.tfstate.lock.info").exists()
    (world.workdir / "faults" / "hold-apply").unlink()

    result = world.run("--resume")
    assert_invariants(world, result)
    assert (result.code, result.report["outcome"]) == (0, "succeeded"), result.stderr
    plan = next(s for s in result.report["steps"] if s["name"] == "plan")
    assert plan["message"] == (
        "the interrupted apply's outcome was unknown until this plan; "
        "plan has changes: the interrupted apply did not finish them"
    )
    assert (world.deployed(), world.state_version()) == ("v1.3.0", "v1.3.0")
    assert world.var_file.read_text() != OLD_VARS
    assert not any("nothing was applied" in m for m in _messages(world))
