"""Issue 21's text-to-image table (a start): attribute accuracy, seen vs held-out, against two baselines.

Methods, each trained from ``text/captioned_digits`` for the same budget and scored on the same 20
fixed prompts (``ganforge.evaluation.t2i``: per digit one held-out composition, one seen):

| method | what |
|---|---|
| ``text`` | the preset: text_gan on the sentence embeddings of ``--encoder`` (MiniLM by default) |
| ``oracle`` | the same generator on ``data.encoder=attributes`` (attributes one-hot, no language) |
| ``retrieval`` | the training scene whose caption embedding is nearest the prompt's (cannot compose) |
| ``real`` | the readers on the 1,000 real test scenes (their ceiling) |

One JSON line: per method ``seen`` and ``held_out`` (digit, colour, size, position, all) and the
training time; ``machine`` records the load (a busy machine makes times meaningless).

    python benchmarks/text_to_image.py --steps 3000            # the preset's length
    python benchmarks/text_to_image.py --steps 50 --encoder hash --n 4   # a quick check
Not yet: FID of crops, within-prompt diversity, the goals' thresholds.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import ganforge
from bench_common import machine_facts
from ganforge.config import load_config
from ganforge.data.captioned import scene_tensor, scenes
from ganforge.evaluation.t2i import attribute_accuracy, eval_prompts, score_prompt_samples
from ganforge.metrics.scene_attributes import accuracy_by_attribute, read_attributes
from ganforge.text.encoders import text_encoder

PRESET = "text/captioned_digits"


def train_and_score(encoder: str, args: argparse.Namespace, out: Path) -> tuple[dict[str, Any], Any]:
    """Train the preset on ``encoder``'s embeddings for ``--steps`` and score its EMA generator."""
    overrides = [f"data.encoder={encoder}", f"train.steps={args.steps}", "train.progress=false", *args.set]
    start = time.perf_counter()
    ganforge.train(load_config(PRESET, overrides), out=out)
    seconds = time.perf_counter() - start
    handle = ganforge.open_run(out)
    return {**attribute_accuracy(handle, n=args.n), "train_s": round(seconds, 1)}, handle


def retrieval(encoder: str, n: int) -> dict[str, Any]:
    """Each prompt answered by the ``n`` training scenes whose caption embeddings are nearest it."""
    train = scenes("train", 2)
    enc = text_encoder(encoder)
    keys = torch.nn.functional.normalize(enc.encode([str(c) for c in train.captions]), dim=1)
    query = torch.nn.functional.normalize(enc.encode(eval_prompts()), dim=1)
    nearest = (query @ keys.T).topk(n, dim=1).indices.flatten().numpy()
    return score_prompt_samples(scene_tensor(train.images[nearest]), n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--n", type=int, default=20, help="samples per prompt")
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=[], help="more config overrides for both trainings")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    test = scenes("test", 1)
    real = accuracy_by_attribute(
        read_attributes(scene_tensor(test.images)).numpy(), test.attrs, np.ones_like(test.mentions)
    )
    result: dict[str, Any] = {"benchmark": "text_to_image", "steps": args.steps, "encoder": args.encoder}
    with tempfile.TemporaryDirectory() as tmp:
        result["text"], _ = train_and_score(args.encoder, args, Path(tmp) / "text")
        result["oracle"], _ = train_and_score("attributes", args, Path(tmp) / "oracle")
    result["retrieval"] = retrieval(args.encoder, args.n)
    result["real"] = real
    result["machine"] = machine_facts(args.threads)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
