"""Raw frames in and out of media files: every (T, H, W, 3) uint8 RGB array that is decoded from a
file, encoded into one, or run through an ffmpeg filter graph goes through here.

Decoding is PyAV (the pip-shipped ffmpeg has no ffprobe); encoding and filtering are ffmpeg on a
pipe. Clips stream through in blocks, so a long 4K result never sits in memory whole.
"""
from __future__ import annotations

import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..errors import InputError, ToolError
from .camera import is_still, read_still
from .clip import Clip
from .ffmpeg import ffmpeg_binary, x264_args
from .files import atomic_path
from .sources import FrameStream


# ---------------------------------------------------------------------------------------------
# Decoding

def iter_frames(path: Path, chunk: int) -> Iterator[np.ndarray]:
    """The frames of `path` in (<=chunk, H, W, 3) uint8 blocks, decoded as they are needed (a still
    with a camera move, media/camera.py, is played)."""
    if is_still(path):
        yield from _play_still(Path(path), chunk)
        return
    import av

    try:
        with av.open(str(path)) as container:
            block: list[np.ndarray] = []
            for frame in container.decode(container.streams.video[0]):
                block.append(frame.to_ndarray(format="rgb24"))
                if len(block) == chunk:
                    yield np.stack(block)
                    block = []
            if block:
                yield np.stack(block)
    except (av.FFmpegError, IndexError) as exc:  # IndexError: no video stream
        raise InputError(f"cannot read video from {path}: {exc}", stage="read") from None


def read_frames(path: Path) -> tuple[np.ndarray, Fraction]:
    """Every frame of the first video stream as (T, H, W, 3) uint8, and the stream's rate."""
    chunks = list(iter_frames(path, 64))
    if not chunks:
        raise InputError(f"{path} has no video frames", stage="read")
    return np.concatenate(chunks), clip_rate(path)


def _play_still(path: Path, chunk: int) -> Iterator[np.ndarray]:
    move = read_still(path)[2]
    with tempfile.TemporaryDirectory(prefix=".play-", dir=path.parent) as scratch, \
            FrameStream(path, width=move.width, height=move.height, fps=move.rate, frames=move.frames,
                        ffmpeg=ffmpeg_binary(), scratch=Path(scratch), pix_fmt="rgb24", stage="read") as stream:
        for start in range(0, move.frames, chunk):
            n = min(chunk, move.frames - start)
            yield np.frombuffer(stream.read(n), np.uint8).reshape(n, move.height, move.width, 3)


def clip_rate(path: Path) -> Fraction:
    """The first video stream's average frame rate (24 when the file does not say)."""
    if is_still(path):
        return read_still(Path(path))[2].rate
    import av

    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate
    except (av.FFmpegError, IndexError) as exc:
        raise InputError(f"cannot read video from {path}: {exc}", stage="read") from None
    return Fraction(rate) if rate else Fraction(24)


# ---------------------------------------------------------------------------------------------
# Encoding

def _rate(fps: Fraction | int | float) -> str:
    fps = Fraction(fps).limit_denominator(1001) if isinstance(fps, float) else Fraction(fps)
    return f"{fps.numerator}/{fps.denominator}"


