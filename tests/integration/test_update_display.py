"""The live display of `runlayer-tf update` in a real pseudo-terminal, read through a VT emulator.

The world is the one of ``test_update_faults`` (moto over HTTP, real OpenTofu
and Terraform applying ``tests/terraform/update_app``, a loopback health
server, the demo OCI layout); the CLI runs on the slave side of a pty 60 or
120 columns wide (:class:`tests.harness.terminal.Terminal`), and the test reads
what a user would see.  Ctrl-C is typed (``\\x03``), so the kernel's line
discipline sends SIGINT to the whole foreground process group, Terraform
included, as it does for a user; SIGTERM is sent to runlayer-tf alone.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
import unicodedata
from pathlib import Path

import pytest

from runlayer_tf.update._progress import cut_to_width
from tests.harness.terminal import Terminal, wrapped
from tests.integration import test_update_faults as faults
from tests.integration.test_update_faults import NEW_VARS, World

# The fault tests' world (and the RDS client it needs), as fixtures of this module too.
rds = faults.rds
world = faults.world

LIVE = re.compile(r"\r\x1b\[K(\.\.\. [^\r\n]*)")


def start(world: World, *extra: str, columns: int, lines: int = 24) -> Terminal:
    argv = [
        a for a in world.argv("update", ("--set", "backend_version=v1.3.0"), ()) if a != "--json"
    ]
    return Terminal([*argv, *extra], columns=columns, lines=lines, env=os.environ)


def live_lines(term: Terminal) -> list[str]:
    """Every live line the command drew (the text after each carriage return + clear-line)."""
    return LIVE.findall(term.text())


def columns_of(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def journal_summaries(world: World) -> list[tuple[str, str]]:
    return [
        (r["step"], r["detail"]["summary"])
        for r in world.journal()
        if r["event"] == "end" and r["result"] == "ok"
    ]


@pytest.mark.parametrize("columns", [60, 120])
def test_the_live_display_at_a_width(world: World, columns: int) -> None:
    """Step and elapsed time on the live line, cut to the width; no stale copies; the report once."""
    # Health polls 0.3 s apart, 3 in a row: verify waits about a second, with a wide poll line.
    term = start(world, "--health-interval", "0.3", "--health-consecutive", "3", columns=columns)
    assert term.finish() == 0, "\n".join(term.rows())
    rows = term.rows()

    drawn = live_lines(term)
    # Every live line fitted (one column spare), so each redraw could erase the last one...
    assert drawn
    assert all(columns_of(line) <= columns - 1 for line in drawn)
    # ...and none was left behind: the transcript holds no live line at all.
    assert [row for row in rows if row.startswith("... ")] == []
    # The live line followed the steps, with their running time, and the verify poll was cut.
    steps = [m.group(1) for line in drawn if (m := re.match(r"\.\.\. ([a-z-]+) \d+s", line))]
    assert list(dict.fromkeys(steps)) == [
        "preflight",
        "snapshot",
        "set-version",
        "plan",
        "apply",
        "verify",
    ]
    polls = {f"... verify {s}s: {world.health.url} 200 (1/3)" for s in range(10)}
    assert {cut_to_width(poll, columns - 1) for poll in polls} & set(drawn)
    # The snapshot's state is not shown after its step.
    after = [line for line in drawn if not line.startswith(("... preflight", "... snapshot"))]
    assert after
    assert not [line for line in after if "available" in line or "%" in line]

    # The screen's last lines: the report, each thing once.
    snapshot = world.journal()[0]["detail"]["snapshot"]
    restore = (
        f"aws rds restore-db-cluster-from-snapshot --db-cluster-identifier {world.cluster}-restored "
        f"--snapshot-identifier {snapshot} --engine aurora-postgresql --db-subnet-group-name default"
    )
    report = [
        "update backend_version=v1.3.0 succeeded",
        *(f"  {step:<16} {'ok':<12} {summary}" for step, summary in journal_summaries(world)),
        f"snapshot {snapshot} is kept; restore the database from it only if it was damaged:",
        f"  {restore}",
        f"journal: {world.journal_path}",
    ]
    expected = wrapped(report, columns)
    assert rows[-len(expected) :] == expected
    assert sum(row.count("succeeded") for row in rows) == 1
    assert world.var_file.read_text() == NEW_VARS


def _gone(world: World) -> None:
    """Wait until no process runs in the world's workdir (an interrupted Terraform and its hooks)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        busy = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if Path(f"/proc/{pid}/cwd").resolve() == world.workdir.resolve():
                    busy.append(pid)
            except OSError:
                continue
        if not busy:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes still running in {world.workdir}: {busy}")


