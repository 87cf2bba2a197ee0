"""``ganforge report``: the page's sections, inlined images, config, warnings, partial runs, CLI."""

from __future__ import annotations

import base64
import io
import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from report_helpers import EVENT, Page

from ganforge.cli.main import main
from ganforge.errors import RunDirError
from ganforge.report import write_report
from ganforge.report.build import pick_evenly

SECTIONS = {
    "run",
    "losses",
    "discriminator",
    "gradients",
    "optimisation",
    "other",
    "metrics",
    "samples",
    "generator",
    "diagnostics",
    "config",
}
PNG_PREFIX = "data:image/png;base64,"


def decode_png(src: str) -> Image.Image:
    """The image of a ``data:image/png;base64,`` URI, checked by PIL as a complete, valid PNG."""
    assert src.startswith(PNG_PREFIX), src[:40]
    raw = base64.b64decode(src[len(PNG_PREFIX) :], validate=True)
    Image.open(io.BytesIO(raw)).verify()  # verify() consumes the file: reopen to read pixels
    image = Image.open(io.BytesIO(raw))
    assert image.format == "PNG"
    image.load()
    return image


def test_image_run_report_has_every_section_with_its_figures(image_report: tuple[Path, str]) -> None:
    path, text = image_report
    assert path.name == "report.html"
    assert not list(path.parent.glob(".report.html.*"))  # the atomic write left no temporary behind
    page = Page(text)
    assert set(page.sections) == SECTIONS
    for sid in ("losses", "discriminator", "gradients", "optimisation", "other", "metrics", "generator"):
        assert len(page.sections[sid]) == 1, sid  # one figure each: this run logs every kind of series
    assert len(page.sections["samples"]) == 3  # grids at steps 2, 4, 6
    for step in (2, 4, 6):
        assert f"step {step}" in page.section_text["samples"]


def test_every_image_is_a_valid_inline_png(image_report: tuple[Path, str]) -> None:
    page = Page(image_report[1])
    assert len(page.imgs) == 10
    sizes = [decode_png(src).size for src in page.imgs]
    assert all(w > 50 and h > 50 for w, h in sizes)
    # the interpolation strip: 4 rows x 10 steps of 32x32 digits, 2 px padding, all shown at 2x
    (strip,) = page.sections["generator"]
    assert decode_png(strip).size == (2 * (10 * 34 + 2), 2 * (4 * 34 + 2))


def test_page_references_nothing_outside_itself(image_report: tuple[Path, str]) -> None:
    text = image_report[1]
    page = Page(text)
    assert "http://" not in text and "https://" not in text
    assert not {"script", "link", "iframe", "object", "embed"} & set(page.tags)
    for tag, attr, value in page.attrs:
        if attr in ("src", "href"):
            assert value.startswith(("data:", "#")), (tag, attr, value[:60])
    csp = [v for t, a, v in page.attrs if t == "meta" and a == "content" and "default-src" in v]
    assert csp == ["default-src 'none'; img-src data:; style-src 'unsafe-inline'"]


def test_config_is_shown_verbatim(image_run: Path, image_report: tuple[Path, str]) -> None:
    page = Page(image_report[1])
    assert page.pre == [(image_run / "config.yaml").read_text()]
    assert "dcgan_tiny" in page.section_text["run"]


def test_warnings_from_the_event_log_are_tabulated_as_text(image_report: tuple[Path, str]) -> None:
    text = image_report[1]
    diagnostics = Page(text).section_text["diagnostics"]
    assert EVENT["message"] in diagnostics  # shown as text ...
    assert "<b>G</b>" not in text  # ... never as markup
    assert "d_overpowering" in diagnostics and "d_acc=0.995" in diagnostics
    assert "1 warning(s)" in diagnostics


def test_metric_curves_and_eval_records(image_report: tuple[Path, str]) -> None:
    page = Page(image_report[1])
    metrics = page.section_text["metrics"]
    assert "20250101-000000.json" in metrics and "fid=280" in metrics and "inception" in metrics
    assert "No periodic evaluations" not in metrics
    (curves,) = page.sections["metrics"]
    assert decode_png(curves).size == (1080, 260)  # one row of panels (fid, kid) at the page's width


def test_toy_run_gets_a_scatter_and_no_warnings(toy_report: tuple[Path, str]) -> None:
    page = Page(toy_report[1])
    assert set(page.sections) == SECTIONS
    assert "Generated samples" in page.section_text["generator"]
    assert "2,500 samples" in page.section_text["generator"]
    (scatter,) = page.sections["generator"]
    assert decode_png(scatter).size == (540, 540)
    assert "No warnings" in page.section_text["diagnostics"]
    assert "No recorded evaluations" in page.section_text["metrics"]
    assert not page.sections["metrics"]


