"""Assemble one fixed 60 s vertical film three ways and compare: ours, MoviePy 2.x, and a bare encode.

    python benchmarks/assembly.py [--draft] [--repeat N] [--breakdown] [--keep] [--no-moviepy]

The fixture is built once, deterministically, in a temp folder, and not timed: a screenplay of 4
scenes x 2 shots of 7.6 s (crossfade 0.4 s, cut, crossfade 0.4 s between the scenes: 1800 frames,
60 s at 1080x1920 30 fps, 270x480 with --draft), rendered by the real animatic renderer (`.still.npz`
stills with a camera move each); two of the shots are then encoded to .mp4 the way the GPU renderers
write theirs (media.frames.write_blocks at the format's intermediate settings) and the film uses
those files. Narration: 8 lines spoken by the real espeak TTS. Music: a 20 s pad made with ffmpeg's
lavfi (sines, stereo WAV), looped by the timeline on bar boundaries. Sound effects: brown noise
(a storm) and a sine chime, lavfi WAVs. The Timeline is build_timeline's over the real word
timings (karaoke captions at the format's style) and the .ass is write_subtitles'.

(a) ours: `moviefactory.media.assemble.assemble(timeline, fmt, run_dir, ffmpeg, ass, out)`: the picture
    (shot players spliced into libx264, crossfades mixed, captions burned in with libass) beside the
    sound (three stems, ducking, two-pass loudnorm, AAC, measured after the codec), then the mux.
(b) moviepy: the same film in MoviePy 2.x the way MoneyPrinterTurbo's app/services/video.py makes it
    (combine_videos, then generate_video): every shot written through MoviePy to a temp .mp4 (the shot
    cut to the frames it shows alone, CrossFadeIn where it cross-fades: MPT's per-clip fade_in), the
    temp clips concatenated and re-encoded by ffmpeg, then that composed with one TextClip per caption
    cue (the cue's wrapped text in the package's Noto CJK font, white with the format's outline, at the
    format's caption height; no karaoke colouring) and CompositeAudioClip of the narration lines at
    their starts, the music bed (MultiplyVolume at the timeline's music gain, AudioFadeOut(3),
    AudioLoop to the film's length) and the effects at their starts, in one write_videofile (libx264,
    aac, the format's preset/crf/fps/audio bitrate and rate, threads=2): three encodes, and no loudness
    normalisation or ducking. MoviePy cannot read our stills, so every shot is first encoded to an .mp4
    the way the GPU renderers write theirs, standing in for the stock footage MPT downloads: timed
    apart ("moviepy prep"), not in its row. A second row, kinder to MoviePy than MPT is, places the
    shots in one CompositeVideoClip and encodes once.
(c) floor: the film's pictures as ours feeds them to its encoder, and nothing else: each shot's player
    (media.sources.FrameStream, the process ours plays it with; the next one started while one
    plays, as ours does) spliced in cut order into one libx264 ffmpeg reading raw yuv420p on stdin,
    with the arguments ours builds (media.assemble.encoder_args) less the captions. Each shot gives
    the frames it shows alone up to the next shot's start, so the total is the film's 1800 frames:
    no transition mixing, no captions, no sound, no mux. Every step of it is a step ours takes too.

Each runs in a fresh Python process started by this one (so one variant's heap does not inflate the
next one's memory) and is measured there, after its imports: wall time, CPU time (its threads + its
waited-for children, so every ffmpeg) and the peak resident memory of its process tree, sampled
every 50 ms from /proc (benchmarks/_measure.py). The three outputs are checked to be comparable (same frame count and
size, decoded with PyAV; sound in ours and MoviePy's). Machines here are noisy: compare the ratios
of one run, never seconds across runs. The last line is `ours_vs_floor=X.XX moviepy_vs_ours=Y.YY`
(wall-time ratios; with --repeat, the fastest of N runs of ours and of the floor).

--breakdown also runs ours' parts alone (the picture without captions, with captions, the sound, the
mux) to show where ours' time beyond the floor goes.

MoviePy is not a dependency of moviefactory; install it with `pip install -e '.[bench]'` (or
`make bench`). Without it, (a) and (c) still run.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from moviefactory.audio import create_tts  # noqa: E402
from moviefactory.config import Format, load_format  # noqa: E402
from moviefactory.media.assemble import (  # noqa: E402
    assemble, encode_sound, encoder_args, mux_args)
from moviefactory.media.camera import is_still  # noqa: E402
from moviefactory.media.ffmpeg import ffmpeg_binary, run_ffmpeg  # noqa: E402
from moviefactory.media.frames import iter_frames, write_blocks  # noqa: E402
from moviefactory.media.picture import play_picture  # noqa: E402
from moviefactory.media.sources import FrameStream  # noqa: E402
from moviefactory.media.subtitles import caption_measure, font_pixels, write_subtitles  # noqa: E402
from moviefactory.pipeline.nodes import shot_seed  # noqa: E402
from moviefactory.renderers import RenderContext, create_renderer  # noqa: E402
from moviefactory.resources import cjk_font  # noqa: E402
from moviefactory.screenplay import Line, Scene, Screenplay, Shot, SoundCue, Transition, Voice, cue_id, line_id  # noqa: E402
from moviefactory.timeline.build import ClipRef, SpeechRef, build_timeline, shot_frames  # noqa: E402
from moviefactory.timeline.model import Timeline  # noqa: E402
from moviefactory.timeline.pacing import needed_length  # noqa: E402
from moviefactory.timeline.score import MUSIC_GAIN_DB, SfxRef, TrackRef  # noqa: E402

from _measure import Measurement, measured  # noqa: E402

SECONDS = 60
SHOT_SECONDS = 7.6  # 8 shots, two 0.4 s crossfades: 60.8 - 0.8 = 60 s
ENCODED_SHOTS = ("s02-sh01", "s03-sh02")  # written as .mp4, like a GPU renderer's shots
MUSIC_SECONDS, MUSIC_BPM = 20.0, 96

SCENES = [  # (setting, time of day, (camera, description) x 2, two narration lines, transition out, sound cue)
    ("lighthouse on a rocky coast", "dusk",
     (("push_in", "a lighthouse on a cliff above the sea"), ("pan_left", "waves breaking on black rocks")),
     ("Every evening the keeper climbs one hundred and twelve steps to light the lamp above the bay.",
      "The wind carries salt and the cries of gulls that circle the tower until dark."),
     ("crossfade", 0.4), None),
    ("storm over the harbour", "night",
     (("tilt_up", "storm clouds over the harbour lights"), ("static", "rain streaming down a window")),
     ("Tonight a storm rolls in from the west, faster than any the old charts ever warned about.",
      "Boats strain at their ropes while the keeper trims the wick and watches the water rise."),
     ("cut", 0.0), ("distant thunder rolling", 2.0, 3.0)),
    ("lamp room at the top of the tower", "night",
     (("pull_out", "a great lens turning slowly in the dark"), ("pan_right", "a beam of light sweeping the sea")),
     ("Far out a small fishing boat is lost between the waves, its engine coughing in the rain.",
      "The beam finds it once, then again, and the captain turns the bow toward the harbour mouth."),
     ("crossfade", 0.4), None),
    ("harbour at first light", "dawn",
     (("tilt_down", "a calm harbour under a pale sky"), ("push_in", "the keeper smiling on the gallery")),
     ("By morning the sea lies flat and silver, and the fishermen wave up at the tower as they pass.",
      "The keeper puts out the lamp, writes one line in the log, and finally goes down to sleep."),
     ("cut", 0.0), ("a small bell chiming", 1.0, 1.5)),
]


def screenplay() -> Screenplay:
    scenes = []
    for i, (setting, tod, shots, lines, (kind, dur), cue) in enumerate(SCENES):
        sid = f"s0{i + 1}"
        scenes.append(Scene(
            id=sid, heading=f"EXT. {setting.upper()}", setting=setting, time_of_day=tod,
            shots=tuple(Shot(id=f"{sid}-sh0{j + 1}", description=desc, camera=cam, motion=0.6, duration=SHOT_SECONDS)
                        for j, (cam, desc) in enumerate(shots)),
            narration=tuple(Line(text=t) for t in lines),
            sound_cues=(SoundCue(description=cue[0], at=cue[1], duration=cue[2]),) if cue else (),
            transition=Transition(kind=kind, duration=dur)))
    return Screenplay(title="The Keeper", logline="A keeper guides a lost boat home through a storm.",
                      tone="calm, tense, hopeful", narrator=Voice(id="en-us+m3"), scenes=tuple(scenes))


@dataclass
class Fixture:
    root: Path
    fmt: Format
    timeline: Timeline
    ass: Path
    music: Path

    def shot_mp4s(self) -> list[Path]:
        """Every shot as an encoded clip, in cut order: MoviePy's input (the stills encoded by `prep`)."""
        return [self.root / c.path if not is_still(c.path) else self.root / "moviepy" / f"{c.shot}.mp4"
                for c in self.timeline.video]


