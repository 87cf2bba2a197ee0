"""Helpers the CLI tests share (a plain module, not conftest.py, so test files can import them:
``from cli_helpers import ...``); the ``cli`` and ``config_file`` fixtures are in conftest.py."""

from __future__ import annotations

from pathlib import Path

from ganforge.testing import plain  # noqa: F401  (re-exported for the CLI tests)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to prove a refused command changed nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_user_error(rc: int, err: str, *fragments: str) -> None:
    """Exit status 2 and one line on stderr, no traceback, containing every fragment."""
    assert rc == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
