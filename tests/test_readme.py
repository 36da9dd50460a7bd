"""The README tells the truth about the two set-up commands (its option tables are checked
by tools/tests/test_config_docs.py)."""

from __future__ import annotations

from devstack.paths import repo_root


def test_readme_shows_both_setup_commands_and_the_makefile_has_them() -> None:
    readme = (repo_root() / "README.md").read_text()
    makefile = (repo_root() / "Makefile").read_text()
    for command in ("make run", "make test"):
        assert command in readme
    for target in ("run:", "test:", "help:", "bench:"):
        assert f"\n{target}" in makefile
