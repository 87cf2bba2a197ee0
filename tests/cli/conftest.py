"""Fixtures of the CLI tests: ``cli(...)`` runs ``ganforge`` in-process, ``config_file`` a tiny config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml


@pytest.fixture
def config_file(tmp_path, tiny_config) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config))
    return path
