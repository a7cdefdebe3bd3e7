"""``pins check`` rules, configuration and the ``pins`` command line."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from runlayer_tf.cli import main
from runlayer_tf.errors import ConfigError
from runlayer_tf.pins import PinConfig, load_config, scan_paths
from runlayer_tf.pins._config import glob_matches, parse_config
from runlayer_tf.pins.checks import check_scans

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "pins"
R = "170974506510.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """A copy of the corpus as the current directory (no config file above it)."""
    root = tmp_path / "repo"
    shutil.copytree(CORPUS, root)
    monkeypatch.chdir(root)
    return root


CHECK_CASES = [
    ("runbook/stable.tf", []),
    ("envs/prod.tfvars", []),
    ("envs/staging.tfvars", []),  # latest is fine outside production
    (
        "envs/prod-eu.tfvars",
        [
            (
                'envs/prod-eu.tfvars:2:21: RTF002 backend_version: moving tag "latest" in a production file; '
                "pin a release such as v1.2.3"
            ),
            (
                'envs/prod-eu.tfvars:3:21: RTF002 frontend_version: moving tag "v1.2" in a production file; '
                "pin a release such as v1.2.3"
            ),
        ],
    ),
    (
        "prod",
        [
            'prod/main.tf:3:77: RTF002 module.backend.image: moving tag "v1" in a production file; '
            "pin a release such as v1.2.3"
        ],
    ),
    (
        "malformed",
        [
            (
                'malformed/main.tf:3:77: RTF001 module.backend.image: invalid tag "v1.2.3.4": '
                "not a semantic version vMAJOR.MINOR.PATCH[-PRERELEASE]"
            ),
            (
                'malformed/main.tf:8:84: RTF001 module.worker.image: invalid digest "sha256:abc123": '
                "sha256 needs 64 hex digits, got 6 characters"
            ),
            "malformed/main.tf:12:23: RTF001 local.frontend_version: invalid tag \"v01.2.3\": leading zero in '01'",
        ],
    ),
    (
        "disagree",
        [
            'disagree/main.tf:9:96: RTF003 aws_ecs_task_definition.migrate.container_definitions: tag "v1.2.2" '
            'disagrees with backend_version = "v1.2.3" (disagree/variables.tf:3)'
        ],
    ),
    ("misc/broken.tf", ["misc/broken.tf:7:1: RTF000 does not parse: syntax error"]),
    ("modules", []),
    ("ecs", []),
    ("crlf", []),
    ("bom", []),  # bom/prod.tfvars matches **/*prod*.tfvars, and its pins are releases
]


@pytest.mark.parametrize(("path", "expected"), CHECK_CASES, ids=[c[0] for c in CHECK_CASES])
def test_check_table(corpus, capsys, path, expected):
    code = main(["pins", "check", path])
    out = capsys.readouterr().out.splitlines()
    assert out == expected
    assert code == (1 if expected else 0)


def test_check_whole_corpus_counts(corpus, capsys):
    assert main(["pins", "check", "."]) == 1
    rules = [line.split(": ")[1].split()[0] for line in capsys.readouterr().out.splitlines()]
    assert sorted(rules) == [
        "RTF000",
        "RTF001",
        "RTF001",
        "RTF001",
        "RTF002",
        "RTF002",
        "RTF002",
        "RTF003",
    ]


def test_config_file_disables_rules_and_flags_override(corpus, capsys):
    (corpus / ".runlayer-tf.toml").write_text(
        '[pins]\ndisable = ["RTF002"]\nproduction-globs = ["nothing/**"]\n'
    )
    assert main(["pins", "check", "envs/prod-eu.tfvars", "prod"]) == 0
    assert (
        main(["pins", "check", "--production-glob", "prod/**", "prod"]) == 0
    )  # RTF002 still disabled
    (corpus / ".runlayer-tf.toml").write_text('[pins]\nproduction-globs = ["nothing/**"]\n')
    assert main(["pins", "check", "prod"]) == 0
    assert main(["pins", "check", "--production-glob", "prod/**", "prod"]) == 1
    capsys.readouterr()


def test_configured_follows_feeds_rtf003(corpus, capsys):
    (corpus / "pair").mkdir()
    (corpus / "pair" / "main.tf").write_text(
        'locals {\n  api_release = "v2.0.0"\n  api = "ghcr.io/acme/api:v1.9.0"\n}\n'
    )
    assert main(["pins", "check", "pair"]) == 0
    (corpus / "pyproject.toml").write_text(
        '[tool.runlayer-tf.pins]\nversion-names = ["api_release"]\nfollows = { api_release = "api" }\n'
    )
    assert main(["pins", "check", "pair"]) == 1
    assert capsys.readouterr().out == (
        'pair/main.tf:3:27: RTF003 local.api: tag "v1.9.0" disagrees with api_release = "v2.0.0" (line 2)\n'
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[pins]\nbogus = 1\n", "unknown pins setting 'bogus'"),
        ('[pins]\ndisable = ["X1"]\n', "'X1' is not a rule id"),
        ('[pins]\nfollows = ["a"]\n', "follows must be a table"),
        ("[pins\n", "invalid TOML"),
    ],
)
def test_bad_config_is_exit_2(corpus, capsys, toml, message):
    (corpus / ".runlayer-tf.toml").write_text(toml)
    assert main(["pins", "check", "runbook"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("runlayer-tf: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_missing_path_is_usage_error(corpus, capsys):
    assert main(["pins", "check", "no/such/dir"]) == 2
    assert capsys.readouterr().err == "runlayer-tf: error: no/such/dir: no such file or directory\n"


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*prod*.tfvars", "prod.tfvars", True),
        ("**/*prod*.tfvars", "envs/us/prod-eu.tfvars", True),
        ("**/*prod*.tfvars", "envs/staging.tfvars", False),
        ("**/prod/**", "prod/main.tf", True),
        ("**/prod/**", "live/prod/app/main.tf", True),
        ("**/prod/**", "product/main.tf", False),
        ("**/production/**", "envs/production/x.tfvars.json", True),
        ("*.tf", "a/b.tf", False),
    ],
)
def test_glob_matches(pattern, path, matches):
    assert glob_matches(pattern, path) is matches


def test_parse_config_values():
    config = parse_config(
        {"version-names": ["api_release"], "follows": {"api_release": "api"}, "disable": ["RTF003"]}
    )
    assert config.version_names == frozenset({"api_release"})
    assert dict(config.follows) == {"api_release": "api"}
    assert not config.rule_enabled("RTF003")
    assert config.rule_enabled("RTF001")


def test_load_config_without_file_gives_defaults(tmp_path):
    assert load_config(start=tmp_path).production_globs == PinConfig().production_globs


def test_load_config_rejects_bad_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.runlayer-tf]\npins = "yes"\n')
    with pytest.raises(ConfigError, match="must be a table"):
        load_config(start=tmp_path)


def test_library_check_scans():
    scans = scan_paths([CORPUS / "malformed"])
    assert [
        v.rule for v in check_scans(scans, PinConfig(disabled_rules=frozenset({"RTF000"})))
    ] == [
        "RTF001",
        "RTF001",
        "RTF001",
    ]


# ---- list and set on the command line ---------------------------------------


def test_list_json(corpus, capsys):
    import json

    assert main(["pins", "list", "--json", "runbook/stable.tf", "envs/prod.tfvars"]) == 0
    rows = json.loads(capsys.readouterr().out)
    keys = (
        "file",
        "line",
        "column",
        "kind",
        "name",
        "value",
        "registry",
        "repository",
        "tag",
        "digest",
    )
    assert [tuple(r[k] for k in keys) for r in rows] == [
        (
            "runbook/stable.tf",
            4,
            13,
            "image",
            "image",
            f"{R}/backend-production:v1.2.3",
            R,
            "backend-production",
            "v1.2.3",
            None,
        ),
        (
            "envs/prod.tfvars",
            4,
            21,
            "version",
            "backend_version",
            "v1.2.3",
            None,
            None,
            "v1.2.3",
            None,
        ),
        (
            "envs/prod.tfvars",
            5,
            21,
            "version",
            "frontend_version",
            "v1.2.3",
            None,
            None,
            "v1.2.3",
            None,
        ),
    ]


def test_list_reports_broken_file_and_exits_1(corpus, capsys):
    assert main(["pins", "list", "misc/broken.tf"]) == 1
    assert (
        capsys.readouterr().err == "runlayer-tf: misc/broken.tf:7:1: does not parse: syntax error\n"
    )


def test_set_dry_run_prints_diff_and_writes_nothing(corpus, capsys):
    before = (corpus / "envs/prod.tfvars").read_bytes()
    assert main(["pins", "set", "--dry-run", "backend_version=v1.2.4", "envs/prod.tfvars"]) == 0
    assert capsys.readouterr().out == (
        "--- a/envs/prod.tfvars\n+++ b/envs/prod.tfvars\n@@ -1,7 +1,7 @@\n"
        " # Production: pin to tested versions\n"
        ' region           = "us-east-1"\n'
        ' environment      = "production"\n'
        '-backend_version  = "v1.2.3"   # tested in staging 2024-12-13\n'
        '+backend_version  = "v1.2.4"   # tested in staging 2024-12-13\n'
        ' frontend_version = "v1.2.3"   # tested in staging 2024-12-13\n'
        " desired_count    = 2\n"
        " \n"
    )
    assert (corpus / "envs/prod.tfvars").read_bytes() == before


def test_set_writes_changed_files_only_and_keeps_mode(corpus, capsys):
    target, other = corpus / "envs/prod.tfvars", corpus / "runbook/stable.tf"
    target.chmod(0o640)
    os.utime(other, (1_000_000_000, 1_000_000_000))
    assert (
        main(["pins", "set", "frontend_version=v1.2.4", "envs/prod.tfvars", "runbook/stable.tf"])
        == 0
    )
    assert capsys.readouterr().out == "envs/prod.tfvars: 1 pin(s) updated\n"
    assert b'frontend_version = "v1.2.4"   # tested' in target.read_bytes()
    assert (target.stat().st_mode & 0o777) == 0o640
    assert other.stat().st_mtime == 1_000_000_000


def test_set_same_value_leaves_mtime(corpus, capsys):
    target = corpus / "envs/prod.tfvars"
    os.utime(target, (1_000_000_000, 1_000_000_000))
    assert main(["pins", "set", "backend_version=v1.2.3", "envs/prod.tfvars"]) == 0
    assert target.stat().st_mtime == 1_000_000_000
    assert "nothing changed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "code", "err"),
    [
        (
            ["backend_version=v2.0.0", "envs/prod.tfvars"],
            1,
            "crosses a major version; pass --allow-major",
        ),
        (
            ["backend-production=v1.2.4", "ecs/task_digest.tf"],
            1,
            "pins a digest; give v1.2.4@sha256:...",
        ),
        (["backend_version=v1.2.3.4", "envs/prod.tfvars"], 1, 'invalid tag "v1.2.3.4"'),
        (["envs/prod.tfvars"], 2, "pins set needs at least one NAME=VALUE"),
        (["backend_version=v1.2.4", "misc/broken.tf"], 1, "misc/broken.tf:7:1: does not parse"),
    ],
)
def test_set_errors(corpus, capsys, argv, code, err):
    assert main(["pins", "set", *argv]) == code
    assert err in capsys.readouterr().err


def test_set_allow_major(corpus, capsys):
    assert main(["pins", "set", "--allow-major", "backend_version=v2.0.0", "envs/prod.tfvars"]) == 0
    assert b'backend_version  = "v2.0.0"' in (corpus / "envs/prod.tfvars").read_bytes()
    capsys.readouterr()


def _regex_glob(pattern):
    """The reference semantics (the regex translation glob_matches had): for short inputs."""
    import re

    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i])))
            i += 1
    return re.compile("".join(out))


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_glob_parts = st.lists(st.sampled_from(["**/", "**", "*", "?", "a", "b", "/", "."]), max_size=7)
_path_parts = st.lists(st.sampled_from(["a", "b", "/", ".", "ab"]), max_size=8)


@given(_glob_parts.map("".join), _path_parts.map("".join))
def test_glob_matches_as_the_regex_translation_did(pattern, path):
    assert glob_matches(pattern, path) is (_regex_glob(pattern).fullmatch(path) is not None)


@pytest.mark.parametrize(
    "pattern",
    ["**/" * 40 + "x", "**/a/" * 20 + "x", "*" * 60 + "x", "*a" * 40 + "x"],
    ids=["40 dirs", "20 dirs-a", "60 stars", "40 star-a"],
)
def test_a_glob_from_a_repository_cannot_hang_pins_check(pattern):
    """A backtracking regex took 8.5 s for 10 `**/` against a 25-directory path, and
    grew exponentially (holding the GIL); the automaton answers at once."""
    import subprocess
    import sys

    code = (
        "from runlayer_tf.pins._config import glob_matches; "
        f"print(glob_matches({pattern!r}, {'a/' * 200 + 'a' * 200!r}))"
    )
    # A subprocess with a timeout: a bound on a hang, not a speed measurement.
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (proc.returncode, proc.stdout) == (0, "False\n"), proc.stderr
