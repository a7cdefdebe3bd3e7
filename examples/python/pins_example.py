"""Find, plan and apply pin changes from a script with the runlayer_tf.pins API.

    .venv/bin/python examples/python/pins_example.py [DIR]

Lists the pins under DIR (default: the fixture corpus copied to a temp dir),
bumps ``backend_version`` and the ``backend-production`` images to the next
patch release, shows the diff and writes the files atomically.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from runlayer_tf import pins
from runlayer_tf.tags import parse_version


def next_patch(tag: str) -> str:
    version = parse_version(tag)
    return f"v{version.major}.{version.minor}.{version.patch + 1}"


def main(argv: list[str]) -> int:
    if argv:
        root = Path(argv[0])
    else:
        root = Path(tempfile.mkdtemp()) / "pins"
        shutil.copytree(Path(__file__).resolve().parents[2] / "tests/fixtures/pins/modules", root)

    # 1. Pure: find pins in a text.
    text = 'backend_version = "v1.2.3" # pinned\n'
    (pin,) = pins.find_pins(text, file="prod.tfvars")
    edits = pins.plan_edits([pin], {"backend_version": next_patch(pin.tag or "v0.0.0")})
    print(pins.rewrite(text, edits), end="")

    # 2. Files: scan a tree, plan the change, show it, write it atomically.
    config = pins.load_config(start=root)
    found = [p for scan in pins.scan_paths([root], config=config) for p in scan.pins]
    for p in found:
        print(p, f"(depends on {p.depends_on})" if p.depends_on else "")
    current = next((p.tag for p in found if p.name == "backend_version" and p.tag), None)
    if current is None:
        print("no backend_version pin found")
        return 0
    changes = pins.plan_changes([root], {"backend_version": next_patch(current)}, config=config)
    for change in changes:
        print(change.diff(), end="")
    written = pins.apply_changes(changes)
    print("written:", ", ".join(map(str, written)) or "nothing")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
