"""Long shots by extension, connecting clips, and restyling: chunk arithmetic, invisible seams, real
tiny diffusers pipelines (SVD, Stable Diffusion img2img) on the CPU, and decoded ffmpeg output."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from media import video_frames
from moviefactory.errors import ConfigError, InputError, MissingDependencyError
from moviefactory.renderers.diffusion.connect import DiffusersFirstLastFrameGenerator, connect, edit_clip, restyle
from moviefactory.renderers.diffusion.extend import (DiffusersImageToVideoGenerator, blend_weights, continuation,
                                                     extend, extend_clip, load_image_to_video)
from moviefactory.renderers.diffusion.base import entry
from moviefactory.media.frames import read_frames, write_frames
from tiny_svd_extend import tiny_img2img, tiny_svd

H, W = 32, 48


def backdrop(shift: float = 0.0) -> np.ndarray:
    """A smooth scene: gradients panned by `shift` pixels (values kept clear of 0 and 255)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    xs = x - shift
    img = np.stack([128 + 50 * np.sin(xs / 6), 128 + 50 * np.cos(y / 5 + xs / 17), 128 + 40 * np.sin(xs / 9)], -1)
    return img.round().astype(np.uint8)


class DriftingGenerator:
    """Continues its condition by panning it, as a video model would, but re-renders each overlap a
    little brighter or darker than the chunk before (seeded): the drift that makes seams visible."""

    def __init__(self, speed: float = 1.0, drift: float = 24.0) -> None:
        self.speed, self.drift = speed, drift
        self.calls: list[dict] = []

    def generate(self, prompt, *, frames, condition, anchor, seed):
        self.calls.append({"frames": frames, "condition": None if condition is None else len(condition),
                           "anchor": anchor is not None, "seed": seed})
        if condition is None:
            return np.stack([backdrop(self.speed * i) for i in range(frames)])
        start = condition[0].astype(np.float32)
        offset = self.drift * np.random.default_rng(seed).choice([-1.0, 1.0])
        out = [np.roll(start, round(self.speed * i), axis=1) + offset for i in range(frames)]
        return np.clip(out, 0, 255).round().astype(np.uint8)