class FrameWriter:
    """Encodes the frame blocks written to it into an H.264 mp4 at `out` (ffmpeg on a pipe; its
    stderr goes to a file, so a long encode cannot block on a full pipe).

    - `input_fps`: the rate of the frames written (default `fps`); `fps` is the file's rate.
    - `vf`: an ffmpeg filter graph between the two (scale, retime, pad). `size` is then the
      (width, height) it makes. Without one, frames go straight to yuv420p, which needs even
      sides: an odd last row or column is dropped.
    - `frames`: stop the file at exactly this many frames (the graph must make at least that
      many). The encoder stops reading once it has them; `write` then returns False.
    Failures are ToolErrors with ffmpeg's stderr, the `stage` and the `scene`.
    """

    def __init__(self, out: Path, fps: Fraction, *, ffmpeg: str | None = None, input_fps: Fraction | None = None,
                 vf: str | None = None, size: tuple[int, int] | None = None, frames: int | None = None,
                 crf: int = 16, preset: str = "veryfast", stage: str = "encode", scene: str | None = None) -> None:
        self.out, self.fps, self.ffmpeg = Path(out), Fraction(fps), ffmpeg_binary(ffmpeg)
        self.input_fps = self.fps if input_fps is None else input_fps
        self.vf, self.size, self.exact = vf, size, frames
        self.crf, self.preset, self.stage, self.scene = crf, preset, stage, scene
        self.written = 0  # frames fed in
        self.input_size: tuple[int, int] | None = None
        self._proc: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()
        self._stopped = False  # the encoder stopped reading

    def _command(self, width: int, height: int) -> list[str]:
        cmd = [self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-framerate", _rate(self.input_fps), "-i", "-"]
        if self.vf:
            cmd += ["-vf", self.vf]
        if self.exact is not None:
            cmd += ["-frames:v", str(self.exact)]
        return cmd + ["-c:v", "libx264", *x264_args(), "-preset", self.preset, "-crf", str(self.crf), "-pix_fmt", "yuv420p",
                      "-movflags", "+faststart", "-an", "-f", "mp4", str(self.out)]

    def write(self, frames: np.ndarray) -> bool:
        """Feed a (T, H, W, 3) block. False once the encoder has all the frames it wants: stop feeding it."""
        if self._stopped:
            return False
        frames = np.asarray(frames, dtype=np.uint8)
        if self.vf is None:
            _, h, w, _ = frames.shape
            frames = frames[:, : h - h % 2, : w - w % 2]
        size = (frames.shape[2], frames.shape[1])
        if self._proc is None:
            self.input_size = size
            self._proc = subprocess.Popen(self._command(*size), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=self._log)
        elif size != self.input_size:
            raise InputError(f"frame size changed mid-clip: {size[0]}x{size[1]} after {self.input_size}",
                             stage=self.stage, scene=self.scene)
        try:
            self._proc.stdin.write(np.ascontiguousarray(frames).tobytes())
        except BrokenPipeError:
            # With an exact frame count the encoder may stop reading early: it has its frames, not a
            # failure. Otherwise it died; its exit code and stderr say why.
            self._stopped = True
            if self.exact is None:
                self._finish()
            return False
        self.written += len(frames)
        return True

    def close(self) -> Clip:
        """Finish the file; the clip it is (raises ToolError when ffmpeg failed)."""
        if self._proc is None:
            raise InputError("no frames to encode", stage=self.stage, scene=self.scene)
        self._finish()
        frames = self.written if self.exact is None else self.exact
        return Clip(self.out, frames, self.fps, *(self.size or self.input_size))

    def abort(self) -> None:
        """Stop the encoder after a failure upstream, so it is not left waiting for frames."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._log.close()

    def _finish(self) -> None:
        if self._log.closed:
            return
        try:
            self._proc.stdin.close()
        except BrokenPipeError:  # it stopped reading; what it wrote is in its exit code
            pass
        code = self._proc.wait()
        self._log.seek(0)
        stderr = self._log.read().decode("utf-8", "replace")
        self._log.close()
        if code != 0:
            raise ToolError(f"ffmpeg could not encode {self.out.name} (exit {code})", stage=self.stage,
                            scene=self.scene, stderr=stderr)


def write_blocks(blocks: Iterable[np.ndarray], fps: Fraction, out: Path, *, atomic: bool = True,
                 ffmpeg: str | None = None, input_fps: Fraction | None = None, vf: str | None = None,
                 size: tuple[int, int] | None = None, frames: int | None = None, crf: int = 16,
                 preset: str = "veryfast", stage: str = "encode", scene: str | None = None) -> Clip:
    """Encode frame blocks, pulled one at a time (a lazy upscale stops once the encoder has its
    `frames`), into `out`. `atomic`: under a temp name, renamed into place on success (False when
    the caller already writes to a temp name). The other options are `FrameWriter`'s."""
    options = dict(ffmpeg=ffmpeg, input_fps=input_fps, vf=vf, size=size, frames=frames, crf=crf, preset=preset,
                   stage=stage, scene=scene)
    if not atomic:
        return _encode(blocks, FrameWriter(out, fps, **options))
    with atomic_path(Path(out)) as tmp:
        clip = _encode(blocks, FrameWriter(tmp, fps, **options))
    return Clip(Path(out), clip.frames, clip.fps, clip.width, clip.height)


def _encode(blocks: Iterable[np.ndarray], writer: FrameWriter) -> Clip:
    try:
        for block in blocks:
            if not writer.write(block):
                break
        return writer.close()
    except BaseException:
        writer.abort()
        raise


def write_frames(frames: np.ndarray, fps: Fraction, out: Path, *, ffmpeg: str | None = None,
                 stage: str = "encode") -> Clip:
    """Encode (T, H, W, 3) uint8 frames at `fps` to `out` (written under a temp name, then renamed)."""
    return write_blocks([frames], fps, out, ffmpeg=ffmpeg, stage=stage)


# ---------------------------------------------------------------------------------------------
# Filtering

def filter_frames(frames: np.ndarray, graph: str, *, ffmpeg: str | None = None, rate: Fraction | int = 24,
                  size: tuple[int, int] | None = None, stage: str) -> np.ndarray:
    """Frames through an ffmpeg filter graph, back as (N, H, W, 3) uint8. `size`: the (width, height)
    the graph makes (default: the input's); `rate`: the input's, for graphs that retime."""
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    _, h, w, _ = frames.shape
    cmd = [ffmpeg_binary(ffmpeg), "-hide_banner", "-nostdin", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-framerate", _rate(rate), "-i", "-", "-vf", graph, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    proc = subprocess.run(cmd, input=frames.tobytes(), capture_output=True)
    if proc.returncode != 0:
        raise ToolError(f"ffmpeg filter {graph.split('=')[0]} failed (exit {proc.returncode})", stage=stage,
                        stderr=proc.stderr.decode("utf-8", "replace"))
    out_w, out_h = size or (w, h)
    return np.frombuffer(proc.stdout, dtype=np.uint8).reshape(-1, out_h, out_w, 3)
