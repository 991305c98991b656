"""Measure a finished film from its media: one ffmpeg pass reads every frame and sample once.

- picture: size, rate, length; black stretches (`blackdetect`), frozen stretches (`freezedetect`),
  cuts (`scdet`) and so the average shot length;
- sound: EBU R128 loudness, range and true peak (`ebur128`), silences (`silencedetect`);
- captions (an .srt/.vtt/.ass beside the film, or given): reading speed in characters per second,
  overlaps, and captions shown while nothing is said (cues over detected silence): the "captions
  out of sync" failure of other tools, measured.

Then checks with thresholds give a verdict a person (or a batch) can act on. Nothing here reads our
own run files: it works on any film. A check whose measurement could not be made (no frames decoded,
an audio stream the meter read nothing from, a caption file without cues) fails and says so: a film
is not passed on what nobody measured.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..media.ffmpeg import ffmpeg_binary, probe, run_ffmpeg
from ..reading import cps_limit, reading_chars

BLACK = "blackdetect=d=0.5:pic_th=0.98:pix_th=0.10"  # >= 0.5 s of (nearly) black picture
FREEZE = "freezedetect=n=-60dB:d=2"  # >= 2 s without change
CUTS = "scdet=threshold=3"  # scene-change score (0-100) above which a frame starts a new shot (a
# storyboard's cut between panels of one palette scores ~4; frames inside a shot score < 1)
SILENCE = "silencedetect=noise=-45dB:d=1.0"  # >= 1 s under -45 dBFS
TRUE_PEAK_CEILING = -1.0  # dBTP when no format gives one: EBU R128's (and the streaming services') maximum
# A film must not exceed its own ceiling: the only slack is the meter's rounding (ebur128 prints the
# true peak to 0.1 dB), so a peak printed at the ceiling passes and one printed 0.1 dB over fails.
TRUE_PEAK_TOLERANCE = 0.05
LOUDNESS_TOLERANCE = 1.0  # LU either side of the target (EBU R128's tolerance for live-produced programmes)


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
    loudness_lufs: float | None  # None: not measured (no audio stream, or the meter read no samples)
    loudness_range: float | None
    true_peak_db: float | None
    black: list[tuple[float, float]]
    frozen: list[tuple[float, float]]
    silence: list[tuple[float, float]]
    cuts: list[float]
    frames: int = 0  # video frames ffmpeg decoded and the picture filters saw
    audio_seconds: float | None = None  # audio the loudness meter read; None: the film has no audio stream
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
             max_true_peak: float = TRUE_PEAK_CEILING, ffmpeg: str | None = None) -> FilmEval:
    """Measure `film` and check it. `target_lufs`: the format's loudness target (without one, loudness
    is only reported). `max_true_peak`: the format's true-peak ceiling in dBTP (`Format.true_peak_db`)."""
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
    metered = _metered_seconds(stderr) if audio is not None else None
    # ebur128 prints a summary even when it read nothing (-70 LUFS, peak 0.0): that is no measurement.
    loud = _loudness(stderr) if metered else {}
    measured = FilmEval(
        path=str(film), duration=round(info.duration, 3), width=video.width or 0, height=video.height or 0,
        fps=round(float(video.fps or 0), 3), loudness_lufs=loud.get("I"), loudness_range=loud.get("LRA"),
        true_peak_db=loud.get("peak"), black=_spans(stderr, "black_start", "black_end"),
        frozen=_spans(stderr, "freeze_start", "freeze_end", info.duration),
        silence=_spans(stderr, "silence_start", "silence_end", info.duration),
        cuts=[round(float(t), 3) for t in re.findall(r"lavfi\.scd\.time:\s*([\d.]+)", stderr)],
        frames=_decoded_frames(stderr), audio_seconds=metered)
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


def _metered_seconds(stderr: str) -> float:
    """Seconds of audio ebur128 read: it logs a momentary reading every 100 ms of samples."""
    times = re.findall(r"\bt:\s*([\d.]+)\s+TARGET:", stderr)
    return round(float(times[-1]), 3) if times else 0.0


def _decoded_frames(stderr: str) -> int:
    counts = re.findall(r"frame=\s*(\d+)", stderr)  # ffmpeg's progress line; the last one is the total
    return int(counts[-1]) if counts else 0


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
    limit = cps_limit("".join(e.plaintext for e in events))
    speeds, silent, overlaps = [], [], 0
    for prev, cue in zip([None, *events], events):
        seconds = max(0.001, (cue.end - cue.start) / 1000)
        speeds.append(reading_chars(cue.plaintext) / seconds)
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
    """Pass/fail per aspect. A check whose measurement is missing fails, with a detail saying why."""
    if film.frames:
        out = [Check("picture", not film.black, f"{len(film.black)} black stretch(es) >= 0.5 s" if film.black
                     else "no black stretches"),
               Check("motion", not film.frozen, f"{len(film.frozen)} frozen stretch(es) >= 2 s" if film.frozen
                     else "no frozen stretches")]
    else:
        out = [Check(name, False, "no video frames decoded: not measured") for name in ("picture", "motion")]
    unheard = _unheard(film)
    if target_lufs is not None:
        if film.loudness_lufs is None:
            out.append(Check("loudness", False, f"{unheard}: loudness not measured (target {target_lufs:.1f})"))
        else:
            off = film.loudness_lufs - target_lufs
            out.append(Check("loudness", abs(off) <= LOUDNESS_TOLERANCE,
                             f"{film.loudness_lufs:.1f} LUFS, target {target_lufs:.1f}"))
    if film.true_peak_db is None:
        out.append(Check("true peak", False, f"{unheard}: true peak not measured (max {max_true_peak:.1f})"))
    else:
        out.append(Check("true peak", film.true_peak_db <= max_true_peak + TRUE_PEAK_TOLERANCE,
                         f"{film.true_peak_db:.1f} dBTP (max {max_true_peak:.1f})"))
    if captions and not captions["cues"]:
        out += [Check(name, False, f"no cues in {captions['file']}: not measured")
                for name in ("caption speed", "caption sync", "caption overlap")]
    elif captions:
        out.append(Check("caption speed", captions["max_cps"] <= captions["cps_limit"],
                         f"fastest cue {captions['max_cps']:.1f} chars/s (limit {captions['cps_limit']:.0f})"))
        if not film.audio_seconds:  # silences come from the audio: without it, sync is unknown
            out.append(Check("caption sync", False, f"{unheard}: silences not measured"))
        else:
            out.append(Check("caption sync", not captions["over_silence"],
                             f"{len(captions['over_silence'])} cue(s) shown over silence" if captions["over_silence"]
                             else f"all {captions['cues']} cues over speech"))
        out.append(Check("caption overlap", captions["overlaps"] == 0, f"{captions['overlaps']} overlapping cue(s)"))
    return out


def _unheard(film: FilmEval) -> str:
    """Why the sound was not measured (only read when it was not)."""
    if film.audio_seconds is None:
        return "no audio stream"
    if not film.audio_seconds:
        return "the audio stream has no samples the meter could read"
    return "ffmpeg's loudness meter printed no summary"
