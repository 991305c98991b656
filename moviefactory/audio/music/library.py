"""The default music library, built offline: every catalogue track composed (compose.py), rendered with
the General-MIDI SoundFont pretty_midi ships (TimGM6mb.sf2) by tinysoundfont, given a small room,
normalised, encoded to Opus by ffmpeg, measured by decoding, and indexed (index.json, see
../library.py). `build.json` remembers each track's fingerprint so a rebuild only redoes what changed.
"""
from __future__ import annotations

import fcntl
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Callable

import numpy as np

from ...errors import InputError, MissingDependencyError, RenderError, ToolError
from ...media.ffmpeg import ffmpeg_binary
from ...media.files import atomic_path, write_text
from ..library import AudioItem, cache_dir, file_sha256, read_items, write_items
from .catalogue import COMPOSER_VERSION, TrackSpec, catalogue_path, load_catalogue
from .compose import compose, midi_bytes

SAMPLE_RATE = 48_000  # Opus's own rate: no resampling on the way in or out
BITRATE = "64k"  # VBR Opus, stereo
PEAK_DBFS = -3.0
STEM_DB = {"lead": 0.0, "harmony": -6.0, "texture": -7.0, "bass": -4.0, "drums": -8.0}  # RMS vs the lead
RENDER_VERSION = f"tsf-TimGM6mb/stems1/room2/opus-{BITRATE}-c6/{SAMPLE_RATE}"  # bump when the sound changes
PACKAGE_ROOT = Path(__file__).resolve().parents[3]  # holds moviefactory/, for worker processes
Progress = Callable[[int, int, str], None]  # (tracks done, tracks wanted, 'calm-01 built in 1.2 s')


def default_music_dest() -> Path:
    return cache_dir() / "music" / "default-v1"


def default_music_dir(build: bool = True) -> Path:
    """The default library's folder; with `build`, builds what is missing first (cheap when built)."""
    dest = default_music_dest()
    if build:
        build_default_music(dest)
    return dest


def build_default_music(dest: Path | None = None, *, only: list[str] | None = None, progress: Progress | None = None,
                        workers: int | None = None, catalogue: Path | None = None) -> list[AudioItem]:
    """Build the catalogue's tracks (or `only` these ids) into `dest`; return their items.

    A track whose catalogue entry, composer and renderer are unchanged and whose file is intact is
    skipped. index.json lists every built track of the catalogue (paths relative to `dest`).
    """
    dest = Path(dest) if dest else default_music_dest()
    specs = load_catalogue(catalogue)
    if only is not None:
        unknown = sorted(set(only) - {s.id for s in specs})
        if unknown:
            raise InputError(f"no such track in the music catalogue: {', '.join(unknown)}")
    wanted = [s for s in specs if only is None or s.id in only]
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder per folder; a second waits, then finds it built
        manifest = _read_manifest(dest)
        ready, todo = {}, []
        for spec in wanted:
            rec = manifest.get(spec.id)
            if rec and rec["fingerprint"] == _fingerprint(spec) and _intact(dest, rec["item"]):
                ready[spec.id] = AudioItem.from_dict(rec["item"])
                _tell(progress, len(ready), len(wanted), f"{spec.id} already built")
            else:
                todo.append(spec)
        try:
            for spec, item, seconds in _build_all(todo, dest, workers, catalogue):
                ready[spec.id] = item
                manifest[spec.id] = {"fingerprint": _fingerprint(spec), "item": asdict(item)}
                _tell(progress, len(ready), len(wanted), f"{spec.id} built in {seconds:.1f} s")
        finally:
            _finish(dest, specs, manifest)
    return [ready[s.id] for s in wanted]


