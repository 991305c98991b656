"""--renderer stock against a real HTTP server on 127.0.0.1 speaking Pexels' and Pixabay's APIs over
media the test made: stock video first, photos when no clip fits, each item once while others remain,
each shot showing its credited item (its colour in the film's frames), credits with author, page and
licence, the key in no run file, and a second film asking the library for nothing it already has."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest

from fake_stock import FakeStock, Fault, Item
from moviefactory.errors import RenderError
from moviefactory.renderers.pictures.stock import stock_query
from moviefactory.renderers.pictures.stock_api import StockAPI
from moviefactory.screenplay import Screenplay, Shot
from test_footage import _clip, _photo

KEY = "pexels-secret-9876"
THEME = "A fox in the first snow"
WORDS = "fox snow snowy winter forest valley lake pine ice cabin"
COLOURS = {1: (200, 30, 30), 2: (30, 190, 40), 3: (30, 40, 200), 4: (210, 190, 20)}


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> list[Item]:
    folder = tmp_path_factory.mktemp("stock")
    items = []
    for n, kind in ((1, "video"), (2, "video"), (3, "photo"), (4, "photo")):
        path = folder / f"item{n}.{'mp4' if kind == 'video' else 'jpg'}"
        (_clip(path, COLOURS[n], seconds=2.0) if kind == "video" else _photo(path, COLOURS[n], (1080, 1440)))
        items.append(Item(n, kind, f"{WORDS} item{n}", path, 320 if kind == "video" else 1080,
                          240 if kind == "video" else 1440, 2.0 if kind == "video" else 0.0, author=f"Author {n}"))
    return items


def _make(server, out, *extra, env=None):
    return subprocess.run(
        [sys.executable, "-m", "moviefactory", "make", THEME, "--renderer", "stock", "--pexels-base-url",
         server.base_url, "--pixabay-base-url", server.base_url, "--format", "vertical", "--draft", "--seconds", "16",
         "--writer", "offline", "--music", "none", "--sfx", "none", "--output", str(out), *extra],
        env={**os.environ, "PEXELS_API_KEY": KEY, "PIXABAY_API_KEY": KEY, **(env or {})}, capture_output=True,
        text=True, timeout=300)


def _median_colour(film, start: float, seconds: float) -> np.ndarray:
    with av.open(str(film)) as c:
        frame = next(f for f in c.decode(video=0) if f.time >= start + seconds / 2)
        return np.median(frame.to_ndarray(format="rgb24").reshape(-1, 3).astype(int), axis=0)


@pytest.mark.parametrize("service", ["pexels", "pixabay"])
def test_a_film_of_stock_video_and_photos_credited_and_cached(library, tmp_path, service, monkeypatch):
    monkeypatch.setenv("MOVIEFACTORY_CACHE", str(tmp_path / "cache"))  # the shared stock cache starts empty
    with FakeStock(library, key=KEY) as server:
        proc = _make(server, tmp_path / "runs", "--stock", service, *(["--credits", "end"] if service == "pexels" else []))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        run = next((tmp_path / "runs").iterdir())
        report = json.loads((run / "report.json").read_text())
        screenplay = Screenplay.model_validate_json((run / "screenplay.json").read_text())
        shots = [s for _, s in screenplay.shots()]
        picks = {p["shot"]: p for p in report["pictures"]}
        used = [picks[s.id] for s in shots]
        assert len(shots) >= 5 and all(p["source"] == service for p in used)
        ids = [int(p["id"]) for p in used]
        assert len(set(ids[:4])) == 4 and [p["kind"] for p in used[:2]] == ["video", "video"]  # video first
        assert all(a != b for a, b in zip(ids, ids[1:]))
        # every shot shows its own item: the item's colour in the middle of the shot
        timeline = json.loads((run / "timeline.json").read_text())
        fps = Fraction(timeline["fps"])
        for clip in timeline["video"]:
            if clip["shot"] == "credits":
                continue
            got = _median_colour(run / "film.mp4", float(Fraction(clip["start"])), float(clip["frames"] / fps))
            assert np.abs(got - COLOURS[int(picks[clip["shot"]]["id"])]).max() < 40, clip["shot"]
        card = [c for c in timeline["video"] if c["shot"] == "credits"]
        if service == "pexels":  # --credits end: the film ends on a card naming the authors
            assert len(card) == 1 and card[0] == timeline["video"][-1]
            with av.open(str(run / "film.mp4")) as c:
                last = [f for f in c.decode(video=0)][-10].to_ndarray(format="rgb24")
            assert np.median(last) < 40 and (last.min(axis=2) > 200).mean() > 0.002  # light text on a dark card
            otio = json.loads((run / "film.otio").read_text())
            authors = {c["author"] for c in otio["metadata"]["moviefactory"]["meta"]["credits"]}
            assert authors == {f"Author {n}" for n in set(ids)}
        else:
            assert not card
        # searched in the film's shape, with the key where each library wants it and nowhere else
        searches = server.searches()
        orientation = {"pexels": "portrait", "pixabay": "vertical"}[service]
        assert searches and all(r["query"].get("orientation") == orientation for r in searches)
        credits = (run / "credits.txt").read_text()
        licence = {"pexels": "Pexels License", "pixabay": "Pixabay Content License"}[service]
        for n in set(ids):
            assert f"Author {n}" in credits
        assert credits.count(licence) == len(shots) and "credits.txt" in " ".join(report["files"])
        for path in run.rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), path
        assert KEY not in proc.stdout + proc.stderr
        # another film of the same theme, in another folder: the library is asked for nothing
        before = len(server.requests)
        again = _make(server, tmp_path / "other", "--stock", service)
        assert again.returncode == 0, again.stderr
        assert len(server.requests) == before


def test_a_shot_the_library_has_nothing_for_is_an_animatic_panel_and_the_report_says_so(library, tmp_path, monkeypatch):
    from moviefactory.planner import create_writer
    from moviefactory.renderers.pictures.stock import StockRenderer
    from scripted_llm import request

    monkeypatch.setenv("MOVIEFACTORY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PEXELS_API_KEY", KEY)
    film = create_writer("offline").write(request(theme="A lighthouse keeper and a storm", fmt="vertical"))
    with FakeStock(library, key=KEY) as server:
        renderer = StockRenderer(StockAPI("pexels", base_url=server.base_url), aspect=9 / 16)
        credits = renderer.credits(film)
    assert credits and all(c["source"] == "animatic" and "has nothing for" in c["why"] for c in credits)
    assert all(renderer.source_for(s, film)[0] == ".still.npz" for _, s in film.shots())


def _api(server, monkeypatch, tmp_path, service="pexels", key=KEY, **kw):
    monkeypatch.setenv("PEXELS_API_KEY", key)
    monkeypatch.setenv("PIXABAY_API_KEY", key)
    return StockAPI(service, base_url=server.base_url, cache=tmp_path / "cache", **kw)


def test_429_waits_as_asked_then_answers(library, tmp_path, monkeypatch):
    with FakeStock(library, key=KEY, script=[Fault(429, retry_after=1.0)]) as server:
        found = _api(server, monkeypatch, tmp_path).search("fox", "video", aspect=9 / 16)
    assert len(found) == 2 and len(server.requests) == 2
    assert server.requests[1]["time"] - server.requests[0]["time"] >= 0.9


@pytest.mark.parametrize("fault, said, tries", [
    (Fault(500), "the search for videos answered 500 (3 tries)", 3),
    (Fault(503), "answered 503 (3 tries)", 3),
    (Fault(200, delay=2.0), "did not answer in time (3 tries)", 3),
])
def test_server_errors_and_a_hang_are_retried_a_bounded_number_of_times(library, tmp_path, monkeypatch, fault, said,
                                                                          tries):
    with FakeStock(library, key=KEY, script=[fault] * 10) as server:
        api = _api(server, monkeypatch, tmp_path, timeout=0.5, retries=2)
        with pytest.raises(RenderError) as err:
            api.search("fox", "video", aspect=1.0)
    assert len(server.requests) == tries and said in err.value.one_line()
    assert err.value.one_line().startswith(f"Pexels ({server.base_url})") and KEY not in err.value.one_line()


@pytest.mark.parametrize("service, said", [("pexels", "answered 401: the key was refused (set $PEXELS_API_KEY)"),
                                           ("pixabay", "answered 400: the key was refused or the search is malformed "
                                                       "(set $PIXABAY_API_KEY)")])
def test_a_wrong_key_is_one_line_naming_the_variable(library, tmp_path, monkeypatch, service, said):
    with FakeStock(library, key=KEY) as server:
        api = _api(server, monkeypatch, tmp_path, service=service, key="wrong-key")
        with pytest.raises(RenderError) as err:
            api.search("fox", "photo", aspect=1.0)
    assert said in err.value.one_line() and "wrong-key" not in err.value.one_line()
    assert len(server.requests) == 1  # a refused key is not retried


def test_no_key_is_refused_before_anything_is_made(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "moviefactory", "make", THEME, "--renderer", "stock", "--output",
                           str(tmp_path / "runs"), "--writer", "offline"],
                          env={k: v for k, v in os.environ.items() if k != "PEXELS_API_KEY"}, capture_output=True,
                          text=True, timeout=120)
    said = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert proc.returncode == 2 and said[-1] == "error: --renderer stock --stock pexels needs a key in $PEXELS_API_KEY"
    assert not (tmp_path / "runs").exists()


def test_the_query_is_the_subject_and_the_place():
    shot = Shot(id="s01-sh01", description="wide establishing shot of a slender red fox with a white-tipped tail, "
                                           "walking slowly, at dusk, warm orange backlight", camera="static",
                motion=0.3, duration=3)
    assert stock_query(shot, "snowy pine valley") == "slender red fox snowy pine valley"


def test_how_an_item_looks_reorders_equal_answers():
    from moviefactory.renderers.pictures.stock import _rank
    from moviefactory.renderers.pictures.stock_api import StockItem

    items = [StockItem(f"pexels-photo-{n}", "pexels", "photo", str(n), "red fox snow", (), 100, 100, 0.0, "u", "p",
                       "a", "", "L", "", "") for n in range(3)]
    assert [i.id for i in _rank(items, "red fox")] == ["0", "1", "2"]  # the library's order
    assert [i.id for i in _rank(items, "red fox", {"pexels-photo-2": 0.9})][0] == "2"  # what it shows wins


def test_with_clip_weights_stock_previews_are_fetched_once_and_rank_the_answers(library, tmp_path, monkeypatch):
    from moviefactory.planner import create_writer
    from moviefactory.renderers.pictures.clip_rank import load_clip
    from moviefactory.renderers.pictures.stock import StockRenderer
    from scripted_llm import request
    from test_footage import _tiny_clip

    clip = _tiny_clip(tmp_path / "clip")
    thumbs = []
    for item in library:
        if item.kind == "video":
            thumb = item.file.with_suffix(".thumb.jpg")
            _photo(thumb, COLOURS[item.id], (160, 120))
            item.preview = thumb
            thumbs.append(thumb.name)
    monkeypatch.setenv("PEXELS_API_KEY", KEY)
    film = create_writer("offline").write(request(theme=THEME, fmt="vertical", seconds=16.0))
    try:
        with FakeStock(library, key=KEY) as server:
            api = StockAPI("pexels", base_url=server.base_url, cache=tmp_path / "cache")
            renderer = StockRenderer(api, aspect=9 / 16, ranker=load_clip(clip))
            picks = renderer.picks(film)
            fetched = [r["path"] for r in server.downloads()]
            assert sorted(set(fetched)) == sorted(f"/files/{n}" for n in thumbs + [i.file.name for i in library
                                                                                   if i.kind == "photo"])
            assert len(fetched) == len(set(fetched))  # each preview once
            again = StockRenderer(api, aspect=9 / 16, ranker=load_clip(clip))
            before = len(server.requests)
            assert {k: (v[0].key if v[0] else None) for k, v in again.picks(film).items()} == \
                {k: (v[0].key if v[0] else None) for k, v in picks.items()}
            assert len(server.requests) == before  # searches and previews are all cached
    finally:
        for item in library:
            item.preview = None
