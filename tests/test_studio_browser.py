"""The studio in a real headless Chromium (Debian's, driven by Playwright): type a theme, plan, edit a
narration line, render at draft size, and play the film; the edited line is in its captions. A
screenshot of each step is kept in test-artifacts/studio/."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from studio_server import QUICK, Studio

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("studio-browser")]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "studio"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# As FACTS.md says: without the background-networking flags Chromium keeps dialling out of a closed network.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine: `apt-get install chromium` (make test does it where it can)")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def test_plan_edit_render_and_play_in_the_page(browser, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    studio = Studio(tmp_path / "runs")
    try:
        page = browser.new_page(viewport={"width": 1100, "height": 1300})
        page.goto(studio.url + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=20000)
        paint = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
        assert paint <= 1000, f"first paint after {paint:.0f} ms"
        docs = browser.new_page()
        docs.goto(studio.url + "/docs")
        docs.wait_for_selector(".swagger-ui .opblock", timeout=20000)  # drawn offline: no CDN
        assert "moviefactory studio" in docs.inner_text(".swagger-ui .info")
        docs.screenshot(path=str(ARTIFACTS / "0-docs.png"))
        docs.close()
        page.fill("#theme", "A beekeeper on a summer hillside")
        page.select_option("#format", "vertical")
        page.fill("#seconds", "10")
        page.select_option("#tts", "espeak")
        page.select_option("#music", "none")
        page.screenshot(path=str(ARTIFACTS / "1-theme.png"))
        page.click("#plan")
        page.wait_for_selector(".line-text", timeout=60000)
        assert "beekeeper" in page.inner_text("#editor").lower()
        page.screenshot(path=str(ARTIFACTS / "2-plan.png"), full_page=True)
        edited = "The bees come home with gold on their legs."
        page.locator(".line-text").first.fill(edited)
        # move the first scene's second line above its first, if it has two: the order is the page's
        page.screenshot(path=str(ARTIFACTS / "3-edited.png"), full_page=True)
        page.click("#render")
        page.wait_for_selector("#progress:not([hidden])")
        page.wait_for_function("document.querySelectorAll('#thumbs img').length > 0", timeout=120000)
        page.screenshot(path=str(ARTIFACTS / "4-rendering.png"), full_page=True)
        page.wait_for_function("() => { const v = document.getElementById('player');"
                               " return v.readyState >= 3 && v.duration > 0; }", timeout=240000)
        duration = page.evaluate("document.getElementById('player').duration")
        assert 8 < duration < 30
        assert page.inner_text("#stage") == "done"
        shots = page.evaluate("document.querySelectorAll('#thumbs img').length")
        assert shots >= 2
        assert page.evaluate("[...document.querySelectorAll('#thumbs img')].every(i => i.naturalWidth === 320)")
        page.wait_for_function("() => { const t = document.querySelector('#player track');"
                               " return t && t.track.cues && t.track.cues.length > 0; }", timeout=20000)
        captions = page.evaluate("[...document.querySelector('#player track').track.cues].map(c => c.text).join(' ')")
        words = " ".join(re.sub(r"<[^>]+>", " ", captions).split())
        assert "gold on their legs" in words, words[:300]
        lags = page.evaluate("window.studio.lags")
        assert lags and max(lags) <= 0.5, f"events reached the page up to {max(lags):.3f} s after the pipeline's"
        page.evaluate("document.getElementById('player').currentTime = 2")
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "5-film.png"), full_page=True)
        assert page.locator("#downloads a[href$='film.otio']").count() == 1
        page.click("#refresh")
        page.wait_for_selector("#history li .status.done")
        page.screenshot(path=str(ARTIFACTS / "6-history.png"), full_page=True)
        (ARTIFACTS / "lags.txt").write_text(f"first paint {paint:.0f} ms; event lag max {max(lags):.3f} s over "
                                            f"{len(lags)} events\n")
        # after a restart, watching it again from the history: the ended film's stream is read once (an
        # EventSource that is not closed reconnects every few seconds, for ever)
        studio.stop()
        studio = Studio(tmp_path / "runs")
        requests = []
        page.on("request", lambda r: requests.append(r.url) if r.url.endswith("/events") else None)
        page.goto(studio.url + "/")
        page.click("#history li button:has-text('watch')")
        page.wait_for_function("() => { const v = document.getElementById('player');"
                               " return v.readyState >= 3 && v.duration > 0; }", timeout=30000)
        page.wait_for_timeout(5000)
        assert len(requests) == 1, requests
        assert page.inner_text("#stage") == "done"
        # a stopped film resumed from the page's history
        stopped = studio.http.post("/api/films", json={"theme": "A kettle on a winter stove", **QUICK}).json()["id"]
        for name, data in studio.events(stopped):
            if name == "shot":
                break
        assert studio.http.delete(f"/api/films/{stopped}").status_code == 202
        assert studio.wait(stopped)["status"] == "cancelled"
        page.click("#refresh")
        row = page.locator(f"#history li[data-id='{stopped}']")
        row.locator(".status.cancelled").wait_for()
        page.screenshot(path=str(ARTIFACTS / "7-cancelled.png"), full_page=True)
        row.locator("button.resume").click()
        page.wait_for_function("() => { const v = document.getElementById('player');"
                               " return v.readyState >= 3 && v.duration > 0 && v.src.includes('kettle'); }",
                               timeout=240000)
        assert studio.http.get(f"/api/films/{stopped}").json()["status"] == "done"
    finally:
        studio.stop()