def summary(world: World, signal_name: str, step: str, meaning: str) -> list[str]:
    """The lines the interrupted run must end with."""
    run = world.journal()[0]["run"]
    snapshot = world.journal()[0]["detail"]["snapshot"]
    argv = world.argv("update", ("--set", "backend_version=v1.3.0"), ())
    given = [a for a in argv[argv.index("update") + 1 :] if a != "--json"]
    return [
        f"interrupted ({signal_name}) during {step} of update run {run}",
        f"  snapshot: {snapshot} (available, taken before any apply)",
        f"  var-file: {world.var_file} holds backend_version=v1.3.0",
        f"  {meaning}",
        f"  journal: {world.journal_path} (resumable)",
        "  resume with:",
        f"    {shlex.join(['runlayer-tf', 'update', *given, '--resume'])}",
    ]


def test_ctrl_c_during_apply_says_where_it_stopped_and_resume_finishes(world: World) -> None:
    hold = world.fault("hold-apply")
    term = start(world, columns=80)
    # Wait for the apply to hang in its hook, and for the ticker to move the time.
    term.wait_for(
        lambda t: (
            (world.workdir / "faults" / "holding-apply").exists()
            and any(re.match(r"\.\.\. apply [2-9]s", line) for line in live_lines(t))
        ),
        what="the apply waiting for 2 s or more",
    )
    term.type(b"\x03")
    code = term.finish()
    hold.unlink()
    _gone(world)
    expected = summary(
        world,
        "SIGINT",
        "apply",
        "apply was interrupted: what Terraform changed is unknown until a fresh plan; "
        "--resume plans again before it applies",
    )
    rows = term.rows()
    assert code == 130, "\n".join(rows)
    assert rows[-len(wrapped(expected, 80)) :] == wrapped(expected, 80), "\n".join(rows)
    assert [row for row in rows if row.startswith("... ")] == []
    assert world.events()[-1] == ("start", "apply", None)  # left resumable

    resumed = world.run("--resume")
    assert (resumed.code, resumed.report["outcome"]) == (0, "succeeded"), resumed.stderr
    assert (world.deployed(), world.state_version()) == ("v1.3.0", "v1.3.0")


def test_sigterm_during_plan_exits_143_with_the_summary(world: World) -> None:
    hold = world.fault("hold-plan")
    term = start(world, columns=120)
    term.wait_for(
        lambda t: (
            (world.workdir / "faults" / "holding-plan").exists()
            and "[set-version] var-file holds" in t.text()
        ),
        what="the plan waiting",
    )
    os.kill(term.proc.pid, signal.SIGTERM)  # runlayer-tf alone, as a service manager would
    # Forwarded to Terraform (in a session of its own) as SIGINT, which it acknowledges; it
    # stops once its held data source returns, and runlayer-tf waits for it before it exits.
    term.wait_for(lambda t: "Interrupt received" in t.text(), what="Terraform told to stop")
    hold.unlink()
    code = term.finish()
    _gone(world)
    expected = summary(world, "SIGTERM", "plan", "nothing was applied")
    rows = term.rows()
    assert code == 143, "\n".join(rows)
    assert rows[-len(wrapped(expected, 120)) :] == wrapped(expected, 120), "\n".join(rows)
    assert world.events()[-1] == ("start", "plan", None)


def test_a_selector_in_the_var_file_is_reported_as_one_once(world: World) -> None:
    """Issue 11 point 10 against the real parts: `v1.2` is a selector, not a major jump."""
    world.var_file.write_text(world.var_file.read_text().replace('"v1.2.3"', '"v1.2"'))
    term = start(world, columns=120)
    code = term.finish()
    reason = (
        "backend_version holds the selector v1.2 (a partial version), not a version, so there is "
        "no current version to compare v1.3.0 with; pin backend_version to the version it runs "
        "(a full MAJOR.MINOR.PATCH tag) first, or pass --allow-major to skip the comparison"
    )
    report = [
        f"update backend_version=v1.3.0 stopped at preflight: {reason}; nothing was changed",
        f"  {'preflight':<16} {'failed':<12} (above)",
        f"journal: {world.journal_path}",
    ]
    rows = term.rows()
    assert code == 1, "\n".join(rows)
    assert rows[-len(wrapped(report, 120)) :] == wrapped(report, 120)
    assert "crosses a major" not in term.text()
    assert world.applies() == []


def test_off_a_terminal_the_lines_are_plain(world: World) -> None:
    """Piped (a CI log): timestamped lines, no control codes, the report once on stdout."""
    argv = [
        a for a in world.argv("update", ("--set", "backend_version=v1.3.0"), ()) if a != "--json"
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert [
        c for c in proc.stderr + proc.stdout if unicodedata.category(c) == "Cc" and c != "\n"
    ] == []
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (\[[a-z-]+\] |  tofu\| |  terraform\| )")
    assert all(stamp.match(line) for line in proc.stderr.splitlines())
    steps = [
        line[21:].split("]")[0] + "]" for line in proc.stderr.splitlines() if line[21:22] == "["
    ]
    assert list(dict.fromkeys(steps)) == [
        "[preflight]",
        "[snapshot]",
        "[set-version]",
        "[plan]",
        "[apply]",
        "[verify]",
    ]
    assert proc.stdout.splitlines()[0] == "update backend_version=v1.3.0 succeeded"
    assert proc.stdout.count("succeeded") == 1
