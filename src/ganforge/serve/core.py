"""The studio's shared pieces: limits, errors, request models, the model table, image coding.

FastAPI, because its request models give every endpoint typed, validated input with 4xx answers
for free, it runs on any ASGI server (uvicorn here), and it serves one static page without a
front-end build. Gradio would draw widgets for us but pulls in a large front end and decides the
API's shape; the JSON API here is the contract scripts use, and the page is just its first client.

Safety: the app only ever reads the models it was built with (no endpoint takes a path), bounds
every request (``Limits``: images per request, upload bytes and pixels, seconds), runs one
computation at a time, and answers errors as ``{"error": "one sentence"}`` with a 4xx status,
never a traceback.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np
import torch
from fastapi import UploadFile
from PIL import Image, ImageOps
from pydantic import BaseModel, Field

from ganforge.errors import ConfigError
from ganforge.tasks.generation import GeneratorHandle
from ganforge.tasks.translation import TranslatorHandle
from ganforge.utils.images import to_uint8

log = logging.getLogger("ganforge.serve")


@dataclass(frozen=True)
class Limits:
    """What one request may ask: a bound on each resource, so no request can take the server down."""

    max_images: int = 64
    max_steps: int = 32
    max_rows: int = 10_000
    max_upload_bytes: int = 8 * 2**20
    max_pixels: int = 2048 * 2048
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not value > 0:
                raise ConfigError(f"the studio's {name} must be positive, got {value}")


class ApiError(Exception):
    """A request the server refuses: ``status`` and one sentence for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed's range


class ModelRequest(BaseModel):
    """Every request may name its model; it must when several are loaded."""

    model: str | None = None


class ImageRequest(ModelRequest):
    """What every request for generated images takes: the truncation ψ of its samples."""

    truncation: float = Field(1.0, ge=0.0, le=1.0)


class SampleRequest(ImageRequest):
    n: int = Field(4, ge=1)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    label: int | None = Field(None, ge=0)


class InterpolateRequest(ImageRequest):
    seed_a: int = Field(0, ge=0, le=MAX_SEED)
    seed_b: int = Field(1, ge=0, le=MAX_SEED)
    steps: int = Field(8, ge=2)
    label: int | None = Field(None, ge=0)


class ClassesRequest(ImageRequest):
    start: int = Field(0, ge=0)
    end: int = Field(1, ge=0)
    steps: int = Field(8, ge=2)
    seed: int = Field(0, ge=0, le=MAX_SEED)


class RowsRequest(ModelRequest):
    n: int = Field(100, ge=1)
    seed: int = Field(0, ge=0, le=MAX_SEED)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


PNG_END = _chunk(b"IEND", b"")


def _deflate(rows: np.ndarray) -> bytes:
    """zlib's run-length strategy: generated samples are noise-like textures, where deflate's string
    matching (``zlib.compress`` at level 1) finds little and took about twice as long (16 quickstart
    samples, interleaved runs); run-length coding gave 11% smaller files on them, and flat areas
    (masks, drawings) still shrink."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 15, 8, zlib.Z_RLE)
    return packer.compress(rows) + packer.flush()


def png_files(pixels: np.ndarray) -> list[bytes]:
    """(N, H, W, C) uint8 images (C = 1 or 3) as PNG files: signature, IHDR, one IDAT of rows with
    no filter, IEND. Written out rather than through PIL because the studio's images are small and
    many: PIL's per-image setup cost more than sampling them. The rows of the whole batch are laid
    out in one array, and the header is shared: only the IDAT differs from image to image."""
    n, height, width, channels = pixels.shape
    rows = np.zeros((n, height, 1 + width * channels), np.uint8)  # a 0 (no filter) byte per row
    rows[:, :, 1:] = pixels.reshape(n, height, width * channels)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0 if channels == 1 else 2, 0, 0, 0)
    head = PNG_SIGNATURE + _chunk(b"IHDR", ihdr)
    return [head + _chunk(b"IDAT", _deflate(image)) + PNG_END for image in rows]


def png_uris(images: torch.Tensor) -> list[str]:
    """(N, C, H, W) images in [-1, 1] as ``data:image/png;base64,...`` URIs of ``to_uint8``'s bytes."""
    return [
        "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        for png in png_files(to_uint8(images))
    ]


