"""Running ffmpeg and probing media. The pip-shipped ffmpeg has no ffprobe, so probing uses PyAV."""
from __future__ import annotations

import shutil
import subprocess
import threading
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Callable, Sequence

from ..errors import MissingDependencyError, ToolError


# libx264's threaded lookahead makes its output depend on thread timing (the same frames encoded twice
# on a busy machine differ by a few bytes; measured here). With the lookahead in the encoding thread
# the bytes are the same every time ("same seed, same film") at ~25 % more encode time in isolation,
# which the film's encode, paced by the frames it is fed, mostly hides.
X264_REPEATABLE = "sync-lookahead=0"


def x264_args(codec: str = "libx264") -> list[str]:
    """The encoder options that make a libx264 encode repeatable (none for other codecs)."""
    return ["-x264-params", X264_REPEATABLE] if codec == "libx264" else []


@cache
def ffmpeg_binary(configured: str | None = None) -> str:
    """The configured ffmpeg, else the static one imageio-ffmpeg ships (libx264, aac, libass, loudnorm)."""
    if configured:
        found = shutil.which(configured) or (configured if Path(configured).is_file() else None)
        if not found:
            raise MissingDependencyError(f"ffmpeg binary {configured!r} (from the config) was not found")
        return found
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a broken install
        raise MissingDependencyError("ffmpeg is missing; install it with: pip install imageio-ffmpeg") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(
    ffmpeg: str,
    args: Sequence[str],
    *,
    stage: str,
    scene: str | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> str:
    """Run ffmpeg with `args` (no leading binary); return its stderr. Raise ToolError with stderr on failure.

    With `on_frame`, ffmpeg reports progress on stdout and `on_frame(frames_done)` is called as it goes.
    """
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-y", *args]
    if on_frame is None:
        proc = subprocess.run(cmd, capture_output=True)
        stderr, code = proc.stderr.decode("utf-8", "replace"), proc.returncode
    else:
        cmd[4:4] = ["-progress", "pipe:1", "-nostats"]
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            chunks: list[bytes] = []
            drain = threading.Thread(target=lambda: chunks.append(proc.stderr.read()), daemon=True)
            drain.start()
            for raw in proc.stdout:
                if raw.startswith(b"frame="):
                    on_frame(int(raw[6:].strip() or 0))
            code = proc.wait()
            drain.join()
        stderr = b"".join(chunks).decode("utf-8", "replace")
    if code != 0:
        raise ToolError(f"ffmpeg failed (exit {code})", stage=stage, scene=scene, stderr=stderr)
    return stderr


@dataclass(frozen=True)
class StreamInfo:
    kind: str  # 'video' | 'audio' | 'subtitle' | ...
    codec: str
    duration: float | None  # seconds, from the stream header
    frames: int | None
    width: int | None = None
    height: int | None = None
    fps: Fraction | None = None
    sample_rate: int | None = None
    channels: int | None = None


@dataclass(frozen=True)
class MediaInfo:
    """A file probed once; downstream code takes this value, not a path."""

    path: Path
    duration: float  # container duration, seconds
    streams: tuple[StreamInfo, ...]

    def first(self, kind: str) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == kind), None)


def probe(path: Path) -> MediaInfo:
    import av

    try:
        with av.open(str(path)) as container:
            streams = []
            for s in container.streams:
                dur = float(s.duration * s.time_base) if s.duration is not None and s.time_base else None
                ctx = s.codec_context
                if s.type == "video":
                    streams.append(StreamInfo("video", ctx.name, dur, s.frames or None, ctx.width, ctx.height,
                                              Fraction(s.average_rate) if s.average_rate else None))
                elif s.type == "audio":
                    streams.append(StreamInfo("audio", ctx.name, dur, s.frames or None,
                                              sample_rate=ctx.sample_rate, channels=ctx.channels))
                else:
                    streams.append(StreamInfo(s.type, ctx.name if ctx else "", dur, None))
            duration = container.duration / 1_000_000 if container.duration else max(
                (s.duration or 0.0 for s in streams), default=0.0)
            return MediaInfo(Path(path), duration, tuple(streams))
    except av.FFmpegError as exc:
        raise ToolError(f"cannot read {path}", stage="probe", stderr=str(exc)) from None
