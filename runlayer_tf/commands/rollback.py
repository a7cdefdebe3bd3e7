"""``runlayer-tf rollback``: the update sequence towards the previous release (or ``--to``).

The target is the newest release below the current one in the registry unless
``--to vX.Y.Z`` names it; snapshot, verification and journal are as for
``runlayer-tf update``.
"""

from __future__ import annotations

import argparse

from runlayer_tf.update import _cli


def configure_parser(parser: argparse.ArgumentParser) -> None:
    _cli.configure_parser(parser, kind="rollback")


def run(args: argparse.Namespace) -> int:
    return _cli.run(args, kind="rollback")
