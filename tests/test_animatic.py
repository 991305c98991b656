"""The animatic renderer, end to end: a still and its camera move, played by real ffmpeg at draft size
(as the film's encode plays it) and measured frame by frame."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from moviefactory.config import load_format
from moviefactory.errors import MovieFactoryError, RenderError
from moviefactory.media.ffmpeg import ffmpeg_binary
from moviefactory.media.camera import SUFFIX, read_still
from moviefactory.media.sources import FrameStream
from moviefactory.renderers import Clip, RenderContext, create_renderer, renderer_names
from moviefactory.renderers.animatic import AnimaticRenderer, band_height, caption_band
from moviefactory.renderers.backdrop import features, paint_backdrop
from moviefactory.screenplay import Character, Scene, Screenplay, Shot, Voice

TEMPLE = dict(heading="EXT. MOUNTAIN TEMPLE - NIGHT", setting="old mountain temple", time_of_day="night")


def make_ctx(camera="static", *, fmt="vertical", seed=11, frames=45, motion=0.5, characters=("Mei",),
             description="Mei climbs the temple steps as lanterns sway", **scene_kw) -> tuple[Shot, RenderContext]:
    scene_kw = {**TEMPLE, **scene_kw}
    shot = Shot(id="s02-sh01", description=description, camera=camera, motion=motion,
                duration=max(1.0, frames / 30), characters=characters)
    scene = Scene(id="s02", shots=(shot,), **scene_kw)
    voice = Voice(id="en-us")
    sp = Screenplay(title="Lanterns", logline="A girl finds her way home.", narrator=voice,
                    characters=(Character(name="Mei", description="a girl in a red coat", voice=voice),),
                    scenes=(scene,))
    ctx = RenderContext(screenplay=sp, scene=scene, format=load_format(fmt, draft=True), seed=seed,
                        ffmpeg=ffmpeg_binary(), frames=frames, scene_index=1, shot_index=0)
    return shot, ctx


def render(tmp_path: Path, name: str, **kw) -> tuple[Clip, RenderContext]:
    shot, ctx = make_ctx(**kw)
    out = tmp_path / f"{name}{SUFFIX}"
    clip = AnimaticRenderer().render(shot, ctx, out)
    return clip, ctx


def play(path: Path, extra: int = 0) -> list[bytes]:
    """The shot's frames as the film's encode gets them: raw yuv420p, played by ffmpeg (plus `extra`
    frames asked for past its end, to see that it stops)."""
    move = read_still(path)[2]
    with FrameStream(path, width=move.width, height=move.height, fps=move.rate, frames=move.frames + extra,
                     ffmpeg=ffmpeg_binary(), scratch=path.parent) as stream:
        return [stream.read(1) for _ in range(move.frames + extra)]


def luma(path: Path) -> np.ndarray:
    """All frames' Y planes as float32 (frames, height, width)."""
    move = read_still(path)[2]
    n = move.width * move.height
    return np.stack([np.frombuffer(f[:n], np.uint8).reshape(move.height, move.width) for f in play(path)]
                    ).astype(np.float32)


def below_band(y: np.ndarray) -> np.ndarray:
    return y[:, band_height(y.shape[1]) + 2:]


def test_registered_by_name():
    assert "animatic" in renderer_names()
    r = create_renderer("animatic")
    assert type(r) is AnimaticRenderer and r.name == "animatic" and r.suffix == SUFFIX


@pytest.mark.parametrize("fmt,frames,camera", [("vertical", 37, "pan_left"), ("widescreen", 30, "push_in"),
                                               ("vertical", 1, "tilt_up"), ("widescreen", 25, "static")])
