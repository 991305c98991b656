"""Timeline -> the encoded film. The only place the final encode is built.

- Sound: the three stems (narration, music ducked under it, effects) mixed once in one ffmpeg graph
  and measured (EBU R128); the gain to the format's loudness target applied (a limiter holding the
  peaks where the gain alone would pass the ceiling); encoded to AAC and measured again, after the
  codec (which overshoots), and encoded again while it is over the ceiling. Runs beside the picture.
- Picture: every shot played straight into libx264 (picture.py), captions burned in with libass.
- The two are put together without re-encoding (`-c copy`), `moov` first so it plays while it
  downloads. Audio and picture are each cut to the film's exact length on their own, so the same
  timeline makes the same bytes every time.
"""
from __future__ import annotations

import contextlib
import re
import subprocess
import tempfile
import threading
from fractions import Fraction
from pathlib import Path
from typing import Callable

import ffmpeg as ffx

from ..config import Format
from ..errors import AssemblyError, ToolError
from ..languages import caption_fonts_dir
from ..timeline.model import AudioClip, Timeline
from .ffmpeg import X264_REPEATABLE, run_ffmpeg
from .files import atomic_path
from .picture import play_picture

# Peaks are kept this far under the format's ceiling before the codec, leaving room for the AAC
# encoder's own overshoot; what overshoots anyway is caught by measuring the encoded sound.
CODEC_HEADROOM_DB = 0.5
PEAK_MARGIN_DB = 0.5  # a correction aims this far under the ceiling: the codec's overshoot moves by ~0.5 dB
LOUDNESS_SLACK = 0.5  # LU under the format's target before the sound is encoded again, louder
MAX_FIXES = 3

# Music dips this far under speech, quickly when a line starts and slowly after it ends.
DUCK = dict(threshold=0.02, ratio=8, attack=40, release=600, knee=4)


def _sec(t: Fraction | float) -> str:
    return f"{float(t):.6f}"


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


# The mix runs this much past the film's end and is cut after: how filters flush at the end of a
# stream depends on how the frames happened to arrive, and those last samples must not be the film's.
TAIL_SECONDS = 1


def _bus(clips: list[AudioClip], timeline: Timeline, sources: _Sources, rate: int):
    """The clips placed at their times over a silent bed a little longer than the film."""
    bed = ffx.input(f"anullsrc=r={rate}:cl=stereo", f="lavfi", t=_sec(timeline.duration + TAIL_SECONDS)).audio
    parts = [bed, *(_clip(c, sources, rate) for c in clips)]
    if len(parts) == 1:
        return bed
    # normalize=0: amix must not divide every input by the number of inputs.
    return ffx.filter(parts, "amix", inputs=len(parts), duration="first", dropout_transition=0, normalize=0)


def audio_graph(timeline: Timeline, run_dir: Path, fmt: Format):
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


def _limit(fmt: Format) -> float:
    return fmt.true_peak_db - CODEC_HEADROOM_DB


def mix_args(timeline: Timeline, run_dir: Path, fmt: Format, out: Path) -> list[str]:
    """The stems mixed once into a float WAV (a little past the film's end), which every later step
    reads instead of mixing the sources again (pure)."""
    return audio_graph(timeline, run_dir, fmt).output(str(out), f="wav", acodec="pcm_f32le").get_args()


def _chain(sound: Path, gain_db: float, limit_db: float | None, duration: Fraction | None):
    audio = ffx.input(str(sound)).audio
    if gain_db:
        audio = audio.filter("volume", f"{gain_db:.2f}dB")
    if limit_db is not None:  # level=0: the limiter only holds peaks down, it does not renormalise
        audio = audio.filter("alimiter", limit=f"{10 ** (limit_db / 20):.5f}", attack=1, release=60, level=0)
    if duration is not None:
        audio = audio.filter("atrim", end=_sec(duration)).filter("asetpts", "PTS-STARTPTS")
    return audio


def audio_args(sound: Path, fmt: Format, out: Path, gain_db: float = 0.0, *, limit_db: float | None = None,
               duration: Fraction | None = None) -> list[str]:
    """`sound`, `gain_db` louder or quieter (its peaks held under `limit_db` dBFS by a limiter, when
    given), cut to `duration`, encoded (pure)."""
    enc = fmt.encoder
    return ffx.output(_chain(sound, gain_db, limit_db, duration), str(out), f="mp4", acodec=enc.audio_codec,
                      ar=enc.sample_rate, ac=2, **{"b:a": enc.audio_bitrate}).get_args()


