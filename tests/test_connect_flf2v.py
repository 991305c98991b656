"""connect (Mora / SEINE) over the REAL diffusers WanImageToVideoPipeline as a first-and-last-frame
(FLF2V) model: tiny random weights on the CPU, nothing downloaded.

The catalogue's `wan2.1-flf2v` generates at about 1280x720 with 30 steps; the tiny transformer
takes ~35 s for ONE step of 9 frames at that size on the CPU, so the loading path and the CLI run with a
toy catalogue entry (48x32, 2 steps; everything else the real entry's). The CLI subprocess gets
that entry through a `sitecustomize.py` on its PYTHONPATH; the real entry is exercised by the
size it asks for and by the "weights missing" message.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from media import video_frames
from moviefactory.errors import MissingDependencyError
from moviefactory.renderers.diffusion import base
from moviefactory.renderers.diffusion.connect import DiffusersFirstLastFrameGenerator, connect, load_first_last
from moviefactory.media.frames import read_frames, write_frames
from test_diffusion_extend import H, W, backdrop, clip_pair
from tiny_wan_flf2v import tiny_wan_flf2v

MODEL = "wan2.1-flf2v"
TOY_SIZE, TOY_STEPS = (W, H), 2  # A's own size: 48x32, both multiples of 16
PROMPT = "waves on rocks"


def toy_entry() -> base.ModelEntry:
    return replace(base.entry(MODEL), size=TOY_SIZE, steps=TOY_STEPS)


@pytest.fixture(scope="module")
def flf2v():
    return tiny_wan_flf2v()


@pytest.fixture
def calls(monkeypatch):
    """Every WanImageToVideoPipeline call's keyword arguments (the real call still runs). functools.wraps
    keeps the signature, so the adapter still sees `last_image`."""
    from diffusers import WanImageToVideoPipeline

    seen: list[dict] = []
    real_call = WanImageToVideoPipeline.__call__

    @functools.wraps(real_call)
    def recording(self, *args, **kwargs):
        seen.append(dict(kwargs, _args=args))
        return real_call(self, *args, **kwargs)

    monkeypatch.setattr(WanImageToVideoPipeline, "__call__", recording)
    return seen


def generator_over(pipe) -> DiffusersFirstLastFrameGenerator:
    """The adapter as load_first_last builds it for the toy entry."""
    m = toy_entry()
    return DiffusersFirstLastFrameGenerator(pipe, size=TOY_SIZE, steps=m.steps, legal_frames=m.legal_frames,
                                            call_kwargs={"guidance_scale": m.guidance})


def frame_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return s.codec_context.width, s.codec_context.height


def other_b(tmp_path: Path) -> Path:
    """A clip B unlike clip_pair's B (another scene, another first frame)."""
    frames = np.stack([np.flipud(backdrop(90 + 2 * i)) for i in range(6)])
    frames[0, :, :, 1] = 10
    return write_frames(frames, 24, tmp_path / "c.mp4").path


def test_connect_over_the_tiny_wan_flf2v_pipeline(flf2v, calls, tmp_path, ffmpeg):
    a, b = clip_pair(tmp_path)  # 48x32 at 24 fps; A's last frame and B's first frame are marked
    a_last, b_first = read_frames(a)[0][-1], read_frames(b)[0][0]
    gen = generator_over(flf2v)

    clip = connect(a, b, 0.5, tmp_path / "bridge.mp4", generator=gen, prompt=PROMPT, seed=3, ffmpeg=ffmpeg)
    assert video_frames(clip.path) == (12, 24.0) and clip.frames == 12  # round(0.5 * 24), at A's rate
    assert frame_size(clip.path) == (W, H) and (clip.width, clip.height) == (W, H)
    bridge = read_frames(clip.path)[0]
    assert bridge.shape == (12, H, W, 3)

    # The pipeline was given both ends, at the generation size, and a frame count Wan accepts (4k+1).
    (call,) = calls
    assert not call["_args"]
    assert np.array_equal(np.asarray(call["image"]), a_last)
    assert np.array_equal(np.asarray(call["last_image"]), b_first)
    assert (call["width"], call["height"]) == TOY_SIZE
    assert call["num_frames"] == 13 and call["num_inference_steps"] == TOY_STEPS
    assert call["prompt"] == PROMPT and call["guidance_scale"] == base.entry(MODEL).guidance

    # The seed decides the noise: the same seed is the same clip, another is not.
    again = connect(a, b, 0.5, tmp_path / "again.mp4", generator=gen, prompt=PROMPT, seed=3, ffmpeg=ffmpeg)
    other = connect(a, b, 0.5, tmp_path / "other.mp4", generator=gen, prompt=PROMPT, seed=4, ffmpeg=ffmpeg)
    assert np.array_equal(read_frames(again.path)[0], bridge)
    assert np.abs(read_frames(other.path)[0].astype(int) - bridge).mean() > 0.5

    # The last frame is really used: another B (same A, same seed) makes another transition.
    to_c = connect(a, other_b(tmp_path), 0.5, tmp_path / "to_c.mp4", generator=gen, prompt=PROMPT, seed=3,
                   ffmpeg=ffmpeg)
    assert np.abs(read_frames(to_c.path)[0].astype(int) - bridge).mean() > 0.5
    assert len(calls) == 4 and all(c["last_image"] is not None for c in calls)