def step_differences(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference between each frame and the next."""
    f = frames.astype(np.float32)
    return np.abs(f[1:] - f[:-1]).mean(axis=(1, 2, 3))


# ---------------------------------------------------------------------------------------------
# extend: chunk arithmetic and seams

@pytest.mark.parametrize("total,chunk,overlap,first", [
    (1, 8, 2, 0), (8, 8, 2, 0), (9, 8, 2, 0), (50, 16, 4, 0), (37, 10, 9, 0), (61, 24, 8, 0),
    (30, 8, 3, 5), (12, 8, 3, 20), (21, 6, 1, 3), (40, 16, 8, 2),
])
def test_extend_returns_exactly_the_frames_asked_for(total, chunk, overlap, first):
    gen = DriftingGenerator()
    given = np.stack([backdrop(i) for i in range(first)]) if first else None
    shot = extend(gen, "a rider", total, chunk_frames=chunk, overlap=overlap, seed=3, first=given)
    assert shot.shape == (total, H, W, 3) and shot.dtype == np.uint8
    # Chunk 1 from the prompt, then every call conditioned on the shot's tail and on the anchor; each
    # call adds chunk - (frames it overlaps) new frames.
    later = gen.calls[1:] if first == 0 else gen.calls
    have, overlaps = (chunk if first == 0 else first), []
    while have < total:
        overlaps.append(min(overlap, have))
        have += chunk - overlaps[-1]
    assert [c["condition"] for c in later] == overlaps
    assert all(c["anchor"] for c in later)
    assert len({c["seed"] for c in gen.calls}) == len(gen.calls)  # a fresh seed per chunk


def test_extend_refuses_an_overlap_as_long_as_the_chunk():
    with pytest.raises(InputError, match="overlap"):
        extend(DriftingGenerator(), "x", 20, chunk_frames=8, overlap=8, seed=0)
    with pytest.raises(InputError, match="total_frames"):
        extend(DriftingGenerator(), "x", 0, chunk_frames=8, overlap=2, seed=0)


def test_blended_seams_are_no_bigger_than_motion_inside_a_chunk():
    kwargs = dict(chunk_frames=16, overlap=6, seed=11)
    blended = extend(DriftingGenerator(), "a rider", 70, **kwargs)
    butted = extend(DriftingGenerator(), "a rider", 70, blend=False, **kwargs)
    typical_b, typical_u = np.median(step_differences(blended)), np.median(step_differences(butted))
    # Each chunk's new frames begin at 16, 26, 36, ...: butted, the jump is the step into that frame;
    # blended, it is spread over the overlap before it.
    starts = range(16, 70, 10)
    seam_b = max(step_differences(blended)[b - 7:b].max() for b in starts)
    seam_u = max(step_differences(butted)[b - 1] for b in starts)
    assert seam_b <= 2.5 * typical_b, (seam_b, typical_b)
    assert seam_u >= 4.0 * typical_u, (seam_u, typical_u)  # the same measure catches unblended seams


def test_blend_weights_ramp_from_old_to_new_with_seeded_jitter():
    rng = np.random.default_rng(0)
    draws = [blend_weights(8, rng) for _ in range(20)]
    for w in draws:
        assert np.all(np.diff(w) >= 0) and w[-1] - w[0] > 0.5 and 0 < w.min() and w.max() < 1
    assert len({round(float(w.mean()), 4) for w in draws}) > 10  # the crossover moves
    again = [blend_weights(8, np.random.default_rng(0)) for _ in range(2)]
    assert np.array_equal(again[0], again[1])  # and is reproducible
    assert np.allclose(blend_weights(5, np.random.default_rng(1), jitter=0.0), np.arange(1, 6) / 6)


# ---------------------------------------------------------------------------------------------
# extend with a real image-to-video pipeline

@pytest.fixture(scope="module")
def svd():
    return tiny_svd()


def svd_generator(pipe) -> DiffusersImageToVideoGenerator:
    # max_guidance_scale 1 turns classifier-free guidance off: one UNet pass per step on the CPU.
    return DiffusersImageToVideoGenerator(pipe, size=(32, 32), steps=2, call_kwargs={
        "min_guidance_scale": 1.0, "max_guidance_scale": 1.0, "fps": 7, "motion_bucket_id": 127,
        "decode_chunk_size": 4})


def test_svd_extends_a_shot_over_three_chunks(svd, tmp_path):
    gen = svd_generator(svd)
    assert gen.anchor_mode == "embedding"
    first = np.stack([backdrop(i) for i in range(4)])[:, :, 8:40]  # 32x32
    calls = []
    original = gen.generate

    def counted(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    gen.generate = counted
    shot = extend(gen, "the rider keeps going", 16, chunk_frames=6, overlap=2, seed=0, first=first)
    assert shot.shape == (16, 32, 32, 3) and len(calls) == 3
    assert np.array_equal(shot[:2], first[:2])  # the given clip is kept; only its overlap tail is blended
    assert "_encode_image" not in vars(svd)  # the anchor's embedding was lent for the calls only

    # Through a file, as `moviefactory extend` runs it: the clip, then `seconds` more at its own rate.
    src = write_frames(first, Fraction(8), tmp_path / "rider.mp4").path
    out = extend_clip(src, "into the dusk", 1.0, tmp_path / "longer.mp4", gen, chunk_frames=6, overlap=2)
    assert video_frames(out.path) == (4 + 8, 8.0) and (out.width, out.height) == (32, 32)


def test_svd_anchor_sets_appearance_through_the_image_embedding(svd):
    gen = svd_generator(svd)
    condition = np.stack([backdrop(0)[:, :32], backdrop(1)[:, :32]])
    plain = gen.generate("x", frames=3, condition=condition, anchor=None, seed=5)
    same = gen.generate("x", frames=3, condition=condition, anchor=condition[0], seed=5)
    other = gen.generate("x", frames=3, condition=condition, anchor=255 - condition[0], seed=5)
    assert plain.shape == (3, 32, 32, 3)
    assert np.abs(plain.astype(int) - same).max() <= 1  # the anchor IS the start frame: nothing changes
    assert np.abs(plain.astype(int) - other).mean() > 0.5  # a different anchor steers the chunk
    with pytest.raises(InputError, match="needs a frame to start from"):
        gen.generate("x", frames=3, condition=None, anchor=None, seed=0)


def test_catalogue_loader_names_what_is_missing(tmp_path):
    with pytest.raises(ConfigError, match="sdxl cannot continue a clip.*starts from frames"):
        load_image_to_video("sdxl", clip_size=(768, 320), fps=24)
    assert [continuation(entry(m)) for m in ("svd", "ltx-video", "wan2.1-t2v", "cogvideox", "hunyuanvideo")] == \
        ["i2v", "i2v", "v2v", "v2v", "latents"]
    with pytest.raises(MissingDependencyError, match="hunyuanvideo-community/HunyuanVideo"):
        load_image_to_video("hunyuanvideo", clip_size=(768, 320), fps=24, model_path=tmp_path, offline=True,
                            device="cpu")
    with pytest.raises(MissingDependencyError, match="Wan-AI/Wan2.1-T2V-1.3B-Diffusers"):
        load_image_to_video("wan2.1-t2v", clip_size=(768, 320), fps=24, model_path=tmp_path, offline=True,
                            device="cpu")
    with pytest.raises(MissingDependencyError, match="stable-video-diffusion"):
        load_image_to_video("svd", clip_size=(768, 320), fps=24, model_path=tmp_path, offline=True, device="cpu")


# ---------------------------------------------------------------------------------------------
# connect

def clip_pair(tmp_path):
    a = np.stack([backdrop(i) for i in range(10)])
    a[-1, :, :, 0] = 30  # a last frame unlike the rest of A
    b = np.stack([np.roll(backdrop(40 + i), 7, axis=0) for i in range(12)])
    b[0, :, :, 2] = 220
    return (write_frames(a, Fraction(24), tmp_path / "a.mp4").path, write_frames(b, Fraction(24), tmp_path / "b.mp4").path)


def test_connect_with_ffmpeg_fades_from_a_last_to_b_first(tmp_path, ffmpeg):
    a, b = clip_pair(tmp_path)
    a_last, b_first = read_frames(a)[0][-1].astype(int), read_frames(b)[0][0].astype(int)
    clip = connect(a, b, 1.5, tmp_path / "bridge.mp4", ffmpeg=ffmpeg)
    assert video_frames(clip.path) == (36, 24.0) and clip.frames == 36
    frames = read_frames(clip.path)[0].astype(int)
    assert np.abs(frames[0] - a_last).mean() < 5  # the rest is H.264 at 48x32
    assert np.abs(frames[-1] - b_first).mean() < 5
    assert np.abs(frames[0] - b_first).mean() > 20 and np.abs(frames[-1] - a_last).mean() > 20
    assert np.abs(frames[18] - (a_last + b_first) / 2).mean() < 6  # halfway is half of each


class LinearFirstLast:
    """A scripted first-and-last-frame model: the straight line between the two, at half size."""

    def generate(self, prompt, *, first, last, frames, seed):
        t = np.linspace(0, 1, frames)[:, None, None, None]
        mix = (1 - t) * first[None].astype(float) + t * last[None].astype(float)
        return mix[:, ::2, ::2].round().astype(np.uint8)


def test_connect_with_a_first_last_frame_model(tmp_path, ffmpeg):
    a, b = clip_pair(tmp_path)
    clip = connect(a, b, 0.5, tmp_path / "bridge.mp4", generator=LinearFirstLast(), ffmpeg=ffmpeg)
    frames = read_frames(clip.path)[0].astype(int)
    assert frames.shape == (12, H, W, 3)  # back at A's size
    assert np.abs(frames[0] - read_frames(a)[0][-1]).mean() < 6


def test_flf2v_adapter_refuses_a_pipeline_without_a_last_frame(svd):
    with pytest.raises(InputError, match="takes no last frame"):
        DiffusersFirstLastFrameGenerator(svd, size=(32, 32))


# ---------------------------------------------------------------------------------------------
# restyle

@pytest.fixture(scope="module")
def img2img(tmp_path_factory):
    return tiny_img2img(tmp_path_factory.mktemp("sd"))


def layout_kept(out: np.ndarray, ref: np.ndarray) -> float:
    """R^2 of the best linear colour map from the input to the output: 1 when the picture's layout
    survives (whatever the new colours), 0 when the output owes nothing to the input."""
    x = np.c_[ref.reshape(-1, 3).astype(float), np.ones(ref.size // 3)]
    y = out.reshape(-1, 3).astype(float)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(1 - (y - x @ coef).var(0).sum() / y.var(0).sum())


def scene_frames() -> np.ndarray:
    base = np.full((64, 64, 3), 40, np.uint8)
    base[:, :32] = 230
    base[20:44, 40:60] = [200, 30, 30]  # the red car
    base[5:15, 5:25] = [20, 200, 20]
    return np.stack([np.roll(base, 3 * k, axis=1) for k in range(3)])


def test_restyle_keeps_structure_at_low_strength(img2img):
    frames = scene_frames()
    low = restyle(frames, "make it look like the car", pipe=img2img, strength=0.3, seed=0, steps=10, guidance=1.0)
    high = restyle(frames, "make it look like the car", pipe=img2img, strength=0.9, seed=0, steps=10, guidance=1.0)
    assert low.shape == high.shape == frames.shape
    kept_low = np.mean([layout_kept(o, f) for o, f in zip(low, frames)])
    kept_high = np.mean([layout_kept(o, f) for o, f in zip(high, frames)])
    assert kept_low > 0.25 and kept_low > 4 * kept_high, (kept_low, kept_high)


def test_restyle_gives_every_frame_the_same_noise(img2img, tmp_path):
    still = np.repeat(scene_frames()[:1], 3, axis=0)
    out = restyle(still, "the car", pipe=img2img, strength=0.6, seed=4, steps=4, guidance=1.0, batch=2)
    assert np.array_equal(out[0], out[1])
    # Across batches too (a batch of one sums in a different order: a rounding step at most).
    assert np.abs(out[0].astype(int) - out[2]).max() <= 2
    different_seed = restyle(still[:1], "the car", pipe=img2img, strength=0.6, seed=5, steps=4, guidance=1.0)
    assert np.abs(out[0].astype(int) - different_seed[0]).mean() > 1  # the noise is what was held fixed
    with pytest.raises(InputError, match="strength"):
        restyle(still, "x", pipe=img2img, strength=0.0)

    src = write_frames(scene_frames(), Fraction(12), tmp_path / "car.mp4").path
    edited = edit_clip(src, "make it look like the 1920s, keep the car red", tmp_path / "edited.mp4", img2img,
                       strength=0.3, steps=4, guidance=1.0)
    assert video_frames(edited.path) == (3, 12.0) and (edited.width, edited.height) == (64, 64)