def measure_sound(path: Path, ffmpeg: str) -> dict[str, float]:
    """Integrated loudness and true peak of a file's sound, after decoding (what a viewer hears)."""
    return _r128(run_ffmpeg(ffmpeg, ["-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null",
                                     "-"], stage="assemble"), path.name)


def measure_chain(sound: Path, ffmpeg: str, gain_db: float, limit_db: float | None, duration: Fraction) -> dict:
    """The same, of `sound` through a gain and a limiter, before any codec: cheap, for finding the gain."""
    graph = _chain(sound, gain_db, limit_db, duration).filter("ebur128", peak="true")
    return _r128(run_ffmpeg(ffmpeg, graph.output("-", f="null").get_args(), stage="assemble"), sound.name)


def _r128(stderr: str, name: str) -> dict[str, float]:
    summary = stderr[stderr.rfind("Summary:"):]
    found = {key: re.search(pattern, summary) for key, pattern in
             (("i", r"I:\s+(-?[\d.]+|-inf) LUFS"), ("tp", r"Peak:\s+(-?[\d.]+|-inf) dBFS"))}
    if not all(found.values()):
        raise AssemblyError(f"could not measure the loudness of {name}", stage="assemble", stderr=stderr)
    return {key: float(m.group(1)) for key, m in found.items()}


def encode_sound(timeline: Timeline, fmt: Format, run_dir: Path, ffmpeg: str, out: Path) -> dict:
    """The film's sound, encoded, measured after the codec: its true peak at or under the format's
    ceiling, its loudness as near the target as that allows.

    The stems are mixed once and measured (EBU R128). The gain that reaches the target is applied; where
    the peaks would then pass the ceiling (speech peaks high above its loudness, as synthetic voices'
    do), a limiter holds them, and the gain that still reaches the target with it is found on the
    mix, before any codec. The encoded sound is measured, and encoded again while it is over the
    ceiling (the codec overshoots) or, linear, under the target with room under it."""
    mix = out.parent / "mix.wav"
    run_ffmpeg(ffmpeg, mix_args(timeline, run_dir, fmt, mix), stage="assemble")
    measured = measure_chain(mix, ffmpeg, 0.0, None, timeline.duration) if timeline.audio else None
    if not measured or measured["i"] <= -69:  # silence (under R128's -70 LUFS gate): nothing to correct
        run_ffmpeg(ffmpeg, audio_args(mix, fmt, out, duration=timeline.duration), stage="assemble")
        return {"gain_db": 0.0}
    ceiling, target = fmt.true_peak_db, fmt.loudness_lufs
    gain = target - measured["i"]
    limit = None if measured["tp"] + gain <= _limit(fmt) else ceiling - CODEC_HEADROOM_DB - PEAK_MARGIN_DB
    if limit is not None:  # the limiter eats some of the gain: find the gain that still reaches the target
        for _ in range(MAX_FIXES):
            limited = measure_chain(mix, ffmpeg, gain, limit, timeline.duration)
            if limited["i"] >= target - LOUDNESS_SLACK / 2:
                break
            gain += target - limited["i"]
    kept: tuple[float, dict, Path] | None = None  # the encode nearest the target that is under the ceiling
    for attempt in range(MAX_FIXES + 1):
        take = out.parent / f"sound-{attempt}.mp4"
        run_ffmpeg(ffmpeg, audio_args(mix, fmt, take, gain, limit_db=limit, duration=timeline.duration),
                   stage="assemble")
        stats = measure_sound(take, ffmpeg)
        if stats["tp"] <= ceiling and (kept is None or abs(stats["i"] - target) < abs(kept[1]["i"] - target)):
            kept = (gain, stats, take)
        over = stats["tp"] - (ceiling - 0.1)  # on the ceiling within the meter's step counts as over
        if over > 0:  # quieter: the limiter's ceiling lower, or (linear) the whole sound
            if limit is None:
                gain -= over + PEAK_MARGIN_DB
            else:
                limit -= over + PEAK_MARGIN_DB
        elif limit is None and stats["i"] < target - LOUDNESS_SLACK and -over > PEAK_MARGIN_DB:
            gain += min(target - stats["i"], -over - PEAK_MARGIN_DB)
        else:
            break
    if kept is None:
        raise AssemblyError(f"the sound stays over the format's true-peak ceiling ({stats['tp']:.1f} dBTP, max "
                            f"{ceiling:.1f}) after {MAX_FIXES} corrections", stage="assemble")
    gain, stats, take = kept
    take.replace(out)
    return {"input_i": measured["i"], "input_tp": measured["tp"], "normalization": "limited" if limit else "linear",
            "output_i": stats["i"], "output_tp": stats["tp"], "gain_db": round(gain, 2),
            **({"limit_db": round(limit, 2)} if limit is not None else {})}


