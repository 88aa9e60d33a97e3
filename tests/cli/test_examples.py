"""Every command's ``--help`` ends with an example, and every example is a command line the
parser accepts as written (so the help never teaches a flag that does not exist)."""

from __future__ import annotations

import re
import shlex

import pytest

from bot.cli import _parser
from bot.cli.examples import EXAMPLES


def test_every_command_has_an_example() -> None:
    commands = next(a for a in _parser()._actions if a.dest == "command")
    assert set(commands.choices) == set(EXAMPLES)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_example_is_a_command_line_the_parser_takes(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = re.sub(r"\s+\(.*\)$", "", EXAMPLES[name])
    line = line.split(" > ")[0].split(" || ")[0].replace("$(date +%F)", "2026-12-02")
    words = shlex.split(line)
    assert words[0] == "claimsbot" and words[1] == name
    args = _parser().parse_args(words[1:])
    assert args.command == name
    with pytest.raises(SystemExit):
        _parser().parse_args([name, "--help"])
    assert "example:\n  claimsbot " + name in capsys.readouterr().out
