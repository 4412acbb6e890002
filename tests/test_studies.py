"""The studies behind the README's numbers start: each `--help` through the real CLI, and the
list `avatarvid study --help` shows is exactly the modules in avatarvid/evaluate/studies/."""

from __future__ import annotations

import pkgutil

import pytest

import avatarvid.evaluate.studies as studies_package
from avatarvid.cli import main
from avatarvid.commands.study import STUDIES

MODULES = sorted(m.name for m in pkgutil.iter_modules(studies_package.__path__))


def help_text(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    assert stop.value.code == 0
    return capsys.readouterr().out


def test_study_help_lists_exactly_the_modules(capsys):
    assert len(MODULES) >= 14  # none lost
    assert sorted(STUDIES) == MODULES
    out = help_text(capsys, "study", "--help")
    listed = out.split("studies:\n", 1)[1].split()
    assert [word for word in listed if word in MODULES] == MODULES


@pytest.mark.parametrize("name", MODULES)
def test_every_study_starts(capsys, name):
    out = help_text(capsys, "study", name, "--help")
    assert out.startswith(f"usage: avatarvid study {name}")


def test_unknown_study_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["study", "no_such_study"])
    assert stop.value.code == 2
    assert "invalid choice: 'no_such_study'" in capsys.readouterr().err
