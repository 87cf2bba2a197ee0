"""The web studio (issue 19, items 3 and 4): the JSON API on a real server, its limits and 4xx
answers, and the page in headless Chromium: click Sample and images of the model's size appear;
upload an image, paint a mask, and the inpainted image comes back."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from serve_helpers import call, multipart, running

import ganforge
from ganforge.cli.main import main
from ganforge.serve import create_app, load_models
from ganforge.serve.core import Limits

# Where the browser tests leave screenshots of the page, for a person to look at.
SCREENSHOTS = Path(os.environ.get("GANFORGE_SCREENSHOTS", tempfile.gettempdir()))
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def png_bytes(side: int, channels: int = 3, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels if channels == 3 else pixels[..., 0]).save(buffer, format="PNG")
    return buffer.getvalue()


def decoded(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


@pytest.fixture(scope="module")
def inpaint_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """inpaint_tiny on digits with masks, 2 steps: a translator that needs a mask."""
    out = tmp_path_factory.mktemp("inpaint") / "run"
    sets = ["model.name=inpaint_tiny", "train.steps=2", "train.progress=false", "train.device=cpu"]
    argv = ["train", "restore/inpaint_digits", "--out", str(out), *(a for s in sets for a in ("--set", s))]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def studio_url(tiny_image_run: ganforge.Run, inpaint_run: Path):
    app = create_app(
        load_models([tiny_image_run.path, inpaint_run]), Limits(max_images=16, max_upload_bytes=200_000)
    )
    with running(app) as url:
        yield url


def test_the_api_samples_and_interpolates(studio_url: str, tiny_image_run: ganforge.Run) -> None:
    status, listing = call(studio_url + "/api/models")
    assert status == 200 and [m["task"] for m in listing["models"]] == ["generation", "translation"]
    status, body = call(
        studio_url + "/api/sample", {"model": "run", "n": 4, "seed": 1, "label": None, "truncation": 1.0}
    )
    assert status == 200 and len(body["images"]) == 4
    assert all(decoded(uri).size == (32, 32) for uri in body["images"])
    expected = ganforge.load(tiny_image_run.path).sample(4, seed=1)  # the same samples as the API
    first = np.asarray(decoded(body["images"][0]), dtype=np.float32)
    assert np.abs(first / 127.5 - 1 - expected[0, 0].numpy()).max() <= 1 / 127.5 + 1e-6
    status, body = call(
        studio_url + "/api/interpolate", {"model": "run", "seed_a": 0, "seed_b": 5, "steps": 6}
    )
    assert status == 200 and len(body["images"]) == 6 and body["images"][0] != body["images"][-1]


def test_bad_requests_get_one_sentence_and_a_4xx(studio_url: str) -> None:
    cases = [
        ("/api/sample", {"model": "run", "n": 17}, 400, "at most 16 images"),
        ("/api/sample", {"model": "run", "n": 0}, 422, "n: Input should be greater"),
        ("/api/sample", {"n": 2}, 400, "several models are loaded"),
        ("/api/sample", {"model": "nope", "n": 2}, 404, "no model named 'nope'"),
        ("/api/sample", {"model": "run", "label": 3}, 400, "not a class of this model"),
        ("/api/sample", {"model": "run", "truncation": 2}, 422, "truncation"),
        ("/api/classes", {"model": "run"}, 400, "unconditional"),
        ("/api/rows", {"model": "run"}, 400, "does not sample table rows"),
    ]
    for path, body, status, words in cases:
        got, answer = call(studio_url + path, body)
        assert got == status and words in answer["error"], (path, body, got, answer)
    uploads = [
        ({"image": ("x.png", b"not an image")}, 415, "not an image"),
        ({"image": ("x.png", b"")}, 400, "empty"),
        ({"image": ("x.png", png_bytes(32))}, 400, "upload a mask image"),
        ({"image": ("x.png", png_bytes(32)), "mask": ("m.png", png_bytes(16, 1))}, 400, "the image's size"),
        ({"image": ("x.png", np.random.default_rng(0).bytes(300_000))}, 413, "limited to"),
    ]
    for files, status, words in uploads:
        data, headers = multipart({"model": "run-2"}, files)
        got, answer = call(studio_url + "/api/translate", data=data, headers=headers)
        assert got == status and words in answer["error"], (files.keys(), got, answer)
    data, headers = multipart({"model": "run"}, {"image": ("x.png", png_bytes(32))})
    assert call(studio_url + "/api/translate", data=data, headers=headers)[0] == 400  # a generator


def test_an_upload_is_inpainted_through_the_api(studio_url: str) -> None:
    mask = np.zeros((32, 32), np.uint8)
    mask[8:20, 8:20] = 255
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG")
    image = png_bytes(32, 1)
    data, headers = multipart(
        {"model": "run-2"}, {"image": ("x.png", image), "mask": ("m.png", buffer.getvalue())}
    )
    status, body = call(studio_url + "/api/translate", data=data, headers=headers)
    assert status == 200 and (body["width"], body["height"]) == (32, 32)
    out = np.asarray(decoded(body["image"]).convert("L"), dtype=np.int16)
    known = np.asarray(Image.open(io.BytesIO(image)).convert("L"), dtype=np.int16)
    assert np.abs(out - known)[mask == 0].max() <= 1  # known pixels come back (up to rounding)


def test_the_studio_binds_localhost_by_default() -> None:
    from ganforge.cli.main import build_parser

    args = build_parser().parse_args(["serve", "some/run"])
    assert args.host == "127.0.0.1"


# ---------------------------------------------------------------- in a real browser


def chromium() -> str:
    for name in BROWSERS:
        if found := shutil.which(name):
            return found
    pytest.skip("no Chromium binary found (make test installs it with apt-get where it can)")


def wait_until(tab, expression: str, seconds: float = 30.0) -> None:
    """Poll ``expression`` in the page (``wait_for_function`` evaluates strings with eval, which the
    studio's Content-Security-Policy rightly forbids)."""
    deadline = time.monotonic() + seconds
    while not tab.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def page(studio_url: str):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright drives the browser")
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        tab = browser.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda err: errors.append(str(err)))
        tab.goto(studio_url + "/")
        tab.wait_for_selector("body[data-ready='1']", timeout=30_000)
        yield tab, errors
        browser.close()