def _build_all(todo: list[TrackSpec], dest: Path, workers: int | None, catalogue: Path | None):
    """Yield (spec, item, seconds) as tracks finish; several tracks run in parallel worker processes.

    Workers are `python -m moviefactory.audio.music.library` (tinysoundfont holds the GIL), so they
    never re-import the caller's script the way multiprocessing's spawn would.
    """
    if not todo:
        return
    ffmpeg, by_id = ffmpeg_binary(), {s.id: s for s in todo}
    workers = min(workers or os.cpu_count() or 1, len(todo))
    if workers == 1:
        for spec in todo:
            yield spec, *build_track(spec, dest, ffmpeg)
        return
    lanes, loads = [[] for _ in range(workers)], [0.0] * workers
    for spec in sorted(todo, key=lambda s: -s.seconds):  # longest first, onto the lightest lane
        k = loads.index(min(loads))
        lanes[k].append(spec.id)
        loads[k] += spec.seconds
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])))
    lines: queue.Queue = queue.Queue()
    procs = []
    try:
        for lane in lanes:
            args = [sys.executable, "-m", "moviefactory.audio.music.library", str(catalogue or catalogue_path()),
                    str(dest), ffmpeg, *lane]
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=tempfile.TemporaryFile(), env=env, text=True)
            threading.Thread(target=lambda p=proc: [*map(lines.put, p.stdout), lines.put(None)], daemon=True).start()
            procs.append(proc)
        for _ in procs:
            while (line := lines.get()) is not None:
                rec = json.loads(line)
                yield by_id[rec["id"]], AudioItem.from_dict(rec["item"]), rec["seconds"]
        for proc in procs:
            if proc.wait() != 0:
                proc.stderr.seek(0)
                raise RenderError(f"a music worker failed (exit {proc.returncode})", stage="music",
                                  stderr=proc.stderr.read().decode("utf-8", "replace"))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def build_track(spec: TrackSpec, dest: Path, ffmpeg: str) -> tuple[AudioItem, float]:
    """Compose, render, encode and measure one track into `dest`; return its item and the seconds taken."""
    start = time.perf_counter()
    midi = compose(spec)
    with atomic_path(dest / "midi" / f"{spec.id}.mid") as tmp:
        tmp.write_bytes(midi_bytes(midi))
    audio = render(midi, spec.seconds, reverb=spec.reverb, fade=60.0 / spec.tempo)
    target = dest / f"{spec.id}.ogg"
    with atomic_path(target) as tmp:
        encode_opus(audio, tmp, ffmpeg)
    parts = spec.parts
    item = AudioItem(
        id=spec.id, path=target.name, kind="music", title=spec.title, description=spec.description,
        tags=tuple(dict.fromkeys((spec.mood, *spec.tags))), duration=round(decoded_seconds(target), 4),
        sha256=file_sha256(target), mood=spec.mood, tempo_bpm=spec.tempo, beats_per_bar=spec.meter,
        extra={"key": f"{spec.key} {spec.mode.replace('_', ' ')}", "form": spec.form, "bars": spec.bars,
               "instruments": {r: p.get("name", p.get("style", "")) for r, p in parts.items()},
               "midi": f"midi/{spec.id}.mid", "composer": COMPOSER_VERSION, "render": RENDER_VERSION})
    return item, time.perf_counter() - start


# --- sound -------------------------------------------------------------------------------------
@cache
def soundfont_path() -> Path:
    try:
        import pretty_midi
    except ImportError:  # pragma: no cover - a broken install
        raise MissingDependencyError("the default music needs pretty_midi: pip install pretty_midi") from None
    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not path.is_file():  # pragma: no cover
        raise MissingDependencyError(f"pretty_midi's General-MIDI SoundFont is missing ({path})")
    return path


def render(midi, seconds: float, *, reverb: float = 0.2, fade: float = 0.5) -> np.ndarray:
    """`midi` (pretty_midi) as float32 stereo at SAMPLE_RATE, exactly `seconds` long, peak at PEAK_DBFS.

    Each part is synthesised alone and mixed at its role's level relative to the lead (STEM_DB), so
    loud and quiet General-MIDI presets balance; then a room, a fade over `fade` seconds, the peak.
    """
    total = round(seconds * SAMPLE_RATE)
    out, lead = np.zeros((total, 2), np.float32), 0.0
    for inst in midi.instruments:
        stem = _synthesise(inst, total)
        level = _level(stem)
        if level > 0:
            lead = lead or level  # the lead comes first
            gain = lead / level * 10 ** (STEM_DB.get(inst.name.split(":")[0], -6.0) / 20)
            out += stem * np.float32(gain)
    if reverb > 0:
        _add_room(out, reverb)
    n = min(total, max(1, round(fade * SAMPLE_RATE)))
    out[-n:] *= (0.5 + 0.5 * np.cos(np.linspace(0, np.pi, n, dtype=np.float32)))[:, None]
    peak = float(np.abs(out).max())
    return out * np.float32(10 ** (PEAK_DBFS / 20) / peak) if peak > 0 else out


