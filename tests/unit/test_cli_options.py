"""The options shared by several commands: the one NAME=VALUE parser."""

from __future__ import annotations

import pytest

from runlayer_tf.cli import main
from runlayer_tf.cli._options import name_value
from runlayer_tf.errors import UsageError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=v1", ("a", "v1")),
        (" b = v2 ", ("b", "v2")),
        ("img=host:5000/app:v1=x", ("img", "host:5000/app:v1=x")),
    ],
)
def test_name_value_splits_at_the_first_equals_sign(text: str, expected: tuple[str, str]) -> None:
    assert name_value(text, option="--set") == expected


@pytest.mark.parametrize("text", ["a", "=v1", "a=", " = ", ""])
def test_name_value_refuses_a_missing_side(text: str) -> None:
    with pytest.raises(UsageError) as info:
        name_value(text, option="--follow", shape="VAR=REPOSITORY")
    assert str(info.value) == f"--follow expects VAR=REPOSITORY, got {text!r}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pins", "set", "=v1", "x.tfvars"], "pins set expects NAME=VALUE, got '=v1'"),
        (["pins", "list", "--follow", "a", "."], "--follow expects VAR=REPOSITORY, got 'a'"),
        (
            ["update", "--cluster", "c", "--var-file", "x.tfvars", "--set", "a="],
            "--set expects NAME=VERSION, got 'a='",
        ),
        (
            ["update", "--cluster", "c", "--var-file", "x.tfvars", "--var", "b"],
            "--var expects NAME=VERSION, got 'b'",
        ),
    ],
)
def test_every_command_reports_the_same_shape_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"runlayer-tf: error: {message}\n")
