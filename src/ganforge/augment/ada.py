"""ADA (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data").

Two parts:

- ``AdaPipeline``: a cheap, pure-PyTorch subset of the paper's augmentation pipeline (Sec. 2.3,
  Appendix B). Each transform is applied to each sample independently with probability ``p``
  (so the pipeline stays "non-leaking": for p < ~0.8 G cannot learn to produce augmented images,
  Sec. 2.2, Fig. 3). Transforms, in the paper's order, with its parameter distributions:

  ====================  ===================================================================
  ``xflip``             mirror horizontally with probability 1/2 (so p/2 overall)
  ``rotate90``          rotate by k * 90 deg, k ~ U{0, 1, 2, 3} (k in {0, 2} for non-square images)
  ``xint``              integer translation by round(t * size), t ~ U[-0.125, 0.125], reflect padding
  ``scale``             isotropic zoom by 2^N(0, 0.2^2), bilinear ``grid_sample``, reflect padding
  ``brightness``        ``x + b``, b ~ N(0, 0.2^2)
  ``contrast``          ``m + c (x - m)``, c ~ 2^N(0, 0.5^2), m the image mean
  ``hue``               rotation by theta ~ U[-pi, pi] about the grey axis (RGB only; no-op otherwise)
  ``saturation``        ``m + s (x - m)``, s ~ 2^N(0, 1), m the per-pixel channel mean
  ====================  ===================================================================

  Left out of the paper's "bgc" set: arbitrary rotation, anisotropic scaling, fractional translation
  and luma flip, and the wavelet low-pass filtering around the geometric warp (we resample once,
  bilinearly), which keep it cheap on CPU. Presets: ``b`` (xflip, rotate90, xint), ``g`` (scale),
  ``c`` (brightness, contrast, hue, saturation), ``bg``, ``bgc`` (default); or a comma list of names.

- ``AdaController``: the overfitting heuristic r_t = E[sign(D(x_real))] (Sec. 3, Eq. 1 "r_t"),
  accumulated over ``interval`` D steps, then p <- p + sign(r_t - target) * images / (ada_kimg * 1000),
  so p can move from 0 to 1 in ``ada_kimg`` thousand images. ``target`` is 0.6 in the paper.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from ganforge.augment.functional import (
    channel_mean,
    check_images,
    image_mean,
    memory_format,
    normal,
    per_sample,
    translate,
    uniform,
)
from ganforge.errors import ConfigError

P_MAX = math.nextafter(1.0, 0.0)  # p stays in [0, 1): at p = 1 every augmentation would leak into G


def _gate(x: torch.Tensor, out: torch.Tensor, apply: torch.Tensor) -> torch.Tensor:
    """``out`` for the samples where ``apply`` is true, ``x`` (bit for bit) elsewhere."""
    return torch.where(apply.reshape(-1, 1, 1, 1), out.to(x.dtype), x)


def xflip(x: torch.Tensor, apply: torch.Tensor) -> torch.Tensor:
    flip = apply & (uniform(len(x), x) < 0.5)
    return _gate(x, x.flip(3), flip)


def rotate90(x: torch.Tensor, apply: torch.Tensor) -> torch.Tensor:
    square = x.shape[2] == x.shape[3]
    k = torch.randint(0, 4, (len(x),), device=x.device) if square else 2 * torch.randint(0, 2, (len(x),))
    k = torch.where(apply, k.to(x.device), 0)
    out = _gate(x, x.flip(2, 3), k == 2)
    if square:
        out = _gate(out, x.rot90(1, (2, 3)), k == 1)
        out = _gate(out, x.rot90(-1, (2, 3)), k == 3)
    return out


def xint(x: torch.Tensor, apply: torch.Tensor, max_shift: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    shifts = []
    for size in (h, w):
        t = (uniform(n, x) * 2 - 1) * max_shift
        shifts.append(torch.where(apply, torch.round(t * size), 0).long())  # 0: the exact identity
    return translate(x, shifts[0], shifts[1], padding="reflect")


def scale(x: torch.Tensor, apply: torch.Tensor, std: float = 0.2) -> torch.Tensor:
    s = torch.exp2(normal(len(x), x) * std)
    theta = torch.zeros(len(x), 2, 3, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / s  # sampling a smaller window zooms in by s
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return _gate(x, out, apply)


def brightness(x: torch.Tensor, apply: torch.Tensor, std: float = 0.2) -> torch.Tensor:
    return _gate(x, x + per_sample(normal(len(x), x) * std, x), apply)


def contrast(x: torch.Tensor, apply: torch.Tensor, std: float = 0.5) -> torch.Tensor:
    mean = image_mean(x)
    c = per_sample(torch.exp2(normal(len(x), x) * std), x)
    return _gate(x, (x - mean) * c + mean, apply)


def hue(x: torch.Tensor, apply: torch.Tensor) -> torch.Tensor:
    """Rodrigues rotation about the grey axis v = (1, 1, 1)/sqrt(3): R = cI + s[v]x + (1 - c)vv^T."""
    if x.shape[1] != 3:
        return x
    theta = (uniform(len(x), x) * 2 - 1) * math.pi
    cos, sin = theta.cos().reshape(-1, 1, 1), theta.sin().reshape(-1, 1, 1)
    v = torch.full((3,), 3**-0.5, device=x.device)
    cross = torch.tensor([[0.0, -1, 1], [1, 0, -1], [-1, 1, 0]], device=x.device) * 3**-0.5
    rot = cos * torch.eye(3, device=x.device) + sin * cross + (1 - cos) * torch.outer(v, v)
    out = torch.einsum("nij,njhw->nihw", rot, x.float())
    return _gate(x, out, apply)


def saturation(x: torch.Tensor, apply: torch.Tensor, std: float = 1.0) -> torch.Tensor:
    mean = channel_mean(x)
    s = per_sample(torch.exp2(normal(len(x), x) * std), x)
    return _gate(x, (x - mean) * s + mean, apply)


Transform = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
TRANSFORMS: dict[str, Transform] = {
    "xflip": xflip,
    "rotate90": rotate90,
    "xint": xint,
    "scale": scale,
    "brightness": brightness,
    "contrast": contrast,
    "hue": hue,
    "saturation": saturation,
}
PRESETS = {
    "b": ("xflip", "rotate90", "xint"),
    "g": ("scale",),
    "c": ("brightness", "contrast", "hue", "saturation"),
}
PRESETS["bg"] = PRESETS["b"] + PRESETS["g"]
PRESETS["bgc"] = PRESETS["bg"] + PRESETS["c"]
DEFAULT_POLICY = "bgc"


def parse_policy(policy: str) -> list[str]:
    """Presets and transform names, comma-separated -> transform names in the pipeline's fixed order."""
    chosen: set[str] = set()
    for item in (p.strip() for p in policy.split(",")):
        if item in PRESETS:
            chosen.update(PRESETS[item])
        elif item in TRANSFORMS:
            chosen.add(item)
        else:
            raise ConfigError(
                f"unknown ADA augmentation '{item}'; valid: presets {', '.join(PRESETS)}"
                f" or transforms {', '.join(TRANSFORMS)} (comma-separated)"
            )
    return [name for name in TRANSFORMS if name in chosen]


