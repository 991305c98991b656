"""--renderer comfyui against a real HTTP + WebSocket server on 127.0.0.1 speaking ComfyUI's API: the
workflow's mapped nodes get each shot's prompt, seed, size and frames; progress comes over /ws; the
result comes from /history and /view; a still plays with its camera move, a clip fits the shot."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from fake_comfyui import FakeComfyUI
from moviefactory.config import load_format
from moviefactory.errors import InputError, RenderError
from moviefactory.media.ffmpeg import ffmpeg_binary
from moviefactory.renderers import RenderContext, create_renderer
from moviefactory.resources import config_path
from moviefactory.screenplay import Screenplay, Shot

THEME = "A fox in the first snow"


def colour_of(prompt: str) -> tuple[int, int, int]:
    h = hashlib.sha256(prompt.encode()).digest()
    return 40 + h[0] % 180, 40 + h[1] % 180, 40 + h[2] % 180


def make(prompt, width, height, frames, fps):
    """What the server's models would make: the prompt's colour with a grid (a camera move shows)."""
    a = np.zeros((height, width, 3), np.uint8)
    a[:] = colour_of(prompt)
    a[::32] = 0
    a[:, ::32] = 0
    if frames <= 1:
        out = io.BytesIO()
        Image.fromarray(a).save(out, "PNG")
        return out.getvalue(), ".png"
    r, g, b = colour_of(prompt)
    proc = subprocess.run([ffmpeg_binary(), "-v", "error", "-f", "lavfi", "-i",
                           f"color=c=0x{r:02x}{g:02x}{b:02x}:s={width}x{height}:r={fps}", "-frames:v", str(frames),
                           "-c:v", "libvpx-vp9", "-f", "webm", "pipe:1"], capture_output=True, check=True)
    return proc.stdout, ".webm"


def _ctx(fmt_name="vertical", frames=15):
    from moviefactory.planner import create_writer
    from scripted_llm import request

    film = create_writer("offline").write(request(theme=THEME, fmt=fmt_name))
    reports = []
    ctx = RenderContext(screenplay=film, scene=film.scenes[0], format=load_format(fmt_name, draft=True), seed=11,
                        ffmpeg=ffmpeg_binary(), frames=frames, report=reports.append)
    return film, ctx, reports


SHOT = Shot(id="s01-sh01", description="a red fox in the snow", camera="pan_left", motion=0.8, duration=1.0)


def test_a_film_whose_shots_the_server_painted(tmp_path):
    with FakeComfyUI(make) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "moviefactory", "make", THEME, "--renderer", "comfyui", "--comfyui-url", server.url,
             "--workflow", "sdxl-still.json", "--format", "vertical", "--draft", "--seconds", "12", "--writer",
             "offline", "--music", "none", "--sfx", "none", "--output", str(tmp_path)],
            capture_output=True, text=True, timeout=300, env={**os.environ})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        run = next(tmp_path.iterdir())
        screenplay = Screenplay.model_validate_json((run / "screenplay.json").read_text())
        shots = [s for _, s in screenplay.shots()]
        graphs = [p["graph"] for p in server.prompts]
        assert len(graphs) == len(shots)
        assert all(g["5"]["inputs"]["width"] < g["5"]["inputs"]["height"] for g in graphs)  # a vertical film
        assert all(g["5"]["inputs"]["width"] % 64 == 0 for g in graphs)
        assert len({g["3"]["inputs"]["seed"] for g in graphs}) == len(shots)  # a seed per shot
        timeline = json.loads((run / "timeline.json").read_text())
        fps = Fraction(timeline["fps"])
        with av.open(str(run / "film.mp4")) as c:
            frames = [(f.time, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
        for clip in timeline["video"]:
            shot = next(s for s in shots if s.id == clip["shot"])
            prompt = next(g["6"]["inputs"]["text"] for g in graphs if shot.description in g["6"]["inputs"]["text"])
            start, length = float(Fraction(clip["start"])), float(clip["frames"] / fps)
            inside = [img for t, img in frames if start + 0.15 <= t < start + length - 0.15]
            got = np.median(inside[len(inside) // 2].reshape(-1, 3).astype(int), axis=0)
            assert np.abs(got - colour_of(prompt)).max() < 30, shot.id
        # made again: nothing is sent to the server
        before = len(server.prompts)
        again = subprocess.run([sys.executable, "-m", "moviefactory", "resume", run.name, "--output", str(tmp_path)],
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
        assert len(server.prompts) == before


def test_progress_comes_over_the_websocket_and_a_still_moves(tmp_path):
    film, ctx, reports = _ctx()
    with FakeComfyUI(make, steps=5) as server:
        renderer = create_renderer("comfyui", comfyui_url=server.url, aspect=9 / 16)
        clip = renderer.render(SHOT, ctx, tmp_path / "s.still.npz")
    assert reports == [f"comfyui {k}/5" for k in range(1, 6)]
    from moviefactory.media.frames import read_frames

    frames, _ = read_frames(clip.path)
    assert len(frames) == 15 and np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.still.npz"]


def test_a_video_workflow_asks_for_the_models_frames_and_the_clip_fits_the_shot(tmp_path):
    film, ctx, _ = _ctx("widescreen", frames=48)  # 2 s at 24 fps
    with FakeComfyUI(make) as server:
        renderer = create_renderer("comfyui", comfyui_url=server.url, workflow="wan-t2v.json", aspect=2.4)
        clip = renderer.render(SHOT, ctx, tmp_path / "s.mp4")
        graph = server.prompts[0]["graph"]
    length = graph["40"]["inputs"]["length"]
    assert length % 4 == 1 and length >= 2 * 16  # Wan's 4k+1 frames, at its 16 fps, for 2 s
    assert graph["40"]["inputs"]["width"] > graph["40"]["inputs"]["height"] and "red fox" in graph["6"]["inputs"]["text"]
    with av.open(str(clip.path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 48 and frames[0].shape[:2] == (ctx.size[1], ctx.size[0])
    assert np.abs(np.median(frames[20].reshape(-1, 3), axis=0) - colour_of(graph["6"]["inputs"]["text"])).max() < 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.mp4"]  # the downloaded source is gone


def test_a_failing_node_is_one_line_naming_it(tmp_path):
    film, ctx, _ = _ctx()
    with FakeComfyUI(make, fail_node="3") as server:
        renderer = create_renderer("comfyui", comfyui_url=server.url, aspect=9 / 16)
        with pytest.raises(RenderError) as err:
            renderer.render(SHOT, ctx, tmp_path / "s.still.npz")
    assert err.value.one_line().startswith(f"ComfyUI at {server.url} failed in node 3 (KSampler): CUDA out of memory")


def test_a_server_that_is_not_there_is_one_line(tmp_path):
    film, ctx, _ = _ctx()
    renderer = create_renderer("comfyui", comfyui_url="http://127.0.0.1:9", aspect=9 / 16)
    with pytest.raises(RenderError) as err:
        renderer.render(SHOT, ctx, tmp_path / "s.still.npz")
    assert "ComfyUI at http://127.0.0.1:9 cannot be reached" in err.value.one_line()


def test_a_users_own_workflow_works_through_its_mapping_and_a_wrong_mapping_is_named(tmp_path):
    graph = json.loads(config_path("comfyui/sdxl-still.json").read_text())
    def moved(node):  # the same graph with node ids 100 higher, its links too
        inputs = {k: [str(int(v[0]) + 100), v[1]] if isinstance(v, list) else v for k, v in node["inputs"].items()}
        return {**node, "inputs": inputs}

    renumbered = {str(int(k) + 100): moved(n) for k, n in graph.items()}
    mine = tmp_path / "my-flow.json"
    mine.write_text(json.dumps(renumbered))
    mapping = config_path("comfyui/sdxl-still.yaml").read_text()
    for old in ("6", "7", "3", "5", "9"):
        mapping = mapping.replace(f'node: "{old}"', f'node: "1{int(old):02d}"')
    (tmp_path / "my-flow.yaml").write_text(mapping)
    film, ctx, _ = _ctx()
    with FakeComfyUI(make) as server:
        renderer = create_renderer("comfyui", comfyui_url=server.url, workflow=str(mine), aspect=9 / 16)
        renderer.render(SHOT, ctx, tmp_path / "s.still.npz")
        assert "red fox" in server.prompts[0]["graph"]["106"]["inputs"]["text"]
    (tmp_path / "my-flow.yaml").write_text(mapping.replace('node: "106"', 'node: "999"'))
    with pytest.raises(InputError, match="prompt names node 999, which my-flow.json does not have"):
        create_renderer("comfyui", workflow=str(mine))
    (tmp_path / "my-flow.yaml").unlink()
    with pytest.raises(InputError, match="needs a mapping beside it, my-flow.yaml"):
        create_renderer("comfyui", workflow=str(mine))


@pytest.mark.parametrize("args, said", [(["--workflow", "/nowhere/flow.json"], "error: no ComfyUI workflow at /nowhere/flow.json"),
                                        (["--comfyui-url", "ftp://x"], "error: --comfyui-url: 'ftp://x' is not an http(s) address")])
def test_a_workflow_or_address_that_cannot_be_used_is_refused_before_anything_is_made(tmp_path, args, said):
    proc = subprocess.run([sys.executable, "-m", "moviefactory", "make", THEME, "--renderer", "comfyui", *args,
                           "--writer", "offline", "--output", str(tmp_path / "runs")], capture_output=True, text=True,
                          timeout=120)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert proc.returncode == 2 and lines[-1] == said and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()
