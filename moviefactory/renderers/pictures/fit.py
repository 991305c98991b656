"""Real pictures made into shots: a photo or a generated keyframe becomes a still with the shot's camera
move (the animatic's, so `camera` and `motion` mean the same for every renderer); a video clip is
trimmed to the shot (its liveliest part for a lively shot, its calmest for a still one), slowed or
looped when it is short, and cropped to the format in one ffmpeg pass.

Cropping keeps the centre of interest: the window of the format's shape with the most edge energy
(where the detail is: a face, an animal, a horizon), with a gentle pull to the middle, beats a blind
centre crop when the subject is off to one side.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import RenderError
from ...media.camera import Move, picture_size, write_still
from ...media.clip import Clip
from ...media.ffmpeg import run_ffmpeg, x264_args
from ...screenplay import Shot
from ..base import RenderContext

SLOWEST = 0.5  # a short clip is slowed to at most half speed before it loops
_FOCUS_SIDE = 96  # the saliency map's long side, in pixels


def focus_box(rgb: np.ndarray, aspect: float) -> tuple[int, int, int, int]:
    """(x, y, w, h): the largest window of `aspect` (width / height) inside the picture, placed where
    the edge energy is greatest, a window at the middle winning ties."""
    h, w = rgb.shape[:2]
    cw, ch = (w, max(1, round(w / aspect))) if w / h < aspect else (max(1, round(h * aspect)), h)
    cw, ch = min(cw, w), min(ch, h)
    if (cw, ch) == (w, h):
        return 0, 0, w, h
    scale = _FOCUS_SIDE / max(w, h)
    small = _gray(rgb, max(2, round(w * scale)), max(2, round(h * scale)))
    energy = np.abs(np.diff(small, axis=0))[:, :-1] + np.abs(np.diff(small, axis=1))[:-1, :]
    sh, sw = energy.shape
    # the free axis: slide the window along it and sum the energy under it (a cumulative sum)
    along_x = cw < w
    profile = energy.sum(axis=0) if along_x else energy.sum(axis=1)
    size = max(1, round((cw if along_x else ch) * scale))
    size = min(size, profile.size)
    sums = np.convolve(profile, np.ones(size), mode="valid")
    centre = (sums.size - 1) / 2
    pull = 1 - 0.15 * (np.abs(np.arange(sums.size) - centre) / max(centre, 1))  # a 15 % pull to the middle
    best = int(np.argmax(sums * pull + 1e-9 * pull))
    span = (w - cw) if along_x else (h - ch)
    flat = sums.max() - sums.min() <= 1e-6 * max(1.0, sums.max())  # no detail anywhere: the middle
    offset = span // 2 if flat or sums.size < 2 else round(best / (sums.size - 1) * span)
    return (offset, 0, cw, ch) if along_x else (0, offset, cw, ch)


def _gray(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    img = Image.fromarray(np.asarray(rgb, np.uint8)).convert("L").resize((width, height), Image.BILINEAR)
    return np.asarray(img, np.float32) / 255.0


def fit_picture(image, width: int, height: int) -> np.ndarray:
    """A PIL image cropped around its centre of interest to the shape of a `width` x `height` frame's
    picture (camera.picture_size: the room a move needs) and resized to it: float RGB in [0, 1]."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image).convert("RGB")
    pw, ph = picture_size(width, height)
    x, y, w, h = focus_box(np.asarray(image), pw / ph)
    image = image.crop((x, y, x + w, y + h)).resize((pw, ph), Image.LANCZOS)
    return np.asarray(image, np.float32) / 255.0


def still_shot(image, shot: Shot, ctx: RenderContext, out: Path) -> Clip:
    """The shot as a still picture and its camera move (played by the film's encode, not encoded here)."""
    width, height = ctx.size
    move = Move(shot.camera, shot.motion, ctx.frames, width, height,
                f"{ctx.fps.numerator}/{ctx.fps.denominator}", ctx.seed)
    write_still(out, fit_picture(image, width, height), move)
    return Clip(path=Path(out), frames=ctx.frames, fps=ctx.fps, width=width, height=height)


# --- clips -----------------------------------------------------------------------------------------

