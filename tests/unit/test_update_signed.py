"""update/rollback preflight with --verify-key: the target release must be signed.

The update runs over the fakes of test_update_runbook.py; the signature check is
the real one (SignatureCheck over RegistryLookups) against the signed demo layout.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from runlayer_tf.registries import RegistryAddress
from runlayer_tf.signatures import load_keys
from runlayer_tf.update import RegistryLookups, VersionChange, run_update
from runlayer_tf.update.parts import SignatureCheck
from tests.unit.test_update_runbook import VARS_OLD, World

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = RegistryAddress.parse(f"oci-layout:{REPO_ROOT / 'examples' / 'oci-layout'}")
DEMO_PUB = REPO_ROOT / "examples" / "demo-signing" / "DEMO-ONLY-cosign.pub"
DEMO_FP = "sha256:7028bd3da9f0950266a6d5c698956eae16de2b9759accf695996e18df8d5edfb"
V121 = "sha256:2f3dfeca12e99ea60e04d0cfae829bd9a258ed74f80474b3111fec9018a4e849"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("RUNLAYER_TF_CACHE_TTL", "0")  # each verdict from the layout itself
    return World(tmp_path)


def check() -> SignatureCheck:
    return SignatureCheck(RegistryLookups(DEMO, explicit=True), load_keys(str(DEMO_PUB)))


def run(world: World, previous: str | None = None, **spec: object):
    # Every tag exists (the demo layout's releases differ from the fakes'); signed or not is the question.
    deps = attrs.evolve(
        world.deps(), release_signed=check(), version_exists=lambda repository, tag: True
    )
    if previous is not None:
        deps = attrs.evolve(deps, previous_release=lambda repository, current: previous)
    return run_update(attrs.evolve(world.spec, **spec), deps)


def test_the_check_names_the_signer_of_a_signed_release():
    assert check()("backend-production", "v1.3.0") == DEMO_FP


def test_a_signed_target_goes_ahead(world: World):
    report = run(world)  # v1.2.3 -> v1.3.0 (signed at its index digest)
    assert report.outcome == "succeeded"


def test_an_unsigned_target_stops_the_update_at_preflight(world: World):
    report = run(world, changes=(VersionChange("backend_version", "v1.2.1"),), allow_major=True)
    assert (report.outcome, report.exit_code) == ("failed", 1)
    assert report.message == (
        f"update backend_version=v1.2.1 stopped at preflight: backend-production@{V121} is not "
        f"signed by key {DEMO_FP}: no signature (no tag {V121.replace(':', '-')}.sig); "
        "nothing was changed"
    )
    assert "create_db_cluster_snapshot" not in world.rds.call_names()
    assert world.var_file.read_text() == VARS_OLD


def test_a_rollback_to_an_unsigned_release_is_refused(world: World):
    report = run(world, "v1.2.1", changes=(VersionChange("backend_version"),), kind="rollback")
    assert (report.outcome, report.exit_code) == ("failed", 1)
    assert f"backend-production@{V121} is not signed by key {DEMO_FP}" in report.message
    assert world.var_file.read_text() == VARS_OLD


def test_a_rollback_to_a_signed_release_goes_ahead(world: World):
    report = run(world, "v1.2.0", changes=(VersionChange("backend_version"),), kind="rollback")
    assert report.outcome == "succeeded", report.message
    assert world.var_file.read_text() == VARS_OLD.replace("v1.2.3", "v1.2.0")
