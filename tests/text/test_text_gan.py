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
from ganforge.testing import tiny_overrides

PRESET = "text/captioned_digits"


def tiny(steps: int, *extra: str):
    return load_config(PRESET, [*tiny_overrides(PRESET, steps), "train.log_every=50", *extra])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny model after a short fit on hash-encoded captions (about a minute on 2 busy cores)."""
    out = tmp_path_factory.mktemp("t2i") / "run"
    ganforge.train(tiny(STEPS, "train.ema_kimg=0"), out=out)
    return ganforge.open_run(out)


STEPS = 150


def test_colour_follows_the_prompt_after_a_short_fit(trained) -> None:
    """Colour is the attribute a tiny model learns first: above chance (1/6) by a wide margin."""
    result = attribute_accuracy(trained, n=8)
    assert result["seen"]["colour"] > 0.5, result


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


def test_the_objective_refuses_other_models() -> None:
    cfg = load_config(PRESET, [*tiny_overrides(PRESET, 2), "model.name=projection_gan_tiny"])
    with pytest.raises(ConfigError, match="needs a 'text_gan' model"):
        ganforge.train(cfg, out=None)


def test_reading_generated_scenes_gives_valid_attributes(trained) -> None:
    read = read_attributes(trained.sample(4, prompt="a big green 3 in the bottom right"))
    assert read.shape == (4, 4) and (read[:, 2:] >= 0).all()
