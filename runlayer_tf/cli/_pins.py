"""``runlayer-tf pins``: list, set and check image pins in Terraform files.

Handlers are plain functions over parsed arguments; all pin logic lives in
:mod:`runlayer_tf.pins`.  Exit codes: 0 clean, 1 violations (or unparseable
files), 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from runlayer_tf.cli._options import (
    add_platform_option,
    add_registry_options,
    address_from,
    name_value,
    platform_from,
)
from runlayer_tf.errors import UsageError
from runlayer_tf.pins import (
    FileScan,
    Pin,
    PinConfig,
    PinValue,
    apply_changes,
    load_config,
    plan_changes,
    scan_paths,
)
from runlayer_tf.pins.checks import OFFLINE_RULES, Rule, check_scans


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="settings file (default: nearest .runlayer-tf.toml or pyproject.toml)",
    )
    parser.add_argument(
        "--version-name",
        action="append",
        metavar="NAME",
        dest="version_names",
        help="also treat NAME as a version pin (repeatable; adds to the config)",
    )
    parser.add_argument(
        "--follow",
        action="append",
        metavar="VAR=REPOSITORY",
        dest="follows",
        help="VAR holds the tag of REPOSITORY (repeatable; adds to the config)",
    )


def configure_parser(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p_list = subs.add_parser("list", help="print the pins found under PATH...")
    _common(p_list)
    p_list.add_argument("--json", action="store_true", help="print a JSON array of pins")
    p_list.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files or directories (recursing, skipping .terraform/)",
    )

    p_set = subs.add_parser(
        "set",
        help="set pins: NAME=VALUE... PATH...",
        description="NAME is a variable/attribute name or a repository; VALUE is a tag, a digest or tag@digest. "
        "Arguments containing '=' are assignments, the rest are paths.",
    )
    _common(p_set)
    p_set.add_argument(
        "--dry-run", action="store_true", help="print a unified diff and write nothing"
    )
    p_set.add_argument(
        "--allow-major", action="store_true", help="allow changes across a major version"
    )
    p_set.add_argument("items", nargs="+", metavar="NAME=VALUE|PATH")

    p_check = subs.add_parser("check", help="check pins (the pre-commit hook)")
    _common(p_check)
    p_check.add_argument(
        "--production-glob",
        action="append",
        metavar="GLOB",
        dest="production_globs",
        help="a production path glob (repeatable; replaces the configured globs)",
    )
    p_check.add_argument(
        "--disable",
        action="append",
        metavar="RTFnnn",
        dest="disabled_rules",
        help="disable a rule (repeatable; adds to the config)",
    )
    p_check.add_argument(
        "--online",
        action="store_true",
        help="also ask the registry: RTF004 tag moved (tag@digest drift), RTF005 tag missing",
    )
    add_registry_options(p_check)
    p_check.add_argument(
        "--verify-key",
        action="append",
        dest="verify_keys",
        metavar="PATH",
        help="with --online: a PEM public key pinned images must be signed with (RTF006; "
        "repeatable; adds to verify-keys of the config)",
    )
    p_check.add_argument("paths", nargs="+", metavar="PATH")

    p_bump = subs.add_parser(
        "bump",
        help="move release pins to the newest allowed release in the registry",
        description="For every pin holding a release (v1.2.3 or a build tag), write the newest release "
        "within the same minor (--to patch), the same major (--to minor, the default) or any (--to major).",
    )
    _common(p_bump)
    p_bump.add_argument(
        "--to",
        choices=("patch", "minor", "major"),
        default="minor",
        help="how far to move (default: minor)",
    )
    p_bump.add_argument(
        "--digest",
        action="store_true",
        help="write image pins as REPO:TAG@sha256:... (digest pin, tag kept for humans)",
    )
    p_bump.add_argument(
        "--dry-run", action="store_true", help="print a unified diff and write nothing"
    )
    add_registry_options(p_bump)
    add_platform_option(
        p_bump,
        "write that platform's manifest digest (linux/amd64, linux/arm64/v8); without it a "
        "digest keeps its kind: a platform's stays that platform's, an index's the index's",
    )
    p_bump.add_argument("paths", nargs="+", metavar="PATH")


def _follow_pairs(values: Sequence[str] | None) -> dict[str, str] | None:
    if values is None:
        return None
    return dict(name_value(value, option="--follow", shape="VAR=REPOSITORY") for value in values)


def build_config(args: argparse.Namespace) -> PinConfig:
    """The config file's settings with the command-line flags applied over them."""
    return load_config(args.config).with_overrides(
        production_globs=getattr(args, "production_globs", None),
        version_names=args.version_names,
        follows=_follow_pairs(args.follows),
        disabled_rules=getattr(args, "disabled_rules", None),
        verify_keys=getattr(args, "verify_keys", None),
    )


