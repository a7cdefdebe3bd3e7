"""Benchmark: runlayer-tf side by side with crane and the AWS CLI (issue 12, point 6).

Run on demand (not a test), from the repository root::

    .venv/bin/python benchmarks/peers.py [--runs 7] [--releases 300] [--markdown FILE]

What it sets up, all in one run:

* crane v0.22.1, built from the Go module proxy into the tools cache
  (``~/.cache/runlayer-tf/tools/peers/bin/crane``, recorded with its module hash,
  dependencies and sha256 in ``peers/manifest.json``; a later run reuses it).
* Debian's ``docker-registry`` on loopback (``tests/harness/registry.py``; run
  ``scripts/provision-tools`` first when it is missing), with its access log on,
  so every request either tool sends is counted.  One repository, ``backend``,
  with ``--releases`` releases (20 patches a minor: v1.0.0 .. v1.14.19 for 300),
  each under its release, build and timestamp tags, seven prereleases, and the
  newest release plus ``latest`` as a two-platform index (linux/amd64, arm64).
* A virtualenv in a temp dir with the tree installed as a wheel would be
  (``pip install --no-deps .``, .pyc files compiled; the dependencies come from
  this interpreter's site-packages), so no editable-install finder runs at start-up.
  ``--editable`` times this interpreter's own ``runlayer-tf`` instead.
* The moto server and the 1,000 ECR releases of ``benchmarks/resolve_bench.py``
  for its baseline, (a) and (b) rows (imported from there, not copied).

Every command is a separate process, timed whole (wall and CPU of it and its
children); all commands run interleaved, one untimed warm-up each, then
``--runs`` rounds; medians are reported.  Every answer is checked: both tools must
give the same digest.  Request counts come from the registry's access log,
from one extra run of each command after the timed rounds.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import resolve_bench  # noqa: E402
from resolve_bench import Command, clean_env, interleave  # noqa: E402

from tests.harness import moto_server  # noqa: E402
from tests.harness.registry import DistributionRegistry  # noqa: E402
from tests.harness.tools import find_docker_registry, tools_dir  # noqa: E402

CRANE_MODULE = "github.com/google/go-containerregistry/cmd/crane"
CRANE_VERSION = "v0.22.1"
REPOSITORY = "backend"
EXACT, RANGE = "v1.2.3", "v1.2"
PATCHES_PER_MINOR = 20
PRERELEASES = ("alpha.1", "alpha.2", "beta.1", "beta.2", "rc.1", "rc.2", "rc.3")

# (row, target ratio, what the target is; from issue 12)
TARGETS = {
    "exact": (3.0, "<= 3x `crane digest`"),
    "range": (1.0, "<= 1x the crane pipeline"),
    "versions": (3.0, "<= 3x `crane ls`, 0 repeated requests"),
    "versions_all": (10.0, "<= 10x `crane ls`, 0 repeated requests"),
    "warm": (1.5, "<= 1.5x `python -c pass`"),
    "warm_m": (1.5, "<= 1.5x `python -c pass`"),
}


# --- crane ------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def go_env(gobin: Path) -> dict[str, str]:
    """The environment scripts/provision-tools builds with, plus GOBIN."""
    return {
        **os.environ,
        "GOBIN": str(gobin),
        "GOWORK": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
        "GOFLAGS": "-buildvcs=false",
    }


def crane_binary() -> tuple[Path, dict[str, object]]:
    """crane from the tools cache, built with `go install` the first time (and when it changed)."""
    peers = tools_dir() / "peers"
    binary, manifest_path = peers / "bin" / "crane", peers / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    entry = manifest.get("crane") or {}
    if (
        entry.get("module_version") == CRANE_VERSION
        and binary.is_file()
        and entry.get("sha256") == sha256_file(binary)
    ):
        return binary, entry
    if shutil.which("go") is None:
        raise SystemExit("no Go toolchain: install Go >= 1.26 to build crane")
    print(f"building crane {CRANE_VERSION} from the Go module proxy ...", file=sys.stderr)
    started = time.monotonic()
    env = go_env(binary.parent)
    subprocess.run(
        ["go", "install", "-trimpath", f"{CRANE_MODULE}@{CRANE_VERSION}"], env=env, check=True
    )
    info = subprocess.run(
        ["go", "version", "-m", str(binary)], env=env, capture_output=True, text=True, check=True
    ).stdout
    entry = {
        "source": "go-module-proxy",
        "module": CRANE_MODULE,
        "module_version": CRANE_VERSION,
        "path": str(binary),
        "sha256": sha256_file(binary),
        "go": subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip(),
        "build_seconds": round(time.monotonic() - started, 1),
        "dependencies": [
            {"path": p[1], "version": p[2], "sum": p[3] if len(p) > 3 else ""}
            for p in (line.split() for line in info.splitlines())
            if len(p) >= 3 and p[0] in ("dep", "=>", "mod")
        ],
    }
    manifest["crane"] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return binary, entry


# --- the registry -----------------------------------------------------------------------------


class LoggedRegistry(DistributionRegistry):
    """The distribution registry with its access log on (one line per request, in registry.log)."""

    def _config(self) -> str:
        return (
            super()
            ._config()
            .replace("accesslog:\n    disabled: true", "accesslog:\n    disabled: false")
        )

    @property
    def log_path(self) -> Path:
        return self.workdir / "registry.log"

    def requests_during(self, action: Callable[[], object]) -> list[tuple[str, str]]:
        """(method, path) of every request the registry logged while ``action`` ran."""
        start = self.log_path.stat().st_size
        action()
        seen, stable_since = -1, time.monotonic()
        while time.monotonic() - stable_since < 0.2:  # the log line follows the answer
            size = self.log_path.stat().st_size
            if size != seen:
                seen, stable_since = size, time.monotonic()
            time.sleep(0.02)
        with self.log_path.open("rb") as fh:
            fh.seek(start)
            text = fh.read().decode(errors="replace")
        return re.findall(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP/[0-9.]+"', text)


def release_tags(count: int) -> list[tuple[str, list[str], str]]:
    """(version tag, all its tags, created) for ``count`` releases, 20 patches a minor."""
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    out = []
    for i in range(count):
        minor, patch = divmod(i, PATCHES_PER_MINOR)
        version = f"v1.{minor}.{patch}"
        moment = start + datetime.timedelta(hours=7 * i, seconds=i)
        stamp = moment.strftime("%Y%m%d-%H%M%S")
        commit = hashlib.sha256(version.encode()).hexdigest()[:8]
        created = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append((version, [version, f"{version}-{stamp}-{commit}", stamp], created))
    return out


def populate(registry: LoggedRegistry, count: int) -> tuple[float, int]:
    """Push ``count`` releases, prereleases and a two-platform index; (seconds, tags)."""
    started = time.perf_counter()
    local = threading.local()
    rels = release_tags(count)
    *older, newest = rels

    def push(release: tuple[str, list[str], str]) -> None:
        if not hasattr(local, "pusher"):
            local.pusher = registry.pusher()
        version, tags, created = release
        local.pusher.push_image(REPOSITORY, tags, seed=version, created=created)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(push, older))
    pusher = registry.pusher()
    next_minor = f"v1.{count // PATCHES_PER_MINOR + 1}.0"
    for pre in PRERELEASES:
        pusher.push_image(REPOSITORY, [f"{next_minor}-{pre}"], seed=pre)
    version, tags, created = newest
    pusher.push_index(REPOSITORY, [*tags, "latest"], seed=version, created=created)
    return time.perf_counter() - started, len(rels) * 3 + len(PRERELEASES) + 1


# --- the programs under test ------------------------------------------------------------------


def wheel_venv(scratch: Path) -> Path:
    """A venv with the tree installed as a wheel; its dependencies from this interpreter."""
    venv = scratch / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PIP_USER")}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    site = Path(
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    here = [p for p in sys.path if p.endswith("site-packages")]
    (site / "_runlayer_tf_bench_deps.pth").write_text("\n".join(here) + "\n")
    print("installing the tree into a temp venv (pip install --no-deps .) ...", file=sys.stderr)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(ROOT)],
        check=True,
        env=env,
        cwd=scratch,
    )
    return venv / "bin"


def expect_digest(digest: str) -> Callable[[str], None]:
    def check(stdout: str) -> None:
        if digest not in stdout:
            raise SystemExit(f"expected {digest}, got {stdout.strip()[-200:]!r}")

    return check


def expect_lines(count: int) -> Callable[[str], None]:
    def check(stdout: str) -> None:
        if len(stdout.splitlines()) != count:
            raise SystemExit(f"expected {count} lines, got {len(stdout.splitlines())}")

    return check


def answer(argv: Sequence[str], env: Mapping[str, str], cwd: Path, stdin: str = "") -> str:
    proc = subprocess.run(
        list(argv), env=dict(env), cwd=cwd, input=stdin, capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout


# --- where the time goes ----------------------------------------------------------------------

GROUPS = (
    ("runlayer_tf", ("runlayer_tf",)),
    ("attrs", ("attr", "attrs")),
    ("semver", ("semver",)),
    (
        "typing, inspect, dis, ast",
        ("typing", "inspect", "dis", "ast", "_ast", "tokenize", "opcode"),
    ),
    ("http.client, email, ssl, socket", ("http", "email", "ssl", "_ssl", "socket", "_socket")),
    (
        "argparse, gettext, locale, shutil",
        ("argparse", "gettext", "locale", "shutil", "bz2", "lzma"),
    ),
    ("re, enum, functools, collections", ("re", "enum", "functools", "collections", "_sre")),
    ("json", ("json", "_json")),
    ("datetime", ("datetime", "_datetime")),
)


def import_profile(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, stdin: str = "", runs: int = 5
) -> str:
    """Import time by group (self times, each module's minimum over ``runs`` -X importtime runs)."""
    best: dict[str, int] = {}
    for _ in range(runs):
        proc = subprocess.run(
            [argv[0], "-X", "importtime", *argv[1:]],
            env=dict(env),
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        for line in proc.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)", line)
            if match:
                name, us = match[2], int(match[1])
                best[name] = min(us, best.get(name, us))
    totals: Counter[str] = Counter()
    for name, us in best.items():
        top = name.split(".")[0]
        group = next(
            (g for g, tops in GROUPS if top in tops), "the rest (interpreter start-up, ...)"
        )
        totals[group] += us
    rows = [f"| {group} | {us / 1000:.1f} |" for group, us in totals.most_common()]
    return "\n".join(
        [
            "| modules | import ms |",
            "|---|---|",
            *rows,
            f"| **all imports** | {sum(totals.values()) / 1000:.1f} |",
        ]
    )


# --- the run ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--runs", type=int, default=7, help="timed rounds (default 7, at least 7 for the README)"
    )
    parser.add_argument(
        "--releases", type=int, default=300, help="releases in the registry (default 300)"
    )
    parser.add_argument(
        "--ecr-releases", type=int, default=1000, help="ECR releases on moto (default 1000)"
    )
    parser.add_argument(
        "--editable", action="store_true", help="time this interpreter's runlayer-tf"
    )
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    if args.releases < 60:
        parser.error("--releases: at least 60 (v1.2 needs three minors)")
    if args.ecr_releases < 150:
        parser.error("--ecr-releases: at least 150 (50 patches a minor; v1.2 needs three)")
    crane, crane_entry = crane_binary()
    binary = find_docker_registry()
    if binary is None:
        resolve_bench.provisioned_env()  # installs Debian's docker-registry when it can
        binary = find_docker_registry()
    if binary is None:
        raise SystemExit("no docker-registry: run scripts/provision-tools (Debian, as root)")
    # Not a child subreaper (resolve_bench's settle() would wait for the registry, our child):
    # no row here leaves a shared resolver running (cache off, or a warm hit).
    with tempfile.TemporaryDirectory(prefix="peers-bench-") as tmp:
        scratch = Path(tmp)
        registry = LoggedRegistry(binary, scratch / "registry").start()
        server = moto_server.MotoServer().start()
        try:
            return bench(args, scratch, registry, server.endpoint_url, crane, crane_entry)
        finally:
            server.stop()
            registry.stop()


