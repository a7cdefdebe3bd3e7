"""``runlayer-tf next-version``: the next release version from conventional commits on stdin.

Typical use in CI::

    git log --format=%B%x00 v1.2.3..HEAD | runlayer-tf next-version --current v1.2.3

Prints the next version (``v1.3.0``) on stdout and exits 0.  When no commit
implies a release, it prints the current version unchanged, says so on stderr,
and still exits 0; ``--json`` gives ``{"current", "next", "bump"}`` so a script
can test ``bump == "none"`` instead of comparing strings.
"""

from __future__ import annotations

import argparse
import json
import sys

from runlayer_tf.conventional import Bump, bump_for_messages, next_version, split_messages
from runlayer_tf.errors import TagError, UsageError


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Read commit messages on stdin (separated by NUL bytes as from 'git log --format=%%B%%x00', "
        "by lines holding only '---', or else one per line) and print the next version."
    )
    parser.add_argument(
        "--current", required=True, metavar="VERSION", help="the last released version, e.g. v1.2.3"
    )
    parser.add_argument(
        "--json", action="store_true", help='print {"current", "next", "bump"} as JSON'
    )


def run(args: argparse.Namespace) -> int:
    current: str = args.current
    messages = split_messages(sys.stdin.read())
    bump = bump_for_messages(messages)
    try:
        following = next_version(current, bump)
    except TagError as err:
        raise UsageError(f"--current: {err}") from None
    if bump is Bump.NONE:
        print(
            f"runlayer-tf next-version: no commit implies a release ({len(messages)} read); version stays {following}",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps({"current": current, "next": following, "bump": str(bump)}))
    else:
        print(following)
    return 0
