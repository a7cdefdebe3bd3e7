"""``runlayer-tf versions``: the runbook's "Finding Available Versions", made readable."""

from __future__ import annotations

import argparse
import json

from runlayer_tf.cli._options import (
    add_platform_option,
    add_registry_options,
    add_verify_options,
    address_from,
    platform_from,
    verify_keys_from,
)

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing is not imported on the resolve path
if TYPE_CHECKING:
    from typing import Any


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add_registry_options(parser)
    add_platform_option(
        parser, "show each release's digest for that platform (linux/amd64, linux/arm64/v8)"
    )
    add_verify_options(parser)
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
    keys = verify_keys_from(args)
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
    signers = _signers(registry, repository, rows, keys, args.verify_reference) if keys else None
    if args.json:
        out = [row.to_json() for row in rows]
        if signers is not None:
            for item, row in zip(out, rows, strict=True):
                item["signed_by"] = signers.get(row.digest, "")
        print(json.dumps(out, indent=2))
        return 0
    print(_table(rows, signers))
    return 0


def _signers(
    registry: Any, repository: str, rows: list[Any], keys: Any, check_reference: bool
) -> dict[str, str]:
    """Each row's digest -> the fingerprint of the key that signed it, or "" (not signed)."""
    from runlayer_tf.errors import SignatureError
    from runlayer_tf.signatures import verify_image_cached

    reference = f"{registry.display_host}/{repository}" if check_reference else None
    signers: dict[str, str] = {}
    for row in rows:
        if not row.digest or row.digest in signers:
            continue
        try:
            verdict = verify_image_cached(
                registry,
                repository,
                row.digest,
                keys,
                index_digest=row.index_digest,
                reference=reference,
            )
            signers[row.digest] = verdict.signed_by
        except SignatureError:
            signers[row.digest] = ""
    return signers


def _table(rows: list[Any], signers: dict[str, str] | None = None) -> str:
    # A NOTE column only when a row needs one, so ordinary listings keep their shape.
    noted = any(r.note for r in rows)
    header: tuple[str, ...] = ("VERSION", "TAG", "DIGEST", "PUSHED", "TAGS")
    if noted:
        header = (*header, "NOTE")
    if signers is not None:
        header = (*header, "SIGNED")
    body = [
        (
            r.version,
            r.tag,
            r.digest[:19] + "…" if len(r.digest) > 20 else (r.digest or "-"),
            r.pushed_at_text,
            ",".join(r.tags),
        )
        + ((r.note,) if noted else ())
        + ((_signed_text(signers.get(r.digest, "")),) if signers is not None else ())
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=False)]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *body)
    ]
    return "\n".join(lines)


def _signed_text(fingerprint: str) -> str:
    """``yes (sha256:0123456789ab)`` or ``no``."""
    return f"yes ({fingerprint[:19]})" if fingerprint else "no"
