"""A shot's motion (0 still .. 1 lively) and its playback rate, as each model is told them: its own
arguments where the catalogue names some (LTX's frame rate, SVD's motion bucket), words in the
prompt where it has none. Text-to-video shots and long-shot continuations ask the same way."""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from .base import ModelEntry


def generation_rate(model: ModelEntry, film_fps: Fraction) -> Fraction:
    """The rate the generated frames are played at. A model told its frame rate (LTX's `frame_rate`)
    generates at the film's own rate, so nothing is duplicated or dropped in retiming, within a
    range it handles (half to twice its training rate); others generate at their training rate."""
    if "fps_argument" in model.motion:
        return min(max(Fraction(film_fps), Fraction(model.fps, 2)), Fraction(model.fps * 2))
    return Fraction(model.fps)


def motion_controls(model: ModelEntry, motion: float, rate: Fraction) -> dict[str, Any]:
    """`Shot.motion` (0 still .. 1 lively) and the playback rate as the model's own arguments,
    VideoCrafter-style: telling a model a lower frame rate than the frames are played at makes it
    move further per frame. motion 0.5 is the true rate; 0 and 1 are `fps_span` times slower or
    faster. A motion bucket (SVD) maps linearly onto its range. Models without controls get none."""
    controls: dict[str, Any] = {}
    if name := model.motion.get("fps_argument"):
        span = float(model.motion.get("fps_span", 1.5))
        controls[name] = max(1, round(float(rate) * span ** (1.0 - 2.0 * motion)))
    if name := model.motion.get("bucket_argument"):
        lo, hi = model.motion.get("bucket_range", (1, 255))
        controls[name] = round(lo + motion * (hi - lo))
    return controls


def motion_words(motion: float) -> str:
    """Shot.motion for a model with no motion argument (Wan, CogVideoX, HunyuanVideo): said in the prompt."""
    if motion < 0.2:
        return "almost still, very subtle movement"
    if motion < 0.4:
        return "calm, gentle movement"
    if motion > 0.8:
        return "fast, energetic movement"
    if motion > 0.6:
        return "lively movement"
    return ""