def lavfi(ffmpeg: str, source: str, out: Path, *extra: str) -> Path:
    subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source, *extra,
                    "-c:a", "pcm_s16le", str(out)], check=True)
    return out


def encode_shot(path: Path, frames: int, fmt: Format, ffmpeg: str, out: Path) -> Path:
    """A shot as an .mp4, written the way the GPU renderers write theirs."""
    write_blocks(iter_frames(path, 16), fmt.frame_rate, out, ffmpeg=ffmpeg, frames=frames,
                 crf=fmt.intermediate.crf, preset=fmt.intermediate.preset, stage="render")
    return out


def build_fixture(root: Path, fmt: Format, ffmpeg: str) -> Fixture:
    play = screenplay()
    fps = fmt.frame_rate
    renderer = create_renderer("animatic")
    clips: dict[str, ClipRef] = {}
    for i, scene in enumerate(play.scenes):
        for j, shot in enumerate(scene.shots):
            frames = shot_frames(shot.duration, fps)
            folder = root / "scenes" / scene.id
            folder.mkdir(parents=True, exist_ok=True)
            still = folder / f"{shot.id}.still.npz"
            ctx = RenderContext(screenplay=play, scene=scene, format=fmt, seed=shot_seed(0, shot.id), ffmpeg=ffmpeg,
                                frames=frames, scene_index=i, shot_index=j)
            renderer.render(shot, ctx, still)
            path = still
            if shot.id in ENCODED_SHOTS:
                path = encode_shot(still, frames, fmt, ffmpeg, folder / f"{shot.id}.mp4")
                still.unlink()
            clips[shot.id] = ClipRef(str(path.relative_to(root)), frames)

    tts, speech = create_tts("espeak"), {}
    (root / "narration").mkdir()
    for scene in play.scenes:
        for k, line in enumerate(scene.narration):
            lid = line_id(scene, k)
            said = tts.speak(line.text, play.voice_of(line.speaker), play.language, root / "narration" / f"{lid}.wav",
                             rate=fmt.speech_rate)
            speech[lid] = SpeechRef(f"narration/{lid}.wav", said.duration, [(w.text, w.start, w.end) for w in said.words])
    durations = {k: v.duration for k, v in speech.items()}
    for i, scene in enumerate(play.scenes):
        if needed_length(play, i, durations) > scene.duration:
            raise SystemExit(f"fixture: scene {scene.id}'s narration is longer than its shots; shorten its lines")

    audio = root / "audio"
    audio.mkdir()
    pad = "+".join(f"{a}*sin(2*PI*{f}*t)" for a, f in ((0.18, 220), (0.12, 277.18), (0.12, 329.63), (0.08, 110)))
    music = lavfi(ffmpeg, f"aevalsrc='({pad})*(0.7+0.3*sin(2*PI*0.4*t))':s=44100:d={MUSIC_SECONDS}",
                  audio / "music.wav", "-ac", "2")
    lavfi(ffmpeg, "anoisesrc=color=brown:seed=7:amplitude=0.6:d=3", audio / "storm.wav",
                  "-af", "afade=t=in:d=0.3,afade=t=out:st=1.5:d=1.5", "-ac", "2")
    lavfi(ffmpeg, "sine=f=880:sample_rate=44100:d=1.5", audio / "chime.wav",
                  "-af", "volume=0.5,afade=t=out:st=0.1:d=1.4")
    effects = {cue_id(play.scenes[1], 0): SfxRef("audio/storm.wav", 3.0, cue_id(play.scenes[1], 0)),
               cue_id(play.scenes[3], 0): SfxRef("audio/chime.wav", 1.5, cue_id(play.scenes[3], 0))}
    track = TrackRef("audio/music.wav", MUSIC_SECONDS, MUSIC_BPM, 4)
    timeline = build_timeline(play, fmt, clips, speech, caption_measure(fmt), music=track, sfx=effects)
    if timeline.frames != SECONDS * fmt.fps:
        raise SystemExit(f"fixture: the timeline has {timeline.frames} frames, not {SECONDS * fmt.fps}")
    ass = write_subtitles(timeline, fmt, root / "film")["ass"]

    return Fixture(root, fmt, timeline, ass, music)


