"""The course builder in a real JupyterLab, in a real (headless) Chromium, driven by Playwright."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import REPO

from therapy_utils import checkpoint, data, evaluate, files, model, simulate, train, uncertainty

CHROMIUM = Path("/usr/bin/chromium")
NOTEBOOK = "06_interactive_course_builder.ipynb"
READS_RESULTS = ("12_session_by_session.ipynb",)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

pytestmark = [pytest.mark.slow,  # see pyproject.toml: make test-fast leaves these out
              pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing: install Debian's "
                                 "chromium (apt-get install -y chromium; .ci/run does this) to run the browser test")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=[NOTEBOOK])
def lab(tmp_path, request):
    """JupyterLab on 127.0.0.1 with a token, serving a copy of a notebook (06 unless parametrised); stopped by PID."""
    notebook = request.param
    # a notebook that reads ../benchmarks/results is served from a copy of both folders
    folder = tmp_path / "notebooks" if notebook in READS_RESULTS else tmp_path
    folder.mkdir(exist_ok=True)
    shutil.copy(REPO / "notebooks" / notebook, folder / notebook)  # autosave must never touch the original
    shutil.copytree(REPO / "notebooks" / "checkpoints", folder / "checkpoints")
    if notebook in READS_RESULTS:
        shutil.copytree(REPO / "benchmarks" / "results", tmp_path / "benchmarks" / "results")
    (tmp_path / "cfg" / "labconfig").mkdir(parents=True)
    (tmp_path / "cfg" / "labconfig" / "page_config.json").write_text(  # no news toast over the widgets
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws")}
    log_file = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=None",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    log = (tmp_path / "lab.log").read_text()[-2000:]
                    raise RuntimeError(f"JupyterLab did not start: {log}") from None
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/lab/tree/{(folder / notebook).relative_to(tmp_path)}?token={token}", folder
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log_file.close()


def expected_predictions(folder: Path, course: tuple[str, ...]) -> list[tuple[float, float, float]]:
    """Make the data the notebook loads; the model's own prediction for every prefix of ``course``, with the ends of
    its 90 % split-conformal interval (calibrated on the validation courses, as the notebook's builder is)."""
    params = simulate.preset_params("realistic")
    courses = files.load_or_simulate(folder / "artifacts" / "realistic_courses.csv", params, 2000, seed=0)
    net, vocab, _ = checkpoint.fit_or_load(folder / "checkpoints" / "realistic_lstm",
                                           checkpoint.training_recipe(courses, model.ModelConfig(),
                                                                      train.TUTORIAL_TRAIN_CONFIG, seed=0),
                                           progress=False)
    val = data.split_courses(courses)["val"]
    prefixes = [course[: i + 1] for i in range(len(course))]
    predictions = evaluate.predict(net, prefixes, vocab)
    lower, upper = uncertainty.split_conformal(evaluate.predict(net, val, vocab), val["effectiveness"].to_numpy(),
                                               predictions, 0.9)
    return [(float(p), float(lo), float(hi)) for p, lo, hi in zip(predictions, lower, upper, strict=True)]


def expected_next(folder: Path, course: tuple[str, ...]) -> tuple[str, float]:
    """The model's first choice of a module to append to ``course`` and its gain: the first row of the builder's
    "What to add next" (the data and model as :func:`expected_predictions` made them)."""
    params = simulate.preset_params("realistic")
    courses = files.load_or_simulate(folder / "artifacts" / "realistic_courses.csv", params, 2000, seed=0)
    net, vocab, _ = checkpoint.fit_or_load(folder / "checkpoints" / "realistic_lstm",
                                           checkpoint.training_recipe(courses, model.ModelConfig(),
                                                                      train.TUTORIAL_TRAIN_CONFIG, seed=0),
                                           progress=False)
    gains = evaluate.next_module_gains(evaluate.model_scorer(net, vocab), course, vocab.modules)
    return str(gains.index[0]), float(gains.iloc[0])


@contextmanager
def chromium_page(folder: Path, height: int = 1000):
    """A page of Debian's headless Chromium (fresh profile in ``folder``, 1280 px wide), closed in every case; a
    failing test leaves a full-page screenshot, ``folder/failure.png``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(folder / "profile"), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": 1280, "height": height})
        page = browser.new_page()
        try:
            yield page
        except Exception:
            page.screenshot(path=str(folder / "failure.png"), full_page=True)
            print(f"browser test failed; screenshot: {folder / 'failure.png'}")
            raise
        finally:
            browser.close()


def run_all_cells(page, ready: str = ".tb-prediction") -> None:
    """Run → Run All Cells once the kernel is idle; retried while the command is not yet enabled, or when a click
    started nothing: under load the indicator can read idle before the kernel is connected, and Run All then only
    clears every cell to "[ ]"."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=120_000)
    page.locator(".jp-Notebook .jp-Cell").first.click()  # make the notebook the active panel
    # a run has started once a cell waits or runs ("[*]"), or once the widget it waits for is there
    started = page.locator(".jp-Notebook .jp-InputPrompt").filter(has_text="[*]").or_(page.locator(ready))
    for _ in range(10):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        item = page.locator("li[data-command='runmenu:run-all']")
        item.wait_for(state="visible", timeout=10_000)
        if "lm-mod-disabled" not in (item.get_attribute("class") or ""):
            item.click()
            try:
                started.first.wait_for(timeout=15_000)
            except PlaywrightTimeout:
                continue  # nothing was queued: the command did not reach the notebook, so asking again is safe
            page.locator(ready).wait_for(timeout=120_000)
            return
        page.keyboard.press("Escape")
        page.wait_for_timeout(2_000)
    raise AssertionError("Run All Cells stayed disabled, or started nothing, ten times")


def test_builder_shows_the_models_prediction_in_jupyterlab(lab):
    from playwright.sync_api import expect

    url, folder = lab
    course = ("A", "B", "A")
    expected = expected_predictions(folder, course)
    with chromium_page(folder) as page:
        page.goto(url)
        run_all_cells(page)
        prediction = page.locator(".tb-prediction")
        expect(prediction).to_contain_text("Add a module", timeout=30_000)
        picker = page.locator(".tb-module select")
        names = dict(simulate.preset_params("realistic").module_names)
        idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
        for step, module in enumerate(course):
            # ipywidgets holds back a widget's update while the kernel is busy with its previous one, so each
            # step waits until the kernel has shown the last prediction and gone idle, as a person would
            idle.wait_for(timeout=30_000)
            picker.select_option(label=f"{module} · {names[module]}")
            expect(picker).to_have_value(re.compile(f"^{module}|{module} · "), timeout=10_000)
            # the choice reaches the kernel as a comm message; the kernel can look idle before it arrives, so
            # give it a moment to arrive and be handled before Add reads the picker's value
            page.wait_for_timeout(1_000)
            idle.wait_for(timeout=30_000)
            page.locator(".tb-add").click()
            expect(page.locator(".tb-course")).to_contain_text(" → ".join(course[: step + 1]), timeout=30_000)
            value, lower, upper = expected[step]
            expect(prediction).to_contain_text(f"Predicted effectiveness: {value:.3f}", timeout=30_000)
            expect(prediction).to_contain_text(f"90% interval (split conformal): {lower:.3f} to {upper:.3f}")
        # the last step's contributions and "What to add next" arrive after its prediction: wait for them (the model's
        # first choice for the whole course) before the picture is taken
        expect(page.locator(".tb-contributions tr")).to_have_count(len(course), timeout=30_000)
        top, gain = expected_next(folder, course)
        first_row = re.compile(rf"{top}\s*{re.escape(f'{gain:+.3f}')}")  # e.g. "A +0.094"
        expect(page.locator(".tb-next tbody tr").first).to_contain_text(first_row, timeout=30_000)
        page.locator(".tb-app").screenshot(path=str(folder / "course_builder.png"))
        if os.environ.get("COURSE_BUILDER_SCREENSHOT"):  # maintainers: refresh the README's picture
            shutil.copy(folder / "course_builder.png", os.environ["COURSE_BUILDER_SCREENSHOT"])
        assert_simulator_tab_fits(page, folder)


# Text that would be cut with an ellipsis if its box were too narrow: labels, slider readouts, the hints
CUTTABLE = ".widget-label, .widget-readout, .tb-hint .widget-html-content"


def assert_simulator_tab_fits(page, folder: Path) -> None:
    """The Simulator tab in a 1280-px-wide JupyterLab: every label, readout and hint whole, the preset's dropdown, the
    epochs bar, the button and the plots inside the tab, and a visible hint for each control; a picture of it is
    left in ``folder/simulator_tab.png``."""
    from playwright.sync_api import expect

    page.locator(".tb-app .lm-TabBar-tab", has_text="Simulator").click()
    panel = page.locator(".tb-simulator")
    expect(panel).to_be_visible(timeout=30_000)
    page.wait_for_function("() => document.querySelector('.tb-simulator .tb-summary')?.naturalWidth > 0",
                           timeout=30_000)
    expect(panel.locator(".tb-hint")).to_have_count(6)  # preset, four sliders, retrain
    page.locator(".tb-app").screenshot(path=str(folder / "simulator_tab.png"))
    cut = panel.evaluate(f"""panel => [...panel.querySelectorAll({CUTTABLE!r})]
        .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth)
        .map(e => `${{e.textContent.trim()}}: ${{e.scrollWidth}} px in ${{e.clientWidth}} px`)""")
    assert not cut, f"cut short in the Simulator tab: {cut}"
    assert panel.evaluate("panel => panel.scrollWidth <= panel.clientWidth"), "the Simulator tab scrolls sideways"
    box = panel.bounding_box()
    for selector in (".widget-dropdown select", ".widget-hprogress .progress", ".tb-retrain", ".tb-summary"):
        inner = panel.locator(selector).bounding_box()
        assert inner and inner["width"] > 40, f"{selector} is squeezed: {inner}"
        assert box["x"] <= inner["x"] and inner["x"] + inner["width"] <= box["x"] + box["width"] + 0.5, (
            f"{selector} sticks out of the Simulator tab: {inner} in {box}")


@pytest.mark.parametrize("lab", ["09_optimizing_courses.ipynb"], indirect=True)
def test_recommender_shows_a_course_in_jupyterlab(lab):
    """Notebook 09's recommender, live: the default length's course appears; its picture stands in for it in the
    book (``RECOMMENDER_SCREENSHOT`` refreshes notebooks/figures/course_recommender.png)."""
    from playwright.sync_api import expect

    url, folder = lab
    with chromium_page(folder) as page:
        page.goto(url)
        run_all_cells(page, ready=".tr-result")
        expect(page.locator(".tr-result")).to_contain_text("Recommended:", timeout=60_000)
        page.locator(".tr-app").screenshot(path=str(folder / "course_recommender.png"))
        if os.environ.get("RECOMMENDER_SCREENSHOT"):
            shutil.copy(folder / "course_recommender.png", os.environ["RECOMMENDER_SCREENSHOT"])


def expected_monitor(k: int) -> tuple[int, float, float]:
    """What notebook 12's session monitor shows for its first patient after session k: the score, the model's chance
    (the committed checkpoint) and the truth's (200 draws, seed 0, as the monitor computes it)."""
    from therapy_utils import early_warning, prognosis
    from therapy_utils.clinic import CLINIC
    from therapy_utils.course import checkpoints

    vocab, parts = checkpoints.clinic_parts()
    model, _ = early_warning.fit_or_load_session_model(REPO / "notebooks" / "checkpoints" / "clinic_session_lstm",
                                                       parts["train"], parts["val"], vocab, seed=0)
    first = parts["test"].subset([0])
    n = int(first.lengths[0])
    course, scores = first.names[0], tuple(int(s) for s in first.scores[0, :n])
    truth, _ = prognosis.improvement_chances(CLINIC, [course[:j] for j in range(1, n + 1)],
                                             [scores[:j] for j in range(1, n + 1)], draws=200, seed=0)
    return scores[k - 1], float(early_warning.predict_by_session(model, first)[0, k - 1]), float(truth[k - 1])


@pytest.mark.parametrize("lab", ["12_session_by_session.ipynb"], indirect=True)
def test_session_monitor_redraws_the_chances_and_the_alert_when_the_slider_moves(lab):
    """Notebook 12's monitor, live: the slider moved from session 1 to 3 by keyboard; the status line then shows the
    model's and the truth's chance after session 3 and the alert they imply, and the picture is redrawn. Every label
    and hint is whole in a 1280-px JupyterLab. ``SESSION_MONITOR_SCREENSHOT`` refreshes
    notebooks/figures/session_monitor.png."""
    from playwright.sync_api import expect

    url, folder = lab
    with chromium_page(folder, height=1200) as page:
        page.goto(url)
        run_all_cells(page, ready=".sm-status")
        status = page.locator(".sm-status")
        expect(status).to_contain_text("After session 1", timeout=60_000)
        picture = page.locator(".sm-app img")
        before = picture.get_attribute("src")
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=60_000)
        handle = page.locator(".sm-session .noUi-handle")
        handle.focus()
        handle.press("ArrowRight")
        handle.press("ArrowRight")
        score, model_chance, truth_chance = expected_monitor(3)
        expect(status).to_contain_text(f"After session 3 (score {score})", timeout=60_000)
        expect(status).to_contain_text(f"model {model_chance:.2f}")
        expect(status).to_contain_text(f"truth {truth_chance:.2f}")
        expect(status).to_contain_text("alert: the model" if model_chance < 0.5 else "no alert")
        expect(picture).not_to_have_attribute("src", before, timeout=30_000)
        # the picture is sent after the status line, for each of the slider's two steps: let the last one arrive
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=60_000)
        page.wait_for_timeout(2_000)
        app = page.locator(".sm-app")
        app.screenshot(path=str(folder / "session_monitor.png"))
        if os.environ.get("SESSION_MONITOR_SCREENSHOT"):
            shutil.copy(folder / "session_monitor.png", os.environ["SESSION_MONITOR_SCREENSHOT"])
        cut = app.evaluate("""app => [...app.querySelectorAll('.widget-label, .widget-readout, .widget-html-content')]
            .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth)
            .map(e => `${e.textContent.trim()}: ${e.scrollWidth} px in ${e.clientWidth} px`)""")
        assert not cut, f"cut short in the session monitor: {cut}"
        widths = app.evaluate("""app => [app.scrollWidth, app.clientWidth, [...app.querySelectorAll('*')]
            .filter(e => e.getBoundingClientRect().right > app.getBoundingClientRect().right + 0.5)
            .map(e => e.className).slice(0, 5)]""")
        assert widths[0] <= widths[1], f"the monitor scrolls sideways: {widths}"
