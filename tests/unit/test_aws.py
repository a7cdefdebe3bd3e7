"""The botocore boundary: every botocore error becomes one runlayer-tf error line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
    WaiterError,
)

from runlayer_tf import aws
from runlayer_tf.errors import (
    AuthError,
    NotFoundError,
    RegistryError,
    RunlayerError,
    UpdateError,
    UsageError,
)

ECR = {
    "error": RegistryError,
    "service": "ECR",
    "codes": {"RepositoryNotFoundException": (NotFoundError, "repository not found")},
}


def client_error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


CASES = [
    pytest.param(
        client_error("ExpiredTokenException", "The security token  is\nexpired"),
        ECR,
        AuthError,
        "listing x: AWS refused the credentials (ExpiredTokenException: The security token is expired)",
        id="expired-token",
    ),
    pytest.param(
        client_error("AccessDenied", "not allowed"),
        {},
        AuthError,
        "listing x: AWS refused the credentials (AccessDenied: not allowed)",
        id="access-denied-update",
    ),
    pytest.param(
        client_error("ThrottlingException", "Rate exceeded"),
        ECR,
        RegistryError,
        "listing x: ECR throttled the request and 5 attempts failed (ThrottlingException)",
        id="throttled",
    ),
    pytest.param(
        client_error("RepositoryNotFoundException", "no repo"),
        ECR,
        NotFoundError,
        "listing x: repository not found (no repo)",
        id="mapped-code",
    ),
    pytest.param(
        client_error("ServerException", "boom"),
        ECR,
        RegistryError,
        "listing x: ECR error ServerException: boom",
        id="service-error",
    ),
    pytest.param(
        client_error("DBClusterNotFoundFault", "no cluster"),
        {},
        UpdateError,
        "listing x: DBClusterNotFoundFault: no cluster",
        id="update-error",
    ),
    pytest.param(
        client_error("InvalidParameterValue"),
        {},
        UpdateError,
        "listing x: InvalidParameterValue",
        id="no-message",
    ),
    pytest.param(
        NoCredentialsError(),
        ECR,
        AuthError,
        "listing x: no AWS credentials found (set AWS_PROFILE, run 'aws sso login', "
        "or export AWS_ACCESS_KEY_ID)",
        id="no-credentials",
    ),
    pytest.param(
        NoRegionError(),
        {},
        UsageError,
        "no AWS region: set region in the query, AWS_REGION or AWS_DEFAULT_REGION, "
        "or a profile's region",
        id="no-region",
    ),
    pytest.param(
        ProfileNotFound(profile="ghost"),
        {},
        UsageError,
        "AWS profile not found: The config profile (ghost) could not be found",
        id="no-profile",
    ),
    pytest.param(
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        ECR,
        RegistryError,
        'listing x: cannot reach ECR (Could not connect to the endpoint URL: "http://127.0.0.1:9")',
        id="unreachable",
    ),
    pytest.param(
        WaiterError(name="services_stable", reason="Max attempts exceeded", last_response={}),
        {},
        aws.WaiterFailed,
        "listing x: Waiter services_stable failed: Max attempts exceeded",
        id="waiter",
    ),
]


@pytest.mark.parametrize(("raised", "options", "kind", "text"), CASES)
def test_translated_turns_botocore_errors_into_one_line(raised, options, kind, text) -> None:
    with pytest.raises(RunlayerError) as info, aws.translated("listing x", **options):
        raise raised
    assert type(info.value) is kind
    assert str(info.value) == text
    assert info.value.__cause__ is raised


def test_the_error_code_survives_translation() -> None:
    with pytest.raises(UpdateError) as info, aws.translated("describing snapshot s"):
        raise client_error("DBClusterSnapshotNotFoundFault", "gone")
    assert aws.aws_code(info.value) == "DBClusterSnapshotNotFoundFault"
    assert aws.aws_code(UpdateError("x")) == ""


@pytest.mark.parametrize("raised", [ValueError("bug"), UsageError("already ours")])
def test_other_exceptions_pass_unchanged(raised: Exception) -> None:
    with pytest.raises(type(raised)) as info, aws.translated("doing"):
        raise raised
    assert info.value is raised


def test_importing_the_boundary_does_not_import_botocore() -> None:
    code = "import sys, runlayer_tf.aws; print(any(m.startswith('botocore') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lazy_clients_need_no_configuration_until_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--dry-run`` builds the clients but never calls them, so no region is needed."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    session = aws.Session()
    rds = aws.rds(session)
    with pytest.raises(UsageError, match=r"^no AWS region"):
        rds.describe_db_clusters(DBClusterIdentifier="c")
    elbv2 = aws.elbv2(session)
    with pytest.raises(UsageError, match=r"^no AWS region"):
        elbv2.describe_target_health(TargetGroupArn="arn:aws:elasticloadbalancing:x")


def test_aws_region_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    client = aws.ecr()
    assert client.meta.region_name == "eu-west-3"  # type: ignore[attr-defined]
    assert aws.ecr("ap-south-1").meta.region_name == "ap-south-1"  # type: ignore[attr-defined]
