"""GAN inversion: find the latent whose image reconstructs a given image (optimisation-based).

GANs have no encoder, so we solve ``min_v ‖G(v) - x‖² + λ·prior(v)`` by gradient descent on the
latent ``v`` with G frozen (Zhu et al. 2016, "Generative Visual Manipulation on the Natural Image
Manifold"; StyleGAN2's projector, Karras et al. 2020, Sec. 5). The choices, and why:

* **Pixel MSE** as the reconstruction error: it is what we report (MSE and PSNR), and needs no
  pretrained network. (StyleGAN2's projector uses LPIPS, which we do not ship.)
* **A latent prior** keeps the solution where G was trained, so the reconstruction is one G can
  really "draw" rather than an adversarial latent that matches pixels from off the manifold.
  In ``z`` space: ``(‖z‖/sqrt(d) - 1)²``, i.e. stay on the Gaussian shell (``walk.py``). In ``w``
  space: ``‖w - w̄‖² / (d σ_w²)``, a Gaussian-like pull toward the bulk of mapped latents.
* **Several restarts**: the objective is non-convex and the start matters. All restarts run as
  one batch (one forward per step whatever their number) and the best final MSE wins. In ``z``
  space they start from seeded draws of the prior; in ``w`` space restart 0 starts from the mean
  ``w̄`` (as StyleGAN2's projector does: the most "average" image, which is a good start for any
  target) and the others from mapped random latents.
* **Adam with a short warm-up and a cosine ramp-down** of the learning rate (5% / last 25% of the
  steps, as in StyleGAN2's projector): large steps explore early, small ones settle at the end.

``w`` space needs a generator with ``mapping(z, y)`` and ``synthesis(ws)`` plus ``num_ws`` and
``w_dim`` (StyleGAN-like). A single ``w`` is optimised and broadcast to all ``num_ws`` layers.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from ganforge.errors import ConfigError
from ganforge.latent.common import as_generator, check_label, eval_mode, num_classes

Space = Literal["z", "w"]
W_STATS_SAMPLES = 1000  # mapped latents to estimate w̄ and σ_w
DEFAULT_PRIOR_WEIGHT = {"z": 1e-3, "w": 1e-3}


def psnr(mse: float) -> float:
    """Peak signal-to-noise ratio in dB of images in [-1, 1] (peak-to-peak 2): 10·log10(4 / MSE).

    The same number as the usual 10·log10(1 / MSE) on images rescaled to [0, 1].
    """
    return 10.0 * math.log10(4.0 / mse) if mse > 0 else math.inf


@dataclass
class InversionResult:
    """What ``invert`` found: the best latent, its image and how the error fell."""

    latent: torch.Tensor  # (z_dim,) in z space, (w_dim,) in w space
    space: str
    reconstruction: torch.Tensor  # (*out_shape), in [-1, 1]
    target: torch.Tensor  # (*out_shape), in [-1, 1]
    history: list[float] = field(default_factory=list)  # best restart's MSE before step 0, ..., at the end
    restart: int = 0  # which restart won
    label: int | None = None

    @property
    def mse(self) -> float:
        return float(F.mse_loss(self.reconstruction, self.target))

    @property
    def psnr(self) -> float:
        return psnr(self.mse)

    @property
    def initial_mse(self) -> float:
        return self.history[0]

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers: what ``ganforge latent invert`` prints."""
        return {
            "space": self.space,
            "mse": self.mse,
            "psnr": self.psnr,
            "initial_mse": self.initial_mse,
            "initial_psnr": psnr(self.initial_mse),
            "steps": len(self.history) - 1,
            "restart": self.restart,
            "label": self.label,
        }


def lr_factor(step: int, steps: int, warmup: float = 0.05, rampdown: float = 0.25) -> float:
    """Linear warm-up over the first ``warmup`` of the steps, cosine ramp-down over the last ``rampdown``."""
    up = min(1.0, (step + 1) / max(1.0, warmup * steps))
    down = min(1.0, (1.0 - step / steps) / rampdown)
    return up * (0.5 - 0.5 * math.cos(down * math.pi))


def _w_space(g: Any, y: torch.Tensor | None, seed: int, device: torch.device) -> tuple[torch.Tensor, float]:
    """``(w̄, σ_w)`` from ``W_STATS_SAMPLES`` mapped latents (with the inversion's label)."""
    z = g.sample_z(W_STATS_SAMPLES, generator=torch.Generator().manual_seed(seed + 1)).to(device)
    labels = y[:1].expand(W_STATS_SAMPLES) if y is not None else None
    with torch.no_grad():
        w = _single_w(g.mapping(z, labels))
    mean = w.mean(0)
    return mean, float((w - mean).square().mean().sqrt().clamp_min(1e-8))


def _single_w(ws: torch.Tensor) -> torch.Tensor:
    """(N, w_dim) from a mapping's (N, w_dim) or (N, num_ws, w_dim) output (layers share one w)."""
    return ws[:, 0] if ws.ndim == 3 else ws


