"""The real book: one strict build of the published profile, then every check on it.

The book is executed once per session (later chapters will make it take minutes), in
place, from a clean ``_build``; the strict-build, glue, record and browser tests all
read that one build.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import threading
from pathlib import Path

import nbformat
import pytest
from build_book import DEFAULT_TIMEOUT_S
from conftest import BOOK, ROOT, book_time_limit, config, run_build_tool
from misalign.claims import compare_records

pytestmark = pytest.mark.book

BUILD = ROOT / "_build"
HTML = BUILD / "html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="session")
def book_build():
    """Build the book once: clean _build, published profile, strict Sphinx."""
    before = _digest(BOOK)
    shutil.rmtree(BUILD, ignore_errors=True)
    chapters, jobs = len(list(BOOK.glob("*.py"))), len(os.sched_getaffinity(0))
    limit = book_time_limit(chapters, jobs, DEFAULT_TIMEOUT_S)
    proc = run_build_tool("--profile", "full", "--strict", timeout=limit)
    return {"proc": proc, "book_before": before, "book_after": _digest(BOOK)}


def _require_success(book_build) -> None:
    proc = book_build["proc"]
    if proc.returncode != 0:
        pytest.fail(f"the book build failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}\n{proc.stdout[-4000:]}")


def html_pages() -> list[Path]:
    return sorted(p for p in HTML.rglob("*.html") if not {"_static", "_sources"} & set(p.relative_to(HTML).parts))


def chapter_pages() -> list[Path]:
    return [HTML / "book" / f"{p.stem}.html" for p in sorted(BOOK.glob("*.py"))]


def test_strict_build_succeeds(book_build) -> None:
    _require_success(book_build)
    assert (HTML / "index.html").is_file()
    for page in chapter_pages():
        assert page.is_file(), f"{page.name} missing from the site"


def test_committed_pairs_untouched_by_the_build(book_build) -> None:
    assert book_build["book_after"] == book_build["book_before"], "the build wrote into book/"


def test_published_notebooks_have_no_injected_parameters(book_build) -> None:
    _require_success(book_build)
    for path in (BUILD / "executed" / "book").glob("*.ipynb"):
        tags = [t for c in nbformat.read(path, 4).cells for t in c.metadata.get("tags", [])]
        assert "injected-parameters" not in tags, path.name


def test_no_unresolved_glue(book_build) -> None:
    log_path = BUILD / "logs" / "jupyter-book.log"
    log = log_path.read_text(encoding="utf-8") if log_path.is_file() else ""
    glue_warnings = [line for line in log.splitlines() if "glue" in line.lower() and "warning" in line.lower()]
    assert not glue_warnings, "\n".join(glue_warnings)  # checked first: the precise reason
    _require_success(book_build)
    for page in html_pages():
        text = page.read_text(encoding="utf-8")
        assert "{glue:" not in text and "{glue}" not in text, f"unresolved glue in {page.name}"


def test_no_machine_paths_or_stderr_on_pages(book_build) -> None:
    """Warnings and progress bars (stderr) leak the builder's paths: the site must not show them."""
    _require_success(book_build)
    for page in html_pages():
        text = page.read_text(encoding="utf-8")
        for needle in (str(ROOT), "site-packages", "TqdmWarning", "output stderr"):
            assert needle not in text, f"{needle!r} appears on {page.name}"


def test_record_matches_reference(book_build) -> None:
    _require_success(book_build)
    record = json.loads((BUILD / "record.json").read_text(encoding="utf-8"))
    reference = json.loads((ROOT / "data" / "reference_record.json").read_text(encoding="utf-8"))
    assert record["profile"] == reference["profile"] == "full"
    drifts = compare_records(reference["chapters"], record["chapters"])
    assert not drifts, (
        "the rebuild drifted from data/reference_record.json (refresh on purpose with "
        "`make refresh-reference`):\n" + "\n".join(map(str, drifts))
    )


