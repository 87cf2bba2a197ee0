"""The text_gan family through the spine: it learns from captions, samples from prompts, and errs clearly.

Resume bit-exactness and the phases are checked by the objective battery (case ``text_gan``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ganforge
from ganforge.config import load_config
from ganforge.errors import ConfigError, InputError
from ganforge.evaluation.t2i import attribute_accuracy
from ganforge.metrics.scene_attributes import read_attributes
from ganforge.objectives.base import Context
from ganforge.registry import create_model, create_objective
from ganforge.testing import tiny_overrides

PRESET = "text/captioned_digits"


def tiny(steps: int, *extra: str):
    return load_config(PRESET, [*tiny_overrides(PRESET, steps), "train.log_every=50", *extra])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """The tiny model after two steps on hash-encoded captions: enough to sample, load and misuse."""
    out = tmp_path_factory.mktemp("t2i") / "run"
    ganforge.train(tiny(2), out=out)
    return out


@pytest.fixture(scope="module")
def trained(run_dir):
    return ganforge.open_run(run_dir)


@pytest.mark.slow
@pytest.mark.xfail(
    reason="not reached yet: after 300-400 steps the tiny model reads at chance (docs/text_to_image.md)",
    strict=False,
)
def test_colour_follows_the_prompt_after_a_short_fit(tmp_path) -> None:
    """Colour is the attribute a tiny model learns first: above chance (1/6) by a wide margin after
    LEARN_STEPS steps (minutes on this 2-core machine, hence slow)."""
    ganforge.train(tiny(LEARN_STEPS, "train.ema_kimg=0"), out=tmp_path / "run")
    result = attribute_accuracy(ganforge.open_run(tmp_path / "run"), n=8)
    assert result["seen"]["colour"] > 0.5, result


LEARN_STEPS = 150


def test_prompts_sample_alike_for_a_seed_and_differ_between_prompts(trained) -> None:
    a = trained.sample(4, prompt="a large red 7 in the centre", seed=3)
    b = trained.sample(4, prompt="a large red 7 in the centre", seed=3)
    c = trained.sample(4, prompt="a small cyan 2 in the top left", seed=3)
    assert torch.equal(a, b) and not torch.equal(a, c) and a.shape == (4, 3, 64, 64)
    both = trained.sample(4, prompt=["a large red 7 in the centre", "a small cyan 2 in the top left"], seed=3)
    torch.testing.assert_close(both, torch.cat([a, c]))


def test_saves_grids_and_arrays_with_the_prompt_index(trained, tmp_path) -> None:
    path = trained.save(tmp_path / "s.npz", 3, prompt=["a red 7", "a blue 1"])
    with np.load(path) as f:
        assert f["x"].shape == (6, 3, 64, 64) and f["prompt_index"].tolist() == [0, 0, 0, 1, 1, 1]
    assert trained.save(tmp_path / "s.png", 3, prompt="a red 7").stat().st_size > 0


@pytest.mark.parametrize(
    ("prompt", "needle"), [(None, "samples from text"), ("", "non-empty"), ([], "empty")]
)
def test_missing_or_empty_prompts_are_input_errors(trained, prompt, needle) -> None:
    with pytest.raises(InputError, match=needle):
        trained.sample(2, prompt=prompt)


def test_other_models_are_refused_by_the_data_and_the_objective() -> None:
    cfg = load_config(PRESET, [*tiny_overrides(PRESET, 2), "model.name=dcgan_tiny"])
    with pytest.raises(ConfigError, match=r"cannot train on dataset 'captioned_digits'.*text_gan"):
        ganforge.train(cfg, out=None)
    nets = create_model("projection_gan_tiny", shape=(3, 64, 64), num_classes=10)
    with pytest.raises(ConfigError, match="needs a 'text_gan' model"):
        create_objective("text_gan", nets, Context(torch.device("cpu"), torch.randn))


def test_reading_generated_scenes_gives_valid_attributes(trained) -> None:
    read = read_attributes(trained.sample(4, prompt="a big green 3 in the bottom right"))
    assert read.shape == (4, 4) and (read[:, 2:] >= 0).all()


def test_cli_samples_per_prompt_from_a_file_with_blank_lines(cli, run_dir, tmp_path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red 7\n\n   \n a small blue 2 in the centre \n")
    rc, _, err = cli("sample", run_dir, "--prompts", prompts, "-n", 3, "-o", tmp_path / "s.npz")
    assert rc == 0, err
    with np.load(tmp_path / "s.npz") as f:
        assert f["x"].shape == (6, 3, 64, 64) and list(f["prompts"]) == [
            "a red 7",
            "a small blue 2 in the centre",
        ]


def test_cli_refuses_prompts_for_a_model_without_text(cli, tiny_image_run, tmp_path) -> None:
    rc, _, err = cli("sample", tiny_image_run.path, "--prompt", "a red 7", "-o", tmp_path / "s.png")
    assert rc != 0 and "has no text conditioning" in err


def test_cli_without_a_prompt_on_a_text_run_says_how(cli, run_dir, tmp_path) -> None:
    rc, _, err = cli("sample", run_dir, "-o", tmp_path / "s.png")
    assert rc != 0 and "--prompt" in err


def test_cli_refuses_an_empty_prompt_file(cli, run_dir, tmp_path) -> None:
    (tmp_path / "p.txt").write_text("\n  \n")
    rc, _, err = cli("sample", run_dir, "--prompts", tmp_path / "p.txt", "-o", tmp_path / "s.png")
    assert rc != 0 and "holds no prompts" in err