def prep_moviepy(fx: Fixture, ffmpeg: str, work: Path) -> None:
    """MoviePy reads only video files: every still shot encoded once, as the GPU renderers write shots."""
    for clip, path in zip(fx.timeline.video, fx.shot_mp4s()):
        if is_still(clip.path):
            encode_shot(fx.root / clip.path, clip.frames, fx.fmt, ffmpeg, path)


# --- (a) ours ----------------------------------------------------------------------------------

def run_ours(fx: Fixture, ffmpeg: str, work: Path) -> None:
    assemble(fx.timeline, fx.fmt, fx.root, ffmpeg, fx.ass, work / "ours.mp4")


# --- (c) the floor -----------------------------------------------------------------------------

def floor_shares(timeline: Timeline) -> list[int]:
    """Frames each shot shows up to the next shot's start (they add up to the film's frames)."""
    clips = timeline.video
    nxt = [c.overlap_frames if c.transition != "cut" else 0 for c in clips[1:]] + [0]
    return [c.frames - n for c, n in zip(clips, nxt)]


def run_floor(fx: Fixture, ffmpeg: str, work: Path) -> None:
    tl, out = fx.timeline, work / "floor.mp4"
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", *encoder_args(tl, fx.fmt, None, out)]
    shares = floor_shares(tl)
    scratch = Path(tempfile.mkdtemp(prefix=".floor-", dir=out.parent))

    def player(k: int) -> FrameStream:
        return FrameStream(fx.root / tl.video[k].path, width=tl.width, height=tl.height, fps=tl.fps,
                           frames=shares[k], ffmpeg=ffmpeg, scratch=scratch)

    encoder = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        with ThreadPoolExecutor(1) as pool:
            coming = pool.submit(player, 0)
            for k in range(len(tl.video)):
                stream = coming.result()
                if k + 1 < len(tl.video):
                    coming = pool.submit(player, k + 1)
                with stream:
                    stream.splice(encoder.stdin.fileno(), shares[k])
    finally:
        encoder.stdin.close()
        code = encoder.wait()
        shutil.rmtree(scratch, ignore_errors=True)
    if code:
        raise SystemExit(f"floor: ffmpeg exited {code}")


