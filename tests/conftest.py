"""Test-suite set-up: a sealed environment and session-wide real servers.

* Every inherited ``AWS_*`` variable is dropped before boto3 is imported; tests
  get fake credentials, empty config files and, until the moto server starts, an
  endpoint on a closed loopback port, so nothing can reach a real AWS account.
* ``DOCKER_CONFIG`` and the resolver cache point into a temp dir, never at the
  user's own files.
* The moto server and the registries start once per session.
* ``tf`` is a Terraform-compatible binary, parametrized over both that
  provision-tools provides (ids ``tofu`` and ``terraform``): every test that
  runs one runs under OpenTofu and under HashiCorp Terraform.
* Under ``CI=true`` a missing tool or server fails the run (and any skipped test
  fails the session); elsewhere such tests skip with the same message.
* Tests that need real parts are marked ``integration`` automatically, so
  ``pytest -m "not integration"`` runs only the fast unit tests.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
_SANDBOX = Path(tempfile.mkdtemp(prefix="runlayer-tf-tests-"))


def _seal_environment() -> None:
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    aws = _SANDBOX / "aws"
    aws.mkdir()
    (aws / "config").write_text("[default]\nregion = us-east-1\n")
    (aws / "credentials").write_text(
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(aws / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            # Port 9 (discard) on loopback: refused at once.  The moto fixture replaces it.
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "DOCKER_CONFIG": str(_SANDBOX / "docker"),
            "RUNLAYER_TF_CACHE_DIR": str(_SANDBOX / "cache"),
            "CHECKPOINT_DISABLE": "1",
        }
    )
    os.environ.pop("RUNLAYER_TF_DEBUG", None)
    os.environ.pop("RUNLAYER_TF_CACHE_TTL", None)
    os.environ.pop("RUNLAYER_TF_SHARED_RESOLVER", None)
    # A resolver a test leaves behind exits soon (the default is 10 s).
    os.environ["RUNLAYER_TF_SHARED_RESOLVER_IDLE"] = "2"
    # The data sources run `runlayer-tf` and `python`: the ones of this interpreter.
    os.environ["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    )


_seal_environment()

from tests.harness.moto_server import MotoServer  # noqa: E402
from tests.harness.registry import DistributionRegistry  # noqa: E402
from tests.harness.strict import missing, under_ci  # noqa: E402
from tests.harness.tofu import KINDS, TfBinary  # noqa: E402
from tests.harness.token_server import TokenServer  # noqa: E402
from tests.harness.tools import BINARIES, ProvisionedTools, find_docker_registry  # noqa: E402

TOOLS = ProvisionedTools.find()
if TOOLS is not None:
    os.environ["TF_CLI_CONFIG_FILE"] = str(TOOLS.cli_config)
    os.environ["PATH"] = os.pathsep.join([str(TOOLS.bin_dir), os.environ["PATH"]])

TOOLS_WHAT = "the provisioned tools (OpenTofu, Terraform, the hashicorp/external mirror)"
REGISTRY_CREDENTIALS = ("runlayer", "registry-test-password")
INTEGRATION_FIXTURES = {
    "tf",
    "provisioned_tools",
    "moto_server",
    "ecr",
    "oci_registry",
    "auth_registry",
    "token_registry",
    "cosign",
}


# --- pytest-terraform wiring -------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    from tests import fuzzing

    try:
        fuzzing.register_profile()  # RUNLAYER_TF_FUZZ_EXAMPLES: the long fuzzing run
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    # pytest-terraform runs in the module dir and writes tf_resources.json and
    # .terraform.lock.hcl there: give it a temp copy of tests/terraform instead.
    modules = _SANDBOX / "terraform-modules"
    shutil.copytree(
        TESTS / "terraform",
        modules,
        ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*", "tf_resources.json"),
    )
    config.option.dest_tf_mod_dir = str(modules)
    # Without a binary pytest-terraform refuses to configure at all; point it
    # at the provisioned tofu, or at a name that fails per test (see below).
    # It runs one binary per session: tests/integration/test_harness.py binds
    # its runner to each `tf` instead.
    tofu = TOOLS.binary("tofu") if TOOLS else None
    config.option.dest_tf_binary = str(tofu or _SANDBOX / "tofu-not-provisioned")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SANDBOX, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        needs_parts = (
            TESTS / "integration" in path.parents
            or bool(INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())))
            or item.get_closest_marker("terraform") is not None
        )
        if needs_parts and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.fuzz)  # scripts/fuzz runs these (-m fuzz)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("terraform") is not None and TOOLS is None:
        missing(TOOLS_WHAT)


# --- strictness: no skips under CI ----------------------------------------------

_SKIPPED: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # An expected failure (xfail) reports as skipped too; it ran, so it is not one.
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if under_ci() and _SKIPPED and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if under_ci() and _SKIPPED:
        terminalreporter.write_line(
            f"CI=true: {len(_SKIPPED)} test(s) skipped; under CI every test must run:", red=True
        )
        for nodeid in _SKIPPED[:20]:
            terminalreporter.write_line(f"  {nodeid}", red=True)


# --- real parts -----------------------------------------------------------------


@pytest.fixture(scope="session")
def provisioned_tools() -> ProvisionedTools:
    if TOOLS is None:
        missing(TOOLS_WHAT)
    assert TOOLS is not None
    return TOOLS


def provisioned_binary(tools: ProvisionedTools, name: str) -> TfBinary:
    """``tofu`` or ``terraform`` as provisioned; missing (fails under CI) when it is not."""
    binary = tools.binary(name)
    if binary is None:
        missing(f"{KINDS[name][0]} ({tools.bin_dir / name})")
    assert binary is not None
    return TfBinary(name, binary, tools.cli_config)


@pytest.fixture(scope="session", params=BINARIES)
def tf(request: pytest.FixtureRequest, provisioned_tools: ProvisionedTools) -> TfBinary:
    """OpenTofu (id ``tofu``) and HashiCorp Terraform (id ``terraform``), as provisioned."""
    return provisioned_binary(provisioned_tools, request.param)


@pytest.fixture(scope="session")
def cosign(provisioned_tools: ProvisionedTools):  # type: ignore[no-untyped-def]
    """The cosign binary provision-tools built (v2.6.5); missing (fails under CI) without it."""
    from tests.harness.cosign import CosignCli

    binary = provisioned_tools.binary("cosign")
    if binary is None:
        missing(f"cosign ({provisioned_tools.bin_dir / 'cosign'})")
    assert binary is not None
    return CosignCli(binary)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        missing("moto[server]", "install the test extra: pip install -e '.[test]'")
    server = MotoServer().start()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint_url
    try:
        yield server
    finally:
        server.stop()
        os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"


@pytest.fixture
def ecr(moto_server: MotoServer):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("ecr", region_name="us-east-1")


def start_registry(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    credentials: tuple[str, str] | None,
    token_auth: str = "",
) -> Iterator[DistributionRegistry]:
    """Run one distribution registry for as long as the generator is not closed."""
    binary = find_docker_registry()
    if binary is None:
        missing(
            "Debian's docker-registry",
            "run 'scripts/provision-tools' as root (apt-get install docker-registry)",
        )
    assert binary is not None
    registry = DistributionRegistry(
        binary, tmp_path_factory.mktemp(name), credentials=credentials, token_auth=token_auth
    ).start()
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributionRegistry]:
    """An anonymous distribution registry on loopback."""
    yield from start_registry(tmp_path_factory, "registry", None)


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributionRegistry]:
    """A distribution registry behind htpasswd basic auth (``REGISTRY_CREDENTIALS``)."""
    yield from start_registry(tmp_path_factory, "auth-registry", REGISTRY_CREDENTIALS)


@pytest.fixture(scope="session")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DistributionRegistry, TokenServer]]:
    """A distribution registry in ``auth: token`` mode and the bearer-token service it trusts."""
    tokens = TokenServer(tmp_path_factory.mktemp("token-service"), REGISTRY_CREDENTIALS).start()
    try:
        yield from (
            (registry, tokens)
            for registry in start_registry(
                tmp_path_factory,
                "token-registry",
                REGISTRY_CREDENTIALS,
                tokens.registry_auth_config(),
            )
        )
    finally:
        tokens.stop()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temp dir with a short path (``/tmp/rtf-XXXXXXXX``).

    pytest's ``tmp_path`` is too long for Unix socket paths (the shared
    resolver accepts at most 100 bytes and otherwise moves its socket to
    ``/tmp/runlayer-tf-<uid>``, outside the test's reach).
    """
    path = Path(tempfile.mkdtemp(prefix="rtf-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class CliResult(NamedTuple):
    """One in-process ``runlayer-tf`` run: exit code, stdout, stderr."""

    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``runlayer-tf ARGV...`` in process: ``code, out, err = cli("resolve", ...)``."""
    from runlayer_tf.cli import main

    def run(*argv: str) -> CliResult:
        capsys.readouterr()  # only this run's output
        code = main(list(argv))
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture(scope="session")
def _hostile_servers(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.harness.hostile_registry import Catcher, HostileRegistry, self_signed_certificate

    certificate = self_signed_certificate(tmp_path_factory.mktemp("hostile-tls"))
    plain, tls, catcher = HostileRegistry(), HostileRegistry(certificate), Catcher()
    try:
        yield plain, tls, catcher, certificate[0]
    finally:
        for server in (plain, tls, catcher):
            server.stop()


@pytest.fixture
def hostile(_hostile_servers, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """(plain-http registry, https registry, catcher on another origin), reset for this test.

    The catcher is also the HTTP proxy for every host but 127.0.0.1, so a realm
    or redirect to any host name lands there; the https registry's certificate
    is trusted through SSL_CERT_FILE.
    """
    from runlayer_tf.registries import _http

    plain, tls, catcher, cert = _hostile_servers
    for server in (plain, tls, catcher):
        server.reset()
    monkeypatch.setenv("http_proxy", f"http://{catcher.host}")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    _http.close_connections()  # no connection from an earlier test (another proxy setting)
    return plain, tls, catcher
