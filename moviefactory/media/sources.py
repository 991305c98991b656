"""A shot as a stream of raw frames: an ffmpeg process that plays the shot file (an encoded clip, or a
still with its camera move) at the film's size and rate, exactly `frames` frames, on a pipe.

The film's picture is made by reading these streams in cut order (see picture.py). Passing frames
through costs no copy: `splice` moves them from the shot's pipe to the encoder's in the kernel.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

from ..errors import AssemblyError
from .camera import is_still, still_command

PIPE_BYTES = 1 << 20  # pipes this big let splice move a frame in a few calls


def frame_bytes(width: int, height: int, pix_fmt: str = "yuv420p") -> int:
    return {"yuv420p": width * height * 3 // 2, "rgb24": width * height * 3}[pix_fmt]


def clip_command(path: Path, width: int, height: int, fps: Fraction, frames: int, ffmpeg: str,
                 pix_fmt: str = "yuv420p") -> list[str]:
    """ffmpeg playing an encoded clip as exactly `frames` raw frames of width x height at `fps`
    (held on its last frame if it is short)."""
    rate = f"{fps.numerator}/{fps.denominator}"
    graph = (f"scale={width}:{height}:flags=lanczos,fps={rate},tpad=stop_mode=clone:stop=-1,setsar=1,"
             f"format={pix_fmt}")
    return [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-an", "-sn", "-vf", graph,
            "-frames:v", str(frames), "-f", "rawvideo", "-pix_fmt", pix_fmt, "pipe:1"]


class FrameStream:
    """One shot playing. read(n) -> bytes of n frames; splice(fd, n) forwards n frames; close()."""

    def __init__(self, path: Path, *, width: int, height: int, fps: Fraction, frames: int, ffmpeg: str,
                 scratch: Path, pix_fmt: str = "yuv420p", stage: str = "assemble") -> None:
        self.path, self.frames, self.stage = Path(path), frames, stage
        self.size = frame_bytes(width, height, pix_fmt)
        self.scratch = Path(tempfile.mkdtemp(prefix=".shot-", dir=scratch))
        if is_still(path):
            cmd = still_command(self.path, self.scratch, ffmpeg, pix_fmt=pix_fmt)
        else:
            cmd = clip_command(self.path, width, height, fps, frames, ffmpeg, pix_fmt)
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL)
        self._out = self._proc.stdout.fileno()
        _grow_pipe(self._out)
        self.done = 0  # frames read so far

    def read(self, n: int = 1) -> bytes:
        want = n * self.size
        chunks, got = [], 0
        while got < want:
            chunk = os.read(self._out, want - got)
            if not chunk:
                self._fail(f"ended after {self.done + got // self.size} of {self.frames} frames")
            chunks.append(chunk)
            got += len(chunk)
        self.done += n
        return b"".join(chunks)

    def splice(self, fd: int, n: int) -> None:
        """Move n frames from the shot's pipe into `fd` (a pipe) without copying them through Python."""
        left = n * self.size
        while left:
            moved = _splice(self._out, fd, left)
            if moved == 0:
                self._fail(f"ended after {self.done + (n * self.size - left) // self.size} of {self.frames} frames")
            left -= moved
        self.done += n

    def skip(self, n: int) -> None:
        self.read(n) if n else None

    def close(self) -> None:
        """Stop the player (a stream need not be read to its end) and remove its scratch files."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._proc.stdout.close()
        self._log.close()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def _fail(self, what: str) -> None:
        self._proc.wait()
        self._log.seek(0)
        stderr = self._log.read().decode("utf-8", "replace")
        raise AssemblyError(f"shot {self.path.name} {what}", stage=self.stage, stderr=stderr)

    def __enter__(self) -> "FrameStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (ImportError, OSError):  # not Linux, or a limit: smaller pipes are only slower
        pass


def _splice(src: int, dst: int, count: int) -> int:
    if hasattr(os, "splice"):
        try:
            return os.splice(src, dst, count)
        except OSError:  # e.g. a destination that is not a pipe: copy instead
            pass
    data = os.read(src, min(count, PIPE_BYTES))
    if data:
        view = memoryview(data)
        while view:
            view = view[os.write(dst, view):]
    return len(data)
