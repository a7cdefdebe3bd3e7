"""What each hot path imports, measured on the real entry points (docs/development.md, "Import
budget"; the numbers are in benchmarks/README.md).

Every process runs with ``-S`` and the clone plus this interpreter's site-packages on
``PYTHONPATH``: without site, an editable install's finder (which imports ``re`` and
``pathlib`` at start-up) cannot hide what the package itself imports.  The modules a command
adds are those ``-X importtime`` reports beyond an empty program's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = ROOT / "examples" / "oci-layout"
SITE = sysconfig.get_path("purelib")

# Never on a cache hit: the JSON package and re (with enum, functools), the command line,
# typing, the value classes, the resolver's dependencies, HTTP, OpenSSL's hashlib, AWS.
NOT_ON_A_HIT = {
    "re", "enum", "json", "argparse", "typing", "attr", "attrs", "semver", "urllib", "http",
    "ssl", "socket", "hashlib", "_hashlib", "pathlib", "datetime", "botocore", "boto3",
}  # fmt: skip
# Never on a cold resolve from a plain-http registry or a layout: urllib's opener stack
# (urllib.request, only for a *_proxy variable), AWS, subprocess (credential helpers: only on
# an auth challenge), the idna codec, the pins and update code.
NOT_ON_A_COLD_RESOLVE = {
    "urllib.request", "urllib.error", "botocore", "boto3", "subprocess",
    "tempfile", "hcl2", "lark", "runlayer_tf.pins", "runlayer_tf.update",
    "runlayer_tf.shared_resolver", "runlayer_tf.aws", "runlayer_tf.cli._pins",
    "runlayer_tf.cli._update", "encodings.idna",
    # issue 12: the value classes are runlayer_tf._values, not attrs (nor dataclasses); digests
    # hash with CPython's own SHA-256, not OpenSSL's; no signature code without --verify-key;
    # argparse's terminal width without shutil (and its bz2, lzma, fnmatch).
    "attrs", "attr", "dataclasses", "hashlib", "_hashlib", "runlayer_tf.signatures", "shutil",
    "bz2", "lzma",
    # versions are runlayer_tf.tags.Version, not semver's (which imports typing and inspect),
    # and the resolve path's own modules import typing for type checkers only.
    "semver", "typing", "inspect", "ast", "dis", "tokenize",
}  # fmt: skip
HIT_MODULES = {
    "runlayer_tf",
    "runlayer_tf._fastjson",
    "runlayer_tf._hashing",
    "runlayer_tf._version",
    "runlayer_tf.cache",
    "runlayer_tf.errors",
    "runlayer_tf.external",
}


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RUNLAYER_TF_") and not k.lower().endswith("_proxy")
    }
    return {
        **env,
        "PYTHONPATH": os.pathsep.join([str(ROOT), SITE]),
        "RUNLAYER_TF_CACHE_DIR": str(tmp_path / "cache"),
        **extra,
    }


def imports(args: list[str], env: dict[str, str], stdin: str = "") -> tuple[set[str], str]:
    """(every module ``python -S -X importtime ARGS`` imported, its stdout)."""
    proc = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    err = "\n".join(
        line for line in proc.stderr.splitlines() if not line.startswith("import time:")
    )
    assert proc.returncode == 0, err
    found = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \| *(\S+)$", proc.stderr, flags=re.M))
    assert found, proc.stderr[-2000:]
    return found, proc.stdout


def added(args: list[str], env: dict[str, str], stdin: str = "", *, baseline: list[str]):
    found, stdout = imports(args, env, stdin)
    floor, _ = imports(baseline, env)
    return found - floor, stdout


def tops(modules: set[str]) -> set[str]:
    """The modules and their top-level packages (``urllib.parse`` -> also ``urllib``)."""
    return modules | {m.split(".")[0] for m in modules}


def query(registry: str) -> str:
    return json.dumps({"repository": "backend-production", "tag": "v1.2", "registry": registry})


@pytest.mark.parametrize(
    ("form", "args", "baseline"),
    [
        (
            "runlayer-tf external",  # the installed command's script (setup.cfg: scripts)
            [str(ROOT / "bin" / "runlayer-tf"), "external"],
            ["-c", "import sys"],
        ),
        ("python -m runlayer_tf.external", ["-m", "runlayer_tf.external"], ["-m", "__hello__"]),
    ],
)
def test_a_cache_hit_imports_only_the_programs_own_modules(tmp_path, form, args, baseline):
    env = env_for(tmp_path)
    q = query(f"oci-layout:{LAYOUT}")
    first, stdout = imports(args, env, q)  # a miss: resolves and stores
    assert json.loads(stdout)["tag"] == "v1.2.3"
    assert "runlayer_tf.resolve" in first
    new, again = added(args, env, q, baseline=baseline)
    assert again == stdout
    ours = {m for m in new if m.startswith("runlayer_tf")}
    # -m runs external.py as __main__ (once: it is not imported again under its own name).
    expected = (
        HIT_MODULES | {"runlayer_tf.cli"}
        if form.startswith("runlayer-tf")
        else HIT_MODULES - {"runlayer_tf.external"}
    )
    assert ours == expected
    assert tops(new) & NOT_ON_A_HIT == set()


def test_a_cold_resolve_from_a_layout_opens_no_socket(tmp_path):
    new, stdout = added(
        [
            "-m",
            "runlayer_tf",
            "resolve",
            "--registry",
            f"oci-layout:{LAYOUT}",
            "backend-production",
            "v1.2",
        ],
        env_for(tmp_path),
        baseline=["-c", "pass"],
    )
    assert stdout.endswith(
        "@sha256:d00f74ec3be925829ac9b69e51ca4b2a3b4aff665ab32da7578e07863358d33f\n"
    )
    assert new & NOT_ON_A_COLD_RESOLVE == set()
    assert tops(new) & {"http", "socket", "ssl", "email", "botocore", "boto3"} == set()


def test_a_cold_resolve_from_a_plain_http_registry_loads_no_opener_aws_or_credentials_code(
    tmp_path, oci_registry
):
    digest = oci_registry.pusher().push_image("cold/app", ["v1.2.3", "latest"], seed="cold").digest
    new, stdout = added(
        ["-m", "runlayer_tf", "resolve", "--registry", oci_registry.host, "cold/app", "v1.2"],
        env_for(tmp_path),
        baseline=["-c", "pass"],
    )
    assert stdout == f"{oci_registry.host}/cold/app@{digest}\n"
    # The registry's HTTP is runlayer_tf.registries._wire on a socket: no http.client with its
    # email header parser, and no ssl for plain http.
    assert "runlayer_tf.registries._wire" in new
    assert "socket" in new
    assert tops(new) & {"http", "email", "ssl", "calendar"} == set()
    assert new & (NOT_ON_A_COLD_RESOLVE | {"pathlib"}) == set()  # Docker's config: on a 401 only
    assert tops(new) & {"botocore", "boto3", "hcl2", "lark"} == set()


def test_a_proxy_variable_brings_urllibs_proxy_rules_in(tmp_path, oci_registry):
    """urllib.request is the price of a *_proxy variable only (its getproxies/proxy_bypass)."""
    digest = oci_registry.pusher().push_image("cold/app", ["v1.2.3"], seed="cold").digest
    new, stdout = added(
        ["-m", "runlayer_tf", "resolve", "--registry", oci_registry.host, "cold/app", "v1.2.3"],
        env_for(tmp_path, http_proxy="http://127.0.0.1:9", no_proxy="127.0.0.1"),
        baseline=["-c", "pass"],
    )
    assert stdout == f"{oci_registry.host}/cold/app@{digest}\n"
    assert "urllib.request" in new
