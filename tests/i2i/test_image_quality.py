"""PSNR and SSIM against scikit-image's reference implementations, and their masked variants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ganforge.errors import EvalError
from ganforge.metrics.image_quality import mean_psnr, psnr, ssim, ssim_map


def _pair(seed: int, shape: tuple[int, ...], noise: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, shape)
    smooth = (x + np.roll(x, 1, -1) + np.roll(x, 1, -2)) / 3  # some structure, not only white noise
    y = np.clip(smooth + rng.normal(0, noise, shape), -1, 1)
    return smooth, y


@pytest.mark.parametrize(
    ("shape", "noise"), [((4, 1, 32, 32), 0.1), ((3, 3, 25, 40), 0.4), ((2, 1, 11, 11), 0.05)]
)
def test_psnr_and_ssim_match_skimage(shape: tuple[int, ...], noise: float) -> None:
    x, y = _pair(0, shape, noise)
    ours_ssim = ssim(torch.from_numpy(x), torch.from_numpy(y)).double().numpy()
    ours_psnr = psnr(torch.from_numpy(x), torch.from_numpy(y)).double().numpy()
    for i in range(shape[0]):
        ref = structural_similarity(
            x[i],
            y[i],
            channel_axis=0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=2.0,
        )
        assert ours_ssim[i] == pytest.approx(ref, abs=1e-6)
        assert ours_psnr[i] == pytest.approx(peak_signal_noise_ratio(x[i], y[i], data_range=2.0), abs=1e-4)


def test_identical_images_and_ordering() -> None:
    x, y = _pair(1, (2, 1, 32, 32), 0.1)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    assert torch.allclose(ssim(tx, tx), torch.ones(2)) and torch.isinf(psnr(tx, tx)).all()
    _, worse = _pair(1, (2, 1, 32, 32), 0.5)
    assert (ssim(tx, torch.from_numpy(worse)) < ssim(tx, ty)).all()
    assert (psnr(tx, torch.from_numpy(worse)) < psnr(tx, ty)).all()
    assert ssim(tx[0], ty[0]).shape == (1,)  # one (C, H, W) image
    pooled = 10 * math.log10(4 / float(((x - y) ** 2).mean()))
    assert mean_psnr(tx, ty) == pytest.approx(pooled)


def test_masked_psnr_scores_only_the_masked_pixels() -> None:
    x, y = _pair(2, (3, 2, 16, 16), 0.2)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:10, 3:12] = 1
    expected = [
        peak_signal_noise_ratio(x[i][:, 4:10, 3:12], y[i][:, 4:10, 3:12], data_range=2.0) for i in range(3)
    ]
    np.testing.assert_allclose(psnr(tx, ty, mask=mask).numpy(), expected, rtol=1e-5)
    ty_outside = ty.clone()
    ty_outside[..., :4, :] = 5.0  # anything outside the mask does not count
    torch.testing.assert_close(psnr(tx, ty_outside, mask=mask), psnr(tx, ty, mask=mask))


def test_masked_ssim_averages_the_map_over_masked_window_centres() -> None:
    x, y = _pair(3, (2, 1, 32, 32), 0.2)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    torch.testing.assert_close(ssim(tx, ty, mask=torch.ones(2, 1, 32, 32)), ssim(tx, ty))
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 10:22, 10:22] = 1  # the inpainting hole of issue 8
    smap = ssim_map(tx, ty)  # valid positions are image pixels 5..26
    expected = smap[..., 5:17, 5:17].flatten(1).mean(1).float()
    torch.testing.assert_close(ssim(tx, ty, mask=mask), expected)


def test_bad_inputs_are_eval_errors() -> None:
    with pytest.raises(EvalError, match="same shape"):
        psnr(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9))
    with pytest.raises(EvalError, match="at least 11x11"):
        ssim(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
    with pytest.raises(EvalError, match="mask"):
        psnr(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8), mask=torch.ones(1, 1, 4, 4))
    with pytest.raises(EvalError, match="no pixel"):
        psnr(torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 8, 8), mask=torch.zeros(1, 1, 8, 8))
    with pytest.raises(EvalError, match="border"):
        edge = torch.zeros(1, 1, 16, 16)
        edge[..., 0, 0] = 1
        ssim(torch.zeros(1, 1, 16, 16), torch.ones(1, 1, 16, 16), mask=edge)