def test_timings_and_appendix(book_build) -> None:
    _require_success(book_build)
    timings = json.loads((BUILD / "timings.json").read_text(encoding="utf-8"))
    assert set(timings["chapters"]) == {f"book/{p.name}" for p in BOOK.glob("*.py")}
    assert set(timings["policies"]) == set(timings["chapters"])
    assert all(set(n) == {"trained", "training_s", "loaded"} for n in timings["policies"].values())
    assert all((n["training_s"] > 0) == (n["trained"] > 0) for n in timings["policies"].values())
    appendix = (HTML / "book" / "appendix_reproducibility.html").read_text(encoding="utf-8")
    for chapter in timings["chapters"]:
        assert chapter in appendix
    assert "BUILD: reproducibility tables" not in appendix
    assert "jupyter-book" in appendix and "cpu count" in appendix
    assert "policies trained" in appendix


# --- a real browser ----------------------------------------------------------------


@pytest.fixture(scope="module")
def site(book_build):
    """Serve _build/html on 127.0.0.1 (an ephemeral port) for the browser."""
    _require_success(book_build)
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output readable
        pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("headless Chromium missing: apt-get install -y chromium chromium-driver (or `make browser`)")
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,2200",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


BROKEN_IMAGES_JS = """
return Array.from(document.querySelectorAll('img'))
  .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src);
"""
ERROR_OUTPUT_JS = """
const bad = Array.from(document.querySelectorAll('.output.traceback, .output.error'));
const stderr = Array.from(document.querySelectorAll('.output.stderr'))
  .filter(e => /Error|Exception|Traceback/.test(e.innerText));
return bad.concat(stderr).map(e => e.innerText.slice(0, 300));
"""


def _expected_title(page: Path) -> str | None:
    """The heading a chapter or markdown page starts with (None for generated pages)."""
    import jupytext

    stem = page.relative_to(HTML).with_suffix("")
    for suffix in (".py", ".md"):
        source = ROOT / f"{stem}{suffix}"
        if source.is_file():
            nb = jupytext.read(source)  # a .md page reads as one markdown cell
            text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
            match = re.search(r"^# (.+)$", text, re.M)
            return match.group(1).strip() if match else None
    return None


def test_every_page_renders_in_a_browser(book_build, site, browser) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    book_title = config()["title"]
    shots = BUILD / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    pages = html_pages()
    assert len(pages) >= 4
    problems: list[str] = []
    for page in pages:
        rel = page.relative_to(HTML).as_posix()
        browser.get(f"{site}/{rel}")
        if rel == "index.html":  # a meta-refresh redirect to the root page
            WebDriverWait(browser, 20).until(lambda d: not d.current_url.endswith("index.html"))
        WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
        title = browser.title
        if book_title not in title:
            problems.append(f"{rel}: title {title!r} lacks the book title")
        expected = _expected_title(page)
        if expected and not title.startswith(expected):
            problems.append(f"{rel}: title {title!r} does not start with {expected!r}")
        if broken := browser.execute_script(BROKEN_IMAGES_JS):
            problems.append(f"{rel}: images did not load: {broken}")
        if errors := browser.execute_script(ERROR_OUTPUT_JS):
            problems.append(f"{rel}: error output on the page: {errors}")
        if "Traceback (most recent call last)" in browser.find_element("tag name", "body").text:
            problems.append(f"{rel}: a traceback is shown")
        if page in chapter_pages():
            n_images = browser.execute_script("return document.querySelectorAll('main img').length")
            if n_images < 1:
                problems.append(f"{rel}: a chapter without a figure")
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(1280, min(int(height), 12000))  # the whole page
            browser.save_screenshot(str(shots / f"{page.stem}.png"))
            browser.set_window_size(1280, 2200)
    assert not problems, "\n".join(problems)
    for page in chapter_pages():
        assert (shots / f"{page.stem}.png").stat().st_size > 10_000
