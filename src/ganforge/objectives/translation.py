"""What the translation objectives share: batch checks, a preview grid, and an image history pool.

Batches carry the target images (domain B) under ``x`` and the inputs (domain A) under ``a``
(``data/paired.py``). ``preview`` is the optional objective method the sample-grid callback calls
instead of latent sampling: it returns (N, K, C, H, W), K panels per sample (input | output |
target ...), which the callback tiles K panels to a cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ganforge.errors import ConfigError, DataError
from ganforge.objectives.base import Batch
from ganforge.options import NonNegativeFloat, Options


def inputs_of(batch: Batch, objective: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, x) of a batch, or a DataError naming the kind of dataset the objective needs."""
    if "a" not in batch:
        raise DataError(
            f"objective '{objective}' needs image pairs: a dataset whose batches hold input images 'a'"
            " beside the targets 'x' (e.g. data.name: edges2digits, thin2thick, paired_folder)"
        )
    return batch["a"], batch["x"]


class FeatureLoss:
    """Perceptual loss: MSE between a frozen extractor's features of the output and of the target.

    Johnson et al. 2016 / SRGAN's VGG loss (Ledig et al. 2017, Sec. 2.2.1), with any registered
    extractor (``ganforge.metrics.features``) as the feature network. Pixel losses pull ambiguous
    regions to the conditional mean, a blur that a feature network may read as another class; a
    loss in the features of a network that tells the classes apart penalises exactly that. The
    extractor is not one of the objective's networks: it is never trained or checkpointed.

    Whoever uses it must not score the outputs with the same network and call that independent:
    ``benchmarks/restoration.py`` judges identity with ``mnist-judge`` (another architecture and
    seed) when the presets train against ``mnist-cnn``.
    """

    def __init__(
        self, name: str, out_shape: tuple[int, ...], device: torch.device, weight: float = 1.0
    ) -> None:
        from ganforge.metrics.features import create_extractor  # lazy: keeps registry import cheap

        self.name, self.weight = name, weight
        extractor = create_extractor(name)
        extractor.check_input(out_shape)  # an EvalError when the run is built, not mid-run
        self.extractor = extractor.to(device).eval().requires_grad_(False)

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ext = self.extractor
        with torch.no_grad():
            wanted = ext(ext.preprocess(target.float()))["features"].float()
        return F.mse_loss(ext(ext.preprocess(output.float()))["features"].float(), wanted)


@dataclass(frozen=True)
class PerceptualOptions(Options):
    """The perceptual-loss keys of the restoration objectives (their ``Options`` inherit these):
    ``perceptual`` an extractor name, or ``none`` (the default) for no such term; its weight
    ``lambda_perceptual``."""

    perceptual: str = "none"
    lambda_perceptual: NonNegativeFloat = 1.0

    def feature_loss(self, out_shape: tuple[int, ...], device: torch.device) -> FeatureLoss | None:
        if self.perceptual in ("none", ""):
            return None
        return FeatureLoss(self.perceptual, out_shape, device, self.lambda_perceptual)


def add_perceptual(
    term: FeatureLoss | None,
    loss: torch.Tensor,
    stats: dict[str, torch.Tensor],
    output: torch.Tensor,
    target: torch.Tensor,
) -> torch.Tensor:
    """``loss`` + the term's weight · its value on (output, target), logged as ``perceptual`` in
    ``stats``; ``loss`` itself when the objective has no perceptual term."""
    if term is None:
        return loss
    value = term(output, target)
    stats["perceptual"] = value.detach()
    return loss + term.weight * value


class ImagePool:
    """History of generated images (Shrivastava et al. 2017, Sec. 2.3; CycleGAN Sec. 4).

    D is updated on a mix of the newest fakes and older ones, so it does not forget what earlier
    generators produced and G cannot oscillate between modes D has just stopped penalising. Until
    the pool holds ``size`` images each new one is stored and returned; afterwards each is, with
    probability ½, swapped for a random stored image (which is returned instead), else returned as is.

    Randomness comes from a private generator whose state is part of ``state_dict``, with the stored
    images: a resumed run draws exactly what the uninterrupted one would.
    """

    def __init__(self, size: int = 50, seed: int = 0) -> None:
        if size < 0:
            raise ConfigError(f"'objective.pool_size' must be >= 0, got {size}")
        self.size = size
        self.images: torch.Tensor | None = None  # (count, C, H, W), count <= size
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return 0 if self.images is None else len(self.images)

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        images = images.detach()
        if self.size == 0:
            return images
        out = []
        for img in images:
            if len(self) < self.size:
                stored = img[None].clone()
                self.images = stored if self.images is None else torch.cat([self.images, stored])
                out.append(img)
            elif torch.rand((), generator=self.gen).item() < 0.5:
                assert self.images is not None
                k = int(torch.randint(len(self.images), (), generator=self.gen))
                out.append(self.images[k].clone())
                self.images[k] = img
            else:
                out.append(img)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"rng": self.gen.get_state()}
        if self.images is not None:
            state["images"] = self.images.contiguous()
        return state

    def load_state_dict(self, state: dict[str, Any], device: torch.device | None = None) -> None:
        if "rng" in state:
            self.gen.set_state(state["rng"].cpu())
        images = state.get("images")
        self.images = None if images is None else images.to(device or images.device).clone()