def encoder_args(timeline: Timeline, fmt: Format, ass: Path | None, out: Path) -> list[str]:
    """ffmpeg reading the raw picture on stdin, burning the captions in, encoding it (pure)."""
    rate = f"{timeline.fps.numerator}/{timeline.fps.denominator}"
    picture = ffx.input("pipe:0", f="rawvideo", pix_fmt="yuv420p", video_size=(timeline.width, timeline.height),
                        framerate=rate).video
    if ass is not None and timeline.cues:
        picture = picture.filter("ass", filename=str(ass), fontsdir=str(caption_fonts_dir()))
    enc = fmt.encoder
    repeatable = {"x264-params": X264_REPEATABLE} if enc.video_codec == "libx264" else {}
    return ffx.output(picture, str(out), f="mp4", vcodec=enc.video_codec, preset=enc.preset, crf=enc.crf,
                      pix_fmt=enc.pix_fmt, r=rate, an=None, **{"frames:v": timeline.frames}, **repeatable).get_args()


def mux_args(video: Path, sound: Path | None, out: Path, title: str) -> list[str]:
    """Picture and sound into one file, copied, not re-encoded (pure)."""
    inputs = ["-i", str(video), *(["-i", str(sound)] if sound else [])]
    maps = ["-map", "0:v:0", *(["-map", "1:a:0"] if sound else [])]
    return [*inputs, *maps, "-c", "copy", "-map_metadata", "-1", "-metadata", f"title={title}",
            "-movflags", "+faststart", "-f", "mp4", str(out)]


def assemble(timeline: Timeline, fmt: Format, run_dir: Path, ffmpeg: str, ass: Path | None, out: Path,
             on_frame: Callable[[int], None] | None = None) -> tuple[dict, dict[int, bytes]]:
    """Encode the film to `out` (temp names, then rename). Returns the sound's measurements and each
    clip's middle frame (raw yuv420p, for the contact sheet)."""
    if not timeline.video:
        raise AssemblyError("the timeline has no video clips", stage="assemble")
    with tempfile.TemporaryDirectory(prefix=".assemble-", dir=out.parent) as scratch:
        scratch = Path(scratch)
        picture, sound = scratch / "picture.mp4", scratch / "sound.mp4"
        result: dict = {}

        def make_sound() -> None:
            try:
                result["stats"] = encode_sound(timeline, fmt, run_dir, ffmpeg, sound)
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                result["error"] = exc

        mixer = threading.Thread(target=make_sound, name="sound", daemon=True)
        mixer.start()
        middles = _encode_picture(timeline, fmt, run_dir, ffmpeg, ass, picture, scratch, on_frame)
        mixer.join()
        if "error" in result:
            raise result["error"]
        with atomic_path(out) as tmp:
            run_ffmpeg(ffmpeg, mux_args(picture, sound, tmp, timeline.title), stage="assemble")
    return result["stats"], middles


def _encode_picture(timeline: Timeline, fmt: Format, run_dir: Path, ffmpeg: str, ass: Path | None, out: Path,
                    scratch: Path, on_frame) -> dict[int, bytes]:
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", *encoder_args(timeline, fmt, ass, out)]
    with tempfile.TemporaryFile() as log:
        encoder = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        try:
            middles = play_picture(timeline, run_dir, ffmpeg, encoder.stdin.fileno(), scratch, on_frame)
        except BrokenPipeError:
            middles = {}  # the encoder stopped: its exit code and stderr say why
        except BaseException:
            encoder.kill()
            raise
        finally:
            with contextlib.suppress(OSError):
                encoder.stdin.close()
            code = encoder.wait()
        if code != 0:
            log.seek(0)
            raise ToolError(f"ffmpeg could not encode the film (exit {code})", stage="assemble",
                            stderr=log.read().decode("utf-8", "replace"))
    return middles
