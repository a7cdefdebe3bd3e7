"""The resolver process shared by one plan's ECR data sources, against ECR on the moto server.

Every data source here is ``runlayer-tf external`` run as a subprocess, exactly
as OpenTofu runs it; the resolver it starts is a real background process that
talks to moto over HTTP.  The moto server counts ListImages requests, which is
how sharing is proven.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ecr as ecr_push
from tests.harness.moto_server import LIST_IMAGES_CALLS
from tests.harness.tofu import TfBinary

PROGRAM = [str(Path(sys.executable).parent / "runlayer-tf"), "external"]
REPO = "shared/backend-production"


def releases() -> list[tuple[str, ...]]:
    """v1.0.0 .. v1.7.2, each with a build tag on the same image."""
    out = []
    for minor in range(8):
        for patch in range(3):
            out.append(
                (
                    f"v1.{minor}.{patch}",
                    f"v1.{minor}.{patch}-20241213-15{minor}{patch}00-abcdef{minor}{patch}",
                )
            )
    return out


@pytest.fixture(scope="module")
def repo(moto_server: Any) -> Iterator[str]:
    """The repository on moto, deleted afterwards: the ``tf`` parameter (a session fixture)
    makes pytest run this module in more than one stretch, each setting it up anew."""
    import boto3

    client = boto3.client("ecr", region_name="us-east-1")
    client.create_repository(repositoryName=REPO)
    for tags in releases():
        ecr_push.push(client, REPO, list(tags), seed=f"{REPO}-{tags[0]}")
    yield REPO
    client.delete_repository(repositoryName=REPO, force=True)


@pytest.fixture
def tmp_path(short_tmp: Path) -> Path:
    """Every test here works in a short dir, so sockets stay under its cache dir."""
    return short_tmp


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, RUNLAYER_TF_CACHE_DIR=str(tmp_path / "cache"))
    env.update(extra)
    return env


def external(
    query: Mapping[str, str], env: Mapping[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        PROGRAM,
        input=json.dumps(query),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def in_process(
    query: Mapping[str, str], env: Mapping[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """The same query answered without the resolver and without the cache."""
    return external(
        query, {**env, "RUNLAYER_TF_SHARED_RESOLVER": "0", "RUNLAYER_TF_CACHE_TTL": "0"}, cwd
    )


PROBE = (
    "import sys\n"
    "from runlayer_tf.cli._external import main\n"
    "code = main([])\n"
    "print('botocore imported:', 'botocore' in sys.modules, file=sys.stderr)\n"
    "raise SystemExit(code)\n"
)


def probed(
    query: Mapping[str, str], env: Mapping[str, str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], bool]:
    """The program's ``main`` run in a process that then says whether it imported botocore itself
    (a data source the resolver answered never does)."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        input=json.dumps(query),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    *lines, last = proc.stderr.splitlines()
    assert last in ("botocore imported: True", "botocore imported: False"), proc.stderr
    stderr = "".join(f"{line}\n" for line in lines)
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout, stderr
    ), last.endswith("True")


def concurrently(
    queries: list[Mapping[str, str]], env: Mapping[str, str], cwd: Path
) -> list[subprocess.CompletedProcess[str]]:
    """Start one process per query, give every one its query, then collect (like a plan at parallelism N)."""
    procs = [
        subprocess.Popen(
            PROGRAM,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            text=True,
        )
        for _ in queries
    ]
    for proc, query in zip(procs, queries, strict=True):
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(query))
        proc.stdin.close()
    done = []
    for proc in procs:  # answers are a few hundred bytes: no pipe fills up
        assert proc.stdout is not None
        assert proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()
        proc.wait(timeout=120)
        proc.stdout.close()
        proc.stderr.close()
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def resolver_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "resolver"


def sockets(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.sock")) if directory.is_dir() else []


def resolver_pid(sock: Path) -> int:
    return int(Path(f"{sock}.lock").read_text().strip())


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper has finished)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def killed_resolver(repo: str, env: Mapping[str, str], cwd: Path) -> tuple[Path, int]:
    """Start this environment's resolver with one query, SIGKILL it; its socket path and pid."""
    assert external({"repository": repo, "tag": "v1.0"}, env, cwd).returncode == 0
    (sock,) = sockets(resolver_dir(cwd))
    pid = resolver_pid(sock)
    os.kill(pid, 9)
    assert wait_until(lambda: not alive(pid))
    return sock, pid


