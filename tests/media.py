"""Measuring media for assertions: decode with PyAV, meter with ffmpeg's own ebur128."""
from __future__ import annotations

import re
import subprocess
import struct
from pathlib import Path

import av
import numpy as np


def top_level_boxes(path: Path) -> list[str]:
    """MP4 box types in file order (to check that 'moov' precedes 'mdat': playable while downloading)."""
    boxes, data = [], path.read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        pos += size
    return boxes


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """Mono float samples of the first audio stream and the sample rate."""
    chunks = []
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in c.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks), rate


def _still(path: Path) -> bool:
    """A shot file that is a still and its camera move (the animatic's): played by ffmpeg, not decoded."""
    return str(path).endswith(".still.npz")


def video_frames(path: Path) -> tuple[int, float]:
    """Number of decoded video frames and the stream's frame rate."""
    if _still(path):
        frames, rate = _played(path)
        return len(frames), float(rate)
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        count = sum(1 for _ in c.decode(stream))
        return count, float(stream.average_rate)


def _played(path: Path):
    from moviefactory.media.frames import read_frames

    return read_frames(Path(path))


def decode_video(path: Path) -> np.ndarray:
    """Every frame of the first video stream, (T, H, W, 3) uint8 RGB."""
    if _still(path):
        return _played(path)[0]
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])


def frame_at(path: Path, t: float) -> np.ndarray:
    """The decoded RGB frame shown at time t (seconds)."""
    if _still(path):
        frames, rate = _played(path)
        return frames[min(len(frames) - 1, int(t * rate + 1e-6))]
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        last = None
        for frame in c.decode(stream):
            if frame.time is not None and frame.time > t + 1e-6:
                break
            last = frame
        return last.to_ndarray(format="rgb24")


def speech_spans(samples: np.ndarray, rate: int, window: float = 0.02, merge_gap: float = 0.35):
    """Spans (start, end) seconds where the audio is clearly louder than the quietest parts."""
    n = int(rate * window)
    frames = samples[: len(samples) // n * n].reshape(-1, n)
    rms = np.sqrt((frames ** 2).mean(axis=1) + 1e-12)
    floor = np.percentile(rms, 5)
    active = rms > max(floor * 10, 1e-3)
    spans, start = [], None
    for i, on in enumerate(active):
        t = i * window
        if on and start is None:
            start = t
        elif not on and start is not None:
            spans.append([start, t])
            start = None
    if start is not None:
        spans.append([start, len(active) * window])
    merged = []
    for s in spans:
        if merged and s[0] - merged[-1][1] < merge_gap:
            merged[-1][1] = s[1]
        else:
            merged.append(s)
    return [tuple(s) for s in merged]


def loudness(ffmpeg: str, path: Path) -> dict[str, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) as ffmpeg's EBU R128 meter reports them."""
    proc = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:a",
                           "-af", "ebur128=peak=true", "-f", "null", "-"], capture_output=True, text=True)
    summary = proc.stderr[proc.stderr.rfind("Summary:"):]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return {"integrated": integrated, "true_peak": peak}


def shot_files(run_dir: Path) -> list[Path]:
    """The rendered shots of a run: encoded clips and stills with their camera moves (not previews)."""
    scenes = Path(run_dir) / "scenes"
    return sorted([*scenes.rglob("*.mp4"), *scenes.rglob("*.still.npz")])