# --- (b) MoviePy, the MoneyPrinterTurbo way ------------------------------------------------------

def moviepy_version() -> str | None:
    try:
        import moviepy
    except ImportError:
        return None
    from importlib.metadata import version

    return version("moviepy")


def run_moviepy(fx: Fixture, ffmpeg: str, work: Path) -> None:
    """MoneyPrinterTurbo's three steps (app/services/video.py): combine_videos writes every clip through
    MoviePy to a temp .mp4 (its transition applied per clip), then concatenates the temp clips with
    ffmpeg, re-encoding them; generate_video composes that with the captions and the sound in MoviePy
    and writes the film."""
    from moviepy import VideoFileClip, vfx

    tl, fmt = fx.timeline, fx.fmt
    fps, enc = float(tl.fps), fmt.encoder
    temp = []
    for k, (clip, share, path) in enumerate(zip(tl.video, floor_shares(tl), fx.shot_mp4s())):
        shot = VideoFileClip(str(path), audio=False)
        try:
            part = shot.subclipped(0, float(share / tl.fps))
            if clip.transition == "crossfade" and clip.overlap_frames:  # MPT's fade_in transition
                part = part.with_effects([vfx.CrossFadeIn(float(clip.overlap_frames / tl.fps))])
            temp.append(work / f"temp-clip-{k}.mp4")
            part.write_videofile(str(temp[-1]), fps=fps, codec=enc.video_codec, preset=enc.preset, audio=False,
                                 threads=2, ffmpeg_params=["-crf", str(enc.crf)], logger=None)
        finally:
            shot.close()
    listing = work / "concat.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in temp), encoding="utf-8")
    combined = work / "combined.mp4"
    run_ffmpeg(ffmpeg, ["-f", "concat", "-safe", "0", "-i", str(listing), "-c:v", enc.video_codec, "-preset",
                        enc.preset, "-crf", str(enc.crf), "-threads", "2", "-pix_fmt", "yuv420p", "-t",
                        f"{float(tl.duration):.3f}", str(combined)], stage="bench")
    compose_moviepy(fx, [combined], work / "moviepy.mp4", placed=False)


