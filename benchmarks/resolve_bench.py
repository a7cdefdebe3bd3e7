"""Benchmark: resolving a tag selector against ECR (moto) vs the AWS CLI's exact-tag look-up.

Run on demand (not a test), from the repository root::

    .venv/bin/python benchmarks/resolve_bench.py [--runs 7] [--quick] [--skip-tofu] [--markdown FILE] [--candidate DIR]

``--candidate DIR`` also times a patched copy of the package (``DIR/runlayer_tf``,
put first on ``PYTHONPATH``), each of its commands right beside the tree's, to
check a proposed speed-up under the same conditions.

One moto server (in this process, on 127.0.0.1; it pages ListImages 1,000 ids
a page like ECR) holds one repository with 1,000 releases, two tags each
(``vX.Y.Z`` and ``vX.Y.Z-YYYYmmdd-HHMMSS-<8hex>``, versions v1.0.0..v1.19.49).
Every measured command is a separate process; its whole wall time is taken
(and its CPU time, user + system of it and its children, as a cross-check that
other jobs on the machine disturb less), and the commands of a group run
interleaved (A, B, C, A, B, C, ...) so drift hits all alike.  Medians are
reported, after one untimed warm-up of each command; every output is checked.

* baseline: ``aws ecr describe-images --repository-name R --image-ids imageTag=v1.2.3``
* (a) ``runlayer-tf external`` resolving ``v1.2``, cache off (``RUNLAYER_TF_CACHE_TTL=0``)
* (b) the same with a warm cache, as ``runlayer-tf external`` and as
  ``python -m runlayer_tf.external`` (default TTL; an untimed priming run just
  before each timed run keeps the entry fresh; the server's ListImages counter
  proves that the timed runs never reached it)
* (c) ``tofu plan`` with 1 module instance vs 20 (all ``v1.2``, and
  ``v1.0``..``v1.19``), default TTL, cache emptied before every cold plan; the
  20-instance plans repeated with the cache warm; the cold plans again with
  the shared resolver off (``RUNLAYER_TF_SHARED_RESOLVER=0``, for
  comparison); and control plans whose
  program is ``sh`` printing a fixed answer (OpenTofu's own cost).  The module
  is ``terraform-modules/image-pin`` when present, else the stand-in in
  ``benchmarks/terraform/modules/pin``.

A data source may leave the shared resolver running for a few seconds; the
script makes itself a child subreaper (Linux), stops that resolver after each
measured command (outside the timed wall) and reaps it, so its CPU time is
counted with the command that started it.

Targets (issue 3, section 6): (a) <= 0.8x baseline; (b) <= 60 ms and <= 1/7 of
the baseline; (c) 20 instances <= 3x one instance.

The environment of every measured command: fake credentials, region
us-east-1, ``AWS_ENDPOINT_URL`` = the moto server, no other ``AWS_*``, empty
``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE``, a temp
``RUNLAYER_TF_CACHE_DIR``.  Temp dirs and the server are removed on exit.
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
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import moto_server  # noqa: E402
from tests.harness.ecr import push  # noqa: E402

REPOSITORY = "backend-production"
REGION = "us-east-1"
VENV_BIN = Path(sys.executable).parent
AWS = str(VENV_BIN / "aws")
RUNLAYER_TF = str(VENV_BIN / "runlayer-tf")
PYTHON = sys.executable
TF_DIR = Path(__file__).resolve().parent / "terraform"
IMAGE_PIN = ROOT / "terraform-modules" / "image-pin"

QUERY = {"repository": REPOSITORY, "tag": "v1.2", "registry": "", "region": REGION}
BASELINE_TAG = "v1.2.3"


# --- data ---------------------------------------------------------------------------------------


def releases(count: int) -> list[tuple[str, str]]:
    """``count`` releases as (plain tag, build tag): v1.0.0, v1.0.1, ... 50 patches a minor."""
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    out = []
    for i in range(count):
        minor, patch = divmod(i, 50)
        version = f"v1.{minor}.{patch}"
        stamp = (start + datetime.timedelta(hours=7 * i, seconds=i)).strftime("%Y%m%d-%H%M%S")
        commit = hashlib.sha256(version.encode()).hexdigest()[:8]
        out.append((version, f"{version}-{stamp}-{commit}"))
    return out


def populate(endpoint: str, count: int) -> float:
    """Create the repository and push ``count`` releases with put_image (8 threads); returns seconds."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    ecr = session.client("ecr", endpoint_url=endpoint)
    started = time.perf_counter()
    ecr.create_repository(repositoryName=REPOSITORY)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda rel: push(ecr, REPOSITORY, list(rel), seed=rel[0]), releases(count)))
    return time.perf_counter() - started


