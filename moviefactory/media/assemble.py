"""Timeline -> one ffmpeg filter graph -> the encoded film. The only place the final encode is built.

Two passes, as loudnorm wants: the audio graph alone is measured first (fast: no video is
decoded), then the whole film is encoded with the measured values in linear mode.
"""
from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import ffmpeg as ffx

from ..config import Format
from ..errors import AssemblyError
from ..resources import cjk_font
from ..timeline.model import AudioClip, Timeline, VideoClip
from .ffmpeg import run_ffmpeg
from .files import atomic_path

_XFADE = {"crossfade": "fade", "fade_black": "fadeblack"}


def _sec(t: Fraction | float) -> str:
    return f"{float(t):.6f}"


# The AAC encoder's own overshoot (inter-sample peaks after lossy coding) adds up to ~1 dB to the
# peak loudnorm leaves; aim that much under the format's ceiling so the film itself meets it.
CODEC_HEADROOM_DB = 1.0

# Music dips this far under speech, quickly when a line starts and slowly after it ends.
DUCK = dict(threshold=0.02, ratio=8, attack=40, release=600, knee=4)


class _Sources:
    """One input per file; a file used by several clips (a looped bed) is split, not opened twice."""

    def __init__(self, clips: list[AudioClip], run_dir: Path) -> None:
        self.uses: dict[str, int] = {}
        for c in clips:
            self.uses[c.path] = self.uses.get(c.path, 0) + 1
        self.run_dir, self.split, self.taken = run_dir, {}, {}

    def take(self, path: str):
        stream = ffx.input(str(self.run_dir / path)).audio
        if self.uses[path] == 1:
            return stream
        if path not in self.split:
            self.split[path] = stream.filter_multi_output("asplit", self.uses[path])
        k = self.taken[path] = self.taken.get(path, -1) + 1
        return self.split[path].stream(k)


def _clip(clip: AudioClip, sources: _Sources, rate: int):
    a = sources.take(clip.path).filter("aresample", rate).filter("aformat", sample_fmts="fltp", channel_layouts="stereo")
    a = a.filter("atrim", start=_sec(clip.offset), duration=_sec(clip.duration)).filter("asetpts", "PTS-STARTPTS")
    if clip.gain_db:
        a = a.filter("volume", f"{clip.gain_db}dB")
    if clip.fade_in:
        a = a.filter("afade", t="in", d=clip.fade_in)
    if clip.fade_out:
        a = a.filter("afade", t="out", st=_sec(max(0.0, float(clip.duration) - clip.fade_out)), d=clip.fade_out)
    return a.filter("adelay", delays=round(float(clip.start) * 1000), all=1)


def _bus(clips: list[AudioClip], timeline: Timeline, sources: _Sources, rate: int):
    """The clips placed at their times over a silent bed exactly the film's length."""
    bed = ffx.input(f"anullsrc=r={rate}:cl=stereo", f="lavfi", t=_sec(timeline.duration)).audio
    parts = [bed, *(_clip(c, sources, rate) for c in clips)]
    if len(parts) == 1:
        return bed
    # normalize=0: amix must not divide every input by the number of inputs.
    return ffx.filter(parts, "amix", inputs=len(parts), duration="first", dropout_transition=0, normalize=0)


def _audio_graph(timeline: Timeline, run_dir: Path, fmt: Format):
    """Three stems -- narration, music, sound effects -- with the music ducked under the narration."""
    rate = fmt.encoder.sample_rate
    by_role = {role: [c for c in timeline.audio if c.role == role] for role in ("narration", "music", "sfx")}
    sources = _Sources(list(timeline.audio), run_dir)
    voice = _bus(by_role["narration"], timeline, sources, rate)
    stems = [voice]
    if by_role["music"]:
        music = _bus(by_role["music"], timeline, sources, rate)
        if by_role["narration"]:
            split = voice.filter_multi_output("asplit", 2)
            stems = [split.stream(0)]
            music = ffx.filter([music, split.stream(1)], "sidechaincompress", **DUCK)
        stems.append(music)
    if by_role["sfx"]:
        stems.append(_bus(by_role["sfx"], timeline, sources, rate))
    if len(stems) == 1:
        return voice
    return ffx.filter(stems, "amix", inputs=len(stems), duration="first", dropout_transition=0, normalize=0)


def measure_loudness(timeline: Timeline, run_dir: Path, fmt: Format, ffmpeg: str) -> dict | None:
    """First loudnorm pass over the audio graph; None when the film is silent."""
    if not timeline.audio:
        return None
    graph = _audio_graph(timeline, run_dir, fmt).filter(
        "loudnorm", I=fmt.loudness_lufs, TP=fmt.true_peak_db - CODEC_HEADROOM_DB, LRA=11, print_format="json")
    args = graph.output("-", f="null").get_args()
    stderr = run_ffmpeg(ffmpeg, args, stage="assemble")
    found = re.findall(r"\{[^{}]*\}", stderr)
    if not found:
        raise AssemblyError("loudnorm printed no measurement", stage="assemble", stderr=stderr)
    stats = json.loads(found[-1])
    return None if stats.get("input_i") in ("-inf", "inf") else stats


@dataclass(frozen=True)
class Segment:
    """A run of clips joined by cuts; segments are joined to each other by transitions."""

    clips: tuple[VideoClip, ...]

    @property
    def start(self) -> Fraction:
        return self.clips[0].start

    @property
    def transition(self) -> tuple[str, int]:
        return self.clips[0].transition, self.clips[0].overlap_frames


