"""Fixtures of the CLI tests: ``cli(...)`` runs ``ganforge`` in-process, ``config_file`` a tiny config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cli_helpers import plain

from ganforge.cli.main import main


@pytest.fixture
def cli(capsys):
    """``cli("train", ...)`` -> (exit status, stdout, stderr)."""

    def run(*argv: object) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return rc, plain(out), plain(err)

    return run


@pytest.fixture
def config_file(tmp_path, tiny_config) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config))
    return path