# --- running and timing -------------------------------------------------------------------------


def clean_env(
    endpoint: str, scratch: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        # PYTHONDONTWRITEBYTECODE off: an installed package runs from .pyc files.
        if not k.startswith(("AWS_", "RUNLAYER_TF_"))
        and k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    }
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": str(scratch / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "aws-credentials"),
            "RUNLAYER_TF_CACHE_DIR": str(scratch / "cache"),
        }
    )
    env.update(extra or {})
    return env


class Command:
    """One measured command: argv, stdin, environment, working dir, and an output check."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        stdin: str = "",
        cwd: Path = ROOT,
        check: Callable[[str], None] | None = None,
        before: Callable[[], None] | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        self.name, self.argv, self.env, self.stdin, self.cwd = (
            name,
            list(argv),
            dict(env),
            stdin,
            cwd,
        )
        self.check, self.before, self.after = check, before, after
        self.times: list[float] = []
        self.cpu: list[float] = []  # user + system seconds of the process and its descendants

    def run_once(self, *, record: bool = True) -> float:
        if self.before:
            self.before()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(
            self.argv,
            input=self.stdin,
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=600,
        )
        elapsed = time.perf_counter() - started
        settle(self.env)
        done = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(
                f"{self.name}: {' '.join(self.argv)} exited {proc.returncode}\n{proc.stderr[-3000:]}"
            )
        if self.check:
            self.check(proc.stdout)
        if self.after:
            self.after()
        if record:
            self.times.append(elapsed)
            self.cpu.append(done.ru_utime - usage.ru_utime + done.ru_stime - usage.ru_stime)
        return elapsed

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def spread(self) -> str:
        return f"{min(self.times) * 1000:.0f}-{max(self.times) * 1000:.0f}"


SUBREAPER = (
    False  # set by become_subreaper(): detached resolvers are then reaped, and counted, here
)


def become_subreaper() -> bool:
    """Linux: adopt orphaned descendants (PR_SET_CHILD_SUBREAPER), so the resolver
    a data source leaves running in the background is reaped by this process and
    its CPU time shows in ``RUSAGE_CHILDREN`` like every other descendant's."""
    global SUBREAPER
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        SUBREAPER = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        SUBREAPER = False
    return SUBREAPER


def settle(env: Mapping[str, str]) -> None:
    """After a measured process: stop the shared resolver it may have started and wait for it.

    Removing ``<cache>/resolver`` makes a resolver exit within 0.2 s (it
    watches its socket); the cached answers stay.  Outside the timed wall.
    """
    cache = env.get("RUNLAYER_TF_CACHE_DIR")
    if cache:
        shutil.rmtree(Path(cache) / "resolver", ignore_errors=True)
    if not SUBREAPER:
        return
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def interleave(commands: Sequence[Command], runs: int, *, label: str) -> None:
    for command in commands:  # warm-up: page cache, .pyc files, checks the output once
        command.run_once(record=False)
    for round_no in range(runs):
        for command in commands:
            command.run_once()
        print(
            f"  {label}: round {round_no + 1}/{runs} "
            + ", ".join(f"{c.name}={c.times[-1] * 1000:.0f}ms" for c in commands),
            file=sys.stderr,
        )


# --- checks -------------------------------------------------------------------------------------


def expect_json(expected: Mapping[str, str]) -> Callable[[str], None]:
    def check(stdout: str) -> None:
        got = json.loads(stdout)
        wrong = {k: got.get(k) for k, v in expected.items() if got.get(k) != v}
        if wrong:
            raise SystemExit(f"unexpected result {wrong}; expected {dict(expected)}")

    return check


