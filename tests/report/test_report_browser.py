"""The report in a real browser: headless Chromium loads every image and paints a non-blank page.

``make test`` installs Chromium with apt-get when it is missing; this test skips only when no
Chromium binary can be found at all.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from report_helpers import Page

from ganforge.report.html import CSP

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell")
# Counts, once the page has loaded, the images the browser decoded (naturalWidth > 0).
PROBE = """<script>
window.addEventListener("load", () => {
  const all = Array.from(document.images);
  const ok = all.filter((im) => im.complete && im.naturalWidth > 0);
  document.title = "images loaded: " + ok.length + " of " + all.length;
});
</script>"""


def chromium() -> str:
    for name in BROWSERS:
        if found := shutil.which(name):
            return found
    pytest.skip("no Chromium binary found (make test installs it with apt-get where it can)")


def run_chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",  # tests may run as root in a container, where the sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_report_renders_with_all_images_in_headless_chromium(
    image_report: tuple[Path, str], tmp_path: Path
) -> None:
    browser = chromium()
    path, text = image_report
    expected = len(Page(text).imgs)
    assert expected >= 10

    # A test copy with the probe script; its CSP still allows images from data: URIs only, so an
    # image that loads here is an inline one.
    assert f'content="{CSP}"' in text
    probe = tmp_path / "probe.html"
    probe.write_text(
        text.replace(f'content="{CSP}"', f"content=\"{CSP}; script-src 'unsafe-inline'\"").replace(
            "</body>", PROBE + "</body>"
        )
    )
    dom = run_chromium(
        browser, tmp_path / "profile1", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()
    ).stdout
    title = re.search(r"<title>(.*?)</title>", dom)
    assert title is not None, dom[:500]
    assert title.group(1) == f"images loaded: {expected} of {expected}"

    # The page itself, untouched: the screenshot shows more than a blank canvas.
    shot = tmp_path / "report.png"
    run_chromium(
        browser, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1200,3000", path.as_uri()
    )
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float64)
    assert pixels.shape == (3000, 1200, 3)
    assert pixels.std() > 20  # a blank page has std 0; text and plots on white give ~40-60
    colourful = (pixels.max(-1) - pixels.min(-1)) > 60  # plot lines are blue/orange, text is grey
    assert colourful.mean() > 0.001