def check_p(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"augmentation probability 'augment_p' must be in [0, 1], got {p}")
    return float(p)


class AdaPipeline:
    """``pipeline(x, p)``: each transform applied to each sample with probability ``p``.

    At p = 0 the images come back unchanged (the very tensor). Random draws use torch's global RNG
    on the images' device, which the trainer checkpoints, so resumed runs replay them.
    """

    def __init__(self, policy: str = DEFAULT_POLICY) -> None:
        self.policy = policy
        self.names = parse_policy(policy)

    def __call__(self, x: torch.Tensor, p: float) -> torch.Tensor:
        check_images(x, "ADA")
        if p <= 0:
            return x
        fmt = memory_format(x)
        for name in self.names:
            x = TRANSFORMS[name](x, uniform(len(x), x) < p)
        return x.contiguous(memory_format=fmt)


class AdaController:
    """Adapts p from D's outputs on real images (the paper's r_t heuristic, Sec. 3).

    ``observe(real_logits)`` is called in every D step; every ``interval`` calls it sums (across
    processes, when torch.distributed is initialised) the signs, the logit count and the image count,
    and moves p by ``sign(r_t - target) * images / (ada_kimg * 1000)``. The images are counted, not
    configured, so the speed is right for any batch size, process count or n_critic. Between updates
    the sums stay on the logits' device: one host sync per ``interval`` D steps.
    """

    def __init__(
        self, target: float = 0.6, ada_kimg: float = 500.0, interval: int = 4, p: float = 0.0
    ) -> None:
        if not 0.0 < target < 1.0:
            raise ConfigError(f"'ada_target' must be in (0, 1), got {target}")
        if not ada_kimg > 0:
            raise ConfigError(f"'ada_kimg' must be positive, got {ada_kimg}")
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ConfigError(f"'ada_interval' must be a positive integer, got {interval!r}")
        self.target, self.ada_kimg, self.interval = float(target), float(ada_kimg), interval
        self.p = min(check_p(p), P_MAX)
        self.rt: float | None = None  # the last r_t, for logging
        self.steps = 0  # observe() calls since the last update
        self._sums = torch.zeros(3)  # sum of signs, number of logits, number of images

    def observe(self, real_logits: torch.Tensor) -> None:
        logits = real_logits.detach().float()
        stats = torch.stack(
            [
                logits.sign().sum(),
                torch.tensor(float(logits.numel()), device=logits.device),
                torch.tensor(float(len(logits)), device=logits.device),
            ]
        )
        self._sums = self._sums.to(logits.device) + stats
        self.steps += 1
        if self.steps >= self.interval:
            self.update()

    def update(self) -> None:
        sums = self._sums.clone()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(sums)  # every rank then takes the same step and keeps the same p
        sign_sum, logits, images = sums.tolist()
        self._sums.zero_()
        self.steps = 0
        if logits == 0:
            return
        self.rt = sign_sum / logits
        direction = (self.rt > self.target) - (self.rt < self.target)
        self.p = min(max(self.p + direction * images / (self.ada_kimg * 1000), 0.0), P_MAX)

    def state_dict(self) -> dict[str, Any]:
        """Plain numbers (JSON-safe, exact): p and the partial sums of the current interval."""
        sign_sum, logits, images = self._sums.tolist()
        return {"p": self.p, "sign_sum": sign_sum, "logits": logits, "images": images, "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p = float(state["p"])
        self.steps = int(state["steps"])
        self._sums = torch.tensor([float(state[k]) for k in ("sign_sum", "logits", "images")])


class AdaAugment:
    """The augment object the objective holds: ``AdaPipeline`` at the controller's p (kind ``ada``)
    or at a fixed p (kind ``ada_fixed``, no controller: ``observe`` does nothing)."""

    def __init__(self, pipeline: AdaPipeline, controller: AdaController | None = None, p: float = 0.0):
        self.pipeline, self.controller = pipeline, controller
        self._fixed_p = check_p(p)
        self.kind = "ada" if controller is not None else "ada_fixed"

    @property
    def p(self) -> float:
        return self.controller.p if self.controller is not None else self._fixed_p

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.pipeline(x, self.p)

    def observe(self, real_logits: torch.Tensor) -> None:
        if self.controller is not None:
            self.controller.observe(real_logits)

    def stats(self) -> dict[str, float]:
        out = {"aug_p": self.p}
        if self.controller is not None and self.controller.rt is not None:
            out["ada_rt"] = self.controller.rt
        return out

    def state_dict(self) -> dict[str, Any]:
        return self.controller.state_dict() if self.controller is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.controller is not None and state:
            self.controller.load_state_dict(state)

    def __repr__(self) -> str:
        return f"AdaAugment(kind={self.kind!r}, policy={self.pipeline.policy!r}, p={self.p:.4f})"
