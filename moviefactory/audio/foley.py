"""The default sound-effect library: procedural foley that needs no network and no model.

`configs/sfx/catalogue.yaml` lists the clips as data (id, title, one-sentence description, tags,
duration, recipe + params); `foley_recipes` synthesises them with numpy, seeded by the clip id, so
two builds are byte-identical. `build_default_sfx()` writes each clip as a 16-bit stereo 48 kHz WAV
(temp name, then rename), measures its duration from the written file, and writes the library's
index.json (`moviefactory.audio.library`). Clips already built from the same recipe, params and
FOLEY_VERSION are skipped, so only new or changed catalogue entries cost anything.

    python -m moviefactory.audio.foley            # build (or refresh) the default library, print its folder
"""
from __future__ import annotations

import hashlib
import json
import os
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import yaml

from ..media.files import atomic_path
from ..resources import config_path
from .foley_recipes import RECIPES, render
from .library import AudioItem, cache_dir, file_sha256, read_items, write_items

FOLEY_VERSION = 1  # bump when a recipe's code changes its output: every clip is rebuilt
SAMPLE_RATE = 48000
CHANNELS = 2
PEAK_DBFS = -3.0
FADE_IN, FADE_OUT = 0.004, 0.04  # seconds; raised-cosine, so no clip starts or ends with a click
MIN_DURATION, MAX_DURATION = 1.0, 12.0
LIBRARY_NAME = f"default-v{FOLEY_VERSION}"
_SPEC_KEYS = ("recipe", "params", "env", "reverb", "gain")


def catalogue_path() -> Path:
    return config_path("sfx/catalogue.yaml")


def load_catalogue(path: Path | None = None) -> list[dict]:
    """The catalogue's clips, checked: unique ids, a description, tags, a known recipe, 1-12 s."""
    path = path or catalogue_path()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    clips = data.get("clips") or []
    seen: set[str] = set()
    for clip in clips:
        cid = clip.get("id")
        where = f"{path.name}: clip {cid!r}"
        if not cid or cid in seen:
            raise ValueError(f"{where}: missing or duplicate id")
        seen.add(cid)
        if not str(clip.get("description", "")).strip() or not clip.get("title") or not clip.get("tags"):
            raise ValueError(f"{where}: needs a title, a description and tags")
        if not MIN_DURATION <= float(clip.get("duration", 0)) <= MAX_DURATION:
            raise ValueError(f"{where}: duration must be {MIN_DURATION:g}-{MAX_DURATION:g} s")
        if clip.get("recipe") not in RECIPES:
            raise ValueError(f"{where}: unknown recipe {clip.get('recipe')!r}")
    return clips


def default_sfx_path() -> Path:
    return cache_dir() / "sfx" / LIBRARY_NAME


def recipe_key(clip: dict) -> str:
    """What a clip's audio depends on: the code version, the format, the duration and the recipe spec."""
    spec = {k: clip.get(k) for k in _SPEC_KEYS}
    blob = json.dumps({"v": FOLEY_VERSION, "sr": SAMPLE_RATE, "id": clip["id"], "duration": float(clip["duration"]),
                       "spec": spec}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _rng(clip_id: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(clip_id.encode()).digest()[:8], "big"))


