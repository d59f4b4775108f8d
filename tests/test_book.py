"""The book (``make book``): built from the executed notebooks, served on 127.0.0.1, read page by page in Debian's
headless Chromium. Nothing may load from another host, every link and image must resolve, maths must render and the
search must work — with the network cut, the site must still be complete."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO
from test_browser import CHROMIUM, chromium_page, free_port

pytestmark = [pytest.mark.slow,  # see pyproject.toml: make test-fast leaves these out
              pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing: install Debian's "
                                 "chromium (apt-get install -y chromium; .ci/run does this) to run the book's browser "
                                 "test")]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The book built into a temp folder and served on 127.0.0.1 (its server stopped by PID afterwards)."""
    out = tmp_path_factory.mktemp("book") / "html"
    started = time.perf_counter()
    built = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", str(REPO / "notebooks"), str(out)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "WARNING" not in built.stderr and "ERROR" not in built.stderr, built.stderr[-3000:]
    print(f"book built in {time.perf_counter() - started:.1f} s")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/index.html", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        yield base, out
    finally:
        server.terminate()
        server.wait(timeout=10)


def pages(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.glob("**/*.html")
                  if not p.relative_to(out).parts[0].startswith("_"))


def test_every_page_is_complete_offline(site):
    base, out = site
    names = pages(out)
    assert len(names) >= 24 and "10_explaining_predictions.html" in names and "api.html" in names
    foreign, failed, errors, links = [], [], [], set()
    with chromium_page(out.parent, height=900) as page:
        page.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:")) else foreign.append(r.url))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        for name in names:
            page.goto(f"{base}/{name}", wait_until="networkidle")
            if page.locator("span.math, div.math").count():
                page.locator("mjx-container").first.wait_for(timeout=20_000)  # MathJax rendered the maths
            broken = page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
                                   ".map(i => i.src)")
            assert not broken, f"{name}: images that did not load: {broken}"
            for href in page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"):
                if href.startswith(base):
                    links.add(href.split("#")[0].split("?")[0])
        page.goto(f"{base}/search.html?q=integrated+gradients", wait_until="networkidle")
        results = page.locator("#search-results")
        results.locator("li").first.wait_for(timeout=20_000)
        assert "Explaining predictions" in results.inner_text()
        for name in ("index.html", "02_embedding_lstm_model.html", "09_optimizing_courses.html"):
            page.goto(f"{base}/{name}", wait_until="networkidle")
            page.screenshot(path=str(out.parent / name.replace(".html", ".png")))
        if os.environ.get("BOOK_SCREENSHOT"):  # maintainers: refresh the README's picture
            shutil.copy(out.parent / "02_embedding_lstm_model.png", os.environ["BOOK_SCREENSHOT"])
    assert foreign == [], f"requests to other hosts: {sorted(set(foreign))[:10]}"
    assert failed == [] and errors == [], (failed[:10], errors[:10])
    dead = []
    for link in sorted(links):
        try:
            urllib.request.urlopen(urllib.request.Request(link, method="HEAD"), timeout=5)
        except urllib.error.URLError as error:
            dead.append(f"{link}: {error}")
    assert dead == [], dead[:10]


def test_every_notebook_page_offers_its_download(site):
    _, out = site
    notebook_pages = [name for name in pages(out) if (REPO / "notebooks" / name.replace(".html", ".ipynb")).is_file()]
    assert len(notebook_pages) == 24, notebook_pages  # the twelve notebooks and their twelve solutions
    for name in notebook_pages:
        notebook = REPO / "notebooks" / name.replace(".html", ".ipynb")
        match = re.search(r'<a href="([^"]+\.ipynb)" download>', (out / name).read_text())
        assert match and (out / Path(name).parent / match.group(1)).read_bytes() == notebook.read_bytes(), name
    for name in ("index.html", "api.html", "instructors.html"):  # pages that are not notebooks offer none
        assert "download>" not in (out / name).read_text()


def test_every_image_in_the_book_has_alt_text(site):
    """A screen reader reads an image's alt text; myst-nb takes it from the cell's ``mystnb.image.alt`` metadata and
    otherwise leaves none (or the output's hash file name)."""
    _, out = site
    bare = []
    for name in pages(out):
        for tag in re.findall(r"<img\b[^>]*>", (out / name).read_text()):
            alt = re.search(r'\balt="([^"]*)"', tag)
            if not alt or len(alt.group(1).split()) < 4 or re.search(r"[0-9a-f]{32}|\.png$", alt.group(1)):
                bare.append(f"{name}: {tag[:120]}")
    assert not bare, bare[:10]


def test_the_edition_without_solutions_leaves_them_out(tmp_path):
    """``make book SOLUTIONS=no``: for a class that works the exercises first — no solution pages, files or links."""
    out = tmp_path / "html"
    built = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-E", "-b", "html", str(REPO / "notebooks"),
                            str(out)], capture_output=True, text=True, env={**os.environ, "BOOK_SOLUTIONS": "no"})
    assert built.returncode == 0 and built.stderr == "", built.stderr[-3000:]
    assert not (out / "solutions").exists()
    html = {name: (out / name).read_text() for name in pages(out)}
    assert len(html) >= 13 and not [name for name, text in html.items() if 'href="solutions/' in text]
    assert "withheld in this edition" in html["04_evaluation.html"]
