"""The studio's JSON API: what each kind of model can do in the page (and for scripts).

``POST /api/sample`` ``{"n": 4, "seed": 1, "label": null, "truncation": 1.0}`` returns
``{"images": ["data:image/png;base64,...", ...]}``; ``/api/interpolate`` (between two seeds) and
``/api/classes`` (between two classes) return the frames of a path the page's slider walks;
``/api/translate`` takes an uploaded image (and a mask image or attribute values) and returns the
result; ``/api/rows`` returns sampled table rows as CSV. A model that cannot do what an endpoint
asks gets a 400 saying so.
"""

from __future__ import annotations

from typing import Any

import torch
from fastapi import FastAPI, File, Form, UploadFile
from fastapi.responses import Response

from ganforge.latent.interpolate import slerp
from ganforge.models.translation import parse_attr
from ganforge.serve.core import (
    ApiError,
    ClassesRequest,
    InterpolateRequest,
    RowsRequest,
    SampleRequest,
    Studio,
    decode_upload,
    png_uris,
    read_upload,
)
from ganforge.tasks.generation import GeneratorHandle
from ganforge.tasks.translation import TranslatorHandle


def _image_generator(studio: Studio, name: str | None, label: int | None) -> GeneratorHandle:
    handle = studio.handle(name, GeneratorHandle, "sample images")
    if len(handle.generator.out_shape) != 3:
        raise ApiError(400, "this model generates vectors, not images: sample it with `ganforge sample`")
    if label is not None and not label < max(handle.num_classes, 0):
        classes = f"classes 0-{handle.num_classes - 1}" if handle.num_classes else "no classes"
        raise ApiError(400, f"label {label} is not a class of this model (it has {classes})")
    return handle


def add_generation_routes(app: FastAPI, studio: Studio) -> None:
    limits = studio.limits

    @app.post("/api/sample")
    async def sample(request: SampleRequest) -> dict[str, Any]:
        studio.at_most(request.n, limits.max_images, "images")
        handle = _image_generator(studio, request.model, request.label)
        r = request
        uris = await studio.run(
            lambda: png_uris(handle.sample(r.n, seed=r.seed, labels=r.label, truncation=r.truncation))
        )  # PNG coding in the worker thread too: the event loop only moves bytes
        return {"images": uris}

    @app.post("/api/interpolate")
    async def interpolate(request: InterpolateRequest) -> dict[str, Any]:
        studio.at_most(request.steps, limits.max_steps, "steps")
        handle = _image_generator(studio, request.model, request.label)

        def frames() -> torch.Tensor:
            g, r = handle.generator, request
            seeded = (torch.Generator().manual_seed(s) for s in (r.seed_a, r.seed_b))
            a, b = (g.sample_z(1, generator=gen)[0] for gen in seeded)
            z = slerp(a, b, torch.linspace(0, 1, r.steps)).to(handle.device)
            label = r.label if r.label is not None else (0 if handle.num_classes else None)
            y = None if label is None else torch.full((r.steps,), label, device=handle.device)
            with torch.no_grad():
                return g.generate(z, y, r.truncation)

        return {"images": await studio.run(lambda: png_uris(frames().float().cpu()))}

    @app.post("/api/classes")
    async def classes(request: ClassesRequest) -> dict[str, Any]:
        from ganforge.latent import class_interpolation_grid

        studio.at_most(request.steps, limits.max_steps, "steps")
        handle = _image_generator(studio, request.model, None)
        if not handle.num_classes:
            raise ApiError(400, "this model is unconditional: it has no classes to interpolate")
        for label in (request.start, request.end):
            _image_generator(studio, request.model, label)
        r = request
        grid = lambda: class_interpolation_grid(handle, r.start, r.end, 1, r.steps, r.seed, r.truncation)  # noqa: E731
        return {"images": await studio.run(lambda: png_uris(grid()[0]))}

    @app.post("/api/rows")
    async def rows(request: RowsRequest) -> Response:
        studio.at_most(request.n, limits.max_rows, "rows")
        handle = studio.handle(request.model, None)
        if not hasattr(handle, "transformer"):
            raise ApiError(400, "this model does not sample table rows")
        frame = await studio.run(lambda: handle.sample(request.n, seed=request.seed))
        headers = {"Content-Disposition": 'attachment; filename="rows.csv"'}
        return Response(frame.to_csv(index=False), media_type="text/csv", headers=headers)


def add_translation_routes(app: FastAPI, studio: Studio) -> None:
    limits = studio.limits

    @app.post("/api/translate")
    async def translate(
        image: UploadFile = File(...),  # noqa: B008  (FastAPI's way of declaring form fields)
        mask: UploadFile | None = File(None),  # noqa: B008
        attr: str | None = Form(None),
        direction: str = Form("AtoB"),
        model: str | None = Form(None),
    ) -> dict[str, Any]:
        handle = studio.handle(model, TranslatorHandle, "translate images")
        if direction not in handle.directions:
            can = " and ".join(handle.directions)
            raise ApiError(400, f"this model translates {can} only, not {direction!r}")
        picture = await read_upload(image, limits)
        hole = await read_upload(mask, limits) if mask is not None else None

        def work() -> dict[str, Any]:  # decoding and coding too run on the studio's thread, timed
            x = decode_upload(picture, limits, handle.input_shape(direction)[0])
            conditions = _conditions(handle, x, hole, attr, limits)
            _check_result_size(handle, x, direction, limits)
            y = handle.translate_any(x, direction=direction, **conditions)
            return {"image": png_uris(y[None])[0], "width": int(y.shape[-1]), "height": int(y.shape[-2])}

        return await studio.run(work)


def _check_result_size(handle: TranslatorHandle, x: torch.Tensor, direction: str, limits: Any) -> None:
    """A 4x super-resolution of a large upload is 16 times its pixels: bound the result too."""
    g = handle.generator
    scale = g.out_shape[-1] / g.in_shape[-1] if direction == "AtoB" else g.in_shape[-1] / g.out_shape[-1]
    pixels = int(x.shape[-1] * x.shape[-2] * scale * scale)
    if pixels > limits.max_pixels:
        raise ApiError(413, f"the result would have {pixels} pixels; the limit is {limits.max_pixels}")


def _conditions(
    handle: TranslatorHandle, x: torch.Tensor, mask: bytes | None, attr: str | None, limits: Any
) -> dict[str, Any]:
    """The ``mask`` (a black-and-white image: white = missing) or ``attr`` the model needs."""
    need = handle.conditions
    if "mask" in need:
        if mask is None:
            raise ApiError(400, "this model inpaints: upload a mask image too (white = pixels to fill)")
        m = decode_upload(mask, limits, 1)
        if m.shape[-2:] != x.shape[-2:]:
            sizes = f"{m.shape[-1]}x{m.shape[-2]}, the image {x.shape[-1]}x{x.shape[-2]}"
            raise ApiError(400, f"the mask must have the image's size: the mask is {sizes}")
        return {"mask": (m > 0).float()}
    if "attr" in need:
        if not (attr or "").strip():
            raise ApiError(400, "this model edits an attribute: give its target value(s) in 'attr', e.g. 4.5")
        return {"attr": parse_attr(attr, "'attr'")}  # its ConfigError is a 400 too
    return {}