def _has_w_space(g: Any) -> bool:
    return all(hasattr(g, a) for a in ("mapping", "synthesis", "num_ws", "w_dim"))


def _check_inversion(
    g: Any,
    target: torch.Tensor,
    space: str,
    steps: int,
    restarts: int,
    lr: float,
    prior_weight: float | None,
    label: int | None,
) -> float:
    """A ConfigError for the first bad setting; the prior weight to use."""
    if space not in ("z", "w"):
        raise ConfigError(f"unknown latent space '{space}'; use z or w")
    if space == "w" and not _has_w_space(g):
        raise ConfigError(
            "this generator has no w space (it lacks mapping/synthesis): invert in z space instead"
        )
    for name, value in (("steps", steps), ("restarts", restarts)):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")
    if not (math.isfinite(lr) and lr > 0):
        raise ConfigError(f"the learning rate must be a positive number, got {lr}")
    weight = DEFAULT_PRIOR_WEIGHT[space] if prior_weight is None else float(prior_weight)
    if not (math.isfinite(weight) and weight >= 0):
        raise ConfigError(f"the prior weight must be a number >= 0, got {prior_weight}")
    shape = tuple(getattr(g, "out_shape", target.shape))
    if tuple(target.shape) != shape:
        raise ConfigError(f"the target has shape {tuple(target.shape)} but the generator makes {shape}")
    if num_classes(g) and label is None:
        raise ConfigError("this generator is conditional: give the target's class (label / --label)")
    check_label(g, label)
    return weight


LatentFn = Callable[[torch.Tensor], torch.Tensor]


def _latent_space(
    g: Any, space: str, restarts: int, y: torch.Tensor | None, seed: int, device: torch.device
) -> tuple[torch.Tensor, LatentFn, LatentFn]:
    """(starting latents, latent -> image, latent -> prior penalty) of the space searched.

    z: ``restarts`` seeded draws, and a penalty on the norm's distance from a Gaussian's shell. w:
    the mean w (w̄) plus mapped draws, and a penalty on the distance from w̄ in units of w's spread.
    """
    rng = torch.Generator().manual_seed(seed)
    if space == "z":
        start = g.sample_z(restarts, generator=rng).to(device)
        d = start.shape[-1]

        def synthesise(v: torch.Tensor) -> torch.Tensor:
            return g(v, y)

        def prior(v: torch.Tensor) -> torch.Tensor:
            return (v.norm(dim=-1) / math.sqrt(d) - 1.0).square()

        return start, synthesise, prior
    w_mean, w_std = _w_space(g, y, seed, device)
    z = g.sample_z(restarts - 1, generator=rng).to(device)
    with torch.no_grad():
        mapped = _single_w(g.mapping(z, y[1:] if y is not None else None))

    def synthesise_w(v: torch.Tensor) -> torch.Tensor:
        return g.synthesis(v[:, None, :].expand(-1, int(g.num_ws), -1))

    def prior_w(v: torch.Tensor) -> torch.Tensor:
        return (v - w_mean).square().mean(-1) / w_std**2

    return torch.cat([w_mean[None], mapped]), synthesise_w, prior_w


