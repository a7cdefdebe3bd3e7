"""``runlayer-tf resolve``: which digest a selector means today."""

from __future__ import annotations

import argparse
import json

from runlayer_tf.cli._options import (
    add_platform_option,
    add_registry_options,
    add_verify_options,
    query_from,
    verify_keys_from,
)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add_registry_options(parser)
    add_platform_option(
        parser,
        "the digest of that platform's image (linux/amd64, linux/arm64/v8) instead of "
        "the multi-platform index's",
    )
    add_verify_options(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the whole result object (as the external data source returns it)",
    )
    parser.add_argument("repository", metavar="REPOSITORY", help="e.g. backend-production")
    parser.add_argument(
        "selector",
        metavar="SELECTOR",
        help="latest, v1.2.3, v1.2, v1, ~> 1.2, '>= 1.3.0, < 1.4.0', a timestamp or build tag, or sha256:...",
    )


def run(args: argparse.Namespace) -> int:
    from runlayer_tf.resolve import resolve_query

    keys = verify_keys_from(args)
    query = query_from(args, args.repository, args.selector)
    result = resolve_query(query).to_external()
    if keys:
        from runlayer_tf.external import verify_result

        result = verify_result(result, keys, query, check_reference=args.verify_reference)
    print(json.dumps(result, indent=2, sort_keys=True) if args.json else result["image"])
    return 0