def clip_shot(source: Path, shot: Shot, ctx: RenderContext, out: Path) -> Clip:
    """`ctx.frames` frames of the video at `source`, fitted to the shot (see the module's docstring)."""
    width, height = ctx.size
    seconds = ctx.frames / ctx.fps
    length, energy, middle_frame = _survey(source, ctx)
    speed = max(SLOWEST, min(1.0, length / float(seconds))) if length > 0 else 1.0
    span = float(seconds) * speed  # seconds of the source the shot uses
    loop = span > length + 1e-6
    start = 0.0 if loop else _window(energy, length, span, lively=shot.motion >= 0.5)
    (full_w, full_h), picture = middle_frame(start + min(span, length) / 2)
    bx, by, bw, bh = focus_box(picture, width / height)
    k = full_w / picture.shape[1]  # the survey's pictures are small: the box in the clip's own pixels
    w, h = min(full_w, round(bw * k)) // 2 * 2, min(full_h, round(bh * k)) // 2 * 2
    x, y = min(full_w - w, round(bx * k)), min(full_h - h, round(by * k))
    graph = (f"setpts=(PTS-STARTPTS)/{speed:.6f},fps={ctx.fps.numerator}/{ctx.fps.denominator},"
             f"crop={w}:{h}:{x}:{y},scale={width}:{height}:flags=lanczos,setsar=1,format=yuv420p")
    inter = ctx.format.intermediate
    args = ["-hide_banner", "-nostdin", "-v", "error", "-y", *(["-stream_loop", "-1"] if loop else []),
            "-ss", f"{start:.3f}", "-i", str(source), "-an", "-sn", "-vf", graph, "-frames:v", str(ctx.frames),
            "-c:v", "libx264", *x264_args(), "-preset", inter.preset, "-crf", str(inter.crf), "-f", "mp4", str(out)]
    run_ffmpeg(ctx.ffmpeg, args, stage="render", scene=ctx.scene.id)
    return Clip(path=Path(out), frames=ctx.frames, fps=ctx.fps, width=width, height=height)


def _survey(source: Path, ctx: RenderContext):
    """The clip's length in seconds, its motion energy sampled 4 times a second [(t, energy)], and a
    function giving, for a time, the clip's upright size and a small upright picture of it then."""
    import av

    try:
        with av.open(str(source)) as container:
            stream = container.streams.video[0]
            length = float(stream.duration * stream.time_base) if stream.duration else \
                float(container.duration or 0) / 1e6
            samples, pictures, last, prev, size = [], [], -1.0, None, (0, 0)
            for frame in container.decode(stream):
                t = float(frame.time or 0.0)
                if t - last < 0.25:
                    continue
                last = t
                rgb = _upright(frame)
                size = (rgb.shape[1], rgb.shape[0])
                small = _gray(rgb, 64, max(2, round(64 * rgb.shape[0] / rgb.shape[1])))
                samples.append((t, 0.0 if prev is None else float(np.abs(small - prev).mean())))
                prev = small
                if len(pictures) < 240:  # a minute: enough to place the crop
                    pictures.append((t, _shrink(rgb, 320)))
    except (av.error.FFmpegError, IndexError) as exc:
        raise RenderError(f"cannot read the clip {source.name}: {exc}", stage="render", scene=ctx.scene.id) from exc
    if not pictures:
        raise RenderError(f"the clip {source.name} has no pictures", stage="render", scene=ctx.scene.id)
    length = max(length, samples[-1][0] + 0.25)

    def middle_frame(at: float) -> tuple[tuple[int, int], np.ndarray]:
        return size, min(pictures, key=lambda p: abs(p[0] - at))[1]

    return length, samples, middle_frame


def _shrink(rgb: np.ndarray, side: int) -> np.ndarray:
    from PIL import Image

    h, w = rgb.shape[:2]
    k = min(1.0, side / max(h, w))
    return np.asarray(Image.fromarray(rgb).resize((max(2, round(w * k)), max(2, round(h * k))), Image.BILINEAR))


def _upright(frame) -> np.ndarray:
    rgb = frame.to_ndarray(format="rgb24")
    turns = round(getattr(frame, "rotation", 0) / 90) % 4
    return np.rot90(rgb, turns) if turns else rgb


def _window(energy: list[tuple[float, float]], length: float, span: float, *, lively: bool) -> float:
    """Where a window of `span` seconds starts: the most (lively) or least motion inside it."""
    if span >= length or len(energy) < 2:
        return 0.0
    starts = [t for t, _ in energy if t + span <= length + 1e-6] or [0.0]

    def motion(s: float) -> float:
        inside = [e for t, e in energy[1:] if s < t <= s + span]
        return sum(inside) / max(len(inside), 1)

    scored = [(motion(s), s) for s in starts]
    return (max(scored, key=lambda p: (p[0], -p[1])) if lively else min(scored))[1]
