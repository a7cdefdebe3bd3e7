"""``runlayer-tf ecs``: the runbook's emergency ECS procedures.

``force-deploy`` redeploys services with their current task definition (the
security-patch procedure, after pushing a patched image to the same tag);
``scale-bounce`` scales services to zero and back to their previous desired
count (the emergency roll-back).  Both wait until the services are stable and
print each deployment's rollout state.
"""

from __future__ import annotations

import argparse
import json

from runlayer_tf import aws
from runlayer_tf.update.parts import force_new_deployment, scale_bounce, wait_stable


def configure_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, summary in (
        ("force-deploy", "force a new deployment of each service and wait until stable"),
        ("scale-bounce", "scale each service to 0, then back to its previous desired count"),
        ("status", "wait until the services are stable and print their deployments"),
    ):
        action = sub.add_parser(name, help=summary, description=summary)
        action.add_argument("--cluster", required=True, metavar="C", help="the ECS cluster")
        action.add_argument(
            "--service", required=True, action="append", metavar="S", help="a service (repeatable)"
        )
        action.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    ecs = aws.ecs()
    if args.action == "scale-bounce":
        bounced = scale_bounce(ecs, args.cluster, args.service)
        rows = [
            {"service": b.service, "previous_desired": b.previous, "state": str(b.after)}
            for b in bounced
        ]
    else:
        if args.action == "force-deploy":
            states = force_new_deployment(ecs, args.cluster, args.service)
        else:
            states = wait_stable(ecs, args.cluster, args.service)
        rows = [{"service": s.name, "state": str(s)} for s in states]
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True))
    else:
        for row in rows:
            print(row["state"])
    return 0