def expect_describe(tag: str) -> Callable[[str], None]:
    def check(stdout: str) -> None:
        details = json.loads(stdout)["imageDetails"]
        if len(details) != 1 or tag not in details[0]["imageTags"]:
            raise SystemExit(f"aws ecr describe-images returned {details!r}")

    return check


def expect_in(*needles: str) -> Callable[[str], None]:
    def check(stdout: str) -> None:
        missing = [n for n in needles if n not in stdout]
        if missing:
            raise SystemExit(f"plan output lacks {missing}:\n{stdout[-2000:]}")

    return check


def no_list_images_during() -> tuple[Callable[[], None], Callable[[], None]]:
    """(before, after) hooks that fail if the server served a ListImages in between."""
    mark = [0]

    def before() -> None:
        mark[0] = len(moto_server.LIST_IMAGES_CALLS)

    def after() -> None:
        if len(moto_server.LIST_IMAGES_CALLS) != mark[0]:
            raise SystemExit("a warm-cache run reached the registry (ListImages was called)")

    return before, after


# --- tofu ---------------------------------------------------------------------------------------


def provisioned_env() -> dict[str, str] | None:
    """The PATH / TF_CLI_CONFIG_FILE exports of scripts/provision-tools, or None when it fails."""
    proc = subprocess.run(
        [PYTHON, str(ROOT / "scripts" / "provision-tools")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        print(
            f"provision-tools failed ({proc.stderr.strip().splitlines()[-1:]}); skipping (c)",
            file=sys.stderr,
        )
        return None
    exports = dict(re.findall(r'^export (\w+)="(.*)"$', proc.stdout, flags=re.M))
    path = exports.get("PATH", "").replace("$PATH", os.environ.get("PATH", ""))
    return {**exports, "PATH": path}


def tofu_workspace(scratch: Path) -> tuple[Path, str]:
    """Copy the configs to ``scratch``; use terraform-modules/image-pin when it is there."""
    tree = scratch / "terraform"
    shutil.copytree(TF_DIR, tree, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    used = 'benchmarks/terraform/modules/pin (data "external" directly)'
    if (IMAGE_PIN / "main.tf").is_file() or any(IMAGE_PIN.glob("*.tf")):
        shutil.rmtree(tree / "modules" / "pin")
        shutil.copytree(
            IMAGE_PIN,
            tree / "modules" / "pin",
            ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"),
        )
        used = "terraform-modules/image-pin"
    return tree / "plan", used


# --- report -------------------------------------------------------------------------------------


def tree_revision() -> str:
    """``git describe --always --dirty`` of the clone ("" outside a checkout)."""
    return subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--runs",
        type=int,
        default=7,
        help="timed runs of each command (default 7; at least 5 for the README)",
    )
    parser.add_argument(
        "--releases",
        type=int,
        default=1000,
        help="releases in the repository (default and minimum 1000, two tags each: the plans select v1.0..v1.19)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 timed run of each command"
    )
    parser.add_argument("--skip-tofu", action="store_true", help="skip (c)")
    parser.add_argument(
        "--candidate",
        type=Path,
        metavar="DIR",
        help=(
            "also time a patched copy of the package (DIR/runlayer_tf, put first on PYTHONPATH), "
            "interleaved with the tree's"
        ),
    )
    parser.add_argument(
        "--markdown", type=Path, help="also write the results as a markdown section to this file"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = 1
    if args.releases < 1000:
        parser.error(
            f"--releases {args.releases}: at least 1000 (50 per minor; the plans select v1.0..v1.19)"
        )
    if (
        args.candidate is not None
        and not (args.candidate / "runlayer_tf" / "__init__.py").is_file()
    ):
        parser.error(f"--candidate {args.candidate}: no runlayer_tf/__init__.py there")

    if not become_subreaper():
        print(
            "note: not a subreaper here; CPU times exclude detached shared resolvers",
            file=sys.stderr,
        )
    server = moto_server.MotoServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix="resolve-bench-") as tmp:
            return bench(args, server.endpoint_url, Path(tmp))
    finally:
        server.stop()


def variants(args: argparse.Namespace) -> list[tuple[str, dict[str, str]]]:
    """("", {}) for the working tree, plus ("'", PYTHONPATH) for a --candidate copy."""
    out: list[tuple[str, dict[str, str]]] = [("", {})]
    if args.candidate is not None:
        out.append(("'", {"PYTHONPATH": str(args.candidate.resolve())}))
    return out


def paired(commands: list[Command]) -> list[Command]:
    """The timing order: each command beside its candidate twin (a, a', b, b', ...), so drift hits both.

    A warm plan stays right behind the cold plan whose answers it reads.
    """
    by_name = {c.name: c for c in commands}
    order: list[Command] = []
    for command in commands:
        if command.name.endswith(("'", "_warm")):
            continue
        unit = [command] + (
            [by_name[command.name + "_warm"]] if command.name + "_warm" in by_name else []
        )
        order += unit + [by_name[c.name + "'"] for c in unit if c.name + "'" in by_name]
    return order


def expected_answer(endpoint: str, scratch: Path, query: str, work: Path) -> dict[str, str]:
    """The external program's answer to ``query``, resolved once (cache off) for the control plans."""
    env = clean_env(endpoint, scratch, {"RUNLAYER_TF_CACHE_TTL": "0"})
    proc = subprocess.run(
        [RUNLAYER_TF, "external"],
        input=query,
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answer: dict[str, str] = json.loads(proc.stdout)
    if "'" in json.dumps(answer):
        raise SystemExit(
            "the answer contains a single quote; cannot embed it in the control program"
        )
    return answer


def ecr_commands(
    endpoint: str,
    scratch: Path,
    work: Path,
    resolved: Mapping[str, str],
    variants: Sequence[tuple[str, dict[str, str]]] = (("", {}),),
    *,
    runlayer_tf: str = RUNLAYER_TF,
    python: str = PYTHON,
) -> list[Command]:
    """The baseline, (a) and (b) commands (also the ECR rows of ``benchmarks/peers.py``):
    ``resolved`` is what ``v1.2`` must give (tag, version, tags)."""
    query = json.dumps(QUERY)
    env = clean_env(endpoint, scratch)
    baseline = Command(
        "baseline",
        [
            AWS,
            "ecr",
            "describe-images",
            "--repository-name",
            REPOSITORY,
            "--image-ids",
            f"imageTag={BASELINE_TAG}",
        ],
        env,
        cwd=work,
        check=expect_describe(BASELINE_TAG),
    )
    group: list[Command] = [baseline]
    for mark, extra in variants:
        cold = clean_env(endpoint, scratch, {**extra, "RUNLAYER_TF_CACHE_TTL": "0"})
        warm = clean_env(endpoint, scratch, extra)
        prime = Command(
            "prime",
            [runlayer_tf, "external"],
            warm,
            stdin=query,
            cwd=work,
            check=expect_json(resolved),
        )
        before, after = no_list_images_during()

        def primed(prime: Command = prime, before: Callable[[], None] = before) -> None:
            prime.run_once(record=False)  # untimed: keeps the entry inside the default TTL
            before()

        group += [
            Command(
                "a" + mark,
                [runlayer_tf, "external"],
                cold,
                stdin=query,
                cwd=work,
                check=expect_json(resolved),
            ),
            Command(
                "b" + mark,
                [runlayer_tf, "external"],
                warm,
                stdin=query,
                cwd=work,
                check=expect_json(resolved),
                before=primed,
                after=after,
            ),
            Command(
                "b_m" + mark,
                [python, "-m", "runlayer_tf.external"],
                warm,
                stdin=query,
                cwd=work,
                check=expect_json(resolved),
                before=primed,
                after=after,
            ),
        ]
    return group


def bench(args: argparse.Namespace, endpoint: str, scratch: Path) -> int:
    (scratch / "aws-config").write_text("")
    (scratch / "aws-credentials").write_text("")
    work = (
        scratch / "cwd"
    )  # a neutral working directory: `-m` must not import the package from the clone's root
    work.mkdir()
    load_before = os.getloadavg()
    print(f"moto server {endpoint}; pushing {args.releases} releases x 2 tags ...", file=sys.stderr)
    seconds = populate(endpoint, args.releases)
    print(f"  populated in {seconds:.1f} s", file=sys.stderr)
    newest_12 = max(
        (r for r in releases(args.releases) if r[0].startswith("v1.2.")),
        key=lambda r: int(r[0].split(".")[2]),
    )
    resolved = {
        "tag": newest_12[0],
        "version": newest_12[0][1:],
        "tags": ",".join(sorted(newest_12)),
    }
    query = json.dumps(QUERY)
    group = ecr_commands(endpoint, scratch, work, resolved, variants(args))
    print("baseline / (a) / (b):", file=sys.stderr)
    interleave(paired(group), args.runs, label="aws/external")

    plans: list[Command] = []
    module_used = ""
    tofu_env = None if args.skip_tofu else provisioned_env()
    if tofu_env is not None:
        workdir, module_used = tofu_workspace(scratch)
        tenv = clean_env(
            endpoint, scratch, {**tofu_env, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
        )
        tenv.pop("TF_DATA_DIR", None)
        init = subprocess.run(
            ["tofu", "init", "-input=false", "-no-color"],
            cwd=workdir,
            env=tenv,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if init.returncode != 0:
            raise SystemExit(f"tofu init failed:\n{init.stdout[-2000:]}\n{init.stderr[-2000:]}")
        cache_dir = scratch / "cache"

        def empty_cache() -> None:
            shutil.rmtree(cache_dir, ignore_errors=True)

        program = f"program={json.dumps([RUNLAYER_TF, 'external'])}"
        plan = ["tofu", "plan", "-input=false", "-no-color", "-lock=false", f"-var={program}"]
        v12 = expect_in(f'"{newest_12[0]}"')
        # (name, var file, cold): a cold plan starts with the cache emptied; each
        # warm plan follows its cold twin, so it reads what that plan stored
        # moments before (well inside the default 60 s TTL).
        shapes = [
            ("c1", "one.tfvars.json", True),
            ("c20same", "twenty-same.tfvars.json", True),
            ("c20same_warm", "twenty-same.tfvars.json", False),
            ("c20diff", "twenty-different.tfvars.json", True),
            ("c20diff_warm", "twenty-different.tfvars.json", False),
        ]

        def plan_command(name: str, varfile: str, cold: bool, env: Mapping[str, str]) -> Command:
            return Command(
                name,
                [*plan, f"-var-file={varfile}"],
                env,
                cwd=workdir,
                check=v12,
                before=empty_cache if cold else None,
            )

        for mark, extra in variants(args):
            plans += [
                plan_command(name + mark, varfile, cold, {**tenv, **extra})
                for name, varfile, cold in shapes
            ]
        # The same cold plans with the shared resolver switched off: every data
        # source resolves in its own process, as before the resolver existed.
        solo = {**tenv, "RUNLAYER_TF_SHARED_RESOLVER": "0"}
        plans += [
            plan_command(name + "_solo", varfile, cold, solo)
            for name, varfile, cold in shapes
            if cold
        ]
        # Control: the same plans with a program that prints a fixed answer
        # (no Python), i.e. what OpenTofu and the provider cost by themselves.
        answer = json.dumps(expected_answer(endpoint, scratch, query, work))
        fixed = ["sh", "-c", f"cat >/dev/null; printf '%s' '{answer}'"]
        control = [
            "tofu",
            "plan",
            "-input=false",
            "-no-color",
            "-lock=false",
            f"-var=program={json.dumps(fixed)}",
        ]
        plans += [
            Command("c1ctl", [*control, "-var-file=one.tfvars.json"], tenv, cwd=workdir, check=v12),
            Command(
                "c20ctl",
                [*control, "-var-file=twenty-same.tfvars.json"],
                tenv,
                cwd=workdir,
                check=v12,
            ),
        ]
        print(f"(c) tofu plan with {module_used}:", file=sys.stderr)
        interleave(paired(plans), args.runs, label="tofu plan")

    report = render(args, group, plans, module_used, seconds, load_before, os.getloadavg())
    print(report)
    if args.markdown:
        args.markdown.write_text(report)
    return 0


_LABELS = {
    "a": "(a) `runlayer-tf external` `v1.2`, cache off",
    "b": "(b) `runlayer-tf external` `v1.2`, warm cache",
    "b_m": "(b) `python -m runlayer_tf.external` `v1.2`, warm cache",
    "c1": "1 instance (`v1.2`), cold cache",
    "c20same": "20 instances, all `v1.2`, cold cache",
    "c20same_warm": "20 instances, all `v1.2`, warm cache",
    "c20diff": "20 instances, `v1.0`..`v1.19`, cold cache",
    "c20diff_warm": "20 instances, `v1.0`..`v1.19`, warm cache",
    "c1_solo": "1 instance (`v1.2`), cold cache, shared resolver off",
    "c20same_solo": "20 instances, all `v1.2`, cold cache, shared resolver off",
    "c20diff_solo": "20 instances, `v1.0`..`v1.19`, cold cache, shared resolver off",
    "c1ctl": "control: 1 instance, program `sh` printing a fixed answer",
    "c20ctl": "control: 20 instances, program `sh` printing a fixed answer",
}


def _label(cmd: Command) -> str:
    candidate = cmd.name.endswith("'")
    text = _LABELS[cmd.name.rstrip("'")]
    return f"{text} [candidate]" if candidate else text


def _row(cmd: Command, label: str, ref: Command, target: str, ok: bool | None) -> str:
    """One table row: wall median, spread, ratio to ``ref``, CPU median and CPU ratio, verdict."""
    ratio, cpu_ratio = cmd.median / ref.median, cmd.cpu_median / ref.cpu_median
    verdict_text = "" if ok is None else verdict(ok)
    return (
        f"| {label} | {ms(cmd.median)} | {cmd.spread()} | {ratio:.2f}x | "
        f"{ms(cmd.cpu_median)} | {cpu_ratio:.2f}x | {target} | {verdict_text} |"
    )


def render(
    args: argparse.Namespace,
    group: list[Command],
    plans: list[Command],
    module_used: str,
    populate_seconds: float,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> str:
    baseline, *externals = group
    base = baseline.median
    candidate = f"; candidate = {args.candidate}" if args.candidate else ""
    revision = tree_revision()
    header = "| {} | wall median | wall min-max (ms) | wall vs {} | CPU median | CPU vs {} | target (wall) | |"
    lines = [
        f"Run {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}: "
        f"nproc {len(os.sched_getaffinity(0))}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; load average {load_before[0]:.1f} at start, "
        f"{load_after[0]:.1f} at end; {args.releases} releases x 2 tags on moto "
        f"(pushed in {populate_seconds:.1f} s); median of {args.runs} interleaved runs; "
        f"tree {revision or 'unknown'}{candidate}. CPU = user + system time of the measured "
        "process and its descendants, including a shared resolver it left running"
        + ("" if SUBREAPER else " (NOT included in this run: no subreaper)")
        + " (not the moto server's).",
        "",
        header.format("command", "baseline", "baseline"),
        "|---|---|---|---|---|---|---|---|",
        _row(
            baseline,
            f"baseline: `aws ecr describe-images --repository-name {REPOSITORY} "
            f"--image-ids imageTag={BASELINE_TAG}`",
            baseline,
            "",
            None,
        ),
    ]
    for cmd in externals:
        ratio = cmd.median / base
        if cmd.name.startswith("a"):
            lines.append(_row(cmd, _label(cmd), baseline, "<= 0.8x", ratio <= 0.8))
        else:
            ok = cmd.median <= 0.060 and ratio <= 1 / 7
            lines.append(_row(cmd, _label(cmd), baseline, "<= 60 ms and <= 1/7", ok))
    if plans:
        lines += [
            "",
            f"(c) `tofu plan`, module {module_used}, default parallelism (10), default TTL "
            "(60 s); the cache is emptied before each cold plan; each warm plan directly follows "
            "its cold twin.",
            "",
            header.format("plan", "1 instance", "1 instance"),
            "|---|---|---|---|---|---|---|---|",
        ]
        for cmd in plans:
            ref = (
                "c1ctl"
                if cmd.name.endswith("ctl")
                else "c1'"
                if cmd.name.endswith("'")
                else "c1_solo"
                if cmd.name.endswith("_solo")
                else "c1"
            )
            one = next(p for p in plans if p.name == ref)
            # Controls and the resolver-off plans are references: no target.
            first = cmd is one or cmd.name.endswith(("ctl", "_solo"))
            target = "" if first else "<= 3x"
            met = None if first else cmd.median <= 3 * one.median
            lines.append(_row(cmd, _label(cmd), one, target, met))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