@pytest.fixture
def stop_resolvers(tmp_path: Path) -> Iterator[None]:
    """Whatever a test leaves running stops when its socket goes."""
    yield
    shutil.rmtree(resolver_dir(tmp_path), ignore_errors=True)
    shutil.rmtree(tmp_path / "run", ignore_errors=True)


pytestmark = pytest.mark.usefixtures("stop_resolvers")


def test_data_sources_with_different_selectors_share_one_listing(repo: str, tmp_path: Path) -> None:
    env = environment(tmp_path, RUNLAYER_TF_SHARED_RESOLVER_IDLE="1")
    queries = [{"repository": repo, "tag": f"v1.{minor}"} for minor in range(8)]
    expected = [in_process(q, env, tmp_path) for q in queries]
    assert [p.returncode for p in expected] == [0] * 8, [p.stderr for p in expected]
    before = len(LIST_IMAGES_CALLS)
    answers = concurrently(queries, env, tmp_path)
    assert [(p.returncode, p.stderr) for p in answers] == [(0, "")] * 8
    assert [json.loads(p.stdout) for p in answers] == [json.loads(p.stdout) for p in expected]
    assert [json.loads(p.stdout)["tag"] for p in answers] == [f"v1.{minor}.2" for minor in range(8)]
    assert len(LIST_IMAGES_CALLS) - before == 1
    (sock,) = sockets(resolver_dir(tmp_path))
    pid = resolver_pid(sock)
    answer, loaded = probed({"repository": repo, "tag": "v1.3"}, env, tmp_path)
    assert (json.loads(answer.stdout)["tag"], loaded) == ("v1.3.2", False)
    # Idle for a second, it exits and takes its socket and lock file with it.
    assert wait_until(lambda: not alive(pid))
    assert sorted(p.name for p in resolver_dir(tmp_path).iterdir()) == []


def test_errors_from_the_resolver_are_the_programs_one_line_errors(
    repo: str, tmp_path: Path
) -> None:
    env = environment(tmp_path, RUNLAYER_TF_SHARED_RESOLVER_IDLE="30")
    for query in (
        {"repository": repo, "tag": "v9"},
        {"repository": "shared/no-such-repository", "tag": "v1"},
        {"repository": repo, "tag": "v1.2", "bogus": "x"},
    ):
        shared, loaded_here = probed(query, env, tmp_path)
        alone, loaded_alone = probed(query, {**env, "RUNLAYER_TF_SHARED_RESOLVER": "0"}, tmp_path)
        assert (shared.returncode, shared.stdout, shared.stderr) == (
            alone.returncode,
            alone.stdout,
            alone.stderr,
        )
        assert (shared.returncode, shared.stdout, shared.stderr.count("\n")) == (1, "", 1)
        assert not loaded_here  # the resolver answered (the fallback would have imported botocore)
        assert loaded_alone == (
            query.get("bogus") is None
        )  # an unknown key fails before any registry
    proc, _ = probed({"repository": repo, "tag": "v9"}, env, tmp_path)
    assert (
        proc.stderr
        == "runlayer-tf external: no tag of shared/backend-production matches v9 (newest release: v1.7.2)\n"
    )


