"""The program for Terraform's and OpenTofu's ``external`` data source.

Run as ``runlayer-tf external`` or ``python -m runlayer_tf.external``: both are
:func:`main` (the command line hands ``external`` over before it builds a parser, and
``-m`` runs it directly, so a cache hit loads neither argparse nor the command modules).  Reads one
JSON object of strings on stdin (the data source's ``query``) and prints one
JSON object of strings (the ``result``).  On any problem it prints nothing on
stdout, one line on stderr and exits 1; ``RUNLAYER_TF_DEBUG=1`` adds a traceback.

Query keys: ``repository`` and ``tag`` (required); ``registry``,
``registry_id``, ``region``, ``allow_prerelease``, ``insecure``, ``platform``
(``os/arch[/variant]``: that platform's manifest instead of the index) (optional).
Result keys: ``digest``, ``image``, ``tag``, ``version``, ``tags``,
``build_timestamp``, ``commit``, ``pushed_at``, ``registry``, ``repository``,
``platform``, ``index_digest``.

Signature verification (docs/signatures.md): ``verify_key`` (PEM text or the
path of a PEM file; several keys may be concatenated) or ``verify_key_env`` (the
name of an environment variable holding either), and ``verify_reference``
(``"true"``: the payload's docker-reference must be the image's ``HOST/REPO``).
With a key, the result gains ``signed_by`` (the key's fingerprint) and
``verified`` (``"true"``); an image not signed by any given key is an error.
Verdicts are cached by digest and key fingerprint.

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

    from runlayer_tf.signatures import PublicKey

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


VERIFY_KEYS = ("verify_key", "verify_key_env", "verify_reference")


def split_verification(query: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(the resolution query, the verification keys) of a data source query."""
    return (
        {k: v for k, v in query.items() if k not in VERIFY_KEYS},
        {k: v for k, v in query.items() if k in VERIFY_KEYS},
    )


def _key_text(verification: dict[str, str]) -> tuple[str, str] | None:
    """(PEM text or path, what to call it) from ``verify_key`` or ``verify_key_env``; None: neither."""
    import os

    direct, env = verification.get("verify_key", ""), verification.get("verify_key_env", "").strip()
    if direct.strip() and env:
        raise UsageError("give verify_key or verify_key_env, not both")
    if direct.strip():
        return direct, "verify_key"
    if not env:
        return None
    if not env.replace("_", "a").isalnum() or not env.isascii() or env[0].isdigit():
        raise UsageError(f"verify_key_env {env!r} is not an environment variable name")
    value = os.environ.get(env, "")
    if not value.strip():
        raise UsageError(f"verify_key_env names {env}, which is not set or empty")
    return value, f"verify key (${env})"


def verify_result(
    result: dict[str, str],
    keys: Sequence[PublicKey],
    query: dict[str, str],
    *,
    check_reference: bool = False,
) -> dict[str, str]:
    """``result`` with ``signed_by`` and ``verified`` once its digest is verified with ``keys``.

    A cached positive verdict (by digest and key fingerprint) answers with the
    standard library only; a miss opens the query's registry and checks the
    signatures.  Raises SignatureError naming the digest and the key(s).
    """
    from runlayer_tf import signatures

    digest = result["digest"]
    reference = result["image"].rpartition("@")[0] if check_reference else None
    index = result.get("index_digest", "")
    signer = signatures.cached_signer(digest, keys, reference) or (
        signatures.cached_signer(index, keys, reference) if index and index != digest else None
    )
    if signer is None:
        from runlayer_tf.registries import open_registry
        from runlayer_tf.resolve import Query

        address = Query.from_mapping(query).address
        signer = signatures.verify_image_cached(
            lambda: open_registry(address),
            result["repository"],
            digest,
            keys,
            index_digest=index,
            reference=reference,
        ).signed_by
    return {**result, "signed_by": signer, "verified": "true"}


def _verified(
    result: dict[str, str], query: dict[str, str], verification: dict[str, str]
) -> dict[str, str]:
    from runlayer_tf import signatures

    flag = verification.get("verify_reference", "").strip().lower()
    if flag not in ("", "true", "false"):
        raise UsageError(
            f'query value \'verify_reference\' must be "true" or "false", got {flag!r}'
        )
    given = _key_text(verification)
    if given is None:  # the module passes "" when no key is configured
        if flag == "true":
            raise UsageError("verify_reference needs verify_key or verify_key_env")
        return result
    keys = signatures.load_keys(given[0], what=given[1])
    return verify_result(result, keys, query, check_reference=flag == "true")


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
    query, verification = split_verification(read_query(stdin))
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
    if verification:
        result = _verified(result, query, verification)
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