def _synthesise(inst, total: int) -> np.ndarray:
    """One pretty_midi instrument through tinysoundfont, sample-accurately, as (total, 2) float32."""
    try:
        import tinysoundfont
    except ImportError:  # pragma: no cover
        raise MissingDependencyError("the default music needs tinysoundfont: pip install tinysoundfont") from None
    synth, ch = tinysoundfont.Synth(samplerate=SAMPLE_RATE), 9 if inst.is_drum else 0
    sfid = synth.sfload(str(soundfont_path()), max_voices=64)  # the oldest releasing voice gives way
    synth.program_select(ch, sfid, 128 if inst.is_drum else 0, 0 if inst.is_drum else inst.program, inst.is_drum)
    events = [(round(c.time * SAMPLE_RATE), 1, c.number, c.value) for c in inst.control_changes]
    for n in inst.notes:  # at one instant: note-offs, then controls, then note-ons
        events += [(round(n.start * SAMPLE_RATE), 2, n.pitch, n.velocity), (round(n.end * SAMPLE_RATE), 0, n.pitch, 0)]
    buf, pos = memoryview(bytearray(total * 8)), 0  # interleaved float32 stereo
    for at, kind, a, b in sorted(events):
        if (at := min(at, total)) > pos:
            synth.generate_simple(at - pos, buffer=buf[pos * 8:at * 8])
            pos = at
        if kind == 0:
            synth.noteoff(ch, a)
        elif kind == 1:
            synth.control_change(ch, a, b)
        else:
            synth.noteon(ch, a, b)
    if pos < total:
        synth.generate_simple(total - pos, buffer=buf[pos * 8:])
    return np.frombuffer(buf, dtype=np.float32).reshape(-1, 2)