def compose_moviepy(fx: Fixture, videos: list[Path], out: Path, *, placed: bool) -> None:
    """generate_video: the picture (one combined file, or with `placed` every shot at its start with
    CrossFadeIn where it cross-fades), a TextClip per caption cue, the sound composed, one write."""
    from moviepy import AudioFileClip, CompositeAudioClip, CompositeVideoClip, TextClip, VideoFileClip, afx, vfx

    tl, fmt = fx.timeline, fx.fmt
    fps, duration = tl.fps, float(tl.duration)
    opened = []  # every clip with a reader, closed at the end (their ffmpeg processes are waited for)

    def keep(clip):
        opened.append(clip)
        return clip

    shots = []
    if placed:
        for clip, path in zip(tl.video, videos):
            shot = keep(VideoFileClip(str(path), audio=False)).with_duration(float(clip.frames / fps))
            shot = shot.with_start(float(clip.start))
            if clip.transition == "crossfade" and clip.overlap_frames:
                shot = shot.with_effects([vfx.CrossFadeIn(float(clip.overlap_frames / fps))])
            shots.append(shot)
    else:
        shots.append(keep(VideoFileClip(str(videos[0]), audio=False)))

    cap = fmt.caption
    texts = []
    for cue in tl.cues:
        text = TextClip(font=str(cjk_font()), text="\n".join(cue.lines), font_size=font_pixels(fmt), color="white",
                        stroke_color="black", stroke_width=max(1, round(cap.outline * fmt.height)),
                        method="label", text_align="center", interline=round(font_pixels(fmt) * 0.25),
                        margin=(0, round(font_pixels(fmt) * 0.3)))
        y = (cap.position_y if cap.position_y is not None else 0.85) * fmt.height - text.h / 2
        texts.append(text.with_start(float(cue.start)).with_duration(float(cue.end - cue.start))
                     .with_position(("center", y)))
    video = CompositeVideoClip([*shots, *texts], size=(fmt.width, fmt.height)).with_duration(duration)

    sounds = []
    for a in tl.audio:
        if a.role == "music":
            continue
        sound = keep(AudioFileClip(str(fx.root / a.path)))
        sound = sound.subclipped(float(a.offset), min(sound.duration, float(a.offset + a.duration)))
        if a.gain_db:
            sound = sound.with_effects([afx.MultiplyVolume(10 ** (a.gain_db / 20))])
        sounds.append(sound.with_start(float(a.start)))
    bgm = keep(AudioFileClip(str(fx.music))).with_effects(
        [afx.MultiplyVolume(10 ** (MUSIC_GAIN_DB / 20)), afx.AudioFadeOut(3), afx.AudioLoop(duration=duration)])
    sound = CompositeAudioClip([*sounds, bgm]).with_duration(duration)
    final = video.with_audio(sound)
    enc = fmt.encoder
    try:
        final.write_videofile(str(out), fps=float(fps), codec=enc.video_codec, audio_codec=enc.audio_codec,
                              audio_fps=enc.sample_rate, audio_bitrate=enc.audio_bitrate, preset=enc.preset,
                              threads=2, ffmpeg_params=["-crf", str(enc.crf)], temp_audiofile_path=str(out.parent),
                              logger=None)
    finally:
        final.close()
        for clip in opened:
            clip.close()
        gc.collect()


def run_moviepy_once(fx: Fixture, ffmpeg: str, work: Path) -> None:
    """Kinder to MoviePy than MoneyPrinterTurbo: the shots placed in one composite, one encode."""
    compose_moviepy(fx, fx.shot_mp4s(), work / "moviepy-once.mp4", placed=True)


# --- ours in parts (--breakdown) ------------------------------------------------------------------

def ours_picture(fx: Fixture, ffmpeg: str, out: Path, captions: bool) -> None:
    """Ours' picture alone: every shot played and mixed into the encoder (with or without captions)."""
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error",
           *encoder_args(fx.timeline, fx.fmt, fx.ass if captions else None, out)]
    scratch = Path(tempfile.mkdtemp(prefix=".picture-", dir=out.parent))
    encoder = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        play_picture(fx.timeline, fx.root, ffmpeg, encoder.stdin.fileno(), scratch)
    finally:
        encoder.stdin.close()
        encoder.wait()
        shutil.rmtree(scratch, ignore_errors=True)


