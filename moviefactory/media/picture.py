"""The film's picture: every shot played in cut order into the encoder's pipe, transitions mixed where
shots overlap, generated bridges played over their overlaps. Shots are never re-encoded on the way:
a shot's frames go from its player's pipe to the encoder's (splice), only overlap frames are touched.

`picture_plan` (pure) says what each stretch of the film is; `play_picture` does it.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import AssemblyError
from ..timeline.model import Timeline
from .sources import FrameStream


@dataclass(frozen=True)
class Step:
    """`count` frames of the film: clip `a` alone ('play'), or the join of `a` into `b` ('crossfade',
    'fade_black': the two mixed; 'bridge': the generated clip `bridge` instead of both)."""

    kind: str
    a: int
    count: int
    b: int | None = None
    bridge: str = ""


def picture_plan(timeline: Timeline) -> list[Step]:
    clips = timeline.video
    joins = [c.overlap_frames if k and c.transition != "cut" else 0 for k, c in enumerate(clips)] + [0]
    steps: list[Step] = []
    for k, clip in enumerate(clips):
        alone = clip.frames - joins[k] - joins[k + 1]
        if alone < 0:
            raise AssemblyError(f"shot {clip.shot} ({clip.frames} frames) is shorter than its transitions "
                                f"({joins[k]} + {joins[k + 1]} frames)", stage="assemble")
        if alone:
            steps.append(Step("play", k, alone))
        if joins[k + 1]:
            nxt = clips[k + 1]
            steps.append(Step("bridge" if nxt.bridge else nxt.transition, k, joins[k + 1], k + 1, nxt.bridge))
    return steps


def mix(a: np.ndarray, b: np.ndarray, t: float, kind: str, black: np.ndarray) -> np.ndarray:
    """Frame `t` (0 < t < 1) of a join from a to b: a dissolve, or a dip through black."""
    if kind == "fade_black":
        a, b, t = (a, black, 2 * t) if t < 0.5 else (black, b, 2 * t - 1)
    w = int(round(256 * t))
    return ((a.astype(np.uint16) * (256 - w) + b.astype(np.uint16) * w + 128) >> 8).astype(np.uint8)


def black_frame(width: int, height: int) -> np.ndarray:
    """Black in limited-range yuv420p: Y 16, U and V 128."""
    n = width * height
    return np.concatenate([np.full(n, 16, np.uint8), np.full(n // 2, 128, np.uint8)])


def play_picture(timeline: Timeline, run_dir: Path, ffmpeg: str, fd: int, scratch: Path,
                 on_frame: Callable[[int], None] | None = None) -> dict[int, bytes]:
    """Write the film's picture, raw yuv420p, into `fd` (the encoder's stdin). Returns each clip's
    middle frame (raw yuv420p), for the contact sheet."""
    clips, width, height = timeline.video, timeline.width, timeline.height
    black = black_frame(width, height)
    middles: dict[int, bytes] = {}
    streams: dict[int, Future] = {}
    done = 0

    def open_clip(k: int) -> FrameStream:
        return FrameStream(run_dir / clips[k].path, width=width, height=height, fps=timeline.fps,
                           frames=clips[k].frames, ffmpeg=ffmpeg, scratch=scratch)

    def stream(k: int) -> FrameStream:
        if k not in streams:
            streams[k] = pool.submit(open_clip, k)
        if k + 1 < len(clips) and k + 1 not in streams:  # the next shot's player starts while this one plays
            streams[k + 1] = pool.submit(open_clip, k + 1)
        return streams[k].result()

    def finished(k: int) -> None:
        s = stream(k)
        if s.done >= s.frames:
            s.close()

    def keep(k: int, s: FrameStream, frame: bytes) -> bytes:
        if s.done - 1 == clips[k].frames // 2:
            middles[k] = frame
        return frame

    with ThreadPoolExecutor(1, thread_name_prefix="shot-player") as pool:
        try:
            for step in picture_plan(timeline):
                a = stream(step.a)
                if step.kind == "play":
                    middle = clips[step.a].frames // 2
                    if a.done <= middle < a.done + step.count:
                        before = middle - a.done
                        a.splice(fd, before)
                        _write(fd, keep(step.a, a, a.read(1)))
                        a.splice(fd, step.count - before - 1)
                    else:
                        a.splice(fd, step.count)
                elif step.kind == "bridge":
                    b = stream(step.b)
                    for _ in range(step.count):  # both shots move on under the bridge
                        keep(step.a, a, a.read(1)), keep(step.b, b, b.read(1))
                    with FrameStream(run_dir / step.bridge, width=width, height=height, fps=timeline.fps,
                                     frames=step.count, ffmpeg=ffmpeg, scratch=scratch) as bridge:
                        bridge.splice(fd, step.count)
                else:
                    b = stream(step.b)
                    for i in range(step.count):
                        fa = np.frombuffer(keep(step.a, a, a.read(1)), np.uint8)
                        fb = np.frombuffer(keep(step.b, b, b.read(1)), np.uint8)
                        _write(fd, mix(fa, fb, (i + 1) / (step.count + 1), step.kind, black).tobytes())
                finished(step.a)
                done += step.count
                if on_frame:
                    on_frame(done)
        finally:
            for future in streams.values():
                try:
                    future.result().close()
                except Exception:  # noqa: BLE001 - a player that failed to start has nothing to close
                    pass
    return middles


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def middle_frames(timeline: Timeline, run_dir: Path, ffmpeg: str, scratch: Path) -> dict[int, bytes]:
    """Each clip's middle frame (raw yuv420p), played on its own (the film is made already)."""
    found = {}
    for k, clip in enumerate(timeline.video):
        with FrameStream(run_dir / clip.path, width=timeline.width, height=timeline.height, fps=timeline.fps,
                         frames=clip.frames, ffmpeg=ffmpeg, scratch=scratch) as stream:
            stream.skip(clip.frames // 2)
            found[k] = stream.read(1)
    return found
