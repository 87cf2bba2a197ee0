"""``data.xflip``: StyleGAN's x-flip doubling in the batch stream (every image once as it is and once
mirrored per epoch, paired inputs mirrored with it, resumable), refused where it means nothing."""

from __future__ import annotations

import pytest
import torch

import ganforge
from ganforge.data.base import ArrayDataset
from ganforge.data.loader import BatchStream
from ganforge.errors import ConfigError
from ganforge.testing import quick_train


def images(n: int = 8) -> ArrayDataset:
    """``n`` distinct 1x4x4 images that are not their own mirror image, labels 0..n-1, and a paired
    input ``a`` = -x (so a batch's ``a`` must stay -x, flipped or not)."""
    x = torch.arange(n * 16, dtype=torch.float32).reshape(n, 1, 4, 4) / (n * 16)
    return ArrayDataset(x=x, y=torch.arange(n), extras={"a": -x})


def epoch(stream: BatchStream, batches: int) -> list[dict[str, torch.Tensor]]:
    return [next(stream) for _ in range(batches)]


def test_an_epoch_holds_every_image_once_plain_and_once_mirrored() -> None:
    data = images()
    seen = epoch(BatchStream(data, 4, seed=0, xflip=True), 4)  # 16 samples: 2 x 8 images
    x, y = torch.cat([b["x"] for b in seen]), torch.cat([b["y"] for b in seen])
    plain = [(x[i] == data.x[y[i]]).all().item() for i in range(16)]
    mirrored = [(x[i] == data.x[y[i]].flip(-1)).all().item() for i in range(16)]
    assert all(p != m for p, m in zip(plain, mirrored, strict=True))  # each sample one or the other
    for label in range(8):
        assert sorted(plain[i] for i in range(16) if y[i] == label) == [False, True]
    assert all(torch.equal(b["a"], -b["x"]) for b in seen)  # the paired input follows its image


def test_the_doubled_stream_resumes_exactly_and_off_is_unchanged() -> None:
    data = images()
    whole = BatchStream(data, 4, seed=3, xflip=True)
    first = epoch(whole, 3)
    resumed = BatchStream(data, 4, seed=3, xflip=True)
    resumed.load_state_dict(whole.state_dict())
    assert all(torch.equal(a["x"], b["x"]) for a, b in zip(epoch(whole, 5), epoch(resumed, 5), strict=True))
    plain, again = BatchStream(data, 4, seed=3), BatchStream(data, 4, seed=3, xflip=False)
    assert all(torch.equal(a["x"], b["x"]) for a, b in zip(epoch(plain, 4), epoch(again, 4), strict=True))
    assert first  # (the first three batches were drawn before the state was taken)


def test_xflip_is_refused_where_it_means_nothing(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"'data\.xflip' mirrors images"):
        BatchStream(ArrayDataset(x=torch.zeros(8, 2)), 4, xflip=True)
    toy = {"model": {"name": "mlp_tiny"}, "data": {"name": "toy2d", "n": 64, "xflip": True}}
    with pytest.raises(ConfigError, match="mirrors images"):
        ganforge.train({**toy, "train": quick_train(steps=1)}, out=tmp_path / "toy")


def test_a_run_trains_on_the_doubled_set(tmp_path) -> None:
    cfg = {
        "model": {"name": "dcgan_tiny"},
        "data": {"name": "stacked_mnist", "n": 64, "batch_size": 16, "xflip": True},
        "train": quick_train(steps=3),
    }
    run = ganforge.train(cfg, out=tmp_path / "run")
    assert run.summary["step"] == 3 and run.config.data.xflip