def test_output_is_exact(tmp_path, fmt, frames, camera):
    clip, ctx = render(tmp_path, "shot", fmt=fmt, frames=frames, camera=camera)
    w, h = ctx.size
    assert (w, h) == ((270, 480) if fmt == "vertical" else (480, 200))
    assert clip == Clip(path=tmp_path / f"shot{SUFFIX}", frames=frames, fps=ctx.fps, width=w, height=h)
    move = read_still(clip.path)[2]
    assert (move.frames, move.width, move.height, move.rate, move.camera) == (frames, w, h, ctx.fps, camera)
    played = play(clip.path)
    assert len(played) == frames and {len(f) for f in played} == {w * h * 3 // 2}
    with pytest.raises(Exception, match=f"ended after {frames} of {frames + 1} frames"):
        play(clip.path, extra=1)  # and not one frame more
    assert [p.name for p in tmp_path.iterdir()] == [clip.path.name]  # nothing else left behind


def test_deterministic_and_seeded(tmp_path):
    a, _ = render(tmp_path, "a", camera="pan_right", seed=5)
    b, _ = render(tmp_path, "b", camera="pan_right", seed=5)
    c, _ = render(tmp_path, "c", camera="pan_right", seed=6)
    ya, yb, yc = luma(a.path), luma(b.path), luma(c.path)
    assert np.array_equal(ya, yb)
    assert np.abs(below_band(ya) - below_band(yc)).mean() > 3


def test_different_shots_look_different():
    shot, ctx = make_ctx()
    other = shot.model_copy(update={"description": "waves crash below a lighthouse at the city harbor"})
    a = paint_backdrop(ctx.scene, shot, ctx.seed, 338, 600)
    b = paint_backdrop(ctx.scene, other, ctx.seed, 338, 600)
    assert np.abs(a - b).mean() > 0.02
    assert {"lighthouse", "city", "sea"} <= features(ctx.scene, other)


@pytest.mark.parametrize("camera", ["push_in", "pull_out", "pan_left", "pan_right", "tilt_up", "tilt_down"])
def test_camera_moves_smoothly(tmp_path, camera):
    clip, _ = render(tmp_path, camera, camera=camera, frames=60, motion=0.6)
    y = below_band(luma(clip.path))
    assert np.abs(y[-1] - y[0]).mean() > 2.5  # it really moves
    steps = np.abs(np.diff(y, axis=0)).mean(axis=(1, 2))
    assert steps.max() < 4 * steps.mean()  # no jump: every step is about the same size
    assert steps.max() < np.abs(y[-1] - y[0]).mean() / 4
    if camera.startswith(("pan", "tilt")):
        assert steps.min() > 0  # sub-pixel steps: every single frame moves


def _displacements(y: np.ndarray, axis: int) -> np.ndarray:
    """Sub-pixel shift of each frame against the one before, from 1D profiles along `axis`."""
    prof = y.mean(axis=2 - axis).astype(np.float64)  # (frames, length along axis)
    n = prof.shape[1]
    x, core = np.arange(n, dtype=np.float64), slice(8, n - 8)
    ds = np.arange(-4, 4.001, 0.05)
    out = []
    for a, b in zip(prof, prof[1:]):
        errs = [np.abs(np.interp(x[core] + d, x, a) - b[core]).mean() for d in ds]
        out.append(ds[int(np.argmin(errs))])
    return np.array(out)


@pytest.mark.parametrize("camera,axis,sign", [("pan_left", 1, -1), ("pan_right", 1, 1), ("tilt_up", 0, -1),
                                              ("tilt_down", 0, 1)])
def test_pans_and_tilts_are_steady(tmp_path, camera, axis, sign):
    """Measured frame-to-frame motion: always the same direction, never stalls or leaps (no judder)."""
    clip, _ = render(tmp_path, camera, camera=camera, frames=45, motion=0.5)
    d = _displacements(below_band(luma(clip.path)), axis) * sign
    assert d.min() > 0.1 and d.max() < 3 * d.mean(), d


def test_pan_direction(tmp_path):
    """pan_left reveals what is left of the first frame: the last frame matches the first shifted right."""
    clip, _ = render(tmp_path, "pan", camera="pan_left", frames=30, motion=1.0)
    y = below_band(luma(clip.path))
    first, last = y[0], y[-1]
    errs = {s: np.abs(last[:, s:] - first[:, :-s]).mean() for s in range(10, 80, 2)}
    best = min(errs, key=errs.get)
    assert errs[best] < 3 and best > 30


def test_static_barely_moves(tmp_path):
    clip, _ = render(tmp_path, "static", camera="static", frames=60)
    y = below_band(luma(clip.path))
    assert np.abs(y[-1] - y[0]).mean() < 1.5


def test_caption_band_is_fixed_while_the_scene_moves(tmp_path):
    shot, ctx = make_ctx("pan_left", frames=40, motion=1.0)
    clip = AnimaticRenderer().render(shot, ctx, tmp_path / f"band{SUFFIX}")
    y = luma(clip.path)
    bh = band_height(ctx.size[1])
    assert bh <= 0.12 * ctx.size[1]
    band = np.asarray(caption_band(shot, ctx))
    assert band.shape[1:] == (ctx.size[0], 4) and band.shape[0] <= bh
    bh = band.shape[0]
    text = (band[..., 3] > 200) & (band[..., :3].mean(axis=2) > 150)  # glyph pixels
    text[:, :2] = text[:, -2:] = False
    assert text.sum() > 50
    glyphs = y[:, :bh][:, text]
    assert np.percentile(np.abs(glyphs - glyphs[0]), 95) < 8  # the text stays put
    band_change = np.abs(y[-1, :bh] - y[0, :bh]).mean()
    body_change = np.abs(y[-1, bh + 2:] - y[0, bh + 2:]).mean()
    assert band_change < 0.5 * body_change


def test_night_is_darker_than_day(tmp_path):
    night, _ = render(tmp_path, "night", time_of_day="night")
    day, _ = render(tmp_path, "day", time_of_day="day", heading="EXT. MOUNTAIN TEMPLE - DAY")
    assert below_band(luma(night.path)).mean() + 30 < below_band(luma(day.path)).mean()


@pytest.mark.parametrize("setting,heading,tod,chars", [
    ("deep space near a ringed planet", "EXT. ORBIT - NIGHT", "night", ()),
    ("a cramped laboratory", "INT. LAB - NIGHT", "night", ("Mei",)),
    ("harbor city by the sea", "EXT. HARBOR - DUSK", "dusk", ()),
    ("pine forest with a lighthouse on the coast", "EXT. COAST - DAWN", "dawn", ("Mei",)),
    ("desert dunes in fog", "EXT. DESERT - DAY", "day", ("Mei",)),
    ("高山上的寺庙", "EXT. 寺庙 - DAY", "day", ("Mei",)),
])
def test_backdrops_for_many_settings(setting, heading, tod, chars):
    shot, ctx = make_ctx(setting=setting, heading=heading, time_of_day=tod, characters=chars,
                         description="一个女孩望着远方" if "寺" in setting else "the view")
    img = paint_backdrop(ctx.scene, shot, ctx.seed, 338, 600)
    assert img.shape == (600, 338, 3) and img.dtype == np.float32
    assert 0 <= img.min() and img.max() <= 1 and img.std() > 0.02
    assert np.array_equal(img, paint_backdrop(ctx.scene, shot, ctx.seed, 338, 600))


def test_caption_band_wraps_long_and_cjk_text():
    shot, ctx = make_ctx(description="山间小路上，一个女孩提着灯笼慢慢走向古老的寺庙，" * 6)
    band = caption_band(shot, ctx)
    assert band.size == (270, band_height(480))
    shot, ctx = make_ctx(fmt="widescreen", description="word " * 200)
    assert caption_band(shot, ctx).size == (480, band_height(200))


def test_bad_input_raises_render_error(tmp_path):
    shot, ctx = make_ctx(frames=0)
    with pytest.raises(RenderError):
        AnimaticRenderer().render(shot, ctx, tmp_path / f"x{SUFFIX}")


def test_a_still_ffmpeg_cannot_play_is_a_clear_error(tmp_path):
    clip, _ = render(tmp_path, "x", frames=5)
    with pytest.raises(MovieFactoryError) as err:
        with FrameStream(clip.path, width=270, height=480, fps=Fraction(30), frames=5, ffmpeg="/bin/false",
                         scratch=tmp_path) as stream:
            stream.read(1)
    assert "ended after 0 of 5 frames" in str(err.value) and err.value.stage == "assemble"


@pytest.mark.parametrize("description,beast", [("several giant wooly mammoths treading through snow", True),
                                                ("a red fox in the first snow", True),
                                                ("an old postman walking along the wall", False)])
def test_four_legged_subjects_stand_as_beasts_not_people(description, beast):
    """The figure is what the shot says: a mammoth is wider than it is tall; a person is not."""
    day = dict(setting="snowy meadow", heading="EXT. SNOWY MEADOW - DAY", time_of_day="day")
    shot, ctx = make_ctx(description=description, **day)
    empty, _ = make_ctx(description=description, characters=(), **day)
    with_figure = paint_backdrop(ctx.scene, shot, ctx.seed, 600, 338)
    without = paint_backdrop(ctx.scene, empty, ctx.seed, 600, 338)
    ys, xs = np.nonzero(np.abs(with_figure - without).sum(axis=2) > 0.3)  # where the figure was painted
    width, height = xs.max() - xs.min(), ys.max() - ys.min()
    assert (width > 1.2 * height) if beast else (height > 1.5 * width), (width, height)


def test_a_herd_is_more_than_one_beast():
    day = dict(setting="snowy meadow", heading="EXT. SNOWY MEADOW - DAY", time_of_day="day")
    counts = {}
    for description in ("a giant wooly mammoth in the snow", "several giant wooly mammoths in the snow"):
        shot, ctx = make_ctx(description=description, **day)
        empty, _ = make_ctx(description=description, characters=(), **day)
        mask = np.abs(paint_backdrop(ctx.scene, shot, ctx.seed, 600, 338)
                      - paint_backdrop(ctx.scene, empty, ctx.seed, 600, 338)).sum(axis=2) > 0.3
        columns = mask.any(axis=0).astype(int)  # separate figures: runs of painted columns
        counts[description] = int(np.sum(np.diff(np.concatenate([[0], columns, [0]])) == 1))
    one, herd = counts.values()
    assert one == 1 and herd >= 2, counts