def test_clicking_sample_shows_images_of_the_model_size(page, tmp_path: Path) -> None:
    tab, errors = page
    tab.select_option("#model", "run")
    tab.fill("#count", "6")
    tab.click("#sample")
    wait_until(tab, "document.querySelectorAll('#samples img').length === 6")
    wait_until(tab, "[...document.querySelectorAll('#samples img')].every(i => i.naturalWidth > 0)")
    sizes = tab.eval_on_selector_all("#samples img", "ims => ims.map(i => [i.naturalWidth, i.naturalHeight])")
    assert sizes == [[32, 32]] * 6
    tab.click("#interpolate")
    tab.wait_for_selector("#interp-frame img")
    assert tab.get_attribute("#interp-slider", "max") == "15"
    tab.screenshot(path=str(SCREENSHOTS / "studio_samples.png"))
    assert not errors


def test_uploading_an_image_and_painting_a_mask_returns_the_inpainted_image(page, tmp_path: Path) -> None:
    tab, errors = page
    tab.select_option("#model", "run-2")
    assert tab.is_visible("#canvas") and not tab.is_visible("#sample")
    (tmp_path / "digit.png").write_bytes(png_bytes(32, 1))
    tab.set_input_files("#upload", str(tmp_path / "digit.png"))
    wait_until(tab, "document.getElementById('canvas').width === 32")
    box = tab.locator("#canvas").bounding_box()
    tab.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tab.mouse.down()
    tab.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.6)
    tab.mouse.up()
    tab.click("#translate")
    wait_until(tab, "document.getElementById('result').dataset.size === '32x32'")
    assert tab.evaluate("document.getElementById('result').naturalWidth") == 32
    assert tab.text_content("#error") == ""
    tab.screenshot(path=str(SCREENSHOTS / "studio_inpaint.png"))
    assert not errors


def test_the_studio_png_coder_gives_the_bytes_pil_reads_back() -> None:
    import torch

    from ganforge.serve.core import png_uris
    from ganforge.utils.images import to_uint8

    for shape in [(5, 1, 32, 32), (3, 3, 17, 29)]:
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        for uri, expected in zip(png_uris(x), to_uint8(x), strict=True):
            pixels = np.asarray(decoded(uri))
            assert np.array_equal(pixels.reshape(expected.shape), expected)
    flat = torch.zeros(2, 3, 64, 64)  # compressed, not stored: a flat picture is a few dozen bytes
    assert all(len(base64.b64decode(uri.split(",", 1)[1])) < 200 for uri in png_uris(flat))


def test_seeds_hosts_and_chunked_bodies_are_bounded(studio_url: str) -> None:
    import http.client

    status, answer = call(studio_url + "/api/sample", {"model": "run", "seed": 2**70})
    assert status == 422 and "seed" in answer["error"]
    host, port = studio_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    connection.request("GET", "/api/models", headers={"Host": "evil.example"})  # DNS rebinding
    assert connection.getresponse().status == 400
    connection = http.client.HTTPConnection(host, int(port))
    chunks = iter([b"x" * 300_000] * 3)  # no Content-Length: counted as it arrives
    connection.request("POST", "/api/sample", body=chunks, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 413 and "limited to" in json.loads(response.read())["error"]


def test_limits_must_be_positive() -> None:
    from ganforge.errors import ConfigError

    with pytest.raises(ConfigError, match="max_images must be positive"):
        Limits(max_images=0)
