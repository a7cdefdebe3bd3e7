"""Benchmark: the pins pre-scan on one long line grows linearly (100 KB, 1 MB, 10 MB).

Run on demand (not a test)::

    .venv/bin/python benchmarks/prescan.py [--runs 5] [--sizes 100000,1000000,10000000]
                                           [--before 1000,2000,4000] [--markdown FILE]

Each shape is one Terraform line ``x = "<unit repeated>"`` of the given size,
the shapes that made the first pre-scan quadratic (a 120 KB line took 232 s)
plus a realistic one (a long minified ``jsonencode`` blob without a pin).  For
each shape and size, ``may_hold_pins`` (what ``pins check``/``list``/``bump``
run on every file before parsing) is timed in this process as CPU time
(``time.process_time``, so other jobs on a shared machine do not count), the
median of ``--runs`` runs after an untimed one.  Linear growth shows as x10 from one size to the next (each
is ten times the last) and a steady cost per byte; quadratic growth as x100.

``--before`` also times the pre-scan as it was before commit 1cfa623 (its
candidate pattern and per-match line re-scan, copied below) on short lines of
the sizes given, to show the quadratic growth it replaced; 0 skips it.
"""

from __future__ import annotations

import argparse
import itertools
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from runlayer_tf.pins._model import IMAGE_REF_PATTERN
from runlayer_tf.pins._prescan import may_hold_pins

# (name, repeated unit, answer): the answer is checked on every run.
SHAPES: list[tuple[str, bytes, bool]] = [
    ("a/b: (many candidates)", b"a/b:", True),
    ("a.b.c.d/", b"a.b.c.d/", False),
    ("x*50 + /", b"x" * 50 + b"/", False),
    ("/a:", b"/a:", False),
    ("slashes", b"/" * 8, False),
    ("a/ (a long path)", b"a/", False),
    ("${a}:", b"${a}:", True),
    ("minified JSON, no pin", b'{"name":"app","cpu":256,"memory":512,"port":8080},', False),
]

_BEFORE_SLASH = re.compile(rb"/[a-z0-9][a-z0-9._/-]*[:@]")
_BEFORE_IMAGE = re.compile(IMAGE_REF_PATTERN.encode())


def before_1cfa623(data: bytes) -> bool:
    """The image part of the pre-scan before commit 1cfa623 (quadratic on long lines)."""
    for match in _BEFORE_SLASH.finditer(data):
        start = data.rfind(b"\n", 0, match.start()) + 1
        end = data.find(b"\n", match.start())
        if _BEFORE_IMAGE.search(data[start : len(data) if end < 0 else end]):
            return True
    return False


def line(unit: bytes, size: int) -> bytes:
    return b'x = "' + unit * (size // len(unit)) + b'"\n'


def median_time(
    scan: Callable[[bytes], bool], data: bytes, expected: bool | None, runs: int
) -> float:
    scan(data)  # untimed warm-up: the line is in cache, the allocator warmed
    times = []
    for _ in range(runs):
        started = time.process_time()
        answer = scan(data)
        times.append(time.process_time() - started)
        if expected is not None and answer is not expected:
            raise SystemExit(f"wrong answer {answer} for a {len(data)}-byte line")
    return statistics.median(times)


def size_label(size: int) -> str:
    return f"{size / 1e6:g} MB" if size >= 1_000_000 else f"{size / 1e3:g} KB"


def table(
    title: str, scan: Callable[[bytes], bool], sizes: list[int], runs: int, image_only: bool
) -> list[str]:
    print(f"{title}: median of {runs} runs", flush=True)
    steps = list(itertools.pairwise(sizes))
    header = (
        "| shape | "
        + " | ".join(size_label(s) for s in sizes)
        + "".join(f" | {size_label(b)} / {size_label(a)}" for a, b in steps)
        + f" | ns/byte at {size_label(sizes[-1])} |"
    )
    rows = [f"### {title}", "", header, "|---|" + "---:|" * (len(sizes) + len(steps) + 1)]
    for name, unit, expected in SHAPES:
        if image_only and unit == b"${a}:":
            continue  # the template check was never quadratic; the copy has only the image part
        want = None if image_only else expected  # the old copy is timed, not checked
        times = [median_time(scan, line(unit, size), want, runs) for size in sizes]
        cells = " | ".join(f"{t * 1000:.2f} ms" for t in times)
        growth = "".join(
            f" | x{times[i + 1] / times[i]:.1f}" if times[i] > 0 else " | -"
            for i in range(len(steps))
        )
        per_byte = times[-1] / sizes[-1] * 1e9
        rows.append(f"| `{name}` | {cells}{growth} | {per_byte:.1f} |")
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--before", default="1000,2000,4000")
    parser.add_argument("--markdown", type=Path, help="also write the tables to FILE")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    before = [int(s) for s in args.before.split(",") if int(s) > 0]
    out = table("may_hold_pins (now)", may_hold_pins, sizes, args.runs, image_only=False)
    if before:
        old = table("before commit 1cfa623 (image part)", before_1cfa623, before, args.runs, True)
        out += ["", *old]
    if args.markdown:
        args.markdown.write_text("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
