"""``runlayer-tf update`` and ``runlayer-tf rollback``: one module for both commands.

Turns parsed options into an :class:`UpdateSpec` and an :class:`UpdateDeps`
with the real seams (lazy botocore clients, OpenTofu/Terraform, urllib), runs the
sequence and prints its report (``_update_report``).  Progress goes to stderr,
the report to stdout; SIGINT/SIGTERM print where the run stopped on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import attrs

from runlayer_tf import aws
from runlayer_tf.cli._options import add_registry_options, address_from, name_value
from runlayer_tf.cli._update_report import (
    Stopped,
    format_report,
    interrupted,
    resume_command,
    stopping_on_signals,
)
from runlayer_tf.errors import ConfigError, UsageError
from runlayer_tf.update import (
    MaintenanceWindow,
    RegistryLookups,
    SilentProgress,
    UpdateDeps,
    UpdateReport,
    UpdateSpec,
    VersionChange,
    make_progress,
    run_update,
)
from runlayer_tf.update.parts import (
    DEFAULT_SNAPSHOT_TEMPLATE,
    default_health_urls,
    find_binary,
    managing_tool,
    redact,
    repository_defaults,
    snapshot_id,
    tool_of,
)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """The options of ``update`` or ``rollback`` (``parser.get_default("command")``)."""
    _configure(parser, kind=parser.get_default("command"))


def _configure(parser: argparse.ArgumentParser, *, kind: Literal["update", "rollback"]) -> None:
    """Add the options shared by ``update`` and ``rollback``."""
    target = parser.add_argument_group("what to change")
    if kind == "update":
        target.add_argument(
            "--set",
            dest="set_",
            metavar="NAME=VERSION",
            action="append",
            default=[],
            help="rewrite variable NAME to VERSION in its --var-file (repeatable)",
        )
        target.add_argument(
            "--var",
            metavar="NAME=VERSION",
            action="append",
            default=[],
            help="pass -var NAME=VERSION to plan instead of rewriting a file (repeatable)",
        )
    else:
        target.add_argument(
            "--set",
            dest="set_",
            metavar="NAME[=VERSION]",
            action="append",
            default=[],
            help="roll variable NAME back in its --var-file (repeatable)",
        )
        target.add_argument(
            "--var",
            metavar="NAME[=VERSION]",
            action="append",
            default=[],
            help="roll variable NAME back with -var instead of rewriting a file (repeatable)",
        )
        target.add_argument(
            "--to",
            metavar="VERSION",
            help="the version to go back to (default: the newest release below the current one)",
        )
    target.add_argument(
        "--var-file",
        metavar="FILE",
        action="append",
        default=[],
        help="a var-file for plan, relative to --workdir (repeatable; the last one assigning NAME is rewritten)",
    )
    target.add_argument(
        "--current",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="the current value of NAME when no var-file holds it (with --var)",
    )
    target.add_argument(
        "--repository",
        metavar="NAME=REPO",
        action="append",
        default=[],
        help="the image repository NAME's tags live in, when its value is a bare tag "
        "(default: [pins] follows, the .tf templates, else APP_version -> APP-production)",
    )
    add_registry_options(parser)
    parser.add_argument(
        "--verify-key",
        action="append",
        default=[],
        metavar="PATH",
        help="preflight refuses a target release not signed (cosign) with this PEM public key "
        "(repeatable: any of them); see docs/signatures.md",
    )

    where = parser.add_argument_group("where")
    where.add_argument(
        "--cluster", required=True, metavar="ID", help="the Aurora DB cluster to snapshot"
    )
    where.add_argument(
        "--workdir", default=".", metavar="DIR", help="the Terraform root directory (default: .)"
    )
    where.add_argument(
        "--terraform",
        metavar="tofu|terraform|PATH",
        help="the binary to run (default: the one the root's .terraform.lock.hcl was made by, "
        "else tofu when on PATH, else terraform); one that did not make the lock file is refused",
    )
    where.add_argument(
        "--force-terraform",
        action="store_true",
        help="run --terraform even when the root's .terraform.lock.hcl was made by the other binary",
    )

    checks = parser.add_argument_group("safety")
    checks.add_argument(
        "--snapshot-template",
        default=DEFAULT_SNAPSHOT_TEMPLATE,
        metavar="T",
        help="snapshot id template with {utc:FORMAT} and {cluster} (default: %(default)s)",
    )
    checks.add_argument(
        "--allow-major", action="store_true", help="allow a change of major version"
    )
    checks.add_argument(
        "--within-window",
        metavar="WINDOW",
        help="refuse to start outside this UTC window, RDS format ddd:hh24:mi-ddd:hh24:mi",
    )
    checks.add_argument(
        "--force-window", action="store_true", help="start even outside --within-window"
    )

    verify = parser.add_argument_group("verification")
    verify.add_argument(
        "--health-url",
        metavar="URL",
        action="append",
        default=[],
        help="poll URL until it answers 2xx (repeatable)",
    )
    verify.add_argument(
        "--backend-url", metavar="BASE", help="poll BASE/api/v1/utils/health-check/"
    )
    verify.add_argument("--frontend-url", metavar="BASE", help="poll BASE/")
    verify.add_argument(
        "--health-consecutive",
        type=int,
        default=3,
        metavar="N",
        help="consecutive 2xx answers needed per URL, 1 or more (default: 3)",
    )
    verify.add_argument(
        "--health-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="give up on health after SECONDS, more than 0 (default: 300)",
    )
    verify.add_argument(
        "--health-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between health polls, more than 0; (N-1) x SECONDS must fit in --health-timeout (default: 5)",
    )
    verify.add_argument("--ecs-cluster", metavar="C", help="the ECS cluster of --service")
    verify.add_argument(
        "--service",
        metavar="S",
        action="append",
        default=[],
        help=(
            "an ECS service whose PRIMARY deployment must reach rolloutState COMPLETED "
            "(FAILED, the circuit breaker, fails verify at once) and whose load balancers' "
            "targets must all be healthy (repeatable)"
        ),
    )
    verify.add_argument(
        "--target-group",
        metavar="ARN",
        action="append",
        default=[],
        help="an ELBv2 target group whose registered targets must all be healthy (repeatable)",
    )
    verify.add_argument(
        "--snapshot-timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="give up waiting for the snapshot after SECONDS, more than 0 (default: 3600)",
    )
    verify.add_argument(
        "--snapshot-interval",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="seconds between snapshot status polls, more than 0 (default: 15)",
    )
    verify.add_argument(
        "--ecs-interval",
        type=int,
        default=15,
        metavar="SECONDS",
        help="seconds between ECS rollout and target-health checks, 1 or more (default: 15)",
    )
    verify.add_argument(
        "--ecs-attempts",
        type=int,
        default=40,
        metavar="N",
        help="ECS rollout and target-health checks before verify fails, 1 or more (default: 40)",
    )

    run = parser.add_argument_group("running")
    run.add_argument(
        "--journal",
        metavar="PATH",
        help="the JSON-lines journal (default: WORKDIR/.runlayer/update.jsonl)",
    )
    run.add_argument("--resume", action="store_true", help="continue the journal's interrupted run")
    run.add_argument(
        "--wait-timeout",
        dest="terraform_wait",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="with --resume, wait up to SECONDS for a Terraform the interrupted run left running, "
        "0 or more (default: 3600)",
    )
    run.add_argument(
        "--no-wait",
        dest="terraform_wait",
        action="store_const",
        const=0.0,
        help="with --resume, refuse at once (naming its pid) if that Terraform still runs",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print every step with its exact commands; change nothing",
    )
    run.add_argument("--json", action="store_true", help="print the final report as JSON")


def _pairs(values: Sequence[str], option: str) -> tuple[tuple[str, str], ...]:
    return tuple(name_value(value, option=option) for value in values)


def _changes(
    values: Sequence[str], *, option: str, kind: str, to: str | None
) -> tuple[VersionChange, ...]:
    changes = []
    for value in values:
        if kind == "rollback" and "=" not in value:
            changes.append(VersionChange(value.strip(), to))
        else:
            changes.append(VersionChange(*name_value(value, option=option, shape="NAME=VERSION")))
    return tuple(changes)


@attrs.frozen
class _Range:
    """The documented range of one numeric option (bounds inclusive unless ``above``)."""

    dest: str
    option: str
    minimum: float
    above: bool = False

    def check(self, value: float) -> None:
        if not math.isfinite(value):
            raise UsageError(f"{self.option} must be a finite number, got {value}")
        if value < self.minimum or (self.above and value == self.minimum):
            bound = f"more than {self.minimum:g}" if self.above else f"{self.minimum:g} or more"
            raise UsageError(f"{self.option} must be {bound}, got {value:g}")


# Every numeric option and its range; the --help texts and the README say the same.
RANGES = (
    _Range("health_consecutive", "--health-consecutive", 1),
    _Range("health_timeout", "--health-timeout", 0, above=True),
    _Range("health_interval", "--health-interval", 0, above=True),
    _Range("snapshot_timeout", "--snapshot-timeout", 0, above=True),
    _Range("snapshot_interval", "--snapshot-interval", 0, above=True),
    _Range("ecs_interval", "--ecs-interval", 1),
    _Range("ecs_attempts", "--ecs-attempts", 1),
    _Range("terraform_wait", "--wait-timeout", 0),
)


def check_numbers(args: argparse.Namespace) -> None:
    """Refuse (UsageError naming the option) a numeric option out of range or settings that cannot pass."""
    for limit in RANGES:
        limit.check(getattr(args, limit.dest))
    # The first answer counts at once; each further one comes an interval later.
    needed = (args.health_consecutive - 1) * args.health_interval
    if needed > args.health_timeout:
        raise UsageError(
            f"--health-consecutive {args.health_consecutive} answers {args.health_interval:g}s apart "
            f"take {needed:g}s, more than --health-timeout {args.health_timeout:g}"
        )


def check_template(template: str, cluster: str) -> str:
    """The snapshot id ``template`` gives now; UsageError naming ``--snapshot-template`` if it cannot."""
    try:
        return snapshot_id(template, now=datetime.now(timezone.utc), cluster=cluster)
    except ConfigError as err:
        raise UsageError(f"--snapshot-template: {err}") from err


def choose_terraform(workdir: Path, given: str | None, *, force: bool = False) -> str:
    """The binary to run: the root's own by default; ``given`` unless it is the other one (UsageError)."""
    manager = managing_tool(workdir)
    if given is None:
        return manager.name if manager is not None else default_terraform()
    tool = tool_of(given)
    if manager is not None and tool is not None and tool != manager.name and not force:
        raise UsageError(
            f"--terraform {given} is {tool}, but {manager.evidence}: {tool} would rewrite it "
            f"and the state for {tool}; use --terraform {manager.name}, or pass --force-terraform"
        )
    return given


