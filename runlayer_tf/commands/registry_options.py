"""Registry options shared by ``resolve`` and ``versions``."""

from __future__ import annotations

import argparse

from runlayer_tf.registries import RegistryAddress


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
    return query