def bench(
    args: argparse.Namespace,
    scratch: Path,
    registry: LoggedRegistry,
    endpoint: str,
    crane: Path,
    crane_entry: Mapping[str, object],
) -> int:
    load_before = os.getloadavg()
    pushed_seconds, tag_count = populate(registry, args.releases)
    print(
        f"registry {registry.url}: {tag_count} tags pushed in {pushed_seconds:.1f} s",
        file=sys.stderr,
    )
    ecr_seconds = resolve_bench.populate(endpoint, args.ecr_releases)
    bin_dir = Path(sys.executable).parent if args.editable else wheel_venv(scratch)
    runlayer_tf, python = str(bin_dir / "runlayer-tf"), str(bin_dir / "python")
    work = scratch / "cwd"
    work.mkdir()
    (scratch / "aws-config").write_text("")
    (scratch / "aws-credentials").write_text("")
    (scratch / "docker").mkdir()
    env = clean_env(endpoint, scratch, {"DOCKER_CONFIG": str(scratch / "docker")})
    host = registry.host
    ref = f"{host}/{REPOSITORY}"
    rels = release_tags(args.releases)
    newest_12 = max(
        (r for r in rels if r[0].startswith("v1.2.")), key=lambda r: int(r[0].split(".")[2])
    )[0]

    # The digests both tools must agree on (crane's answer is the reference).
    exact_digest = answer([str(crane), "digest", f"{ref}:{EXACT}"], env, work).strip()
    range_digest = answer([str(crane), "digest", f"{ref}:{newest_12}"], env, work).strip()
    pipeline = f"{crane} digest {ref}:$({crane} ls {ref} | grep -E '^v1\\.2\\.[0-9]+$' | sort -V | tail -1)"
    shown_rows = min(20, args.releases)
    query = json.dumps({"repository": REPOSITORY, "tag": RANGE, "registry": host})
    answer([runlayer_tf, "external"], env, work, stdin=query)  # fills the cache for the warm rows

    def prime() -> None:
        answer([runlayer_tf, "external"], env, work, stdin=query)

    def warm(name: str, argv: list[str]) -> Command:
        return Command(
            name, argv, env, stdin=query, cwd=work, check=expect_digest(range_digest), before=prime
        )

    oci = [
        Command(
            "crane_digest",
            [str(crane), "digest", f"{ref}:{EXACT}"],
            env,
            cwd=work,
            check=expect_digest(exact_digest),
        ),
        Command(
            "exact",
            [runlayer_tf, "resolve", "--registry", host, REPOSITORY, EXACT],
            env,
            cwd=work,
            check=expect_digest(exact_digest),
        ),
        Command(
            "crane_pipeline",
            ["sh", "-c", pipeline],
            env,
            cwd=work,
            check=expect_digest(range_digest),
        ),
        Command(
            "range",
            [runlayer_tf, "resolve", "--registry", host, REPOSITORY, RANGE],
            env,
            cwd=work,
            check=expect_digest(range_digest),
        ),
        Command("crane_ls", [str(crane), "ls", ref], env, cwd=work, check=expect_lines(tag_count)),
        Command(
            "versions",
            [runlayer_tf, "versions", "--registry", host, REPOSITORY],
            env,
            cwd=work,
            check=expect_lines(shown_rows + 1),
        ),
        Command(
            "versions_all",
            [runlayer_tf, "versions", "--registry", host, REPOSITORY, "--limit", "0"],
            env,
            cwd=work,
            check=expect_lines(args.releases + 1),
        ),
        Command("floor", [python, "-c", "pass"], env, cwd=work),
        warm("warm", [runlayer_tf, "external"]),
        warm("warm_m", [python, "-m", "runlayer_tf.external"]),
    ]
    ecr_newest = max(
        (r for r in resolve_bench.releases(args.ecr_releases) if r[0].startswith("v1.2.")),
        key=lambda r: int(r[0].split(".")[2]),
    )
    resolved = {
        "tag": ecr_newest[0],
        "version": ecr_newest[0][1:],
        "tags": ",".join(sorted(ecr_newest)),
    }
    ecr = resolve_bench.ecr_commands(
        endpoint, scratch, work, resolved, runlayer_tf=runlayer_tf, python=python
    )
    commands = oci + ecr
    print(f"timing {len(commands)} commands, {args.runs} interleaved rounds ...", file=sys.stderr)
    interleave(commands, args.runs, label="peers")
    by_name = {c.name: c for c in commands}

    counts: dict[str, list[tuple[str, str]]] = {}
    for name in (
        "crane_digest",
        "exact",
        "crane_pipeline",
        "range",
        "crane_ls",
        "versions",
        "versions_all",
        "warm",
        "warm_m",
    ):
        command = by_name[name]
        if command.before:
            command.before()  # the warm rows' priming run is not counted
        run = Command(command.name, command.argv, command.env, stdin=command.stdin, cwd=command.cwd)
        counts[name] = registry.requests_during(lambda c=run: c.run_once(record=False))
    profile = import_profile(
        [python, "-m", "runlayer_tf", "resolve", "--registry", host, REPOSITORY, EXACT], env, work
    )
    prime()
    warm_profile = import_profile([python, "-m", "runlayer_tf.external"], env, work, stdin=query)

    report = render(
        args,
        by_name,
        counts,
        crane_entry,
        tag_count,
        (pushed_seconds, ecr_seconds),
        (load_before, os.getloadavg()),
        profile,
        warm_profile,
        "wheel in a temp venv" if not args.editable else f"editable ({bin_dir})",
    )
    print(report)
    if args.markdown:
        args.markdown.write_text(report)
    return 0


