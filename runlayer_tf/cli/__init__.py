"""The ``runlayer-tf`` command line: one ``main`` that dispatches to subcommands.

This package is the only place that parses arguments or prints usage errors.
Each subcommand lives in a module of its own (``_resolve``, ``_versions``,
``_external``, ``_info``, ``_next_version``, ``_pins``, ``_ecs``, and
``_update`` for both ``update`` and ``rollback``, its report and signal
handling in ``_update_report``) with two plain functions,
``configure_parser(parser)`` and ``run(args) -> int``; ``args.command`` (also
``parser.get_default("command")``) names the subcommand.  Options shared by
several commands, and the one ``NAME=VALUE`` parser, are in ``_options``.  Modules are imported only
when their subcommand runs, so ``runlayer-tf external`` (called on every
Terraform plan) does not pay for boto3, hcl2 or the update machinery.  Library
errors become one stderr line and an exit code here, and nowhere else.
"""

from __future__ import annotations

import sys

from runlayer_tf._version import __version__
from runlayer_tf.errors import RunlayerError, debug_enabled

PROG = "runlayer-tf"

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~2 ms of every data source
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Protocol

    class _CommandModule(Protocol):
        def configure_parser(self, parser: argparse.ArgumentParser) -> None: ...

        def run(self, args: argparse.Namespace) -> int: ...


# name -> (module, one-line summary).  `--help` lists these in this order.
COMMANDS: dict[str, tuple[str, str]] = {
    "resolve": (
        "runlayer_tf.cli._resolve",
        "resolve a tag selector (v1.2, latest, ~> 1.2, sha256:...) to an image digest",
    ),
    "versions": (
        "runlayer_tf.cli._versions",
        "list a repository's releases, newest first, with digests and tags",
    ),
    "external": (
        "runlayer_tf.cli._external",
        "the program for Terraform's external data source (JSON on stdin/stdout)",
    ),
    "pins": (
        "runlayer_tf.cli._pins",
        "list, set and check image pins in .tf/.tfvars files (pre-commit hook)",
    ),
    "next-version": (
        "runlayer_tf.cli._next_version",
        "print the next release version implied by conventional commits on stdin",
    ),
    "update": (
        "runlayer_tf.cli._update",
        "snapshot the DB, set the version, plan, apply, verify; roll back on failure",
    ),
    "rollback": (
        "runlayer_tf.cli._update",
        "the update sequence towards the previous release (or --to VERSION)",
    ),
    "ecs": (
        "runlayer_tf.cli._ecs",
        "emergency ECS procedures: force-deploy, scale-bounce, status",
    ),
    "info": (
        "runlayer_tf.cli._info",
        "print this tool's version as an external-data-source JSON object",
    ),
}


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns`` without importing shutil (and, through it, bz2,
    lzma and fnmatch): argparse asks for the width whenever an argument is added."""
    import os

    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _parser(**kwargs: object) -> argparse.ArgumentParser:
    """An ArgumentParser (and subparsers of its class) whose help is as wide as the terminal."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def _get_formatter(self) -> argparse.HelpFormatter:
            return self.formatter_class(prog=self.prog, width=_terminal_columns() - 2)  # type: ignore[call-arg]

    return Parser(**kwargs)  # type: ignore[arg-type]


def _top_parser() -> argparse.ArgumentParser:
    import argparse

    listing = "\n".join(f"  {name:<14} {summary}" for name, (_, summary) in COMMANDS.items())
    parser = _parser(
        prog=PROG,
        description="Resolve, pin and safely roll out container image versions with Terraform/OpenTofu.",
        epilog=f"commands:\n{listing}\n\nRun '{PROG} COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "command", metavar="COMMAND", choices=list(COMMANDS), help="one of: " + ", ".join(COMMANDS)
    )
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def report_error(err: BaseException, *, prog: str = PROG) -> None:
    """Print ``err`` as the one stderr line a user sees (with a traceback under debug)."""
    if debug_enabled():
        import traceback

        traceback.print_exception(err)
    print(f"{prog}: error: {err}", file=sys.stderr)


STDOUT_CLOSED = 141  # 128 + SIGPIPE: what `set -o pipefail` reports for a reader gone away


def _stdout_closed() -> int:
    """The reader of stdout went away (``| head``): stop quietly, as a SIGPIPE'd tool does."""
    import os

    # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)
    return STDOUT_CLOSED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``runlayer-tf`` command line; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["external"] and not {"-h", "--help"} & set(argv[1:]):
        # Every data source of every plan runs exactly this: skip argparse and
        # the command modules (their imports and two parsers cost ~10 ms of a
        # ~40 ms cache hit).  The program itself refuses arguments, in one line,
        # as `python -m runlayer_tf.external` (the same function) does.
        from runlayer_tf.external import main as external_main

        return external_main(argv[1:])
    import importlib

    top = _top_parser()
    if not argv:
        top.print_help(sys.stderr)
        return 2
    try:
        ns = top.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code or 0)
    module_name, summary = COMMANDS[ns.command]
    module: _CommandModule = importlib.import_module(module_name)
    sub = _parser(prog=f"{PROG} {ns.command}", description=summary)
    # raw_arguments: what followed the command word (update's --resume hint repeats them).
    sub.set_defaults(command=ns.command, raw_arguments=tuple(ns.arguments))
    module.configure_parser(sub)
    try:
        args = sub.parse_args(ns.arguments)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        code = module.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        return _stdout_closed()
    except RunlayerError as err:
        report_error(err)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
