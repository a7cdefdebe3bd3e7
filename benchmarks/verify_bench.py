"""Benchmark: a warm data source with signature verification vs without.

Run on demand (not a test), from the repository root::

    .venv/bin/python benchmarks/verify_bench.py [--runs 21]

Each run starts ``python -m runlayer_tf.external`` (a separate process, as
Terraform does) resolving ``backend-production`` ``v1.2`` from the signed demo
layout (``examples/oci-layout``), once without a key and once with
``verify_key`` = the demo public key, interleaved (A, B, B, A, ...) so drift
hits both alike.  Both answer from a warm cache (resolution and verdict primed
by one untimed run each): this is the cost a warm plan pays per data source.
Every answer is checked (``verified`` present only with the key).  Medians of
wall time are printed; target (issue 13): with verification <= 1.1x without.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAYOUT = REPO / "examples" / "oci-layout"
KEY = REPO / "examples" / "demo-signing" / "DEMO-ONLY-cosign.pub"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(
    query: dict[str, str], env: dict[str, str], cwd: str
) -> tuple[float, float, dict[str, str]]:
    """(wall seconds, CPU seconds of the process, its answer)."""
    cpu = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "runlayer_tf.external"],
        input=json.dumps(query).encode(),
        capture_output=True,
        env=env,
        cwd=cwd,
        check=True,
    )
    wall = time.perf_counter() - started
    return wall, _children_cpu() - cpu, json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args(argv)
    plain = {"repository": "backend-production", "tag": "v1.2", "registry": f"oci-layout:{LAYOUT}"}
    verified = {**plain, "verify_key": str(KEY)}
    with tempfile.TemporaryDirectory(prefix="runlayer-tf-verify-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLAYER_TF_", "PYTHON"))}
        env["RUNLAYER_TF_CACHE_DIR"] = str(Path(tmp) / "cache")
        env["PYTHONPATH"] = str(REPO)
        wall: dict[str, list[float]] = {"without": [], "with": []}
        cpu: dict[str, list[float]] = {"without": [], "with": []}
        for query in (plain, verified):
            run_once(query, env, tmp)  # prime the cache (and the verdict)
        pair = (("without", plain), ("with", verified))
        for number in range(args.runs):
            # A, B, then B, A: neither always runs second.
            for name, query in pair if number % 2 == 0 else pair[::-1]:
                elapsed, used, result = run_once(query, env, tmp)
                assert ("verified" in result) == (name == "with"), result
                wall[name].append(elapsed)
                cpu[name].append(used)
    print(f"runs: {args.runs} each, interleaved; medians")
    for label, table in (("wall", wall), ("cpu", cpu)):
        without, with_ = (statistics.median(table[k]) for k in ("without", "with"))
        print(
            f"{label}: no verify key {without * 1000:.1f} ms, with verify key "
            f"{with_ * 1000:.1f} ms, ratio {with_ / without:.3f}x (target <= 1.1x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
