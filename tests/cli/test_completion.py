"""``ganforge completion bash|zsh|fish``: scripts generated from the parser that complete what it accepts.

The bash script is exercised for real: sourced in ``bash``, its function is called with the
``COMP_WORDS``/``COMP_CWORD`` a shell would set, and ``COMPREPLY`` is read back.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from ganforge.cli.completion import command_tree, completion_script, walk
from ganforge.cli.main import build_parser, main


@pytest.fixture(scope="module")
def scripts() -> dict[str, str]:
    parser = build_parser()
    return {shell: completion_script(shell, parser) for shell in ("bash", "zsh", "fish")}


def every_subcommand() -> list[tuple[str, str]]:
    """(path, name) of every subcommand at every level, e.g. ("latent", "walk")."""
    return [(node.path, name) for node in walk(command_tree(build_parser())) for name in node.subcommands]


def complete(script: str, *words: str) -> set[str]:
    """What bash offers after ``ganforge WORDS`` (the last word is the one being completed)."""
    call = "COMP_WORDS=(ganforge " + " ".join(f"'{w}'" for w in words) + f"); COMP_CWORD={len(words)}"
    run = f'{script}\n{call}; _ganforge; printf "%s\\n" "${{COMPREPLY[@]}}"'
    out = subprocess.run(["bash", "-c", run], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_every_subcommand_appears_in_every_script(scripts: dict[str, str]) -> None:
    pairs = every_subcommand()
    assert ("", "completion") in pairs and ("latent", "walk") in pairs and ("tabular", "fit") in pairs
    for shell, script in scripts.items():
        missing = [f"{path} {name}".strip() for path, name in pairs if name not in script]
        assert missing == [], shell
    top = re.search(r"\"\|sub\"\) echo '([^']*)'", scripts["bash"])
    assert top is not None and top.group(1).split() == [name for path, name in pairs if not path]


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash on this machine")
def test_bash_completes_subcommands_flags_and_choices(scripts: dict[str, str]) -> None:
    bash = scripts["bash"]
    subprocess.run(["bash", "-n", "-c", bash], check=True)
    assert complete(bash, "tr") == {"train", "translate"}
    assert complete(bash, "train", "--re") == {"--resume"}
    assert complete(bash, "train", "--out", "runs/x", "--f") == {"--force"}  # a flag's value is skipped
    assert complete(bash, "train", "quick") == {"quickstart"}  # bundled presets
    assert complete(bash, "latent", "") == {"interpolate", "classes", "truncation", "walk", "invert"}
    assert complete(bash, "latent", "interpolate", "--method", "") == {"slerp", "lerp"}
    assert complete(bash, "list", "d") == {"datasets"}
    assert complete(bash, "tabular", "sample", "--c") == {"--condition"}  # not top-level sample's flags
    assert complete(bash, "sample", "runs/x", "--tr") == {"--truncation"}
    assert complete(bash, "completion", "") == {"bash", "zsh", "fish"}


def test_the_command_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "fish"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# fish completion for ganforge")
    assert "complete -c ganforge -f -n '__fish_use_subcommand' -a train" in out
    assert "-n '__fish_seen_subcommand_from latent; and __fish_seen_subcommand_from walk" in out
    with pytest.raises(SystemExit):
        main(["completion", "powershell"])
    assert main(["completion", "zsh"]) == 0
    assert "bashcompinit" in capsys.readouterr().out