def synthesize(clip: dict, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Render one catalogue clip: float (2, n) in [-1, 1], DC-free, faded, peak at PEAK_DBFS."""
    n = int(round(float(clip["duration"]) * sr))
    x = render({k: clip[k] for k in _SPEC_KEYS if k in clip}, _rng(clip["id"]), n, sr)
    x = np.nan_to_num(x)
    x -= x.mean(axis=1, keepdims=True)  # no DC offset
    fade_in, fade_out = int(FADE_IN * sr), int(FADE_OUT * sr)
    x[:, :fade_in] *= 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade_in))
    x[:, n - fade_out:] *= 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fade_out))
    peak = np.abs(x).max()
    if not np.isfinite(peak) or peak < 1e-9:
        raise ValueError(f"foley clip {clip['id']!r} rendered silent")
    return x * (10 ** (PEAK_DBFS / 20) / peak)


def write_wav(path: Path, audio: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """16-bit PCM WAV (stdlib `wave`), written to a temp name and renamed into place."""
    pcm = np.round(np.clip(audio, -1, 1) * 32767).astype("<i2").T.tobytes()
    with atomic_path(path) as tmp:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(audio.shape[0])
            w.setsampwidth(2)
            w.setframerate(sr)
            w.writeframes(pcm)


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def _item(clip: dict, path: Path, key: str) -> AudioItem:
    return AudioItem(
        id=clip["id"], path=path.name, kind="sfx", title=clip["title"], description=clip["description"].strip(),
        tags=tuple(clip["tags"]), duration=round(wav_duration(path), 6), sha256=file_sha256(path),
        extra={"recipe": clip["recipe"], "recipe_key": key, "foley_version": FOLEY_VERSION,
               "sample_rate": SAMPLE_RATE, "channels": CHANNELS, "procedural": True, **(clip.get("extra") or {})},
    )


def _existing(dest: Path) -> dict[str, AudioItem]:
    try:
        return {i.id: i for i in read_items(dest)[0]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _is_current(item: AudioItem | None, dest: Path, key: str, *, verify: bool) -> bool:
    if item is None or item.extra.get("recipe_key") != key:
        return False
    path = item.resolve(dest)
    return path.is_file() and (not verify or file_sha256(path) == item.sha256)


def build_default_sfx(dest: Path | None = None, *, only: list[str] | None = None) -> list[AudioItem]:
    """Synthesise the catalogue (or the clips in `only`) into `dest` and index it.

    Returns the items of the clips asked for, in catalogue order.

    A clip whose file exists with the recorded hash and whose recipe key is unchanged is not rebuilt.
    The index keeps every current catalogue clip found in `dest`, in catalogue order.
    """
    dest = Path(dest) if dest is not None else default_sfx_path()
    clips = load_catalogue()
    if only is not None:
        unknown = set(only) - {c["id"] for c in clips}
        if unknown:
            raise ValueError(f"unknown sound-effect ids: {', '.join(sorted(unknown))}")
    wanted = set(only) if only is not None else {c["id"] for c in clips}
    old = _existing(dest)
    items: dict[str, AudioItem] = {}
    todo = []
    for clip in clips:
        key, prior = recipe_key(clip), old.get(clip["id"])
        if _is_current(prior, dest, key, verify=clip["id"] in wanted):
            items[clip["id"]] = prior
        elif clip["id"] in wanted:
            todo.append(clip)

    def make(clip: dict) -> AudioItem:
        path = dest / f"{clip['id']}.wav"
        write_wav(path, synthesize(clip))
        return _item(clip, path, recipe_key(clip))

    # numpy's FFTs and ufuncs release the GIL, so threads use every core; each clip has its own seed.
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1, len(todo)))) as pool:
        for item in pool.map(make, todo):
            items[item.id] = item
    items = {c["id"]: items[c["id"]] for c in clips if c["id"] in items}  # catalogue order
    changed = list(items) != list(old) or any(items[i] is not old[i] for i in items)
    if changed or not (dest / "index.json").is_file():
        (dest / "embeddings.npy").unlink(missing_ok=True)  # rows would no longer match the items
        write_items(dest, list(items.values()), kind="sfx")
    return [items[c["id"]] for c in clips if c["id"] in wanted]


def default_sfx_dir(build: bool = True) -> Path:
    """The default library's folder, built (or brought up to date with the catalogue) first if `build`."""
    dest = default_sfx_path()
    if build:
        have = _existing(dest)
        if any(not _is_current(have.get(c["id"]), dest, recipe_key(c), verify=False) for c in load_catalogue()):
            build_default_sfx(dest)
    return dest


if __name__ == "__main__":  # pragma: no cover - a convenience for building the cache by hand
    print(default_sfx_dir())
