"""Pins on files as platform engineers keep them: symlinks, read-only files, odd JSON, odd config."""

from __future__ import annotations

import os

import pytest

from runlayer_tf.errors import PinError
from runlayer_tf.pins._files import atomic_write


def test_set_through_a_symlink_rewrites_the_target_and_keeps_the_link(tmp_path, cli):
    shared = tmp_path / "shared" / "common.tfvars"
    shared.parent.mkdir()
    shared.write_text('backend_version = "v1.2.3"\n')
    link = tmp_path / "prod" / "prod.tfvars"
    link.parent.mkdir()
    link.symlink_to("../shared/common.tfvars")
    code, _, err = cli("pins", "set", "backend_version=v1.2.4", str(link))
    assert (code, err) == (0, "")
    assert link.is_symlink()
    assert os.readlink(link) == "../shared/common.tfvars"
    assert shared.read_text() == 'backend_version = "v1.2.4"\n'
    assert sorted(p.name for p in shared.parent.iterdir()) == ["common.tfvars"]


def test_a_read_only_file_is_not_rewritten(tmp_path):
    path = tmp_path / "prod.tfvars"
    path.write_text('backend_version = "v1.2.3"\n')
    path.chmod(0o444)
    with pytest.raises(PinError) as info:
        atomic_write(path, b'backend_version = "v1.2.4"\n')
    assert str(info.value) == f"{path}: is read-only (mode 0444); not rewriting it"
    assert path.read_text() == 'backend_version = "v1.2.3"\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prod.tfvars"]


def test_a_symlinked_production_file_is_checked_as_production(tmp_path, cli, monkeypatch):
    shared = tmp_path / "shared" / "common.tfvars"
    shared.parent.mkdir()
    shared.write_text('backend_version = "latest"\n')
    prod = tmp_path / "envs" / "prod"
    prod.mkdir(parents=True)
    (prod / "terraform.tfvars").symlink_to("../../shared/common.tfvars")
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("pins", "check", "envs/prod/")
    assert code == 1
    assert (
        out == 'envs/prod/terraform.tfvars:1:20: RTF002 backend_version: moving tag "latest" '
        "in a production file; pin a release such as v1.2.3\n"
    )


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_constants_python_accepts_are_parse_errors(tmp_path, cli, constant):
    path = tmp_path / "a.tfvars.json"
    path.write_text(f'{{"backend_version": "v1.2.3", "ratio": {constant}}}\n')
    code, out, _ = cli("pins", "check", str(path))
    assert (code, out) == (1, f"{path}:1:1: RTF000 does not parse: {constant} is not valid JSON\n")


def test_a_config_file_that_is_not_utf8_is_a_configuration_error(tmp_path, cli, monkeypatch):
    (tmp_path / ".runlayer-tf.toml").write_bytes(b'[pins]\nversion-names = ["caf\xe9"]\n')
    (tmp_path / "prod.tfvars").write_text('backend_version = "v1.2.3"\n')
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("pins", "check", "prod.tfvars")
    assert (code, out) == (2, "")
    assert (
        err
        == f"runlayer-tf: error: {tmp_path / '.runlayer-tf.toml'}: not UTF-8 (invalid continuation byte at byte 28)\n"
    )


def test_the_config_knows_every_rule_id():
    from runlayer_tf.pins._checks import OFFLINE_RULES, RESERVED_ONLINE_RULES
    from runlayer_tf.pins._config import RULE_IDS

    assert {r.id for r in OFFLINE_RULES} | set(RESERVED_ONLINE_RULES) == RULE_IDS


@pytest.mark.parametrize(
    ("config", "flags", "message"),
    [
        (
            '[pins]\ndisable = ["RTF999"]\n',
            [],
            "{config}: disable: no rule RTF999 (rules: RTF000, RTF001, RTF002, RTF003, RTF004, RTF005, RTF006)",
        ),
        (
            '[pins]\ndisable = ["bogus"]\n',
            [],
            "{config}: disable: 'bogus' is not a rule id like RTF002",
        ),
        (
            None,
            ["--disable", "RTF999"],
            "--disable: no rule RTF999 (rules: RTF000, RTF001, RTF002, RTF003, RTF004, RTF005, RTF006)",
        ),
        (None, ["--disable", "bogus"], "--disable: 'bogus' is not a rule id like RTF002"),
    ],
)
def test_unknown_rule_ids_are_configuration_errors(
    tmp_path, cli, monkeypatch, config, flags, message
):
    if config is not None:
        (tmp_path / ".runlayer-tf.toml").write_text(config)
    (tmp_path / "prod.tfvars").write_text('backend_version = "latest"\n')
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("pins", "check", *flags, "prod.tfvars")
    assert (code, out) == (2, "")
    assert (
        err == "runlayer-tf: error: " + message.format(config=tmp_path / ".runlayer-tf.toml") + "\n"
    )


def test_rule_ids_come_from_one_table() -> None:
    from runlayer_tf.pins.checks import OFFLINE_RULES, RULES
    from runlayer_tf.pins.online import PinLookups, online_rules, signature_rule
    from runlayer_tf.registries import RegistryAddress

    lookups = PinLookups(RegistryAddress.parse("oci-layout:examples/oci-layout"))
    online = (*online_rules(lookups), signature_rule(lookups, ()))
    assert [r.id for r in (*OFFLINE_RULES, *online)] == list(RULES)
    assert all(r.summary == RULES[r.id].summary and r.online == RULES[r.id].online for r in online)


@pytest.mark.parametrize(
    ("name", "instead"), [("may_hold_pins", "find_pins"), ("atomic_write", "write_if_changed")]
)
def test_old_pins_names_still_import_with_a_warning(name: str, instead: str) -> None:
    import runlayer_tf.pins
    from runlayer_tf.pins import _files, _prescan

    with pytest.warns(
        DeprecationWarning, match=f"runlayer_tf.pins.{name} is deprecated.*{instead}"
    ):
        value = getattr(runlayer_tf.pins, name)
    assert value is getattr(_prescan if name == "may_hold_pins" else _files, name)
    with pytest.raises(AttributeError):
        runlayer_tf.pins.no_such_name  # noqa: B018