def _pins_of(scans: Sequence[FileScan], *, strict: bool = False) -> list[Pin]:
    """Every pin of ``scans``; with ``strict``, the first file's parse or read error is raised."""
    for scan in scans:
        if strict and scan.error is not None:
            raise scan.error
    return [pin for scan in scans for pin in scan.pins]


def run_list(args: argparse.Namespace) -> int:
    config = build_config(args)
    scans = scan_paths(args.paths, config=config)
    pins = _pins_of(scans)
    if args.json:
        print(json.dumps([pin.to_json() for pin in pins], indent=2))
    else:
        for pin in pins:
            suffix = f"  (depends on {pin.depends_on})" if pin.depends_on else ""
            print(f"{pin}{suffix}")
    failed = [scan.error for scan in scans if scan.error is not None]
    for error in failed:
        print(f"runlayer-tf: {error}", file=sys.stderr)
    return 1 if failed else 0


def run_set(args: argparse.Namespace) -> int:
    assignments: list[tuple[str, PinValue]] = []
    paths: list[str] = []
    for item in args.items:
        if "=" in item:
            name, value = name_value(item, option="pins set")
            assignments.append((name, PinValue.parse(value)))
        else:
            paths.append(item)
    if not assignments:
        raise UsageError("pins set needs at least one NAME=VALUE")
    if not paths:
        raise UsageError("pins set needs at least one PATH")
    config = build_config(args)
    changes = plan_changes(paths, assignments, config=config, allow_major=args.allow_major)
    if not args.dry_run:
        apply_changes(changes)
    if args.dry_run:
        sys.stdout.write("".join(change.diff() for change in changes))
    else:
        for change in changes:
            print(f"{change.path}: {len(change.edits)} pin(s) updated")
    if not changes:
        print("runlayer-tf: every pin already has that value; nothing changed", file=sys.stderr)
    return 0


def online_rules(
    args: argparse.Namespace, scans: Sequence[FileScan], config: PinConfig
) -> tuple[Rule, ...]:
    """RTF004/RTF005 (and RTF006 with verify keys) with ``--online``; none otherwise."""
    if not args.online:
        if config.verify_keys and getattr(args, "verify_keys", None):
            raise UsageError("--verify-key needs --online (RTF006 asks the registry)")
        return ()
    from runlayer_tf.pins.online import PinLookups, signature_rule
    from runlayer_tf.pins.online import online_rules as make_rules
    from runlayer_tf.signatures import load_keys

    pins = _pins_of(scans)
    lookups = PinLookups(address_from(args), pins, config.follows)
    rules = make_rules(lookups)
    if config.verify_keys and config.rule_enabled("RTF006"):
        keys = tuple(k for path in config.verify_keys for k in load_keys(path, what="verify key"))
        rules = (*rules, signature_rule(lookups, keys))
    return rules


def run_check(args: argparse.Namespace) -> int:
    config = build_config(args)
    scans = scan_paths(args.paths, config=config)
    violations = check_scans(scans, config, rules=OFFLINE_RULES + online_rules(args, scans, config))
    for violation in violations:
        print(violation)
    return 1 if violations else 0


def run_bump(args: argparse.Namespace) -> int:
    from runlayer_tf.pins.online import PinLookups, plan_bump

    platform = platform_from(args)
    config = build_config(args)
    pins = _pins_of(scan_paths(args.paths, config=config), strict=True)
    lookups = PinLookups(address_from(args), pins, config.follows)
    plan = plan_bump(
        pins,
        lookups,
        level=args.to,
        digest=args.digest,
        allow_prerelease=args.allow_prerelease,
        platform=platform,
    )
    for note in plan.notes:
        print(f"runlayer-tf: {note}", file=sys.stderr)
    if args.dry_run:
        sys.stdout.write("".join(change.diff() for change in plan.changes))
    else:
        apply_changes(plan.changes)
        for change in plan.changes:
            moves = ", ".join(f"{e.old} -> {e.new}" for e in change.edits)
            print(f"{change.path}: {moves}")
    if not plan.changes:
        print("runlayer-tf: every release pin is already the newest allowed", file=sys.stderr)
    return 0


HANDLERS = {"list": run_list, "set": run_set, "check": run_check, "bump": run_bump}


def run(args: argparse.Namespace) -> int:
    return HANDLERS[args.action](args)