def _level(stem: np.ndarray, window: int = SAMPLE_RATE // 10) -> float:
    """RMS over the windows where the part plays (within 20 dB of its loudest), 0.0 when silent."""
    n = len(stem) // window * window
    frames = stem[:n].reshape(-1, window * 2)
    rms = np.sqrt(np.einsum("ij,ij->i", frames, frames) / (window * 2))
    if n == 0 or rms.max() <= 0:
        return 0.0
    return float(np.sqrt((rms[rms > rms.max() * 0.1] ** 2).mean()))


def _add_room(out: np.ndarray, amount: float) -> None:
    """Add the reverb of `out` to it: its mono sum at half rate through a fixed stereo room.

    A room's tail has little above 12 kHz, and half the rate is a third of the work.
    """
    half = out[: len(out) // 2 * 2].reshape(-1, 4).mean(axis=1, keepdims=True)  # (L0+R0+L1+R1)/4
    wet = _convolve(half, _room(SAMPLE_RATE // 2)) * np.float32(amount)
    out[0:2 * len(wet):2] += wet
    out[1:2 * len(wet) - 1:2] += (wet[:-1] + wet[1:]) * np.float32(0.5)  # linear interpolation


@cache
def _room(rate: int, seconds: float = 1.6, rt60: float = 1.8) -> np.ndarray:
    """A fixed stereo room: decaying, slightly darkened noise after a 12 ms pre-delay, unit energy."""
    n = round(seconds * rate)
    noise = np.random.default_rng(1).standard_normal((n + 1, 2))
    ir = (noise[1:] + noise[:-1]) / 2 * np.exp(-6.9 * np.arange(n) / rate / rt60)[:, None]
    ir[: round(0.012 * rate)] = 0
    return (ir / np.sqrt((ir ** 2).sum(axis=0))).astype(np.float32)


def _convolve(x: np.ndarray, ir: np.ndarray, nfft: int = 1 << 17) -> np.ndarray:
    """Overlap-add FFT convolution of (n, 1 or 2) `x` with a (m, 2) `ir`, cut to len(x)."""
    step, spectrum = nfft - len(ir) + 1, np.fft.rfft(ir, nfft, axis=0)
    out = np.zeros((len(x) + nfft, 2), dtype=np.float32)
    for s in range(0, len(x), step):
        out[s:s + nfft] += np.fft.irfft(np.fft.rfft(x[s:s + step], nfft, axis=0) * spectrum, nfft, axis=0)
    return out[: len(x)]


def encode_opus(audio: np.ndarray, target: Path, ffmpeg: str) -> None:
    """Pipe float32 stereo PCM into ffmpeg (so no -nostdin); bitexact, so equal audio gives equal bytes."""
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "2",
           "-i", "pipe:0", "-c:a", "libopus", "-b:a", BITRATE, "-vbr", "on", "-compression_level", "6",
           "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "ogg", str(target)]
    proc = subprocess.run(cmd, input=np.ascontiguousarray(audio, dtype="<f4").tobytes(), capture_output=True)
    if proc.returncode != 0:
        raise ToolError(f"ffmpeg failed (exit {proc.returncode})", stage="music",
                        stderr=proc.stderr.decode("utf-8", "replace"))


def decoded_seconds(path: Path) -> float:
    """The duration of the audio a decoder really produces (encoder padding trimmed)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.codec_context.sample_rate


# --- bookkeeping -------------------------------------------------------------------------------
def _fingerprint(spec: TrackSpec) -> str:
    return f"{spec.fingerprint()}/{RENDER_VERSION}"


def _intact(dest: Path, item: dict) -> bool:
    path = dest / item["path"]
    return path.is_file() and path.stat().st_size > 0 and file_sha256(path) == item["sha256"]


def _read_manifest(dest: Path) -> dict:
    try:
        return json.loads((dest / "build.json").read_text(encoding="utf-8"))["tracks"]
    except (OSError, ValueError, KeyError):
        return {}


def _finish(dest: Path, specs: list[TrackSpec], manifest: dict) -> None:
    """Drop tracks the catalogue no longer has; write build.json and index.json when they change."""
    ids = {s.id for s in specs}
    for gone in [k for k in manifest if k not in ids]:
        for rel in (manifest[gone]["item"]["path"], manifest[gone]["item"].get("extra", {}).get("midi")):
            if rel and (dest / rel).is_file():
                (dest / rel).unlink()
        del manifest[gone]
    text = json.dumps({"version": 1, "tracks": {s.id: manifest[s.id] for s in specs if s.id in manifest}},
                      ensure_ascii=False, indent=1)
    if not (dest / "build.json").is_file() or (dest / "build.json").read_text(encoding="utf-8") != text:
        write_text(dest / "build.json", text)
    items = [AudioItem.from_dict(manifest[s.id]["item"]) for s in specs if s.id in manifest]
    try:
        unchanged = read_items(dest)[0] == items
    except (OSError, ValueError, KeyError, TypeError):
        unchanged = False
    if not unchanged:
        write_items(dest, items, kind="music")


def _tell(progress: Progress | None, done: int, total: int, detail: str) -> None:
    if progress is not None:
        progress(done, total, detail)


def _worker(catalogue: str, dest: str, ffmpeg: str, *ids: str) -> None:
    """Build `ids` into `dest`, printing one JSON line per finished track (see _build_all)."""
    specs = {s.id: s for s in load_catalogue(Path(catalogue))}
    for tid in ids:
        item, seconds = build_track(specs[tid], Path(dest), ffmpeg)
        print(json.dumps({"id": tid, "item": asdict(item), "seconds": seconds}), flush=True)


if __name__ == "__main__":
    _worker(*sys.argv[1:])
