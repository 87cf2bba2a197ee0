"""The captioned_digits dataset: what the issue specifies holds (held-out pairs, captions, sizes, seed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.data import build_dataset
from ganforge.data.captioned import (
    ANCHORS,
    ATTRIBUTES,
    COLOURS,
    SIZES,
    build_scenes,
    held_out,
    parse_caption,
    scenes,
)
from ganforge.data.embedded import mnist_split_indices
from ganforge.errors import ConfigError


@pytest.fixture(scope="module")
def train() -> object:
    return scenes("train", 1)


def test_held_out_pairs_are_the_ten_of_the_issue() -> None:
    pairs = [(d, c) for d in range(10) for c in range(len(COLOURS)) if held_out(d, c)]
    names = [f"{d}-{list(COLOURS)[c]}" for d, c in pairs]
    assert " ".join(names) == "0-red 1-green 2-blue 3-yellow 4-magenta 5-cyan 6-red 7-green 8-blue 9-yellow"


def test_train_never_shows_a_held_out_pair_and_test_shows_all(train) -> None:
    assert not any(held_out(d, c) for d, c in train.attrs[:, :2])
    test = scenes("test", 1)
    assert sum(held_out(d, c) for d, c in test.attrs[:, :2]) > 100  # about 1 in 6 of 1,000
    # Every other (digit, colour) pair and every size and position occur in training.
    seen = {(d, c) for d, c in train.attrs[:, :2]}
    assert len(seen) == 50
    assert set(train.attrs[:, 2]) == set(range(len(SIZES))) and set(train.attrs[:, 3]) == set(
        range(len(ANCHORS))
    )


def test_scenes_come_from_the_mnist_split(train) -> None:
    from ganforge.data.embedded import _mnist_raw

    labels = _mnist_raw()[1][mnist_split_indices("train")]
    np.testing.assert_array_equal(train.attrs[:, 0], labels)
    assert train.images.shape == (4000, 64, 64, 3) and train.images.dtype == np.uint8


def test_captions_state_what_the_scene_shows_and_some_omit(train) -> None:
    for caption, attrs, mentions in zip(train.captions[:500], train.attrs, train.mentions, strict=False):
        parsed = parse_caption(str(caption))
        for j, name in enumerate(ATTRIBUTES):
            assert parsed[name] == (attrs[j] if mentions[j] else None), (caption, name)
    assert train.mentions[:, 0].all()  # the digit is always named
    omitted = 1 - train.mentions[:, 1:].mean(0)
    assert ((omitted > 0.1) & (omitted < 0.2)).all()  # omit=0.15 per attribute
    text = " ".join(map(str, train.captions))
    assert all(w in text for w in ("seven", " 7", "big", "large", "crimson", "top-left corner", "upper left"))


def test_ink_is_the_colour_at_the_anchor(train) -> None:
    for image, (_, colour, size, position) in zip(train.images[:50], train.attrs[:50], strict=False):
        ys, xs = np.nonzero(image.max(2) > 60)
        cx, cy = list(ANCHORS.values())[position]
        half = list(SIZES.values())[size] / 2
        assert abs(xs.min() + xs.max()) / 2 - cx <= half and abs((ys.min() + ys.max()) / 2 - cy) <= half
        brightest = image.reshape(-1, 3)[image.reshape(-1, 3).sum(1).argmax()].astype(float)
        cos = brightest @ np.array(list(COLOURS.values())).T
        cos /= np.linalg.norm(brightest) * np.linalg.norm(np.array(list(COLOURS.values())), axis=1)
        assert cos.argmax() == colour


def test_the_seed_decides_everything() -> None:
    a, b = build_scenes("test", 1, 0, 0.15), build_scenes("test", 1, 0, 0.15)
    c = build_scenes("test", 1, 1, 0.15)
    assert np.array_equal(a.images, b.images) and list(a.captions) == list(b.captions)
    assert not np.array_equal(a.attrs, c.attrs)


def test_dataset_batches_carry_text_and_attributes() -> None:
    data = build_dataset("captioned_digits", split="test", scenes_per_digit=1, encoder="hash")
    assert data.x.shape == (1000, 3, 64, 64) and data.x.min() >= -1 and data.x.max() <= 1
    assert data.extras["text"].shape == (1000, 256) and data.extras["attrs"].dtype == torch.int64
    assert data.model_inputs == {"text_dim": 256} and data.info == {"text_encoder": "hash"}


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"split": "all"}, "data.split"),
        ({"scenes_per_digit": 0}, "scenes_per_digit"),
        ({"omit": 1.0}, "data.omit"),
    ],
)
def test_bad_options_are_config_errors(kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        build_dataset("captioned_digits", encoder="hash", **kwargs)


def test_the_attribute_oracle_encodes_what_the_caption_states() -> None:
    from ganforge.text.encoders import text_encoder

    e = text_encoder("attributes").encode(["top-left corner: a large seven, coloured crimson", "a 3"])
    assert e.shape == (2, 23)
    assert e[0].nonzero().flatten().tolist() == [7, 10, 17, 19]  # 7 | red | large | top-left
    assert e[1].nonzero().flatten().tolist() == [3]  # colour, size and position unstated: zeros