def describe(name: str, handle: Any) -> dict[str, Any]:
    """What the page needs to draw a model's widgets: its task and its inputs' shapes."""
    from ganforge.tasks import task_of

    facts: dict[str, Any] = {"name": name, "task": task_of(handle.config).name}
    if isinstance(handle, GeneratorHandle):
        facts |= {"shape": list(handle.generator.out_shape), "num_classes": handle.num_classes}
    elif isinstance(handle, TranslatorHandle):
        facts |= {
            "directions": list(handle.directions),
            "conditions": list(handle.conditions),
            "input_shape": list(handle.input_shape("AtoB")),
            "output_shape": list(handle.generator.out_shape),
        }
    return facts


class Studio:
    """The models by name, the limits, and the one thread every computation runs on, in turn.

    One dedicated thread, not a pool: torch's CPU kernels run in a team of OpenMP threads owned by
    the calling thread (libgomp), so each new thread that computes builds a team of its own. Once a
    process holds more team threads than cores (here: this thread's team and that of the thread
    that loaded the models), libgomp puts idle team threads to sleep after every parallel region
    instead of letting them spin. Measured on 2 cores, that made a sampling call 1.5-2x slower than
    in a process with one team while the machine was idle, but 3-9x faster while other processes
    kept the cores busy and a spinning team fought them (benchmarks/serve_latency.py: ``in_process``
    against ``in_process_alone``). So the studio does not try to be its process's only team.
    Requests wait for their turn at ``gate``, where a time-out can still cancel them, rather than
    in the thread's queue."""

    def __init__(self, models: dict[str, Any], limits: Limits) -> None:
        if not models:
            raise ValueError("the studio needs at least one model")
        self.models, self.limits = models, limits
        self.gate = asyncio.Semaphore(1)
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ganforge-studio")

    def handle(self, name: str | None, kind: type | None = None, what: str = "") -> Any:
        """The model ``name`` (the only one when None), checked to be of ``kind``."""
        if name is None:
            if len(self.models) > 1:
                raise ApiError(400, f"several models are loaded: name one of {', '.join(self.models)}")
            name = next(iter(self.models))
        if name not in self.models:
            raise ApiError(404, f"no model named '{name}'; loaded: {', '.join(self.models)}")
        handle = self.models[name]
        if kind is not None and not isinstance(handle, kind):
            raise ApiError(400, f"model '{name}' cannot {what}")
        return handle

    async def run(self, compute: Any) -> Any:
        """``compute()`` on the studio's thread, one at a time, answered within the time limit.

        A time-out answers 503 but cannot stop a computation under way (a thread cannot be killed),
        so the gate stays closed until that computation really ends: later requests wait for it,
        within their own time limits, instead of piling work behind it."""
        loop = asyncio.get_running_loop()
        try:
            with anyio.fail_after(self.limits.timeout_s):
                await self.gate.acquire()
                future = self.worker.submit(compute)
                future.add_done_callback(lambda _: loop.call_soon_threadsafe(self.gate.release))
                return await asyncio.wrap_future(future)
        except TimeoutError:
            raise ApiError(503, f"the studio is busy: no answer within {self.limits.timeout_s:g} s") from None

    def at_most(self, value: int, limit: int, what: str) -> None:
        if value > limit:
            raise ApiError(400, f"at most {limit} {what} per request, got {value}")


# Raster formats only: Pillow hands some others (EPS) to external programs.
UPLOAD_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")


def decode_upload(data: bytes, limits: Limits, channels: int) -> torch.Tensor:
    """An uploaded image file as (C, H, W) in [-1, 1]; a 4xx ApiError for anything else."""
    if not data:
        raise ApiError(400, "the uploaded file is empty")
    try:
        with Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS) as picture:
            width, height = picture.size
            if width * height > limits.max_pixels:
                pixels = f"{width}x{height} pixels"
                raise ApiError(413, f"the image has {pixels}; the limit is {limits.max_pixels}")
            rgb = np.asarray(ImageOps.exif_transpose(picture).convert("RGB"))
    except ApiError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        formats = ", ".join(UPLOAD_FORMATS)
        raise ApiError(415, f"the uploaded file is not an image in a format taken here ({formats})") from None
    from ganforge.data.decode import rgb_to_unit

    return rgb_to_unit(rgb[None], channels)[0]


async def read_upload(upload: UploadFile, limits: Limits) -> bytes:
    data = await upload.read(limits.max_upload_bytes + 1)
    if len(data) > limits.max_upload_bytes:
        raise ApiError(413, f"uploads are limited to {limits.max_upload_bytes} bytes")
    return data
