"""Full-reference image quality: PSNR and SSIM, per image, optionally restricted to a mask.

Restoration and translation tasks with a ground truth (pix2pix's targets, the true dilation of
``thin2thick``, the original of a super-resolved or inpainted image) are scored against it.

* PSNR = 10·log10(R² / MSE), R the data range (2 for images in [-1, 1]). Infinite for identical
  images, as ``skimage.metrics.peak_signal_noise_ratio``.
* SSIM (Wang et al. 2004, "Image Quality Assessment: From Error Visibility to Structural
  Similarity", Eq. 13) with the paper's settings: an 11×11 Gaussian window of σ = 1.5 (Sec. III-C),
  K1 = 0.01, K2 = 0.03, C1 = (K1·R)², C2 = (K2·R)², population (not sample) statistics, and
  the mean of the SSIM map over the positions where the whole window fits inside the image. That
  is exactly ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=R)``, which the tests check. Colour images: the mean of
  the per-channel maps.

Masks (N or 1, 1, H, W), 1 = the region to score (e.g. an inpainting hole): PSNR takes the MSE over
the masked pixels only; SSIM averages its map over the valid positions whose centre is masked.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ganforge.errors import EvalError

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # 11x11 window: skimage's int(3.5 * sigma + 0.5) with truncate = 3.5
K1, K2 = 0.01, 0.03


def _pair(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if x.shape != y.shape:
        raise EvalError(
            f"images to compare must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.ndim == 3:
        x, y = x[None], y[None]
    if x.ndim != 4:
        raise EvalError(f"images must be (N, C, H, W) or (C, H, W), got shape {tuple(x.shape)}")
    return x.double(), y.double()


def _mask(mask: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
    if mask is None:
        return None
    m = torch.as_tensor(mask).double()
    m = m[None] if m.ndim == 3 else m
    if m.ndim != 4 or m.shape[1] != 1 or m.shape[-2:] != x.shape[-2:] or len(m) not in (1, len(x)):
        raise EvalError(
            f"a mask must be (N or 1, 1, {x.shape[-2]}, {x.shape[-1]}) for these images, got {tuple(m.shape)}"
        )
    return (m > 0.5).double().expand(len(x), 1, *x.shape[-2:])


def psnr(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-image PSNR in dB, shape (N,): 10·log10(data_range² / MSE) over all (or the masked) pixels."""
    x, y = _pair(x, y)
    m = _mask(mask, x)
    err = (x - y).square()
    if m is None:
        mse = err.flatten(1).mean(1)
    else:
        weight = m.expand_as(err)
        count = weight.flatten(1).sum(1)
        if (count == 0).any():
            raise EvalError("a mask selects no pixel of some image")
        mse = (err * weight).flatten(1).sum(1) / count
    return (10 * torch.log10(data_range**2 / mse)).float()  # mse = 0 gives inf, as skimage


def gaussian_window(sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS) -> torch.Tensor:
    """The normalised 1-D Gaussian of ``2·radius + 1`` taps (scipy's, for skimage's SSIM)."""
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (t / sigma) ** 2)
    return w / w.sum()


def _filter(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filtering of every channel of (N, C, H, W)."""
    c = x.shape[1]
    k = len(w)
    x = F.conv2d(x, w.reshape(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    return F.conv2d(x, w.reshape(1, 1, 1, k).expand(c, 1, 1, k), groups=c)


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """The SSIM map (N, C, H − 10, W − 10) of Wang et al. 2004, Eq. 13, on 'valid' window positions."""
    x, y = _pair(x, y)
    if min(x.shape[-2:]) < 2 * SSIM_RADIUS + 1:
        raise EvalError(f"SSIM needs images of at least {2 * SSIM_RADIUS + 1}x{2 * SSIM_RADIUS + 1} pixels")
    w = gaussian_window().to(x.device)
    mu_x, mu_y = _filter(x, w), _filter(y, w)
    var_x = _filter(x * x, w) - mu_x**2
    var_y = _filter(y * y, w) - mu_y**2
    cov = _filter(x * y, w) - mu_x * mu_y
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return num / den


def ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-image mean SSIM, shape (N,); with ``mask``, over valid positions whose centre is masked."""
    xs, _ = _pair(x, y)
    smap = ssim_map(x, y, data_range)
    m = _mask(mask, xs)
    if m is None:
        return smap.flatten(1).mean(1).float()
    r = SSIM_RADIUS
    centre = m[..., r:-r, r:-r].expand_as(smap)
    count = centre.flatten(1).sum(1)
    if (count == 0).any():
        raise EvalError("a mask selects no valid SSIM window centre of some image (too close to the border)")
    return ((smap * centre).flatten(1).sum(1) / count).float()


def mean_psnr(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0, mask: torch.Tensor | None = None
) -> float:
    """PSNR of the pooled MSE over all images (one number for a set; finite unless all match); with
    ``mask``, over every masked pixel of every image (inpainting's hole, pooled over the set)."""
    x, y = _pair(x, y)
    err = (x - y).square()
    m = _mask(mask, x)
    if m is None:
        mse = err.mean().item()
    else:
        weight = m.expand_as(err)
        count = weight.sum().item()
        if count == 0:
            raise EvalError("the mask selects no pixel of these images")
        mse = (err * weight).sum().item() / count
    return math.inf if mse == 0 else 10 * math.log10(data_range**2 / mse)
