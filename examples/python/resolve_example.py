"""Resolve a tag selector to a digest with the runlayer_tf library, no Terraform involved.

    .venv/bin/python examples/python/resolve_example.py [SELECTOR] [REPOSITORY] [REGISTRY]

Defaults: ``v1.2`` in ``backend-production`` of the demo registry shipped in
``examples/oci-layout``, so it runs on a fresh clone with no AWS account.  Give
an ECR host (``ACCOUNT.dkr.ecr.REGION.amazonaws.com``), an OCI registry or
another ``oci-layout:PATH`` as REGISTRY to ask a real registry.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runlayer_tf.errors import RunlayerError
from runlayer_tf.resolve import resolve_query, rfc3339

DEMO_LAYOUT = Path(__file__).resolve().parents[1] / "oci-layout"


def main(argv: list[str]) -> int:
    selector = argv[0] if len(argv) > 0 else "v1.2"
    repository = argv[1] if len(argv) > 1 else "backend-production"
    registry = argv[2] if len(argv) > 2 else f"oci-layout:{DEMO_LAYOUT}"
    try:
        # The same query object Terraform's external data source sends.
        resolution = resolve_query(
            {"repository": repository, "tag": selector, "registry": registry}
        )
    except RunlayerError as err:
        print(f"resolve_example: {err}", file=sys.stderr)
        return 1
    print(f"{repository} {selector} -> {resolution.tag} (version {resolution.version or '-'})")
    print(f"image:  {resolution.image}")
    print(f"tags:   {', '.join(resolution.tags)}")
    print(
        f"built:  {rfc3339(resolution.build_timestamp) or '-'} from commit {resolution.commit or '-'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
