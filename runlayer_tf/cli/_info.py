"""``runlayer-tf info``: this tool's version as an external-data-source result.

A module can call it through ``data "external"`` to check which runlayer-tf a
machine has before it relies on it.  It ignores the query on stdin.
"""

from __future__ import annotations

import argparse
import json
import platform

from runlayer_tf._version import __version__


def info() -> dict[str, str]:
    """The facts printed by ``runlayer-tf info``; all values are strings."""
    return {
        "name": "runlayer-tf",
        "version": __version__,
        "python": platform.python_version(),
    }


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--text", action="store_true", help="print 'runlayer-tf VERSION' instead of JSON"
    )


def run(args: argparse.Namespace) -> int:
    facts = info()
    if args.text:
        print(f"{facts['name']} {facts['version']}")
    else:
        print(json.dumps(facts, sort_keys=True))
    return 0
