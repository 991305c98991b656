"""Measure a finished film from its media: one ffmpeg pass reads every frame and sample once.

- picture: size, rate, length; black stretches (`blackdetect`), frozen stretches (`freezedetect`),
  cuts (`scdet`) and so the average shot length;
- sound: EBU R128 loudness, range and true peak (`ebur128`), silences (`silencedetect`);
- captions (an .srt/.vtt/.ass beside the film, or given): reading speed in characters per second,
  overlaps, and captions shown while nothing is said (cues over detected silence): the "captions
  out of sync" failure of other tools, measured.

Then checks with thresholds give a verdict a person (or a batch) can act on. Nothing here reads our
own run files: it works on any film.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..media.ffmpeg import ffmpeg_binary, probe, run_ffmpeg

BLACK = "blackdetect=d=0.5:pic_th=0.98:pix_th=0.10"  # >= 0.5 s of (nearly) black picture
FREEZE = "freezedetect=n=-60dB:d=2"  # >= 2 s without change
CUTS = "scdet=threshold=3"  # scene-change score (0-100) above which a frame starts a new shot (a
# storyboard's cut between panels of one palette scores ~4; frames inside a shot score < 1)
SILENCE = "silencedetect=noise=-45dB:d=1.0"  # >= 1 s under -45 dBFS
CJK_CPS, LATIN_CPS = 11.0, 21.0  # readable characters per second (Netflix's guidance for CJK and for others)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class FilmEval:
    path: str
    duration: float
    width: int
    height: int
    fps: float
    loudness_lufs: float | None
    loudness_range: float | None
    true_peak_db: float | None
    black: list[tuple[float, float]]
    frozen: list[tuple[float, float]]
    silence: list[tuple[float, float]]
    cuts: list[float]
    captions: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def average_shot(self) -> float:
        return self.duration / (len(self.cuts) + 1)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "average_shot_seconds": round(self.average_shot, 3)}


def evaluate(film: Path, *, subtitles: Path | None = None, target_lufs: float | None = None,
             max_true_peak: float = -1.0, ffmpeg: str | None = None) -> FilmEval:
    """Measure `film`; compare with `target_lufs` when given (a format's target), else only report."""
    film = Path(film)
    if not film.is_file():
        raise InputError(f"{film} does not exist")
    info = probe(film)
    video, audio = info.first("video"), info.first("audio")
    if video is None:
        raise InputError(f"{film} has no video stream")
    args = ["-i", str(film), "-map", "0:v:0", "-vf", f"{BLACK},{FREEZE},{CUTS}"]
    if audio is not None:
        args += ["-map", "0:a:0", "-af", f"ebur128=peak=true,{SILENCE}"]
    stderr = run_ffmpeg(ffmpeg_binary(ffmpeg), [*args, "-f", "null", "-"], stage="eval")
    loud = _loudness(stderr) if audio is not None else {}
    measured = FilmEval(
        path=str(film), duration=round(info.duration, 3), width=video.width or 0, height=video.height or 0,
        fps=round(float(video.fps or 0), 3), loudness_lufs=loud.get("I"), loudness_range=loud.get("LRA"),
        true_peak_db=loud.get("peak"), black=_spans(stderr, "black_start", "black_end"),
        frozen=_spans(stderr, "freeze_start", "freeze_end", info.duration),
        silence=_spans(stderr, "silence_start", "silence_end", info.duration),
        cuts=[round(float(t), 3) for t in re.findall(r"lavfi\.scd\.time:\s*([\d.]+)", stderr)])
    subs = subtitles or _beside(film)
    captions = caption_stats(subs, measured.silence) if subs else {}
    return replace(measured, captions=captions, checks=checks(measured, captions, target_lufs, max_true_peak))


def _loudness(stderr: str) -> dict[str, float]:
    summary = stderr[stderr.rfind("Summary:"):]
    out = {}
    for key, pattern in (("I", r"I:\s+(-?[\d.]+|-inf) LUFS"), ("LRA", r"LRA:\s+(-?[\d.]+) LU"),
                         ("peak", r"Peak:\s+(-?[\d.]+|-inf) dBFS")):
        if m := re.search(pattern, summary):
            out[key] = float(m.group(1))
    return out


def _spans(stderr: str, start_key: str, end_key: str, until: float | None = None) -> list[tuple[float, float]]:
    """(start, end) pairs from a detect filter's log; an unclosed span ends at `until`."""
    starts = [float(v) for v in re.findall(rf"{start_key}[:=]\s*(-?[\d.]+)", stderr)]
    ends = [float(v) for v in re.findall(rf"{end_key}[:=]\s*(-?[\d.]+)", stderr)]
    if until is not None and len(ends) < len(starts):
        ends.append(until)
    return [(round(max(0.0, s), 3), round(e, 3)) for s, e in zip(starts, ends)]


def _beside(film: Path) -> Path | None:
    for suffix in (".srt", ".vtt", ".ass"):
        if film.with_suffix(suffix).is_file():
            return film.with_suffix(suffix)
    return None


def caption_stats(path: Path, silence: list[tuple[float, float]]) -> dict[str, Any]:
    """Reading speed, overlaps and captions over silence, from a subtitle file pysubs2 can read."""
    import pysubs2

    try:
        subs = pysubs2.load(str(path))
    except Exception as exc:  # noqa: BLE001 - pysubs2 raises several types for files it cannot read
        raise InputError(f"cannot read captions {path}: {exc}") from None
    events = sorted((e for e in subs.events if not e.is_comment and e.plaintext.strip()), key=lambda e: e.start)
    text = "".join(e.plaintext for e in events)
    cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
    limit = CJK_CPS if text and cjk / len(text) > 0.3 else LATIN_CPS
    speeds, silent, overlaps = [], [], 0
    for prev, cue in zip([None, *events], events):
        seconds = max(0.001, (cue.end - cue.start) / 1000)
        speeds.append(len(re.sub(r"\s+", "", cue.plaintext)) / seconds)
        if prev is not None and cue.start < prev.end:
            overlaps += 1
        shown = (cue.start / 1000, cue.end / 1000)
        quiet = sum(max(0.0, min(shown[1], e) - max(shown[0], s)) for s, e in silence)
        if quiet > 0.8 * (shown[1] - shown[0]):  # on screen while nothing is said
            silent.append(round(shown[0], 3))
    return {"file": str(path), "cues": len(events), "max_cps": round(max(speeds, default=0.0), 2),
            "cps_limit": limit, "overlaps": overlaps, "over_silence": silent}


def checks(film: FilmEval, captions: dict[str, Any], target_lufs: float | None,
           max_true_peak: float) -> list[Check]:
    out = [Check("picture", not film.black, f"{len(film.black)} black stretch(es) >= 0.5 s" if film.black
                 else "no black stretches"),
           Check("motion", not film.frozen, f"{len(film.frozen)} frozen stretch(es) >= 2 s" if film.frozen
                 else "no frozen stretches")]
    if film.loudness_lufs is not None:
        if target_lufs is not None:
            off = film.loudness_lufs - target_lufs
            out.append(Check("loudness", abs(off) <= 1.0, f"{film.loudness_lufs:.1f} LUFS, target {target_lufs:.1f}"))
        out.append(Check("true peak", (film.true_peak_db or -99) <= max_true_peak + 0.5,
                         f"{film.true_peak_db:.1f} dBTP (max {max_true_peak:.1f})"))
    if captions:
        out.append(Check("caption speed", captions["max_cps"] <= captions["cps_limit"],
                         f"fastest cue {captions['max_cps']:.1f} chars/s (limit {captions['cps_limit']:.0f})"))
        out.append(Check("caption sync", not captions["over_silence"],
                         f"{len(captions['over_silence'])} cue(s) shown over silence" if captions["over_silence"]
                         else f"all {captions['cues']} cues over speech"))
        out.append(Check("caption overlap", captions["overlaps"] == 0, f"{captions['overlaps']} overlapping cue(s)"))
    return out