def part_picture_bare(fx: Fixture, ffmpeg: str, work: Path) -> None:
    ours_picture(fx, ffmpeg, work / "picture-bare.mp4", captions=False)


def part_picture(fx: Fixture, ffmpeg: str, work: Path) -> None:
    ours_picture(fx, ffmpeg, work / "picture.mp4", captions=True)


def part_sound(fx: Fixture, ffmpeg: str, work: Path) -> str:
    stats = encode_sound(fx.timeline, fx.fmt, fx.root, ffmpeg, work / "sound.mp4")
    fixed = f", {stats.get('normalization', '')} {stats['gain_db']:+.1f} dB" if stats.get("gain_db") else ""
    return f"{ENCODES[0]} AAC encodes, {stats.get('output_i', float('nan')):.1f} LUFS{fixed}"


def part_mux(fx: Fixture, ffmpeg: str, work: Path) -> None:
    run_ffmpeg(ffmpeg, mux_args(work / "picture.mp4", work / "sound.mp4", work / "muxed.mp4", fx.timeline.title),
               stage="assemble")


ENCODES = [0]  # AAC encodes the sound part made (counted by wrapping assemble's run_ffmpeg)

RUNS = {"floor": run_floor, "ours": run_ours, "moviepy": run_moviepy, "moviepy-once": run_moviepy_once,
        "moviepy-prep": prep_moviepy,
        "picture-bare": part_picture_bare, "picture": part_picture, "sound": part_sound, "mux": part_mux}
PARTS = (("  picture, no captions", "picture-bare"), ("  picture + captions", "picture"), ("  sound", "sound"),
         ("  mux", "mux"))


def child(name: str, fixture: Path, work: Path) -> None:
    """One measured run in this (fresh) process; its Measurement as JSON on the last line of stdout."""
    import moviefactory.media.assemble as assembly

    fx: Fixture = pickle.loads(fixture.read_bytes())
    ffmpeg = ffmpeg_binary()
    run_ffmpeg_ = assembly.run_ffmpeg

    def counting(ffmpeg_, args, **kw):
        ENCODES[0] += "-acodec" in args
        return run_ffmpeg_(ffmpeg_, args, **kw)

    assembly.run_ffmpeg = counting
    with measured() as m:
        note = RUNS[name](fx, ffmpeg, work)
    print(json.dumps({**asdict(m), "note": note or ""}))


