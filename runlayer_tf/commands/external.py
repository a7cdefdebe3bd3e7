"""``runlayer-tf external``: the program for Terraform's ``external`` data source.

See :mod:`runlayer_tf.external`; this subcommand only hands over to it, so its
exit code is the protocol's (0 or 1), not the CLI's usage code.
"""

from __future__ import annotations

import argparse


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Read a JSON query {repository, tag, registry?, registry_id?, region?, allow_prerelease?, insecure?} "
        'on stdin and print the resolved image as a JSON object of strings (for data "external").'
    )


def run(args: argparse.Namespace) -> int:
    from runlayer_tf.external import main

    return main([])
