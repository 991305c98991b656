"""The studio under load: the same film made through a real `moviefactory serve`, alone and with 20
concurrent pollers of GET /api/films/{id} (each asking again `--interval` seconds after an answer:
0.5 s, twice as often as a page that polls every second; 0.05 s is a stress test), alternately, so both
see the same machine. The pollers run here, on the film's own cores: their client side is counted too. Also the page's first paint and how late the
pipeline's events reach a subscriber (server-sent events) when all that is going on.

    python benchmarks/studio.py [--seconds 30] [--pollers 20] [--interval 0.5] [--rounds 2]

Prints each film's wall time (POST to done), the server's CPU time and peak memory, the pollers'
request rate and the ratio polled / alone (target: <= 1.10) from this one run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402

from _measure import TreeMemory, cpu_seconds  # noqa: E402
from studio_server import Studio  # noqa: E402


def film(studio: Studio, theme: str, options: dict, pollers: int, interval: float) -> dict:
    started = time.perf_counter()
    film_id = studio.http.post("/api/films", json={"theme": theme, **options}).json()["id"]
    stop, counts, lags = threading.Event(), [], []

    def poll():
        n = 0
        with httpx.Client(base_url=studio.url, timeout=30) as http:
            while not stop.is_set():
                assert http.get(f"/api/films/{film_id}").status_code == 200
                n += 1
                time.sleep(interval)
        counts.append(n)

    def listen():
        for _, data in studio.events(film_id):
            if "t" in data:
                lags.append(time.time() - data["t"])

    threads = [threading.Thread(target=poll) for _ in range(pollers)] + [threading.Thread(target=listen)]
    for t in threads:
        t.start()
    done = studio.wait(film_id, seconds=1800)
    wall = time.perf_counter() - started
    stop.set()
    for t in threads:
        t.join()
    assert done["status"] == "done", done["error"]
    return {"wall": wall, "requests": sum(counts), "rate": sum(counts) / wall, "lag_max": max(lags),
            "lag_median": statistics.median(lags)}


def first_paint(url: str) -> float | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    import shutil

    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu",
                                                                    "--disable-background-networking"])
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']")
        paint = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
        browser.close()
    return paint


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between a poller's requests")
    parser.add_argument("--format", default="vertical")
    args = parser.parse_args()
    options = {"seconds": args.seconds, "format": args.format, "draft": True, "tts": "espeak"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp, TreeMemory() as memory:
        cpu_before = cpu_seconds()
        studio = Studio(Path(tmp) / "runs")
        try:
            paint = first_paint(studio.url + "/")
            for r in range(args.rounds):  # alone, polled, alone, polled: the same machine for both
                for pollers in (0, args.pollers):
                    seed = 100 + len(rows)  # a new film each time (same length and shape)
                    row = film(studio, "A lighthouse keeper and a storm", {**options, "seed": seed}, pollers,
                               args.interval)
                    rows.append({"pollers": pollers, **row})
                    print(f"round {r + 1} pollers {pollers:2d}: {row['wall']:.2f} s wall, {row['rate']:.0f} req/s, "
                          f"event lag median {row['lag_median'] * 1000:.0f} ms, max {row['lag_max'] * 1000:.0f} ms")
        finally:
            studio.stop()
        cpu = cpu_seconds() - cpu_before
    alone = [r["wall"] for r in rows if r["pollers"] == 0]
    polled = [r["wall"] for r in rows if r["pollers"]]
    ratio = statistics.mean(polled) / statistics.mean(alone)
    print(json.dumps({"film_seconds": args.seconds, "pollers": args.pollers, "interval_s": args.interval, "alone_s": alone, "polled_s": polled,
                      "ratio_polled_to_alone": round(ratio, 3), "target": 1.10,
                      "first_paint_ms": paint, "event_lag_max_ms": round(max(r["lag_max"] for r in rows) * 1000),
                      "cpu_s_with_server": round(cpu, 2),
                      "peak_rss_mb_tree": round(memory.peak_kb / 1024)}, indent=1))


if __name__ == "__main__":
    main()