def test_an_answer_is_cached_as_old_as_the_listing_it_came_from(repo: str, tmp_path: Path) -> None:
    env = environment(tmp_path, RUNLAYER_TF_SHARED_RESOLVER_IDLE="30")
    before = len(LIST_IMAGES_CALLS)
    assert external({"repository": repo, "tag": "v1.1"}, env, tmp_path).returncode == 0
    time.sleep(1.0)
    second = external({"repository": repo, "tag": "v1.5"}, env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["tag"] == "v1.5.2"
    assert len(LIST_IMAGES_CALLS) - before == 1
    entries = [
        json.loads(p.read_text()) for p in sorted((tmp_path / "cache" / "resolve").glob("*.json"))
    ]
    assert len(entries) == 2
    assert entries[0]["stored_at"] == entries[1]["stored_at"]  # both from the one listing
    assert time.time() - entries[0]["stored_at"] >= 1.0


def test_a_release_pushed_after_the_listing_is_found(moto_server: Any, tmp_path: Path) -> None:
    import boto3

    client = boto3.client("ecr", region_name="us-east-1")
    name = "shared/fresh-push"
    client.create_repository(repositoryName=name)
    ecr_push.push(client, name, ["v1.0.0"], seed=f"{name}-1.0.0")
    env = environment(tmp_path, RUNLAYER_TF_SHARED_RESOLVER_IDLE="30")
    before = len(LIST_IMAGES_CALLS)
    assert (
        json.loads(external({"repository": name, "tag": "v1"}, env, tmp_path).stdout)["tag"]
        == "v1.0.0"
    )
    digest = ecr_push.push(client, name, ["v1.1.0"], seed=f"{name}-1.1.0")
    fresh = external({"repository": name, "tag": "v1.1"}, env, tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    assert (json.loads(fresh.stdout)["tag"], json.loads(fresh.stdout)["digest"]) == (
        "v1.1.0",
        digest,
    )
    assert len(LIST_IMAGES_CALLS) - before == 2  # the second query listed again rather than fail
    assert len(sockets(resolver_dir(tmp_path))) == 1


def test_each_environment_gets_its_own_resolver(repo: str, tmp_path: Path) -> None:
    first = environment(
        tmp_path, RUNLAYER_TF_SHARED_RESOLVER_IDLE="30", AWS_SESSION_TOKEN="one-session"
    )
    second = environment(
        tmp_path, RUNLAYER_TF_SHARED_RESOLVER_IDLE="30", AWS_SESSION_TOKEN="another-session"
    )
    assert external({"repository": repo, "tag": "v1.3"}, first, tmp_path).returncode == 0
    assert external({"repository": repo, "tag": "v1.4"}, second, tmp_path).returncode == 0
    found = sockets(resolver_dir(tmp_path))
    assert len(found) == 2
    pids = {resolver_pid(s) for s in found}
    assert len(pids) == 2
    assert all(alive(pid) for pid in pids)
    for sock in found:
        assert (sock.stat().st_mode & 0o777, resolver_dir(tmp_path).stat().st_mode & 0o777) == (
            0o700,
            0o700,
        )


def test_removing_the_socket_stops_the_resolver(repo: str, tmp_path: Path) -> None:
    env = environment(tmp_path, RUNLAYER_TF_SHARED_RESOLVER_IDLE="300")
    assert external({"repository": repo, "tag": "v1.6"}, env, tmp_path).returncode == 0
    (sock,) = sockets(resolver_dir(tmp_path))
    pid = resolver_pid(sock)
    assert alive(pid)
    sock.unlink()
    assert wait_until(lambda: not alive(pid), timeout=10)
    # The next data source starts a new one.
    assert (
        json.loads(external({"repository": repo, "tag": "v1.5"}, env, tmp_path).stdout)["tag"]
        == "v1.5.2"
    )
    (again,) = sockets(resolver_dir(tmp_path))
    assert resolver_pid(again) != pid


@pytest.mark.parametrize(
    "extra",
    [
        {"RUNLAYER_TF_SHARED_RESOLVER": "0"},
        {"RUNLAYER_TF_SHARED_RESOLVER": "off"},
        {"RUNLAYER_TF_CACHE_TTL": "0"},
        {"RUNLAYER_TF_DEBUG": "1"},
    ],
    ids=["switch-0", "switch-off", "cache-off", "debug"],
)
def test_no_resolver_when_switched_off(repo: str, tmp_path: Path, extra: dict[str, str]) -> None:
    env = environment(tmp_path, **extra)
    before = len(LIST_IMAGES_CALLS)
    proc = external({"repository": repo, "tag": "v1.2"}, env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tag"] == "v1.2.2"
    assert len(LIST_IMAGES_CALLS) - before == 1
    assert sockets(resolver_dir(tmp_path)) == []


def test_a_garbled_resolver_means_resolving_in_process(repo: str, tmp_path: Path) -> None:
    """Something listens on the socket and answers nonsense: the data source still answers right."""
    import fcntl

    env = environment(tmp_path, RUNLAYER_TF_SHARED_RESOLVER_IDLE="300")
    # Where this environment's resolver listens: start one, then take its place.
    where = str(killed_resolver(repo, env, tmp_path)[0])
    os.unlink(where)
    lock = os.open(f"{where}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # "a resolver is running": the client must not start one
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(where)
    server.listen(8)
    served = []

    def answer_nonsense() -> None:
        conn, _ = server.accept()
        with conn:
            served.append(conn.recv(65536))
            conn.sendall(b"{not json")

    thread = threading.Thread(target=answer_nonsense, daemon=True)
    thread.start()
    try:
        proc = external({"repository": repo, "tag": "v1.7"}, env, tmp_path)
    finally:
        thread.join(10)
        server.close()
        os.close(lock)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tag"] == "v1.7.2"
    assert json.loads(served[0]) == {"query": {"repository": repo, "tag": "v1.7"}}


def test_a_stale_socket_is_replaced(repo: str, tmp_path: Path) -> None:
    """A resolver that was killed left its socket behind: the next data source starts a new one."""
    env = environment(tmp_path, RUNLAYER_TF_SHARED_RESOLVER_IDLE="30")
    sock, pid = killed_resolver(repo, env, tmp_path)
    assert sock.exists()  # killed: nothing removed it
    proc = external({"repository": repo, "tag": "v1.1"}, env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tag"] == "v1.1.2"
    new_pid = resolver_pid(sock)
    assert new_pid != pid
    assert alive(new_pid)


def test_a_directory_others_could_reach_is_not_used(repo: str, tmp_path: Path) -> None:
    """``<cache>/resolver`` is a symlink (not a directory we own): the socket goes to $XDG_RUNTIME_DIR."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "cache").mkdir()
    resolver_dir(tmp_path).symlink_to(elsewhere)
    run = tmp_path / "run"
    run.mkdir()
    env = environment(tmp_path, XDG_RUNTIME_DIR=str(run))
    proc = external({"repository": repo, "tag": "v1.4"}, env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tag"] == "v1.4.2"
    assert list(elsewhere.iterdir()) == []
    assert len(sockets(run / "runlayer-tf")) == 1
    assert (run / "runlayer-tf").stat().st_mode & 0o777 == 0o700


def test_one_plan_of_many_pins_lists_the_repository_once(
    repo: str, tf: TfBinary, tmp_path: Path
) -> None:
    """The image-pin module, five instances with five selectors, under real OpenTofu and Terraform, cache on."""
    root = tmp_path / "plan"
    shutil.copytree(
        Path(__file__).resolve().parents[2] / "terraform-modules" / "image-pin",
        root / "modules" / "image-pin",
    )
    (root / "main.tf").write_text(
        f"""
variable "selectors" {{
  type = list(string)
}}

module "pin" {{
  source   = "./modules/image-pin"
  for_each = toset(var.selectors)

  repository = "{repo}"
  tag        = each.value
  region     = "us-east-1"
  program    = ["{PROGRAM[0]}", "external"]
}}

output "tags" {{
  value = {{ for selector, pin in module.pin : selector => pin.tag }}
}}
"""
    )
    ws = tf.workspace(root, tmp_path / "ws")
    ws.init()
    env = {"RUNLAYER_TF_CACHE_DIR": str(tmp_path / "cache")}
    before = len(LIST_IMAGES_CALLS)
    selectors = ["v1.1", "v1.3", "~> 1.5.0", "v1.6.1", "v1"]
    ws.apply({"selectors": json.dumps(selectors)}, env=env)
    assert ws.outputs()["tags"] == {
        "v1.1": "v1.1.2",
        "v1.3": "v1.3.2",
        "~> 1.5.0": "v1.5.2",
        "v1.6.1": "v1.6.1",
        "v1": "v1.7.2",
    }
    assert len(LIST_IMAGES_CALLS) - before == 1


def test_editing_the_aws_config_starts_a_fresh_resolver(moto_server: Any, tmp_path: Path) -> None:
    """The region comes from the config file; after it changes, answers follow it at once."""
    import boto3

    name = "shared/two-regions"
    digests = {}
    for region in ("us-east-1", "eu-west-1"):
        client = boto3.client("ecr", region_name=region)
        client.create_repository(repositoryName=name)
        digests[region] = ecr_push.push(client, name, ["v1.0.0"], seed=f"{name}-{region}")
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-east-1\n")
    env = environment(tmp_path, AWS_CONFIG_FILE=str(config), RUNLAYER_TF_SHARED_RESOLVER_IDLE="30")
    env.pop("AWS_DEFAULT_REGION", None)
    env.pop("AWS_REGION", None)
    first = external({"repository": name, "tag": "v1"}, env, tmp_path)
    assert json.loads(first.stdout)["digest"] == digests["us-east-1"], first.stderr
    config.write_text("[default]\nregion = eu-west-1\n")
    second, loaded = probed({"repository": name, "tag": "v1.0"}, env, tmp_path)
    assert not loaded
    assert json.loads(second.stdout) == json.loads(
        in_process({"repository": name, "tag": "v1.0"}, env, tmp_path).stdout
    )
    assert json.loads(second.stdout)["digest"] == digests["eu-west-1"]
    assert json.loads(second.stdout)["registry"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert len(sockets(resolver_dir(tmp_path))) == 2


def test_credentials_written_after_a_failure_are_used(repo: str, tmp_path: Path) -> None:
    credentials = tmp_path / "aws-credentials"
    env = environment(
        tmp_path,
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        RUNLAYER_TF_SHARED_RESOLVER_IDLE="30",
    )
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(key, None)
    refused, loaded = probed({"repository": repo, "tag": "v1.1"}, env, tmp_path)
    assert (refused.returncode, loaded) == (1, False)
    assert "no AWS credentials found" in refused.stderr
    credentials.write_text(
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    accepted, loaded = probed({"repository": repo, "tag": "v1.1"}, env, tmp_path)
    assert (accepted.returncode, accepted.stderr, loaded) == (0, "", False)
    assert json.loads(accepted.stdout)["tag"] == "v1.1.2"


def test_an_image_deleted_since_the_listing_is_not_found(moto_server: Any, tmp_path: Path) -> None:
    """The listing is shared for a few seconds; whether an image exists is asked for every query."""
    import boto3

    client = boto3.client("ecr", region_name="us-east-1")
    name = "shared/deleted-image"
    client.create_repository(repositoryName=name)
    digest = ecr_push.push(client, name, ["v1.0.0"], seed=f"{name}-1")
    env = environment(tmp_path, RUNLAYER_TF_SHARED_RESOLVER_IDLE="30")
    assert (
        json.loads(external({"repository": name, "tag": "v1.0"}, env, tmp_path).stdout)["digest"]
        == digest
    )
    client.batch_delete_image(repositoryName=name, imageIds=[{"imageDigest": digest}])
    gone, loaded = probed({"repository": name, "tag": digest}, env, tmp_path)
    alone = in_process({"repository": name, "tag": digest}, env, tmp_path)
    assert (gone.returncode, gone.stdout, gone.stderr, loaded) == (1, "", alone.stderr, False)
    assert "image not found" in gone.stderr


def test_a_vanished_working_directory_falls_back_to_in_process(repo: str, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    proc = subprocess.run(
        ["sh", "-c", 'cd "$1" && rmdir "$1" && exec "$2" external', "sh", str(gone), PROGRAM[0]],
        input=json.dumps({"repository": repo, "tag": "v1.2"}),
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert json.loads(proc.stdout)["tag"] == "v1.2.2"


def test_an_exiting_resolver_leaves_its_successors_files_alone(repo: str, tmp_path: Path) -> None:
    env = environment(tmp_path, RUNLAYER_TF_SHARED_RESOLVER_IDLE="300")
    assert external({"repository": repo, "tag": "v1.0"}, env, tmp_path).returncode == 0
    (sock,) = sockets(resolver_dir(tmp_path))
    old = resolver_pid(sock)
    shutil.rmtree(
        resolver_dir(tmp_path)
    )  # e.g. someone clears the cache: the old resolver winds down
    assert external({"repository": repo, "tag": "v1.1"}, env, tmp_path).returncode == 0
    assert wait_until(lambda: not alive(old))
    new = resolver_pid(sock)
    assert new != old
    assert alive(new)
    assert sock.exists()


def test_the_resolver_refuses_peers_of_another_user(short_tmp: Path) -> None:
    from runlayer_tf.shared_resolver._server import _peer_is_us

    short_tmp.chmod(0o755)
    path = str(short_tmp / "peer.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o777)
    server.listen(2)
    users = [os.getuid()] + (
        [65534] if os.getuid() == 0 else []
    )  # only root can connect as another user
    try:
        for uid in users:
            code = (
                f"import os, socket; os.setuid({uid}); "
                f"s = socket.socket(socket.AF_UNIX); s.connect({path!r}); s.recv(1)"
            )
            client = subprocess.Popen([sys.executable, "-c", code])
            conn, _ = server.accept()
            with conn:
                assert _peer_is_us(conn) is (uid == os.getuid())
            client.wait(timeout=30)
    finally:
        server.close()
