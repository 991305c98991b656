"""Audio libraries (music, sound effects): the item record, the on-disk index format, the cache.

An index is a folder holding `index.json` (items + the id of the model that embedded them) and,
for embedding retrievers, `embeddings.npy` (float32, one L2-normalised row per item, same order).
Content hashes let re-indexing skip files it already knows. See music_index/README.md.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

INDEX_VERSION = 1
Kind = Literal["music", "sfx"]


@dataclass(frozen=True)
class AudioItem:
    id: str  # unique in its index, e.g. 'calm-01' or 'thunder-rolling'
    path: str  # absolute, or relative to the index folder
    kind: Kind
    title: str
    description: str  # one sentence a text retriever (and a person) can read
    tags: tuple[str, ...] = ()  # moods, instruments, sources: 'tense', 'strings', 'rain'
    duration: float = 0.0  # seconds, measured from the decoded file
    sha256: str = ""  # of the file's bytes: re-indexing skips what it knows
    mood: str | None = None  # music: the catalogue mood
    tempo_bpm: float | None = None  # music: beats per minute (loops cut on bar boundaries)
    beats_per_bar: int | None = None
    extra: dict = field(default_factory=dict)

    def resolve(self, root: Path) -> Path:
        p = Path(self.path)
        return p if p.is_absolute() else root / p

    @classmethod
    def from_dict(cls, data: dict) -> "AudioItem":
        data = dict(data)
        data["tags"] = tuple(data.get("tags", ()))
        return cls(**data)


@dataclass(frozen=True)
class Hit:
    item: AudioItem
    score: float  # relevance in [0, 1], one scale for every retriever (retrieval.AudioRetriever)
    path: Path  # resolved file path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_dir() -> Path:
    """Where built libraries live: $MOVIEFACTORY_CACHE, else $XDG_CACHE_HOME/moviefactory, else ~/.cache/moviefactory."""
    explicit = os.environ.get("MOVIEFACTORY_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "moviefactory"


def write_items(folder: Path, items: list[AudioItem], *, kind: Kind, model: str = "text") -> Path:
    """Write index.json for `items` (temp name, then rename)."""
    from ..media.files import write_text

    payload = {"version": INDEX_VERSION, "kind": kind, "model": model, "items": [asdict(i) for i in items]}
    return write_text(folder / "index.json", json.dumps(payload, ensure_ascii=False, indent=1))


def read_items(folder: Path) -> tuple[list[AudioItem], dict]:
    data = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    return [AudioItem.from_dict(d) for d in data["items"]], {k: v for k, v in data.items() if k != "items"}
