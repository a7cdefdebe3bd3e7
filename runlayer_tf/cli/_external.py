"""``runlayer-tf external``: the program for Terraform's ``external`` data source.

The program is :func:`runlayer_tf.external.main` (it refuses arguments and turns every
error into the one stderr line Terraform shows, with the protocol's exit code: 0 or 1; 2
for arguments, which are a wrong ``program`` list, not a query problem).  The top-level
``main`` hands ``external`` to it before importing argparse or this module, so a cache
hit stays standard-library-only; this module is what ``--help`` shows.
"""

from __future__ import annotations

from runlayer_tf.external import PROG, main

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

__all__ = ["PROG", "configure_parser", "main", "run"]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Read a JSON query {repository, tag, registry?, registry_id?, region?, allow_prerelease?, "
        "insecure?, platform?, verify_key?, verify_key_env?, verify_reference?} on stdin and print the "
        'resolved image as a JSON object of strings (for data "external").'
    )


def run(args: argparse.Namespace) -> int:
    return main([])