def default_terraform() -> str:
    return "tofu" if shutil.which("tofu") else "terraform"


def spec_from_args(args: argparse.Namespace, *, kind: Literal["update", "rollback"]) -> UpdateSpec:
    """The :class:`UpdateSpec` the options describe; raises UsageError/ConfigError."""
    if args.set_ and args.var:
        raise UsageError("use --set (rewrite the var-file) or --var (pass -var), not both")
    values = args.set_ or args.var
    if not values:
        raise UsageError(
            f"nothing to {kind}: give --set NAME{'' if kind == 'rollback' else '=VERSION'} or --var"
        )
    if bool(args.ecs_cluster) != bool(args.service):
        raise UsageError("--ecs-cluster and --service go together")
    check_numbers(args)
    check_template(args.snapshot_template, args.cluster)
    workdir = Path(args.workdir).resolve()
    if not workdir.is_dir():
        raise ConfigError(f"--workdir {args.workdir} is not a directory")
    binary = choose_terraform(workdir, args.terraform, force=args.force_terraform)
    if not args.dry_run:
        binary = find_binary(binary)
    # UpdateSpec checks the health URLs (UsageError naming a bad one).
    health = (*args.health_url, *default_health_urls(args.backend_url, args.frontend_url))
    option = "--set" if args.set_ else "--var"
    changes = _changes(values, option=option, kind=kind, to=getattr(args, "to", None))
    given = _pairs(args.repository, "--repository")
    return UpdateSpec(
        cluster=args.cluster,
        workdir=workdir,
        changes=changes,
        mode="set" if args.set_ else "var",
        var_files=tuple(workdir / f for f in args.var_file),
        terraform=binary,
        health_urls=health,
        ecs_cluster=args.ecs_cluster,
        services=tuple(args.service),
        target_groups=tuple(args.target_group),
        snapshot_template=args.snapshot_template,
        allow_major=args.allow_major,
        window=MaintenanceWindow.parse(args.within_window) if args.within_window else None,
        force_window=args.force_window,
        journal=Path(args.journal).resolve() if args.journal else None,
        resume=args.resume,
        dry_run=args.dry_run,
        repositories=given,
        current=_pairs(args.current, "--current"),
        kind=kind,
        health_consecutive=args.health_consecutive,
        health_deadline=args.health_timeout,
        health_interval=args.health_interval,
        snapshot_timeout=args.snapshot_timeout,
        snapshot_interval=args.snapshot_interval,
        ecs_delay=args.ecs_interval,
        ecs_max_attempts=args.ecs_attempts,
        terraform_wait=args.terraform_wait,
    )