def _requests(seen: list[tuple[str, str]]) -> str:
    repeated = len(seen) - len(set(seen))
    return f"{len(seen)} ({repeated} repeated)"


def render(
    args: argparse.Namespace,
    by: Mapping[str, Command],
    counts: Mapping[str, list[tuple[str, str]]],
    crane_entry: Mapping[str, object],
    tag_count: int,
    populate_seconds: tuple[float, float],
    load: tuple[tuple[float, float, float], tuple[float, float, float]],
    profile: str,
    warm_profile: str,
    install: str,
) -> str:
    revision = resolve_bench.tree_revision()
    ms = resolve_bench.ms
    rows = [
        ("exact", "crane_digest", f"exact tag `{EXACT}` -> digest, OCI, cold", "`crane digest`"),
        (
            "range",
            "crane_pipeline",
            f"`{RANGE}` -> digest, OCI, cold",
            "`crane ls \\| grep \\| sort -V \\| tail -1` + `crane digest`",
        ),
        ("versions", "crane_ls", "`versions` (20 rows)", "`crane ls`"),
        ("versions_all", "crane_ls", f"`versions --limit 0` ({args.releases} rows)", "`crane ls`"),
        ("warm", "floor", "`runlayer-tf external`, warm cache", "`python -c pass`"),
        ("warm_m", "floor", "`python -m runlayer_tf.external`, warm cache", "`python -c pass`"),
    ]
    lines = [
        f"Run {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}: tree {revision or 'unknown'}; "
        f"nproc {len(os.sched_getaffinity(0))}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; load average {load[0][0]:.1f} at start, "
        f"{load[1][0]:.1f} at end; runlayer-tf installed as a {install}; crane "
        f"{crane_entry.get('module_version')} ({crane_entry.get('go', '')}); "
        f"{args.releases} releases, {tag_count} tags in the registry (pushed in {populate_seconds[0]:.1f} s), "
        f"{args.ecr_releases} releases x 2 tags on moto ({populate_seconds[1]:.1f} s); medians of "
        f"{args.runs} interleaved runs.",
        "",
        "| work | runlayer-tf | peer | peer time | ratio (wall) | ratio (CPU) | target | "
        "| requests: runlayer-tf / peer |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for ours, peer, label, peer_label in rows:
        a, b = by[ours], by[peer]
        ratio, cpu_ratio = a.median / b.median, a.cpu_median / b.cpu_median
        limit, target = TARGETS[ours]
        ok = ratio <= limit
        if ours.startswith("versions"):
            seen = counts[ours]
            ok = ok and len(seen) == len(set(seen))
        requests = (
            f"{_requests(counts[ours])} / {_requests(counts[peer]) if peer in counts else '-'}"
        )
        lines.append(
            f"| {label} | {ms(a.median)} (CPU {ms(a.cpu_median)}) | {peer_label} "
            f"| {ms(b.median)} (CPU {ms(b.cpu_median)}) "
            f"| {ratio:.2f}x | {cpu_ratio:.2f}x | {target} | {resolve_bench.verdict(ok)} | {requests} |"
        )
    base = by["baseline"]
    for name, label, limit, target in (
        ("a", "ECR `v1.2`, cold (moto), `runlayer-tf external`", 0.8, "<= 0.8x"),
        ("b", "ECR `v1.2`, warm, `runlayer-tf external`", 1 / 7, "<= 60 ms and <= 1/7"),
        ("b_m", "ECR `v1.2`, warm, `python -m runlayer_tf.external`", 1 / 7, "<= 60 ms and <= 1/7"),
    ):
        a = by[name]
        ratio = a.median / base.median
        ok = ratio <= limit and (name == "a" or a.median <= 0.060)
        lines.append(
            f"| {label} | {ms(a.median)} (CPU {ms(a.cpu_median)}) | `aws ecr describe-images` exact tag "
            f"| {ms(base.median)} (CPU {ms(base.cpu_median)}) | {ratio:.2f}x | {a.cpu_median / base.cpu_median:.2f}x "
            f"| {target} | {resolve_bench.verdict(ok)} | - |"
        )
    lines += [
        "",
        f"Where the time of a cold exact-tag resolve goes (`python -X importtime -m runlayer_tf resolve "
        f"... {EXACT}`, each module's minimum of 5 runs; whole process {ms(by['exact'].median)}, interpreter floor "
        f"{ms(by['floor'].median)}):",
        "",
        profile,
        "",
        "And of a warm `python -m runlayer_tf.external`:",
        "",
        warm_profile,
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
