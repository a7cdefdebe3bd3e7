"""Build the runbook's update sequence from runlayer-tf's typed helpers, step by step.

This is what ``runlayer-tf update`` does, spelled out for a script that wants
its own order or its own checks.  Run it against a real account (or a moto
server through AWS_ENDPOINT_URL) with::

    python examples/python/update_example.py --cluster anysource-production \
        --workdir infra/production --var-file production.tfvars \
        --name backend_version --version v1.3.0 --backend-url https://app.example.com \
        --registry 170974506510.dkr.ecr.us-east-1.amazonaws.com
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from runlayer_tf import aws
from runlayer_tf.errors import RunlayerError
from runlayer_tf.registries import RegistryAddress
from runlayer_tf.update import RegistryLookups, make_progress, read_vars, set_vars
from runlayer_tf.update.parts import (
    DEFAULT_SNAPSHOT_TEMPLATE,
    Terraform,
    check_cluster_available,
    conventional_repository,
    default_health_urls,
    ensure_snapshot,
    find_binary,
    restore_command,
    snapshot_id,
    urllib_get,
    wait_healthy,
    wait_stable,
)


def now() -> datetime:
    return datetime.now(timezone.utc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--workdir", type=Path, default=Path("."))
    parser.add_argument("--var-file", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--registry", default="", help="default: ECR of the current account")
    parser.add_argument("--repository", help="default: APP_version -> APP-production")
    parser.add_argument("--backend-url")
    parser.add_argument("--frontend-url")
    parser.add_argument("--ecs-cluster")
    parser.add_argument("--service", action="append", default=[])
    args = parser.parse_args(argv)

    progress = make_progress(sys.stderr)
    rds = aws.rds()
    var_file = args.workdir / args.var_file
    tf = Terraform(
        find_binary("tofu"),
        args.workdir.resolve(),
        on_line=lambda s, line: progress.output("tofu", line),
    )
    plan_file = str((args.workdir / ".runlayer" / "example.tfplan").resolve())

    try:
        # 1. preflight
        cluster = check_cluster_available(rds, args.cluster)
        previous = read_vars(var_file, [args.name]).get(args.name)
        if previous is None:
            raise SystemExit(f"{var_file} does not assign {args.name}")
        lookups = RegistryLookups(
            RegistryAddress.parse(args.registry), explicit=bool(args.registry)
        )
        repository = args.repository or conventional_repository(args.name)
        if repository is None or not lookups.version_exists(repository, args.version):
            raise SystemExit(f"{repository}:{args.version} does not exist")
        tf.init()
        # 2. snapshot, waited for until available
        snap = snapshot_id(DEFAULT_SNAPSHOT_TEMPLATE, now=now(), cluster=args.cluster)
        ensure_snapshot(
            rds,
            cluster=args.cluster,
            identifier=snap,
            clock=now,
            sleep=time.sleep,
            tags={"runlayer-tf:from-version": previous, "runlayer-tf:to-version": args.version},
            on_progress=lambda status, pct: progress.status("snapshot", f"{snap} {status} {pct}%"),
        )
        progress.step("snapshot", f"{snap} available")
        # 3. set the version (atomic rewrite of the literal only)
        set_vars(var_file, {args.name: args.version})
        try:
            # 4. plan, then apply the saved plan
            (args.workdir / ".runlayer").mkdir(exist_ok=True)
            tf.plan(plan_file, var_files=[str(var_file.resolve())])
            tf.apply(plan_file)
            # 5. verify
            if args.ecs_cluster and args.service:
                for state in wait_stable(aws.ecs(), args.ecs_cluster, args.service):
                    progress.step("ecs", str(state))
            urls = default_health_urls(args.backend_url, args.frontend_url)
            wait_healthy(urls, get=urllib_get, clock=now, sleep=time.sleep)
        except RunlayerError as err:
            # Roll back: previous value, plan, apply.  The database is never restored automatically.
            progress.step("rollback", f"{err}; going back to {previous}")
            set_vars(var_file, {args.name: previous})
            tf.plan(plan_file, var_files=[str(var_file.resolve())])
            tf.apply(plan_file)
            progress.step(
                "rollback", f"done; if the database was damaged: {restore_command(snap, cluster)}"
            )
            return 1
    except RunlayerError as err:
        print(f"update_example: error: {err}", file=sys.stderr)
        return 1
    finally:
        progress.close()
    progress.step("done", f"{args.name} = {args.version}; snapshot {snap}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
