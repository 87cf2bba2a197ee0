import pytest
import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.nn import ConditionalBatchNorm2d, embed_labels, require_labels


def test_soft_one_hot_labels_embed_like_hard_labels_and_mixtures_mix():
    emb = nn.Embedding(10, 6)
    hard = torch.tensor([3, 8])
    soft = torch.nn.functional.one_hot(hard, 10).float()
    assert torch.allclose(embed_labels(emb, hard), embed_labels(emb, soft))
    mix = 0.3 * soft[0] + 0.7 * soft[1]
    expected = 0.3 * emb.weight[3] + 0.7 * emb.weight[8]
    assert torch.allclose(embed_labels(emb, mix[None])[0], expected, atol=1e-6)


def test_soft_labels_of_the_wrong_width_are_a_clear_error():
    with pytest.raises(ConfigError, match=r"\(N, 10\)"):
        embed_labels(nn.Embedding(10, 4), torch.zeros(2, 7))


def test_missing_labels_name_the_network():
    with pytest.raises(ConfigError, match="cgan generator"):
        require_labels(None, 10, "cgan generator")


def test_conditional_batchnorm_starts_neutral_and_learns_class_specific_affines():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(4, cond_dim=3)
    x = torch.randn(8, 4, 5, 5)
    plain = nn.BatchNorm2d(4, affine=False)
    assert torch.allclose(cbn(x, torch.randn(8, 3)), plain(x), atol=1e-6)
    nn.init.normal_(cbn.gain.weight)
    c = torch.eye(3)[torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])]
    out = cbn(x, c)
    assert not torch.allclose(out[:2], plain(x)[:2])  # class-dependent scaling once learned


def test_spectral_norm_on_a_network_with_conditional_batchnorm_stays_finite():
    from ganforge.nn import apply_spectral_norm

    net = apply_spectral_norm(nn.ModuleDict({"cbn": ConditionalBatchNorm2d(4, 3), "lin": nn.Linear(3, 3)}))
    out = net["cbn"](torch.randn(6, 4, 3, 3), torch.randn(6, 3))
    assert torch.isfinite(out).all()
    assert hasattr(net["lin"], "parametrizations") and not hasattr(net["cbn"].gain, "parametrizations")
