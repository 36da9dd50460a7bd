"""Every option table in the READMEs is what the declarations say (`make docs` fixes it)."""

from __future__ import annotations

from devstack.paths import repo_root
from dtmon_tools.config_docs import TABLES, markdown_table, stale


def test_option_tables_match_the_declarations() -> None:
    assert stale(repo_root()) == [], "option tables are stale: run `make docs`"


def test_every_command_is_documented_and_rows_are_complete() -> None:
    table = markdown_table(TABLES["README.md"])
    assert "| `dtmon-processor run` | `--trigger-seconds` | `DTMON_TRIGGER_SECONDS` |" in table
    assert "(0.5 to 5)" in table
    for row in table.splitlines()[2:]:
        assert row.count(" | ") == 4, row
