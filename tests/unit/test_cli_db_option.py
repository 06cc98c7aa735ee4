"""`--db` is a root option that may also follow the sub-command, as the README writes it."""

from __future__ import annotations

import pytest

from edgebench.cli import hoist_db


@pytest.mark.parametrize("argv,expected", [
    (["run", "m.x", "--db", "x.db", "--runs", "5"], ["--db", "x.db", "run", "m.x", "--runs", "5"]),
    (["compare", "--db=x.db", "-o", "csv"], ["--db=x.db", "compare", "-o", "csv"]),
    (["--debug", "--db", "a.db", "sweep", "s.toml", "--db", "b.db"],
     ["--debug", "--db", "a.db", "--db", "b.db", "sweep", "s.toml"]),  # the later one wins, as typed
    (["run", "--", "--db", "x"], ["run", "--", "--db", "x"]),  # after `--` it is an argument
    (["run", "m.x", "--db"], ["run", "m.x", "--db"]),  # no value: click reports the missing argument
    (["models"], ["models"]),
])
def test_db_after_the_subcommand_moves_in_front(argv, expected):
    assert hoist_db(argv) == expected
