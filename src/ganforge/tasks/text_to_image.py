"""Task ``text_to_image``: a prompt (and noise) in, an image out (issue 21).

A run's checkpoint records the text encoder its data were embedded with (``info["text_encoder"]``),
so the handle encodes prompts exactly as the captions it was trained on:
``ganforge.load("runs/t2i").sample(8, prompt="a big red 7 in the top left")``.

Evaluation: the samples are drawn for the captions of the ``captioned_digits`` test split (the
first ``n``, in order) and compared with those test scenes, so FID-style metrics score
images against real scenes of the same prompts; ``evaluation/t2i.py``'s ``attribute_accuracy``
reads each sample's digit, colour, size and position on a fixed prompt list of seen and held-out
compositions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.data.captioned import Scenes, scene_tensor, scenes
from ganforge.errors import CheckpointError, ConfigError, InputError
from ganforge.models.text_gan import TextGenerator
from ganforge.registry import register_task
from ganforge.tasks.base import Handle, Task
from ganforge.text.encoders import TextEncoder, text_encoder
from ganforge.utils.images import save_samples_picture


def prompt_list(prompt: str | Sequence[str] | None) -> list[str]:
    """One prompt or several as a list; an InputError for none (a text model samples from text)."""
    if prompt is None:
        raise InputError("a text_to_image model samples from text: pass prompt='...' (or a list of prompts)")
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if not prompts:
        raise InputError("the list of prompts is empty")
    return prompts


def read_prompt_file(path: str | Path) -> list[str]:
    """A prompt file: one prompt per line; blank lines and surrounding whitespace are skipped (a file
    with none left is an InputError)."""
    lines = [line.strip() for line in Path(path).read_text().splitlines()]
    prompts = [line for line in lines if line]
    if not prompts:
        raise InputError(f"prompt file '{path}' holds no prompts (one per line)")
    return prompts


def test_scenes(ctx: Any) -> Scenes:
    """The test split of the run's ``captioned_digits`` (its seed and omission rate), one scene per digit."""
    params = {k: v for k, v in ctx.config.data.params.items() if k in ("seed", "omit")}
    return scenes("test", 1, **params)


class TextHandle(Handle):
    """A trained text-to-image generator: ``sample(n, prompt=...)`` -> (N, 3, H, W) in [-1, 1]."""

    generator: TextGenerator

    def load_info(self, checkpoint: Path) -> None:
        if "text_encoder" not in self.info:
            raise CheckpointError(
                f"checkpoint '{checkpoint}' does not record the text encoder it was trained with"
            )

    @property
    def encoder(self) -> TextEncoder:
        """The run's text encoder (loaded once per process; its embeddings cached per prompt)."""
        return text_encoder(str(self.info["text_encoder"]))

    @torch.no_grad()
    def sample(
        self,
        n: int,
        prompt: str | Sequence[str] | None = None,
        seed: int = 0,
        batch_size: int = 256,
        truncation: float = 1.0,
    ) -> torch.Tensor:
        """``n`` samples per prompt (prompts in order, their samples together), on the CPU; the same
        seed gives the same latents for every prompt, so rows of a grid differ in the text alone."""
        if n <= 0:
            raise ValueError(f"n must be positive, got {n}")
        prompts = prompt_list(prompt)
        text = self.encoder.encode(prompts).repeat_interleave(n, dim=0)
        z = self.generator.sample_z(n, generator=torch.Generator().manual_seed(seed)).repeat(len(prompts), 1)
        out = []
        for start in range(0, len(z), batch_size):
            t = text[start : start + batch_size].to(self.device)
            zb = z[start : start + batch_size].to(self.device)
            out.append(self.generator.generate(zb, t, truncation=truncation).float().cpu())
        return torch.cat(out).contiguous()

    def save(
        self, path: str | Path, n: int, prompt: str | Sequence[str] | None = None, seed: int = 0
    ) -> Path:
        """``.png``: a grid, one row of ``n`` per prompt; ``.npz``: ``x`` (N, 3, H, W) in [-1, 1],
        ``prompt_index`` (N,) and ``prompts``."""
        prompts = prompt_list(prompt)
        path = Path(path)
        if path.suffix.lower() not in (".png", ".npz"):
            raise ConfigError(f"cannot write samples to '{path}': the name must end in .png or .npz")
        x = self.sample(n, prompts, seed=seed)
        if path.suffix.lower() == ".png":
            return save_samples_picture(x, path, nrow=n)
        path.parent.mkdir(parents=True, exist_ok=True)
        index = np.repeat(np.arange(len(prompts)), n)
        np.savez(path, x=x.numpy(), prompt_index=index, prompts=np.array(prompts))
        return path


@register_task("text_to_image", description="prompt [+ noise] -> image: text-conditioned GANs")
class TextToImageTask(Task):
    handle_class = TextHandle
    network = TextGenerator
    report_title = "Samples per prompt"
    loader = "`ganforge sample RUN --prompt '...'` (or ganforge.open_run(RUN).sample(n, prompt='...'))"

    def test_captions(self, ctx: Any) -> list[str]:
        """The first ``n`` captions of the run's dataset's test split (the evaluation's prompts)."""
        return [str(c) for c in test_scenes(ctx).captions[: ctx.n]]

    def eval_samples(self, ctx: Any) -> torch.Tensor:
        captions = self.test_captions(ctx)
        handle = ctx.generator()
        z = handle.generator.sample_z(len(captions), generator=torch.Generator().manual_seed(ctx.seed))
        with torch.no_grad():
            text = handle.encoder.encode(captions).to(handle.device)
            return handle.generator(z.to(handle.device), text).float().cpu()

    def eval_count(self, ctx: Any) -> int:
        return len(self.test_captions(ctx))

    def eval_reference(self, ctx: Any) -> torch.Tensor | None:
        return scene_tensor(test_scenes(ctx).images[: ctx.n])

    def eval_facts(self, ctx: Any) -> dict[str, Any]:
        return {"split": "test", "prompts": "the test split's captions, in order"}
