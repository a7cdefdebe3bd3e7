"""The program for Terraform's and OpenTofu's ``external`` data source.

Run as ``runlayer-tf external`` or ``python -m runlayer_tf.external``: both are
:func:`main` (the command line hands ``external`` over before it builds a parser, and
``-m`` runs it directly, so a cache hit loads neither argparse nor the command modules).  Reads one
JSON object of strings on stdin (the data source's ``query``) and prints one
JSON object of strings (the ``result``).  On any problem it prints nothing on
stdout, one line on stderr and exits 1; ``RUNLAYER_TF_DEBUG=1`` adds a traceback.

Query keys: ``repository`` and ``tag`` (required); ``registry``,
``registry_id``, ``region``, ``allow_prerelease``, ``insecure`` (optional).
Result keys: ``digest``, ``image``, ``tag``, ``version``, ``tags``,
``build_timestamp``, ``commit``, ``pushed_at``, ``registry``, ``repository``.

The hot path (a cache hit) imports only the standard library; the resolver,
the tag grammar and boto3 (only for ECR) load on a miss.  On a miss, ECR
queries go to a resolver process shared by the plan's data sources
(:mod:`runlayer_tf.shared_resolver`), which falls back to resolving here.
"""

from __future__ import annotations

import sys

from runlayer_tf import _fastjson, cache
from runlayer_tf.errors import RunlayerError, UsageError, debug_enabled

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~2 ms of every data source
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import BinaryIO, TextIO

PROG = "runlayer-tf external"


def read_query(stream: TextIO | BinaryIO) -> dict[str, str]:
    """Parse the query object from ``stream``; raises UsageError for anything but an object of strings.

    Key names are checked by :meth:`runlayer_tf.resolve.Query.from_mapping`
    (a cached answer exists only for a query that passed it).
    """
    data = stream.read()
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise UsageError(
                f"query on stdin is not UTF-8 ({err.reason} at byte {err.start})"
            ) from None
    else:
        text = data
    if not text.strip():
        raise UsageError(
            'empty query on stdin: expected a JSON object such as {"repository": "backend-production", "tag": "v1.2"}'
        )
    try:
        raw = _fastjson.loads(text)  # json.loads, without importing json on a cache hit
    except ValueError as err:
        raise UsageError(f"query on stdin is not valid JSON ({err})") from None
    except RecursionError:
        raise UsageError("query on stdin is not valid JSON (nested too deeply)") from None
    if not isinstance(raw, dict):
        raise UsageError(f"query on stdin must be a JSON object, got {type(raw).__name__}")
    for key, value in raw.items():
        if not isinstance(value, str):
            import json

            raise UsageError(f"query value {key!r} must be a string, got {json.dumps(value)}")
    return raw


def _resolve(query: dict[str, str]) -> tuple[dict[str, str], float | None]:
    """The result for ``query`` and, when it came from a shared listing, that listing's time."""
    from runlayer_tf import shared_resolver

    if shared_resolver.usable(query):
        # ECR: the data sources of one plan share one resolver process (one
        # botocore start-up, one listing per repository).  None: do it here.
        answer = shared_resolver.ask(query)
        if answer is not None:
            return answer
    from runlayer_tf.resolve import resolve_query

    return resolve_query(query).to_external(), None


def run(stdin: TextIO | BinaryIO, stdout: TextIO) -> None:
    """Answer one query: from the cache when fresh, else from the registry."""
    query = read_query(stdin)
    key = cache.key_for(query)
    result = cache.load(key, query)
    if result is None:
        # One plan starts many identical data sources at once (parallelism 10):
        # the first resolves, the others wait for it and then read its answer.
        with cache.single_flight(key):
            result = cache.load(key, query)
            if result is None:
                result, as_of = _resolve(query)
                cache.store(key, result, now=as_of)
    stdout.write(_fastjson.dumps(result) + "\n")  # json.dumps(result, sort_keys=True)


def main(argv: Sequence[str] | None = None) -> int:
    """The program: refuses arguments (exit 2: a wrong ``program`` list, not a query problem),
    answers the query on stdin, and turns every error into the one stderr line Terraform shows
    (exit 1); ``RUNLAYER_TF_DEBUG=1`` adds a traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args != ["--"]:
        print(
            f"{PROG}: takes no arguments (got {' '.join(args)}); it reads its query as JSON on stdin",
            file=sys.stderr,
        )
        return 2
    try:
        run(sys.stdin.buffer, sys.stdout)
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


if __name__ == "__main__":
    # `python -m runlayer_tf.external`, as a data source's `program`.
    raise SystemExit(main())
