"""--renderer openai-images against a real HTTP server on 127.0.0.1 speaking /v1/images/generations:
each shot's keyframe is the picture the server painted for that shot's prompt, moving with its camera;
faults give bounded retries then one line; the key is in no run file; a second make asks for nothing."""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from fake_images import FakeImages, Fault
from moviefactory.config import load_format
from moviefactory.errors import RenderError
from moviefactory.media.ffmpeg import ffmpeg_binary
from moviefactory.renderers import RenderContext
from moviefactory.renderers.pictures.openai_images import OpenAIImagesRenderer, image_size
from moviefactory.screenplay import Screenplay, Shot

KEY = "sk-images-secret-4242"
THEME = "A fox in the first snow"


def colour_of(prompt: str) -> tuple[int, int, int]:
    h = hashlib.sha256(prompt.encode()).digest()
    return 40 + h[0] % 180, 40 + h[1] % 180, 40 + h[2] % 180


def paint(body) -> bytes:
    """The prompt's own colour, with a thin grid so a camera move shows."""
    w, h = (int(v) for v in body["size"].split("x"))
    a = np.zeros((h, w, 3), np.uint8)
    a[:] = colour_of(body["prompt"])
    a[::32] = 0
    a[:, ::32] = 0
    out = io.BytesIO()
    Image.fromarray(a).save(out, "PNG")
    return out.getvalue()


def _make(server, out, *extra, key=KEY):
    return subprocess.run(
        [sys.executable, "-m", "moviefactory", "make", THEME, "--renderer", "openai-images", "--images-base-url",
         server.base_url, "--images-model", "sd-local", "--format", "vertical", "--draft", "--seconds", "12",
         "--writer", "offline", "--music", "none", "--sfx", "none", "--output", str(out), *extra],
        env={**os.environ, "OPENAI_API_KEY": key}, capture_output=True, text=True, timeout=300)


def test_each_shot_is_the_picture_painted_for_its_prompt_and_a_second_make_asks_for_none(tmp_path):
    with FakeImages(paint, key=KEY) as server:
        proc = _make(server, tmp_path / "runs")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        run = next((tmp_path / "runs").iterdir())
        screenplay = Screenplay.model_validate_json((run / "screenplay.json").read_text())
        shots = [s for _, s in screenplay.shots()]
        asked = [r["body"] for r in server.requests]
        assert len(asked) == len(shots) and {b["size"] for b in asked} == {image_size("sd-local", 9 / 16)}
        assert image_size("sd-local", 9 / 16) == "768x1344"  # portrait, for a vertical film
        timeline = json.loads((run / "timeline.json").read_text())
        fps = Fraction(timeline["fps"])
        with av.open(str(run / "film.mp4")) as c:
            frames = [(f.time, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
        for clip in timeline["video"]:
            shot = next(s for s in shots if s.id == clip["shot"])
            prompt = next(b["prompt"] for b in asked if shot.description in b["prompt"])
            start = float(Fraction(clip["start"]))
            inside = [img for t, img in frames if start + 0.15 <= t < start + float(clip["frames"] / fps) - 0.15]
            middle = inside[len(inside) // 2].reshape(-1, 3).astype(int)
            assert np.abs(np.median(middle, axis=0) - colour_of(prompt)).max() < 30, shot.id
            assert np.abs(inside[0].astype(int) - inside[-1].astype(int)).mean() > 1, shot.id  # the camera moved
        # the key is nowhere in the run
        for path in run.rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), path
        # made again: every keyframe is already there, nothing is asked for
        before = len(server.requests)
        again = _make(server, tmp_path / "runs")
        assert again.returncode == 0, again.stderr
        assert len(server.requests) == before


def test_a_refused_key_is_one_line_naming_the_server_and_the_variable(tmp_path):
    with FakeImages(paint, key=KEY) as server:
        proc = _make(server, tmp_path / "runs", key="sk-wrong")
    said = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"image server {server.base_url} answered 401: the key was refused (set $OPENAI_API_KEY" in said[-1]
    assert "sk-wrong" not in proc.stdout + proc.stderr


def _ctx():
    from scripted_llm import request
    from moviefactory.planner import create_writer

    film = create_writer("offline").write(request(theme=THEME, fmt="vertical"))
    fmt = load_format("vertical", draft=True)
    return RenderContext(screenplay=film, scene=film.scenes[0], format=fmt, seed=1, ffmpeg=ffmpeg_binary(), frames=12)


SHOT = Shot(id="s01-sh01", description="a fox in the snow", camera="push_in", motion=0.5, duration=1.0)


def test_429_waits_as_asked_then_succeeds(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeImages(paint, key=KEY, script=[Fault(429, retry_after=1.0)]) as server:
        renderer = OpenAIImagesRenderer(base_url=server.base_url, model="sd-local", aspect=9 / 16, max_retries=2)
        clip = renderer.render(SHOT, _ctx(), tmp_path / "s.still.npz")
    assert clip.frames == 12 and len(server.requests) == 2
    assert server.requests[1]["time"] - server.requests[0]["time"] >= 0.9  # its Retry-After


@pytest.mark.parametrize("fault, said", [(Fault(500), "answered 500"), (Fault(503), "answered 503"),
                                         (Fault(200, delay=3.0), "did not answer in time (retried)")])
def test_server_errors_and_a_hang_are_retried_a_bounded_number_of_times_then_one_line(tmp_path, monkeypatch, fault, said):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeImages(paint, key=KEY, script=[fault] * 5) as server:
        renderer = OpenAIImagesRenderer(base_url=server.base_url, model="sd-local", aspect=9 / 16, timeout=1.0,
                                        max_retries=1)
        with pytest.raises(RenderError) as err:
            renderer.render(SHOT, _ctx(), tmp_path / "s.still.npz")
    assert len(server.requests) == 2 and said in err.value.one_line()
    assert f"image server {server.base_url}" in err.value.one_line() and KEY not in err.value.one_line()


def test_sizes_follow_the_film_shape():
    assert image_size("gpt-image-1", 9 / 16) == "1024x1536" and image_size("gpt-image-1", 1.0) == "1024x1024"
    assert image_size("dall-e-3", 2.4) == "1792x1024"
    w, h = (int(v) for v in image_size("flux", 2.4).split("x"))
    assert w % 64 == 0 and h % 64 == 0 and 2.2 < w / h < 2.6


def test_no_key_and_no_local_server_is_refused_before_anything_is_made(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    proc = subprocess.run([sys.executable, "-m", "moviefactory", "make", THEME, "--renderer", "openai-images",
                           "--writer", "offline", "--output", str(tmp_path / "runs")], capture_output=True, text=True,
                          timeout=120, env=env)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert lines[-1] == "error: --renderer openai-images needs a key in $OPENAI_API_KEY (or --images-base-url for a local server)"
    assert not (tmp_path / "runs").exists()
