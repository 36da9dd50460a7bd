"""The README tells the truth about configuration and the two set-up commands."""

from __future__ import annotations

from devstack.config_docs import markdown_table, render
from devstack.paths import repo_root


def test_configuration_table_matches_the_services_parsers() -> None:
    readme = (repo_root() / "README.md").read_text()
    assert render(readme) == readme, "README configuration table is stale: run `make docs`"
    assert "| `dtmon-processor run` | `--trigger-seconds` | `DTMON_TRIGGER_SECONDS` |" in (
        markdown_table()
    )


def test_readme_shows_both_setup_commands_and_the_makefile_has_them() -> None:
    readme = (repo_root() / "README.md").read_text()
    makefile = (repo_root() / "Makefile").read_text()
    for command in ("make run", "make test"):
        assert command in readme
    for target in ("run:", "test:", "help:", "bench:"):
        assert f"\n{target}" in makefile