def test_a_run_with_only_its_config_gets_notes_not_a_crash(toy_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "fresh"
    run.mkdir()
    shutil.copy(toy_run / "config.yaml", run / "config.yaml")
    page = Page(write_report(run).read_text())
    assert set(page.sections) == SECTIONS
    assert page.imgs == []
    assert "No training log yet" in page.section_text["losses"]
    assert "No sample grids yet" in page.section_text["samples"]
    assert "No checkpoint yet" in page.section_text["generator"]
    assert "No checkpoints yet" in page.section_text["run"]
    assert "still going or was killed" in page.section_text["run"]


def test_a_killed_run_with_a_torn_log_line(
    toy_run: Path, copy_run: Callable[[Path], Path], tmp_path: Path
) -> None:
    run = copy_run(toy_run)
    (run / "summary.json").unlink()
    (run / "report.html").unlink(missing_ok=True)
    with (run / "logs" / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 25, "loss_d": 0.')  # cut off mid-write
    out = write_report(run, out=tmp_path / "elsewhere" / "r.html")
    assert out == tmp_path / "elsewhere" / "r.html" and not (run / "report.html").exists()
    text = Page(out.read_text()).section_text["run"]
    assert "1 unreadable line(s) skipped in logs/metrics.jsonl" in text
    assert "last logged step 20" in text


def test_many_sample_grids_are_thinned_to_twelve(image_run: Path, copy_run: Callable[[Path], Path]) -> None:
    run = copy_run(image_run)
    grid = run / "samples" / "step_000002.png"
    for step in range(8, 8 + 2 * 17, 2):  # 3 real + 17 copies = 20 grids
        shutil.copy(grid, run / "samples" / f"step_{step:06d}.png")
    page = Page(write_report(run).read_text())
    assert len(page.sections["samples"]) == 12
    assert "12 of 20 grids" in page.section_text["samples"]
    assert "step 2" in page.section_text["samples"] and "step 40" in page.section_text["samples"]


def test_pick_evenly_keeps_ends_and_spacing() -> None:
    assert pick_evenly(list(range(5))) == [0, 1, 2, 3, 4]
    picked = pick_evenly(list(range(100)), 12)
    assert len(picked) == 12 and picked[0] == 0 and picked[-1] == 99
    gaps = {b - a for a, b in itertools.pairwise(picked)}
    assert gaps <= {9, 10}


def test_not_a_run_is_a_run_dir_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RunDirError, match="does not exist"):
        write_report(tmp_path / "missing")
    with pytest.raises(RunDirError, match=r"no config\.yaml"):
        write_report(tmp_path)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not a ganforge run" in err


def test_cli_writes_the_page_and_prints_its_path(
    toy_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    assert main(["report", str(toy_run), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert set(Page(out.read_text()).sections) == SECTIONS
    summary = json.loads((toy_run / "summary.json").read_text())
    assert f"finished: step {summary['step']}" in Page(out.read_text()).section_text["run"]


def test_out_may_be_a_directory(toy_run: Path, tmp_path: Path) -> None:
    assert write_report(toy_run, out=tmp_path) == tmp_path / "report.html"


def test_periodic_evals_and_the_best_checkpoint(toy_run: Path, copy_run: Callable[[Path], Path]) -> None:
    """What ``train.eval_every`` leaves: ``logs/evals.jsonl`` (with its bookkeeping keys ``n``,
    ``best``, ``eval_s``, which are not metrics) and ``checkpoints/best.safetensors`` + ``best.json``."""
    run = copy_run(toy_run)
    lines = [
        {
            "step": 10,
            "kimg": 0.3,
            "modes_covered": 3,
            "hq_fraction": 0.2,
            "n": 2500,
            "best": True,
            "eval_s": 0.1,
        },
        {
            "step": 20,
            "kimg": 0.6,
            "modes_covered": 5,
            "hq_fraction": 0.4,
            "n": 2500,
            "best": True,
            "eval_s": 0.1,
        },
    ]
    (run / "logs" / "evals.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    ckpts = run / "checkpoints"
    shutil.copy(ckpts / "step_000020.safetensors", ckpts / "best.safetensors")
    best = {"key": "modes_covered", "metric": "modes", "step": 20, "value": 5}
    (ckpts / "best.json").write_text(json.dumps({"step": 20, "scalars": {"best_eval": best}}))
    page = Page(write_report(run).read_text())
    metrics = page.section_text["metrics"]
    assert "best checkpoint (checkpoints/best.safetensors): modes_covered = 5 at step 20" in metrics
    assert "No periodic evaluations" not in metrics
    (curves,) = page.sections["metrics"]
    assert decode_png(curves).size == (1080, 260)  # one row of panels (modes_covered, hq_fraction)
    assert "best.safetensors" in page.section_text["run"]


def test_translation_run_report_shows_test_strips(tmp_path: Path) -> None:
    """An image-to-image run has no latent: the page shows held-out input | output | target rows."""
    import ganforge

    cfg = {
        "model": {"name": "pix2pix_tiny"},
        "data": {"name": "edges2digits", "batch_size": 8},
        "objective": {"name": "pix2pix"},
        "train": {"steps": 4, "progress": False, "sample_every": 2, "log_every": 2},
    }
    run = ganforge.train(cfg, out=tmp_path / "run")
    page = Page(write_report(run.path).read_text())
    assert "Test translations" in page.section_text["generator"]
    assert "input | output | target" in page.section_text["generator"]
    (strip,) = page.sections["generator"]
    # 8 rows x 3 panels of 32x32 digits, 2 px padding, shown at 2x
    assert decode_png(strip).size == (2 * (3 * 34 + 2), 2 * (8 * 34 + 2))
