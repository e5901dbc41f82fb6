"""The report renders in a real browser: headless Chromium (Debian's `chromium`) takes a screenshot that is not
blank. Skipped, with the reason, where Chromium is not installed (`.ci/run` installs it)."""

import shutil
import subprocess

import pytest

from reports.html import write_report


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium not installed (apt-get install chromium)")


def test_headless_chromium_renders_the_report_as_a_page_that_is_not_blank(data_dir, tmp_path):
    from PIL import Image, ImageStat

    browser = chromium()
    page = write_report(data_dir, tmp_path / "report.html")
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,2000",
         page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]

    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 2000)
    pixels = image.width * image.height
    colours = image.getcolors(maxcolors=pixels)  # [(count, colour)]
    background = max(colours)[0]
    assert len(colours) > 50, "a page of text and charts has many colours"
    assert pixels - background > 0.15 * pixels, "most of the screenshot is one colour"
    assert max(ImageStat.Stat(image).stddev) > 20
    # the charts' colours are on screen, not only the page's greys: the funnel's blue bar at least
    assert sum(n for n, (r, g, b) in colours if b > 180 and r < 80 and g < 160) > 2000