def invert(
    generator: Any,
    target: torch.Tensor,
    space: Space = "z",
    steps: int = 500,
    lr: float = 0.05,
    restarts: int = 4,
    prior_weight: float | None = None,
    label: int | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> InversionResult:
    """Optimise a latent so that the generator's image matches ``target`` (C, H, W) in [-1, 1].

    ``prior_weight`` λ defaults to ``DEFAULT_PRIOR_WEIGHT[space]``; ``label`` is required for a
    conditional generator (the class is held fixed). ``progress`` shows a bar (default: when
    stderr is a terminal). Deterministic for a given ``seed``.
    """
    g, device = as_generator(generator)
    weight = _check_inversion(g, target, space, steps, restarts, lr, prior_weight, label)
    target = target.detach().float().to(device)
    y = torch.full((restarts,), label, dtype=torch.long, device=device) if label is not None else None

    with eval_mode(g):
        start, synthesise, prior = _latent_space(g, space, restarts, y, seed, device)
        latent, history = _optimise(synthesise, prior, start, target, steps, lr, weight, progress)
        with torch.no_grad():
            images = synthesise(latent).float()
    errors = (images - target).flatten(1).square().mean(1)
    best = int(errors.argmin())
    history.append(float(errors[best]))
    return InversionResult(
        latent=latent[best].detach().cpu(),
        space=space,
        reconstruction=images[best].cpu(),
        target=target.cpu(),
        history=history,
        restart=best,
        label=label,
    )


def _optimise(
    synthesise: Any,
    prior: Any,
    start: torch.Tensor,
    target: torch.Tensor,
    steps: int,
    lr: float,
    weight: float,
    progress: bool | None,
) -> tuple[torch.Tensor, list[float]]:
    """Adam on the batch of restarts; returns the final latents and the best MSE before each step.

    ``autograd.grad`` with respect to the latent only: G's parameters get no ``.grad`` (the model
    may be shared, e.g. a live training run's EMA) and their weight gradients are never computed.
    """
    latent = start.detach().clone().float().requires_grad_(True)
    opt = torch.optim.Adam([latent], lr=lr, betas=(0.9, 0.999))
    history: list[float] = []
    show = sys.stderr.isatty() if progress is None else progress
    bar = _Bar(steps) if show else None
    try:
        for step in range(steps):
            for group in opt.param_groups:
                group["lr"] = lr * lr_factor(step, steps)
            x = synthesise(latent).float()
            mse = (x - target).flatten(1).square().mean(1)
            loss = (mse + weight * prior(latent)).sum()
            (latent.grad,) = torch.autograd.grad(loss, [latent])
            opt.step()
            history.append(float(mse.detach().min()))
            if bar is not None:
                bar.advance(history[-1])
    finally:
        if bar is not None:
            bar.close()
    return latent.detach(), history


class _Bar:
    """A rich progress bar on stderr showing the current best MSE."""

    def __init__(self, steps: int) -> None:
        from ganforge.utils.progress import stderr_progress

        self.progress = stderr_progress("inverting", "mse {task.fields[mse]:.5f}")
        self.task = self.progress.add_task("invert", total=steps, mse=float("nan"))
        self.progress.start()

    def advance(self, mse: float) -> None:
        self.progress.update(self.task, advance=1, mse=mse)

    def close(self) -> None:
        self.progress.stop()


# --------------------------------------------------------------------------------------------------
# Reading targets


def _to_unit_range(x: np.ndarray, source: str) -> torch.Tensor:
    """uint8 pixels -> [-1, 1]; floats must already be in [-1, 1] (ganforge's image range)."""
    if x.dtype == np.uint8:
        return torch.from_numpy(x.astype(np.float32) / 127.5 - 1.0)
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise ConfigError(f"target {source} must hold numbers, got {x.dtype}")
    t = torch.from_numpy(np.asarray(x, dtype=np.float32))
    if not torch.isfinite(t).all() or t.min() < -1.001 or t.max() > 1.001:
        raise ConfigError(f"target {source} must be uint8 pixels or floats in [-1, 1]")
    return t.clamp(-1, 1)


def load_target(path: str | Path, shape: tuple[int, ...], index: int = 0) -> torch.Tensor:
    """An image file (PNG, JPEG, ...) or an ``.npz`` with ``x`` as (C, H, W) in [-1, 1] of ``shape``.

    Images are converted to the generator's channels (grey or RGB) and resized (bilinear) to its
    resolution; an ``.npz`` ``x`` may be (C, H, W), (H, W) for one channel, or (N, C, H, W), from
    which ``index`` picks one (``ganforge sample -o x.npz`` writes that).
    """
    path = Path(path)
    if len(shape) != 3:
        raise ConfigError(f"inversion from a file needs an image generator; this one makes {shape} samples")
    c, h, w = shape
    if not path.is_file():
        raise ConfigError(f"target '{path}' does not exist")
    if path.suffix.lower() != ".npz" and c not in (1, 3):
        raise ConfigError(f"image files have 1 or 3 channels; this generator makes {c}: use an .npz target")
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                if "x" not in data:
                    raise ConfigError(f"target '{path}' has no array 'x' (found: {', '.join(data.files)})")
                x = data["x"]
        except (OSError, ValueError) as err:
            raise ConfigError(f"target '{path}' is not a readable .npz file ({err})") from None
        if x.ndim == 4:
            if not -len(x) <= index < len(x):
                raise ConfigError(f"--index {index} is out of range: '{path}' holds {len(x)} images")
            x = x[index]
        elif x.ndim == 2:
            x = x[None]
        if x.ndim != 3:
            raise ConfigError(f"target '{path}': 'x' must be images (C, H, W) or (N, C, H, W), got {x.shape}")
        t = _to_unit_range(x, f"'{path}'")
        if t.shape[0] != c:
            raise ConfigError(f"target '{path}' has {t.shape[0]} channel(s) but the generator makes {c}")
        if t.shape[1:] != (h, w):
            t = F.interpolate(t[None], size=(h, w), mode="bilinear", antialias=True, align_corners=False)[0]
        return t.clamp(-1, 1)
    try:
        with Image.open(path) as img:
            img = img.convert("L" if c == 1 else "RGB")
            if img.size != (w, h):
                img = img.resize((w, h), Image.BILINEAR)
            pixels = np.asarray(img)
    except (UnidentifiedImageError, OSError):
        raise ConfigError(f"target '{path}' is not an image file (PNG, JPEG, ...) or an .npz") from None
    if c == 1:
        pixels = pixels[..., None]
    return _to_unit_range(np.ascontiguousarray(pixels.transpose(2, 0, 1)), f"'{path}'")


__all__ = ["DEFAULT_PRIOR_WEIGHT", "InversionResult", "invert", "load_target", "lr_factor", "psnr"]
