"""report.html (self-contained, with Pareto plots), plots/*.png and the report.md sections that point at them.

The browser test opens the page in headless Chromium (Debian's ``chromium``; ``make browser`` installs it),
reads back the DOM after load and takes a screenshot.
"""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from edgekd.report.html import render_html
from edgekd.report.markdown import render_markdown

REPORT = Path(__file__).resolve().parent / "data" / "reports" / "within.json"
PNG = b"\x89PNG\r\n\x1a\n"
FRONT_BLUE = (31, 111, 180)  # the filled markers of the front points (#1f6fb4)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    report = json.loads(REPORT.read_text())
    return report, out, render_html(report, out)


class _Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(text):
    p = _Tags()
    p.feed(text)
    return p.tags


def test_html_and_png_plots_are_written(rendered):
    _, out, page = rendered
    assert page == out / "report.html"
    pngs = sorted(p.name for p in (out / "plots").iterdir())
    assert pngs == ["x86_64-metric-vs-latency.png", "x86_64-metric-vs-size.png"]
    assert all((out / "plots" / p).read_bytes().startswith(PNG) for p in pngs)


def test_html_is_self_contained(rendered):
    text = rendered[2].read_text()
    tags = _tags(text)
    refs = [v for _, attrs in tags for k, v in attrs.items() if k in ("src", "href") and v]
    assert not [r for r in refs if re.match(r"(?i)(https?:)?//", r)]
    imgs = [attrs for tag, attrs in tags if tag == "img"]
    assert len(imgs) == 2 and all(a["src"].startswith("data:image/png;base64,") for a in imgs)
    assert not [t for t, a in tags if t in ("link", "iframe") or (t == "script" and "src" in a)]
    assert "default-src 'none'" in text  # the CSP forbids any fetch


def test_html_shows_versions_seed_hash_front_and_flags(rendered):
    report, _, page = rendered
    text = page.read_text()
    assert report["data"]["hash"] in text and "seed <code>0</code>" in text
    assert "onnxruntime" in text and "★ size" in text
    assert "2 float op(s) in the quantized graph" in text  # student-onnx-int8's audit


def test_markdown_lists_the_front_and_links_the_plots(rendered):
    report, out, _ = rendered
    md = render_markdown(report)
    assert "- metric vs file size: `teacher-tflite-fp32`, `student-tflite-int8`" in md
    links = re.findall(r"!\[[^\]]*\]\((plots/[^)]+)\)", md)
    assert links and all((out / link).is_file() for link in links)
    assert "### Audit flags (`x86_64`)" in md


# ------------------------------------------------------------------ the browser
CHROMIUM = shutil.which("chromium")


def _chromium(tmp_path, *args):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,2000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make browser` installs Debian's chromium)")
def test_report_renders_in_headless_chromium_with_visible_plots(rendered, tmp_path):
    from PIL import Image

    url = rendered[2].resolve().as_uri()
    dom = _chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, "console messages:\n" + "\n".join(console)
    tags = _tags(dom.stdout)
    body = next(a for t, a in tags if t == "body")
    assert body.get("data-images-decoded") == "2/2"
    imgs = [a for t, a in tags if t == "img"]
    assert all(int(a["data-natural-width"]) > 0 and int(a["data-natural-height"]) > 0 for a in imgs)

    shot = tmp_path / "report.png"
    run = _chromium(tmp_path, f"--screenshot={shot}", url)
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2000)
    for a in imgs:
        x, y, w, h = map(int, a["data-rect"].split(","))
        assert w > 300 and h > 200 and y + h <= 2000, a["data-rect"]  # laid out, inside the screenshot
        region = image.crop((x, y, x + w, y + h))
        pixels = list(region.getdata())
        drawn = sum(1 for p in pixels if min(p) < 200) / len(pixels)
        blue = sum(1 for p in pixels if all(abs(c - f) < 40 for c, f in zip(p, FRONT_BLUE)))
        assert drawn > 0.02, f"plot at {a['data-rect']} looks blank ({drawn:.3%} drawn)"
        assert blue > 30, f"no front markers visible in the plot at {a['data-rect']}"