def lookups_from_args(args: argparse.Namespace) -> RegistryLookups:
    """The registry look-ups ``--registry``/``--registry-id``/``--region`` describe; raises UsageError."""
    return RegistryLookups(
        address_from(args),
        explicit=bool(args.registry.strip()),
        allow_prerelease=args.allow_prerelease,
    )


def deps_from_args(args: argparse.Namespace) -> UpdateDeps:
    """Real dependencies: lazily built botocore clients (one session), urllib, the var-file rewriter, the registry.

    The repositories of bare-tag variables without ``--repository`` come from
    the workdir (:func:`repository_defaults`), read only when a run needs them.
    """
    lookups = lookups_from_args(args)
    from runlayer_tf.signatures import load_keys

    keys = tuple(k for path in args.verify_key for k in load_keys(path, what="--verify-key"))
    session = aws.Session()
    deps = UpdateDeps(
        rds=aws.rds(session),
        ecs=aws.ecs(session),
        elbv2=aws.elbv2(session),
        version_exists=lookups.version_exists,
        previous_release=lookups.previous_release,
        repository_defaults=repository_defaults,
        progress=SilentProgress() if args.json else make_progress(sys.stderr),
    )
    if keys:
        from runlayer_tf.update.parts import SignatureCheck

        deps = attrs.evolve(deps, release_signed=SignatureCheck(lookups, keys))
    return deps


