"""``runlayer-tf versions``: the runbook's "Finding Available Versions", made readable."""

from __future__ import annotations

import argparse
import json
from typing import Any

from runlayer_tf.cli._options import (
    add_platform_option,
    add_registry_options,
    address_from,
    platform_from,
)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add_registry_options(parser)
    add_platform_option(
        parser, "show each release's digest for that platform (linux/amd64, linux/arm64/v8)"
    )
    parser.add_argument(
        "--limit", type=int, default=20, help="how many releases to show (default 20; 0 for all)"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON array")
    parser.add_argument("repository", metavar="REPOSITORY")


def run(args: argparse.Namespace) -> int:
    from runlayer_tf.errors import UsageError
    from runlayer_tf.registries import open_registry, validate_repository
    from runlayer_tf.releases import list_versions

    if args.limit < 0:
        raise UsageError("--limit must be 0 (all) or a positive number")
    repository = validate_repository(args.repository)
    platform = platform_from(args)
    registry = open_registry(address_from(args))
    rows = list_versions(
        registry,
        repository,
        limit=args.limit,
        allow_prerelease=args.allow_prerelease,
        platform=platform,
    )
    if args.json:
        print(json.dumps([row.to_json() for row in rows], indent=2))
        return 0
    print(_table(rows))
    return 0


def _table(rows: list[Any]) -> str:
    # A NOTE column only when a row needs one, so ordinary listings keep their shape.
    noted = any(r.note for r in rows)
    header: tuple[str, ...] = ("VERSION", "TAG", "DIGEST", "PUSHED", "TAGS")
    if noted:
        header = (*header, "NOTE")
    body = [
        (
            r.version,
            r.tag,
            r.digest[:19] + "…" if len(r.digest) > 20 else (r.digest or "-"),
            r.pushed_at_text,
            ",".join(r.tags),
        )
        + ((r.note,) if noted else ())
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=False)]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *body)
    ]
    return "\n".join(lines)
