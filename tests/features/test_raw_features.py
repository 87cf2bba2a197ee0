"""``raw``: features are the samples themselves, flattened; bad shapes fail with one sentence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.errors import EvalError
from ganforge.metrics.features import create_extractor


def test_vectors_pass_through_unchanged():
    x = torch.randn(10, 2, generator=torch.Generator().manual_seed(0))
    out = create_extractor("raw").extract(x, batch_size=3)
    assert set(out) == {"features"}
    assert torch.equal(out["features"], x)


def test_images_and_numpy_are_flattened_to_float32():
    x = np.arange(2 * 1 * 3 * 3, dtype=np.float64).reshape(2, 1, 3, 3)
    feats = create_extractor("raw").extract(x)["features"]
    assert feats.dtype == torch.float32 and feats.shape == (2, 9)
    assert torch.equal(feats[1], torch.arange(9, 18, dtype=torch.float32))


def test_pinned_dim_rejects_other_sizes():
    extractor = create_extractor("raw", dim=2)
    assert extractor.feature_dim == 2 and extractor.identity == "raw-2"
    with pytest.raises(EvalError, match=r"set up for 2 values per sample.*have 3"):
        extractor.check_input((3,))
    with pytest.raises(EvalError, match="positive integer"):
        create_extractor("raw", dim=0)


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (torch.zeros(0, 2), "got no samples"),
        (torch.zeros(5), r"need \(N, D\) vectors"),
        (torch.tensor([[0.0, float("nan")], [1.0, 2.0]]), "1 sample.*NaN or infinite"),
    ],
)
def test_bad_input_is_one_clear_error(x: torch.Tensor, message: str):
    with pytest.raises(EvalError, match=message):
        create_extractor("raw").extract(x)