def run(
    args: argparse.Namespace,
    *,
    runner: Callable[[UpdateSpec, UpdateDeps], UpdateReport] = run_update,
) -> int:
    """Run ``update``/``rollback`` (``args.command``) from parsed options; returns the exit code.

    SIGINT and SIGTERM stop the run and print where it stopped (the step, the
    snapshot, what the var-file holds, the ``--resume`` command) on stderr,
    and with ``--json`` the same as JSON on stdout; the exit code is 128 + the
    signal (130, 143) and the journal stays resumable.
    """
    spec = spec_from_args(args, kind=args.command)
    deps = deps_from_args(args)
    since = datetime.now(timezone.utc)
    try:
        with stopping_on_signals():
            try:
                report = runner(spec, deps)
            finally:
                deps.progress.close()
    except KeyboardInterrupt as stop:
        signum = stop.signum if isinstance(stop, Stopped) else signal.SIGINT
        summary, data = interrupted(spec, resume_command(args), since, signum)
        print(summary, file=sys.stderr, flush=True)
        if args.json:
            print(redact(json.dumps(data, indent=2, sort_keys=True)))
        return 128 + signum
    if args.json:
        print(redact(json.dumps(report.to_dict(), indent=2, sort_keys=True, default=str)))
    else:
        print(format_report(report))
    return report.exit_code