def segments(timeline: Timeline) -> list[Segment]:
    runs: list[list[VideoClip]] = []
    for clip in timeline.video:
        if runs and clip.transition == "cut":
            runs[-1].append(clip)
        else:
            runs.append([clip])
    return [Segment(tuple(r)) for r in runs]


def concat_list(segment: Segment, run_dir: Path) -> str:
    """A concat-demuxer list of the segment's shots: one decoder per segment instead of one per shot."""
    quote = lambda p: "'" + str(p).replace("'", "'\\''") + "'"  # noqa: E731
    return "ffconcat version 1.0\n" + "".join(f"file {quote(run_dir / c.path)}\n" for c in segment.clips)


def _video_graph(timeline: Timeline, run_dir: Path, lists: Sequence[Path] | None):
    segs = segments(timeline)
    streams = []
    for k, seg in enumerate(segs):
        if lists is not None and len(seg.clips) > 1:
            source = ffx.input(str(lists[k]), f="concat", safe=0).video
        elif len(seg.clips) > 1:
            source = ffx.concat(*(ffx.input(str(run_dir / c.path)).video for c in seg.clips), v=1, a=0)
        else:
            source = ffx.input(str(run_dir / seg.clips[0].path)).video
        streams.append(source.filter("settb", "AVTB").filter("setpts", "PTS-STARTPTS"))
    out = streams[0]
    for seg, stream in zip(segs[1:], streams[1:]):
        kind, frames = seg.transition
        if seg.clips[0].bridge:
            # A generated transition plays over the overlap: it opens on the outgoing shot's frame
            # where the overlap starts and closes on the incoming shot's frame where it ends.
            head = out.filter("trim", end_frame=round(seg.start * timeline.fps)).filter("setpts", "PTS-STARTPTS")
            bridge = (ffx.input(str(run_dir / seg.clips[0].bridge)).video.filter("settb", "AVTB")
                      .filter("setpts", "PTS-STARTPTS"))
            tail = stream.filter("trim", start_frame=frames).filter("setpts", "PTS-STARTPTS")
            out = ffx.concat(head, bridge, tail, v=1, a=0)
        else:
            out = ffx.filter([out, stream], "xfade", transition=_XFADE.get(kind, "fade"),
                             duration=_sec(Fraction(frames) / timeline.fps), offset=_sec(seg.start))
    return out


def film_args(timeline: Timeline, fmt: Format, run_dir: Path, ass: Path | None, out: Path,
              loudness: dict | None, lists: Sequence[Path] | None = None) -> list[str]:
    """The ffmpeg arguments that encode the whole film (pure: reads no file).

    `lists[k]` is the concat list of segment k (see `concat_list`); without lists, shots are
    joined with the concat filter, which opens a decoder per shot (memory grows with the film).
    """
    audio = _audio_graph(timeline, run_dir, fmt)
    if loudness:
        audio = audio.filter(
            "loudnorm", I=fmt.loudness_lufs, TP=fmt.true_peak_db - CODEC_HEADROOM_DB, LRA=11,
            measured_I=loudness["input_i"], measured_TP=loudness["input_tp"], measured_LRA=loudness["input_lra"],
            measured_thresh=loudness["input_thresh"], offset=loudness["target_offset"], linear="true")
    rate = fmt.encoder.sample_rate
    # loudnorm works at 192 kHz internally: resample back, then cut to the picture's exact length.
    audio = audio.filter("aresample", rate).filter("atrim", end=_sec(timeline.duration)).filter("asetpts", "PTS-STARTPTS")

    video = _video_graph(timeline, run_dir, lists).filter("fps", fps=str(timeline.fps))
    if ass is not None and timeline.cues:
        video = video.filter("ass", filename=str(ass), fontsdir=str(cjk_font().parent))
    video = video.filter("format", fmt.encoder.pix_fmt)

    enc = fmt.encoder
    return ffx.output(
        video, audio, str(out), f="mp4", vcodec=enc.video_codec, preset=enc.preset, crf=enc.crf,
        pix_fmt=enc.pix_fmt, acodec=enc.audio_codec, ar=rate, ac=2, r=str(timeline.fps),
        movflags="+faststart", **{"b:a": enc.audio_bitrate, "frames:v": timeline.frames,
                                  "metadata": f"title={timeline.title}"},
    ).get_args()


def assemble(timeline: Timeline, fmt: Format, run_dir: Path, ffmpeg: str, ass: Path | None, out: Path,
             on_frame: Callable[[int], None] | None = None) -> dict:
    """Encode the film to `out` (temp name, then rename). Returns the loudness measurement used."""
    if not timeline.video:
        raise AssemblyError("the timeline has no video clips", stage="assemble")
    stats = measure_loudness(timeline, run_dir, fmt, ffmpeg)
    with tempfile.TemporaryDirectory(prefix=".assemble-", dir=out.parent) as scratch, atomic_path(out) as tmp:
        lists = []
        for k, seg in enumerate(segments(timeline)):
            lists.append(Path(scratch) / f"segment{k:03d}.ffconcat")
            lists[-1].write_text(concat_list(seg, run_dir), encoding="utf-8")
        run_ffmpeg(ffmpeg, film_args(timeline, fmt, run_dir, ass, tmp, stats, lists), stage="assemble",
                   on_frame=on_frame)
    return stats or {}
