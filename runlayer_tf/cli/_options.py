"""Options shared by several commands: the registry options and the one ``NAME=VALUE`` parser."""

from __future__ import annotations

import argparse

from runlayer_tf.errors import UsageError
from runlayer_tf.registries import RegistryAddress
from runlayer_tf.tags import Platform

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing is not imported on the resolve path
if TYPE_CHECKING:
    from runlayer_tf.signatures import PublicKey


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        default="",
        help="ECR host (ACCOUNT.dkr.ecr.REGION.amazonaws.com), OCI registry host[:port] or URL, "
        "or oci-layout:PATH (default: ECR of the current AWS account and region)",
    )
    parser.add_argument("--registry-id", default="", help="ECR registry (AWS account) id")
    parser.add_argument("--region", default="", help="AWS region for ECR")
    parser.add_argument(
        "--allow-prerelease", action="store_true", help="let prereleases (v1.3.0-rc.1) match"
    )
    parser.add_argument(
        "--insecure", action="store_true", help="allow plain HTTP to a non-loopback registry"
    )


def add_platform_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--platform", default="", metavar="OS/ARCH[/VARIANT]", help=help_text)


def platform_from(args: argparse.Namespace) -> Platform | None:
    """``--platform`` validated (UsageError, exit 2), or None when not given."""
    text = args.platform.strip()
    return Platform.parse(text) if text else None


def add_verify_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verify-key",
        action="append",
        default=[],
        metavar="PATH",
        help="a PEM public key (cosign.pub) the image must be signed with (repeatable: any of "
        "them); see docs/signatures.md",
    )
    parser.add_argument(
        "--verify-reference",
        action="store_true",
        help="also require the signature's docker-reference to be the image's HOST/REPOSITORY",
    )


def verify_keys_from(args: argparse.Namespace) -> tuple[PublicKey, ...]:
    """Every key of every ``--verify-key`` (a PEM file may hold several); () when none."""
    if args.verify_reference and not args.verify_key:
        raise UsageError("--verify-reference needs --verify-key")
    if not args.verify_key:
        return ()  # no signatures package (hashlib with OpenSSL, binascii) on an unsigned resolve
    from runlayer_tf.signatures import load_keys

    keys: list[PublicKey] = []
    for path in args.verify_key:
        keys.extend(load_keys(path, what="--verify-key"))
    return tuple(keys)


def address_from(args: argparse.Namespace) -> RegistryAddress:
    return RegistryAddress.parse(
        args.registry, registry_id=args.registry_id, region=args.region, insecure=args.insecure
    )


def query_from(args: argparse.Namespace, repository: str, selector: str) -> dict[str, str]:
    """The external data source query these options mean (so both paths share one validator)."""
    query = {"repository": repository, "tag": selector}
    for key in ("registry", "registry_id", "region"):
        if getattr(args, key):
            query[key] = getattr(args, key)
    if args.allow_prerelease:
        query["allow_prerelease"] = "true"
    if args.insecure:
        query["insecure"] = "true"
    if getattr(args, "platform", ""):
        query["platform"] = args.platform
    return query


def name_value(text: str, *, option: str, shape: str = "NAME=VALUE") -> tuple[str, str]:
    """Split ``NAME=VALUE`` at the first ``=``: both sides stripped, neither empty.

    The one parser of such arguments (``pins set``, ``--follow``, ``update
    --set/--var/--repository/--current``); raises UsageError naming ``option``
    and the expected ``shape``.
    """
    name, eq, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not eq or not name or not value:
        raise UsageError(f"{option} expects {shape}, got {text!r}")
    return name, value
