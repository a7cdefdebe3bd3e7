"""``runlayer-tf update``: snapshot the database, set the version, plan, apply, verify; roll back on failure.

See the README (section "Safe updates").  Exit 0 when the update succeeded (or for a dry run),
1 when it failed (the report says where, what state remains and names the
snapshot), 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse

from runlayer_tf.update import _cli


def configure_parser(parser: argparse.ArgumentParser) -> None:
    _cli.configure_parser(parser, kind="update")


def run(args: argparse.Namespace) -> int:
    return _cli.run(args, kind="update")
