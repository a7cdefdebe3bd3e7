"""``runlayer-tf external``: the program for Terraform's ``external`` data source.

The query handling is :mod:`runlayer_tf.external`'s; this module is the
program's command line: it refuses arguments and turns every error into the one
stderr line Terraform shows, with the protocol's exit code (0 or 1; 2 for
arguments, which are a wrong ``program`` list, not a query problem).  Both
``runlayer-tf external`` and ``python -m runlayer_tf.external`` end up here, and
the top-level ``main`` calls :func:`main` before it imports argparse, so a cache
hit stays standard-library-only.
"""

from __future__ import annotations

import sys

from runlayer_tf.errors import RunlayerError, debug_enabled
from runlayer_tf.external import run as run_query

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~2 ms of every data source
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

PROG = "runlayer-tf external"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Read a JSON query {repository, tag, registry?, registry_id?, region?, allow_prerelease?, "
        "insecure?, verify_key?, verify_key_env?, verify_reference?} on stdin and print the "
        'resolved image as a JSON object of strings (for data "external").'
    )


def run(args: argparse.Namespace) -> int:
    return main([])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; ``argv`` is accepted for symmetry and must be empty."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args != ["--"]:
        # Not a query problem but a wrong `program` list: the usage exit code.
        print(
            f"{PROG}: takes no arguments (got {' '.join(args)}); it reads its query as JSON on stdin",
            file=sys.stderr,
        )
        return 2
    try:
        run_query(sys.stdin.buffer, sys.stdout)
        return 0
    except Exception as err:  # never a traceback for Terraform users, unless asked for
        if debug_enabled():
            import traceback

            traceback.print_exc()
        if isinstance(err, RunlayerError):
            print(f"{PROG}: {err}", file=sys.stderr)
        else:
            print(
                f"{PROG}: internal error: {type(err).__name__}: {' '.join(str(err).split())} "
                "(set RUNLAYER_TF_DEBUG=1 for a traceback)",
                file=sys.stderr,
            )
        return 1
