"""The default music library, built offline: every catalogue track composed (compose.py), rendered with
the General-MIDI SoundFont pretty_midi ships (TimGM6mb.sf2) by tinysoundfont, given a small room,
normalised, encoded to Opus by ffmpeg, measured by decoding, and indexed (index.json, see
../library.py). `build.json` remembers each track's fingerprint so a rebuild only redoes what changed.
"""
from __future__ import annotations

import fcntl
import hashlib
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

from ...errors import InputError, RenderError
from ...media.ffmpeg import ffmpeg_binary
from ...media.files import atomic_path, write_text
from ..library import AudioItem, cache_dir, file_sha256, read_items, write_items
from .catalogue import COMPOSER_VERSION, TrackSpec, catalogue_path, load_catalogue
from .compose import compose, midi_bytes
from .render import RENDER_VERSION, decoded_seconds, encode_opus, render

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
    skipped. index.json lists every up-to-date track in `dest` (paths relative to it).
    """
    dest = Path(dest) if dest else default_music_dest()
    specs = load_catalogue(catalogue)
    if only is not None:
        unknown = sorted(set(only) - {s.id for s in specs})
        if unknown:
            raise InputError(f"no such track in the music catalogue: {', '.join(unknown)}")
    wanted = [s for s in specs if only is None or s.id in only]
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / ".build.lock", "a") as lock:  # "a": taking the lock leaves the folder untouched
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
    workers_: list[tuple[subprocess.Popen, object]] = []

    def pump(proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    try:
        for lane in lanes:
            args = [sys.executable, "-m", "moviefactory.audio.music.library", str(catalogue or catalogue_path()),
                    str(dest), ffmpeg, *lane]
            err = tempfile.TemporaryFile()
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, env=env, text=True)
            workers_.append((proc, err))
            threading.Thread(target=pump, args=(proc,), daemon=True).start()
        for _ in workers_:
            while (line := lines.get()) is not None:
                rec = json.loads(line)
                yield by_id[rec["id"]], AudioItem.from_dict(rec["item"]), rec["seconds"]
        for proc, err in workers_:
            if proc.wait() != 0:
                err.seek(0)
                raise RenderError(f"a music worker failed (exit {proc.returncode})", stage="music",
                                  stderr=err.read().decode("utf-8", "replace"))
    finally:
        for proc, err in workers_:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            err.close()


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


# --- bookkeeping -------------------------------------------------------------------------------
def _fingerprint(spec: TrackSpec) -> str:
    return f"{spec.fingerprint()}/{RENDER_VERSION}/{_code_digest()}"


@cache
def _code_digest() -> str:
    """Of the composer's and renderer's source: editing them rebuilds, even if no version was bumped."""
    h = hashlib.sha256()
    for name in ("catalogue.py", "compose.py", "render.py"):
        try:
            h.update((Path(__file__).with_name(name)).read_bytes())
        except OSError:  # pragma: no cover - installed without sources
            pass
    return h.hexdigest()[:16]


def _intact(dest: Path, item: dict) -> bool:
    path = dest / item["path"]
    return path.is_file() and path.stat().st_size > 0 and file_sha256(path) == item["sha256"]


def _read_manifest(dest: Path) -> dict:
    try:
        return json.loads((dest / "build.json").read_text(encoding="utf-8"))["tracks"]
    except (OSError, ValueError, KeyError):
        return {}


def _finish(dest: Path, specs: list[TrackSpec], manifest: dict) -> None:
    """Drop tracks the catalogue no longer has; write build.json and index.json when they change.

    index.json lists the tracks built from the current catalogue, composer and renderer.
    """
    ids = {s.id for s in specs}
    for gone in [k for k in manifest if k not in ids]:
        for rel in (manifest[gone]["item"]["path"], manifest[gone]["item"].get("extra", {}).get("midi")):
            if rel and (dest / rel).is_file():
                (dest / rel).unlink()
        del manifest[gone]
    text = json.dumps({"version": 1, "tracks": {s.id: manifest[s.id] for s in specs if s.id in manifest}},
                      ensure_ascii=False, indent=1)
    current = [s for s in specs if s.id in manifest and manifest[s.id]["fingerprint"] == _fingerprint(s)]
    if not (dest / "build.json").is_file() or (dest / "build.json").read_text(encoding="utf-8") != text:
        write_text(dest / "build.json", text)
    items = [AudioItem.from_dict(manifest[s.id]["item"]) for s in current]  # stale entries wait for a rebuild
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