def run_child(name: str, fixture: Path, work: Path) -> tuple[Measurement, str]:
    proc = subprocess.run([sys.executable, __file__, "--child", name, "--fixture", str(fixture), "--work", str(work)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    note = data.pop("note")
    return Measurement(**data), note


# --- checks and the report ----------------------------------------------------------------------

@dataclass
class Output:
    frames: int
    size: tuple[int, int]
    pix_fmt: str
    audio_seconds: float | None


def inspect(path: Path) -> Output:
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for p in c.demux(v) if p.size)
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        size = (v.codec_context.width, v.codec_context.height)
        pix = v.codec_context.pix_fmt or ""
        a = c.streams.audio[0] if c.streams.audio else None
        seconds = float(a.duration * a.time_base) if a is not None and a.duration else None
        if a is not None and seconds is None:
            seconds = sum(float(p.duration * p.time_base) for p in c.demux(a) if p.duration)
    return Output(frames, size, pix, seconds)


def check(outputs: dict[str, Path], tl: Timeline) -> list[str]:
    warnings = []
    for name, path in outputs.items():
        o = inspect(path)
        if o.frames != tl.frames:
            warnings.append(f"{name}: {o.frames} frames, the film has {tl.frames}")
        if o.size != (tl.width, tl.height):
            warnings.append(f"{name}: {o.size[0]}x{o.size[1]}, the film is {tl.width}x{tl.height}")
        if o.pix_fmt != "yuv420p":
            warnings.append(f"{name}: pixel format {o.pix_fmt}")
        if name != "floor" and (o.audio_seconds is None or abs(o.audio_seconds - float(tl.duration)) > 0.1):
            warnings.append(f"{name}: sound {o.audio_seconds} s, the film is {float(tl.duration)} s")
    return warnings


def best(runs: list[Measurement]) -> Measurement:
    return min(runs, key=lambda m: m.wall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draft", action="store_true", help="270x480 instead of 1080x1920")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the floor and ours N times each, alternating; keep the fastest of each")
    ap.add_argument("--breakdown", action="store_true", help="also run ours' parts alone")
    ap.add_argument("--no-moviepy", action="store_true", help="skip (b)")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (fixture and outputs)")
    ap.add_argument("--child", choices=sorted(RUNS), help=argparse.SUPPRESS)
    ap.add_argument("--fixture", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.fixture, args.work)

    fmt, ffmpeg = load_format("vertical", draft=args.draft), ffmpeg_binary()
    mp_version = None if args.no_moviepy else moviepy_version()
    if mp_version is None and not args.no_moviepy:
        print("moviepy is not installed: skipping (b); install it with: make bench (pip install -e '.[bench]' && pip install --no-deps 'moviepy>=2,<3')")
    root = Path(tempfile.mkdtemp(prefix="mf-assembly-"))
    try:
        t0 = time.perf_counter()
        fx = build_fixture(root / "run", fmt, ffmpeg)
        fixture = root / "fixture.pickle"
        fixture.write_bytes(pickle.dumps(fx))
        tl = fx.timeline
        print(f"fixture: {len(tl.video)} shots ({len(ENCODED_SHOTS)} .mp4, the rest stills), "
              f"{sum(1 for c in tl.video if c.transition != 'cut')} crossfades, "
              f"{sum(1 for a in tl.audio if a.role == 'narration')} narration lines, "
              f"{sum(1 for a in tl.audio if a.role == 'music')} music clips, "
              f"{sum(1 for a in tl.audio if a.role == 'sfx')} sfx, {len(tl.cues)} captions; "
              f"{float(tl.duration):.0f} s, {tl.frames} frames at {tl.width}x{tl.height} {fmt.fps} fps; "
              f"libx264 -preset {fmt.encoder.preset} -crf {fmt.encoder.crf}, aac {fmt.encoder.audio_bitrate}; "
              f"{os.cpu_count()} cores; built in {time.perf_counter() - t0:.1f} s")
        print("each run in a fresh process (its interpreter's memory counted, its start-up not timed)")
        work = root / "out"
        (work / "parts").mkdir(parents=True)
        floors, ours = [], []
        for _ in range(max(1, args.repeat)):
            floors.append(run_child("floor", fixture, work)[0])
            ours.append(run_child("ours", fixture, work)[0])
        rows: list[tuple[str, Measurement | None]] = [("floor", best(floors)), ("ours", best(ours))]
        outputs = {"floor": work / "floor.mp4", "ours": work / "ours.mp4"}
        if mp_version is not None:
            prep = run_child("moviepy-prep", fixture, work)[0]
            rows += [(f"moviepy {mp_version}, as MoneyPrinterTurbo", run_child("moviepy", fixture, work)[0]),
                     ("  (moviepy in one composite, one encode)", run_child("moviepy-once", fixture, work)[0]),
                     ("  (moviepy prep: stills -> .mp4, as footage)", prep)]
            outputs["moviepy"] = work / "moviepy.mp4"
            outputs["moviepy-once"] = work / "moviepy-once.mp4"
        if args.breakdown:
            rows.append(("ours, in parts:", None))
            for label, name in PARTS:
                m, note = run_child(name, fixture, work / "parts")
                rows.append((f"{label} ({note})" if note else label, m))

        floor = rows[0][1]
        print(f"{'':46} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12} {'wall/floor':>11} {'cpu/floor':>10}")
        for name, m in rows:
            if m is None:
                print(name)
                continue
            print(f"{name:46} {m.wall:8.2f} {m.cpu:8.2f} {m.peak_mb:12.0f} {m.wall / floor.wall:11.2f} "
                  f"{m.cpu / floor.cpu:10.2f}")
        if args.repeat > 1:
            print(f"(fastest of {args.repeat}: floor {', '.join(f'{m.wall:.1f}' for m in floors)} s; "
                  f"ours {', '.join(f'{m.wall:.1f}' for m in ours)} s)")
        for name, m in rows:
            if m is not None and m.leftover:
                print(f"warning: {name.strip()}: {len(m.leftover)} child processes still running at its end; "
                      "their CPU is not counted")
        for warning in check(outputs, tl):
            print(f"warning: outputs not comparable: {warning}")
        if args.keep:
            print(f"kept: {root}")
        ours_m = rows[1][1]
        moviepy_ratio = rows[2][1].wall / ours_m.wall if mp_version is not None else math.nan
        print(f"ours_vs_floor={ours_m.wall / floor.wall:.2f} moviepy_vs_ours={moviepy_ratio:.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