def test_load_first_last_loads_the_saved_pipeline_offline(flf2v, monkeypatch, tmp_path, ffmpeg):
    folder = tmp_path / "flf2v"
    flf2v.save_pretrained(folder)

    # The real entry: a ~1280x720-pixel generation in A's aspect, 30 steps (too slow to run here).
    real = load_first_last(MODEL, clip_size=(W, H), model_path=folder, offline=True, device="cpu")
    assert real.steps == 30 and all(side % 16 == 0 for side in real.size)
    assert abs(real.size[0] * real.size[1] / (1280 * 720) - 1) < 0.05 and abs(real.size[0] / real.size[1] - 1.5) < 0.05

    # The toy entry: the same loading path at 48x32 with 2 steps.
    toy = {**base.catalogue(), MODEL: toy_entry()}
    monkeypatch.setattr(base, "catalogue", lambda: toy)
    gen = load_first_last(MODEL, clip_size=(W, H), model_path=folder, offline=True, device="cpu")
    assert type(gen.pipe).__name__ == "WanImageToVideoPipeline" and gen.pipe.image_encoder is not None
    assert gen.size == TOY_SIZE and gen.steps == TOY_STEPS and gen.call_kwargs == {"guidance_scale": base.entry(MODEL).guidance}
    assert gen.legal_frames(12) == 13

    a, b = clip_pair(tmp_path)
    loaded = connect(a, b, 0.5, tmp_path / "loaded.mp4", generator=gen, prompt=PROMPT, seed=3, ffmpeg=ffmpeg)
    assert video_frames(loaded.path) == (12, 24.0) and frame_size(loaded.path) == (W, H)
    # The weights that were saved are the weights that ran: the in-memory pipeline gives the same clip.
    built = connect(a, b, 0.5, tmp_path / "built.mp4", generator=generator_over(flf2v), prompt=PROMPT, seed=3,
                    ffmpeg=ffmpeg)
    assert np.array_equal(read_frames(loaded.path)[0], read_frames(built.path)[0])


# ---------------------------------------------------------------------------------------------
# the CLI

CLI = Path(sys.executable).with_name("moviefactory")
TOY_CATALOGUE = f"""\
# Test only: the catalogue's {MODEL} at {TOY_SIZE[0]}x{TOY_SIZE[1]} with {TOY_STEPS} steps.
from dataclasses import replace

from moviefactory.renderers.diffusion import base

_toy = {{**base.catalogue(), {MODEL!r}: replace(base.entry({MODEL!r}), size={TOY_SIZE!r}, steps={TOY_STEPS})}}
base.catalogue = lambda: _toy
"""


def run_cli(*args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env, timeout=300)


def test_cli_connect_with_the_saved_tiny_flf2v(flf2v, tmp_path, ffmpeg):
    folder = tmp_path / "flf2v"
    flf2v.save_pretrained(folder)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(TOY_CATALOGUE, encoding="utf-8")
    a, b = clip_pair(tmp_path)
    out = tmp_path / "out.mp4"

    proc = run_cli("connect", str(a), str(b), "--seconds", "1", "--model", MODEL, "--model-path", str(folder),
                   "--offline", "--prompt", PROMPT, "--seed", "5", "-o", str(out), pythonpath=site)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "wrote:" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
    assert video_frames(out) == (24, 24.0) and frame_size(out) == (W, H)

    # The CLI passed the model, prompt and seed through: the same transition made in this process.
    here = connect(a, b, 1.0, tmp_path / "here.mp4", generator=generator_over(flf2v), prompt=PROMPT, seed=5,
                   ffmpeg=ffmpeg)
    cli_frames, here_frames = read_frames(out)[0].astype(int), read_frames(here.path)[0].astype(int)
    assert np.abs(cli_frames - here_frames).mean() < 0.2  # bit-exact here; allow for threads' float order


def test_cli_connect_without_weights_is_one_line_naming_the_download(tmp_path):
    a, b = clip_pair(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out.mp4"
    proc = run_cli("connect", str(a), str(b), "--seconds", "1", "--model", MODEL, "--model-path", str(empty),
                   "--offline", "-o", str(out))
    assert proc.returncode == MissingDependencyError.exit_code, proc.stdout + proc.stderr
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), text
    assert "hf download Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers" in lines[0]
    assert not out.exists()
