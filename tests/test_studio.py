"""The studio over real HTTP: a `moviefactory serve` (uvicorn) per module, every route and its bad input,
films made through it decoded and measured."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import av
import numpy as np
import pytest
from PIL import Image

from studio_server import QUICK, Studio

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("studio")]


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    server = Studio(tmp_path_factory.mktemp("studio") / "runs")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def edited_film(studio):
    """Plan, edit a line and a shot, render: the film id and the edited line."""
    plan = studio.http.post("/api/plans", json={"theme": "A lighthouse keeper and a storm", **QUICK})
    assert plan.status_code == 200, plan.text
    screenplay = plan.json()
    assert "lighthouse" in (screenplay["title"] + screenplay["logline"]).lower()
    line = "The keeper lights the lamp at nine sharp."
    screenplay["scenes"][0]["narration"][0]["text"] = line
    scene = screenplay["scenes"][0]
    scene["shots"] = scene["shots"][::-1]  # reordered shots
    made = studio.http.post("/api/films", json={"screenplay": screenplay, **{k: v for k, v in QUICK.items()
                                                                             if k != "seconds"}})
    assert made.status_code == 202, made.text
    return made.json()["id"], line, screenplay


def test_page_docs_and_menu(studio):
    page = studio.http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="theme"' in page.text and "/static/studio.js" in page.text
    assert "http://" not in page.text.replace("http://www.w3.org", "")  # nothing from elsewhere
    assert studio.http.get("/static/studio.js").status_code == 200
    docs = studio.http.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text
    for asset in re.findall(r'(?:src|href)="(/[^"]+)"', docs.text):  # Swagger UI from the studio itself
        assert studio.http.get(asset).status_code == 200, asset
    spec = studio.http.get("/openapi.json").json()
    for route in ("/api/films", "/api/films/{film_id}", "/api/films/{film_id}/events", "/api/films/{film_id}/resume",
                  "/api/films/{film_id}/files/{name}", "/api/plans", "/api/batches", "/api/batches/{batch_id}"):
        assert route in spec["paths"], route
    menu = studio.http.get("/api/options").json()
    names = [r["name"] for r in menu["renderers"]]
    assert names[:2] == ["animatic", "footage"] and "stock" not in names  # no key on this server
    assert all(r["needs"] for r in menu["renderers"])
    assert {"vertical", "widescreen"} <= {f["name"] for f in menu["formats"]}


@pytest.mark.parametrize("body, field", [
    ({"theme": "x", "seconds": "abc"}, "seconds"),
    ({"theme": "x", "seconds": 1}, "seconds"),
    ({"theme": "x", "renderer": "nope"}, "renderer"),
    ({"theme": "x", "format": "imax"}, "format"),
    ({"theme": "x", "lang": "xx"}, "lang"),
    ({"theme": "x", "model_path": "/etc"}, "model_path"),   # the server's, never a request's
    ({"theme": "x", "output": "/tmp"}, "output"),
    ({"theme": "x", "llm_base_url": "http://evil.example/v1"}, "llm_base_url"),  # the key stays here
    ({"theme": "x", "images_api_key_env": "HOME"}, "images_api_key_env"),
    ({"theme": "x", "music": "/etc"}, "music"),
    ({"theme": "x", "bogus": 1}, "bogus"),
    ({"theme": "x", "renderer": "footage", "media": "m-nope"}, "media"),
    ({"theme": "x", "renderer": "footage"}, "renderer"),
    ({"theme": "x", "renderer": "ltx-video"}, "renderer"),   # no weights here: no download on a request's word
    ({"theme": "x", "renderer": "stock"}, "renderer"),       # no key on this server
    ({"theme": "x", "transitions": "wan2.1-flf2v"}, "transitions"),
    ({"theme": "x", "tts": "coqui"}, "tts"),                  # not installed here
    ({"theme": "x", "tts": "openai"}, "tts"),                 # no key on this server
    ({"theme": "x", "voice": "/etc/passwd"}, "voice"),        # a voice that names a file (coqui's reference clip)
    ({"seconds": 10}, "theme"),
    ({"theme": "   "}, "theme"),
])
def test_bad_options_are_422_naming_the_field(studio, body, field):
    response = studio.http.post("/api/films", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert detail["loc"][:2] == ["body", field], detail
    assert detail["msg"] and "Traceback" not in response.text


def test_bad_bodies(studio):
    as_json = {"Content-Type": "application/json"}
    assert studio.http.post("/api/films", content=b"{not json", headers=as_json).status_code == 422
    deep = b"[" * 100000 + b"]" * 100000
    assert studio.http.post("/api/films", content=deep, headers=as_json).status_code == 422
    # not sent as JSON (what a page elsewhere can send without a CORS preflight): refused
    plain = studio.http.post("/api/films", content=b'{"theme": "x"}', headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
    assert studio.http.post("/api/films", content=b"x" * (6 * 2**20), headers=as_json).status_code == 413
    assert studio.http.post("/api/films", json=["a list"]).status_code == 422
    bad = studio.http.post("/api/films", json={"screenplay": {"title": "t"}})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:2] == ["body", "screenplay"]
    screenplay = studio.http.post("/api/plans", json={"theme": "A clock tower at noon", **QUICK}).json()
    screenplay["narrator"]["id"] = "../../home/me/voice.wav"
    path_voice = studio.http.post("/api/films", json={"screenplay": screenplay})
    assert path_voice.status_code == 422
    assert path_voice.json()["detail"][0]["loc"] == ["body", "screenplay", "narrator", "id"]
    plan = studio.http.post("/api/plans", json={"theme": "x", "seconds": -3})
    assert plan.status_code == 422 and plan.json()["detail"][0]["loc"] == ["body", "seconds"]


def test_unknown_ids_and_traversal_are_404(studio, edited_film):
    film_id = edited_film[0]
    for path in ("/api/films/nope", "/api/films/nope/events", "/api/films/nope/files/film.mp4",
                 "/api/batches/nope", "/api/films/..%2F..%2Fetc/files/passwd"):
        assert studio.http.get(path).status_code == 404, path
    assert studio.http.delete("/api/films/nope").status_code == 404
    assert studio.http.post("/api/films/nope/resume").status_code == 404
    for name in ("..%2Frun.json", "..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "run.json", "state.sqlite",
                 "scenes", "%2E%2E", "film.mp4.done.json", "%2e%2e%2fstudio.sqlite"):
        response = studio.http.get(f"/api/films/{film_id}/files/{name}")
        assert response.status_code == 404, name
        assert b"root:" not in response.content and b"SQLite" not in response.content


def test_edited_screenplay_renders_with_its_line_in_the_captions(studio, edited_film):
    film_id, line, screenplay = edited_film
    names = [name for name, _ in studio.events(film_id)]
    assert names[0] == "status" and names[-1] == "done", names
    assert {"stage", "shot", "progress"} <= set(names)
    film = studio.wait(film_id)
    assert film["status"] == "done" and film["progress"] == 1.0 and film["error"] is None
    assert {"film.mp4", "film.srt", "film.vtt", "film.otio", "contact_sheet.png", "report.json"} <= set(film["files"])
    assert len(film["shots"]) == sum(len(s["shots"]) for s in screenplay["scenes"])
    vtt = studio.http.get(f"/api/films/{film_id}/files/film.vtt")
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert "lamp at nine sharp" in " ".join(vtt.text.split())
    video = studio.http.get(f"/api/films/{film_id}/files/film.mp4")
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (270, 480)  # vertical at draft size
        assert container.streams.audio
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert frame.std() > 5  # a picture, not a blank
    # the first shot played is the one the edit moved first
    first = screenplay["scenes"][0]["shots"][0]["id"]
    report = studio.http.get(f"/api/films/{film_id}/files/report.json").json()
    assert report["shots"] == len(film["shots"])
    thumb = studio.http.get(f"/api/films/{film_id}/files/thumb-{first}.jpg")
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).width == 320


def test_film_mp4_serves_byte_ranges(studio, edited_film):
    film_id = edited_film[0]
    studio.wait(film_id)
    whole = studio.http.get(f"/api/films/{film_id}/files/film.mp4")
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "video/mp4"
    part = studio.http.get(f"/api/films/{film_id}/files/film.mp4", headers={"Range": "bytes=100-1123"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-1123/{len(whole.content)}"
    assert part.content == whole.content[100:1124]


def test_history_newest_first_and_finished_film_cancel_is_409(studio, edited_film):
    film_id = edited_film[0]
    studio.wait(film_id)
    again = studio.http.post("/api/films", json={"theme": "A paper boat on a rainy street", **QUICK}).json()["id"]
    films = studio.http.get("/api/films").json()
    assert [f["id"] for f in films][:2] == [again, film_id]
    assert studio.http.delete(f"/api/films/{film_id}").status_code == 409
    assert studio.wait(again)["status"] == "done"


def test_batch_of_themes_and_batch_file(studio, tmp_path):
    made = studio.http.post("/api/batches", files={"file": ("my themes.txt", b"A hummingbird at dawn\n# a comment\n"
                                                                             b"A tugboat in fog\n")},
                            data={})
    assert made.status_code == 202, made.text
    batch = made.json()
    assert len(batch["films"]) == 2
    listed = studio.http.get(f"/api/batches/{batch['id']}").json()
    assert listed["name"] == "my-themes" and [f["theme"] for f in listed["films"]] == ["A hummingbird at dawn",
                                                                                       "A tugboat in fog"]
    for film in batch["films"]:  # not made here: they are full-length films
        assert studio.http.delete(f"/api/films/{film}").status_code == 202
    for film in batch["films"]:  # the second may have been claimed by then: it ends once its process is up
        assert studio.wait(film)["status"] == "cancelled"
    assert studio.http.get(f"/api/batches/{batch['id']}").json()["counts"]["cancelled"] == 2
    # options for all the films of a batch of themes
    quick = studio.http.post("/api/batches", json={"themes": ["A snail racing a leaf"], **QUICK})
    assert quick.status_code == 202
    for film in quick.json()["films"]:
        assert studio.wait(film)["status"] == "done"
    status = studio.http.get(f"/api/batches/{quick.json()['id']}").json()
    assert status["status"] == "done" and status["counts"]["done"] == 1
    bad = studio.http.post("/api/batches", files={"file": ("run.exe", b"MZ\x90\x00")})
    assert bad.status_code == 415
    server_only = studio.http.post("/api/batches", files={"file": ("b.csv", b"theme,model_path\nA cat,/etc\n")})
    assert server_only.status_code == 422 and "model_path" in server_only.json()["detail"][0]["loc"]
    assert "b.csv line 2" in server_only.json()["detail"][0]["msg"]
    # a film naming a settings file: the server does not read it (its contents would come back in errors)
    secret = tmp_path / "secret.yaml"
    secret.write_text("db_password: hunter2\n")
    for name, text in (("c.csv", f"theme,config\nA cat,{secret}\n"),
                       ("c.yaml", f"name: x\ndefaults: {{config: {secret}}}\nfilms: [A cat]\n"),
                       ("c.jsonl", json.dumps({"theme": "A cat", "config": str(secret)}) + "\n")):
        refused = studio.http.post("/api/batches", files={"file": (name, text.encode())})
        assert refused.status_code == 422, (name, refused.text)
        assert "hunter2" not in refused.text and "db_password" not in refused.text and str(secret) not in refused.text
    numbers = studio.http.post("/api/batches", files={"file": ("n.yaml", b"- 1984\n")})
    assert numbers.status_code == 202
    assert studio.http.delete(f"/api/films/{numbers.json()['films'][0]}").status_code == 202
    broken = studio.http.post("/api/batches", files={"file": ("b.yaml", b"films: [\n")})
    assert broken.status_code == 422 and "Traceback" not in broken.text
    assert studio.http.post("/api/batches", json={"themes": []}).status_code == 422


def test_media_upload_checked_by_content_and_a_footage_film(studio, tmp_path):
    pictures = []
    for n, colour in enumerate([(200, 40, 40), (40, 60, 200)]):
        buffer = io.BytesIO()
        Image.new("RGB", (640, 360), colour).save(buffer, format="PNG")
        pictures.append(("files", (f"red fox {n}.png" if n == 0 else "blue lake.png", buffer.getvalue(), "image/png")))
    made = studio.http.post("/api/media", files=pictures)
    assert made.status_code == 201, made.text
    upload = made.json()
    assert upload["files"] == ["001-red-fox-0.png", "002-blue-lake.png"]
    fake = studio.http.post("/api/media", files=[("files", ("cat.jpg", b"#!/bin/sh\nrm -rf /\n", "image/jpeg"))])
    assert fake.status_code == 415 and "cat" in fake.json()["detail"][0]["msg"]
    broken = studio.http.post("/api/media", files=[("files", ("x.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png"))])
    assert broken.status_code == 415
    assert studio.http.post("/api/media", files=[]).status_code == 422
    film = studio.http.post("/api/films", json={"theme": "A red fox by a blue lake", "renderer": "footage",
                                                "media": upload["media"], **QUICK})
    assert film.status_code == 202, film.text
    done = studio.wait(film.json()["id"])
    assert done["status"] == "done", done["error"]
    with av.open(io.BytesIO(studio.http.get(f"/api/films/{done['id']}/files/film.mp4").content)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    means = [f.reshape(-1, 3).mean(axis=0) for f in frames[5::10]]
    assert any(m[0] > m[2] + 40 for m in means) and any(m[2] > m[0] + 40 for m in means)  # both pictures play


def test_upload_limit_is_413(tmp_path):
    server = Studio(tmp_path / "runs", "--max-upload-mb", "0.05")
    try:
        big = io.BytesIO()
        Image.fromarray(np.random.default_rng(1).integers(0, 255, (400, 400, 3), dtype=np.uint8)).save(big, "PNG")
        response = server.http.post("/api/media", files=[("files", ("noise.png", big.getvalue(), "image/png"))])
        assert response.status_code == 413

        def chunks():  # no Content-Length to check first: counted as it arrives
            yield b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"n.png\"\r\n\r\n"
            for _ in range(20):
                yield big.getvalue()[:10000]
            yield b"\r\n--b--\r\n"

        chunked = server.http.post("/api/media", content=chunks(),
                                   headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert chunked.status_code == 413, chunked.text
        assert not list((tmp_path / "runs").rglob("*.png"))
    finally:
        server.stop()


def test_token_off_localhost_and_the_login_cookie(tmp_path):
    refused = subprocess.run([sys.executable, "-m", "moviefactory", "serve", "--host", "0.0.0.0", "--output",
                              str(tmp_path / "x")], capture_output=True, text=True, timeout=60,
                             env={**__import__("os").environ, "STUDIO_TOKEN": ""})
    assert refused.returncode == 2 and "token" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    server = Studio(tmp_path / "runs", "--token", "s3cret-token", "--queue-limit", "1")
    try:
        http = server.http
        assert http.get("/api/films").status_code == 401
        assert http.get("/api/films", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.get("/openapi.json").status_code in (401, 303)
        assert http.get("/", follow_redirects=False).headers["location"] == "/login"
        assert http.post("/api/films", json={"theme": "x"}).status_code == 401
        assert http.get("/api/films", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert http.get("/api/films", headers={"X-Studio-Token": "s3cret-token"}).status_code == 200
        assert http.post("/login", data={"token": "nope"}).status_code == 401
        login = http.post("/login", data={"token": "s3cret-token"}, follow_redirects=False)
        assert login.status_code == 303 and "httponly" in login.headers["set-cookie"].lower()
        assert "s3cret-token" not in login.headers["set-cookie"]
        assert http.get("/api/films").status_code == 200  # the cookie
        # a full queue: 429 with Retry-After (one waiting film allowed; one more is refused)
        http.headers["Authorization"] = "Bearer s3cret-token"
        codes = [http.post("/api/films", json={"theme": f"A kite number {n}", **QUICK}).status_code for n in range(4)]
        assert 429 in codes, codes
        full = http.post("/api/films", json={"theme": "A kite number 9", **QUICK})
        assert full.status_code == 429 and int(full.headers["retry-after"]) > 0
    finally:
        server.stop()
    assert "s3cret-token" not in server.log.read_text()
    for path in (tmp_path / "runs").rglob("*.json"):
        assert "s3cret-token" not in path.read_text(errors="replace")


def test_other_sites_and_other_host_names_are_refused(studio):
    theme = {"theme": "A moth at a lamp", **QUICK}
    elsewhere = studio.http.post("/api/films", json=theme, headers={"Origin": "http://evil.example"})
    assert elsewhere.status_code == 403
    assert "A moth at a lamp" not in [f["theme"] for f in studio.http.get("/api/films").json()]  # not queued
    assert studio.http.delete("/api/films/x", headers={"Origin": "http://evil.example"}).status_code == 403
    assert studio.http.post("/api/films/x/resume", headers={"Origin": "null"}).status_code == 403
    # DNS rebinding: a page whose own name now points at 127.0.0.1 sends its name as the Host
    assert studio.http.get("/api/films", headers={"Host": "evil.example"}).status_code == 421
    assert studio.http.get("/api/films", headers={"Host": f"localhost:{studio.url.rsplit(':', 1)[1]}"}
                           ).status_code == 200
    same = studio.http.get("/api/options", headers={"Origin": studio.url})
    assert same.status_code == 200


def test_cors_only_when_asked(tmp_path, studio):
    preflight = {"Origin": "http://example.com", "Access-Control-Request-Method": "POST"}
    closed = studio.http.options("/api/films", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    server = Studio(tmp_path / "runs", "--cors", "http://example.com")
    try:
        opened = server.http.options("/api/films", headers=preflight)
        assert opened.headers["access-control-allow-origin"] == "http://example.com"
        other = server.http.options("/api/films", headers={**preflight, "Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    finally:
        server.stop()


def test_runs_made_by_the_cli_join_the_history(tmp_path):
    runs = tmp_path / "runs"
    cli = [sys.executable, "-m", "moviefactory"]
    quick = ["--draft", "--seconds", "10", "--format", "vertical", "--tts", "espeak", "--music", "none",
             "--output", str(runs)]
    made = subprocess.run([*cli, "make", "A windmill turning at dusk", *quick], capture_output=True, text=True,
                          timeout=300)
    assert made.returncode == 0, made.stderr
    planned = subprocess.run([*cli, "plan", "A teapot that sings", *quick, "-o", str(tmp_path / "plan.yaml")],
                             capture_output=True, text=True,
                             timeout=300)
    assert planned.returncode == 0, planned.stderr
    server = Studio(runs)
    try:
        films = server.http.get("/api/films").json()
        assert [f["theme"] for f in films] == ["A windmill turning at dusk"]  # the plan is not a film
        (film,) = films
        assert film["status"] == "done" and film["title"] and film["thumb"] == "contact_sheet.png"
        sheet = server.http.get(f"/api/films/{film['id']}/files/contact_sheet.png")
        assert sheet.status_code == 200 and Image.open(io.BytesIO(sheet.content)).width > 100
        assert server.http.post(f"/api/films/{film['id']}/resume").status_code == 202  # made again: checked
        again = server.wait(film["id"])
        assert again["status"] == "done", again["error"]
        assert server.http.get(f"/api/films/{film['id']}/files/report.json").json()["resumed"] is True
    finally:
        server.stop()


def test_the_server_config_and_key_give_stock_films_and_stay_on_the_server(tmp_path):
    from fake_stock import FakeStock, Item
    from test_footage import _clip, _photo

    items = []
    for n, kind in ((1, "video"), (2, "photo")):
        path = tmp_path / f"item{n}.{'mp4' if kind == 'video' else 'jpg'}"
        _clip(path, (200, 30, 30), seconds=2.0) if kind == "video" else _photo(path, (30, 40, 200), (1080, 1440))
        items.append(Item(n, kind, "kettle stove kitchen winter steam", path, 320 if kind == "video" else 1080,
                          240 if kind == "video" else 1440, 2.0 if kind == "video" else 0.0))
    key = "pexels-key-for-the-server-only"
    with FakeStock(items, key=key) as stock:
        config = tmp_path / "studio.yaml"
        config.write_text(f"pexels_base_url: {stock.base_url}\nmusic: none\n")
        server = Studio(tmp_path / "runs", "--config", str(config),
                        env={"PEXELS_API_KEY": key, "MOVIEFACTORY_CACHE": str(tmp_path / "cache")})
        try:
            menu = server.http.get("/api/options").json()
            assert "stock" in [r["name"] for r in menu["renderers"]]
            assert stock.base_url not in json.dumps(menu) and key not in json.dumps(menu)
            made = server.http.post("/api/films", json={"theme": "A kettle on a winter stove", "renderer": "stock",
                                                        **{k: v for k, v in QUICK.items() if k != "music"}})
            assert made.status_code == 202, made.text
            film = server.wait(made.json()["id"])
            assert film["status"] == "done", film["error"]
            assert "credits.txt" in film["files"]
            report = server.http.get(f"/api/films/{film['id']}/files/report.json").json()
            assert "pexels" in {p["source"] for p in report["pictures"]}
            assert stock.searches()  # the server's stock library was asked, with the server's key
            for listed in (server.http.get("/api/films").text, json.dumps(film), json.dumps(report)):
                assert key not in listed
        finally:
            server.stop()
    for path in (tmp_path / "runs").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".sqlite", ".txt", ".log"):
            assert key.encode() not in path.read_bytes(), path
