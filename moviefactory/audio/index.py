"""Indexing a user's folder of music or sound effects into an audio library index.

`index_folder(folder, dest, kind=...)` walks the folder, decodes every audio file with PyAV (so a
duration is measured, never trusted from a header), hashes it, and writes `dest/index.json` in the
format of `moviefactory.audio.library`. Files already in the index (same sha256) are skipped, so
re-indexing a large folder only costs the new files. Files that cannot be used are reported by
name with a reason (corrupt, zero-length, not audio) instead of stopping the run.

With an `embedder` (e.g. `moviefactory.audio.retrieval.load_clap(...)`), every item also gets an
L2-normalised row in `dest/embeddings.npy` (same order as the items) and index.json records the
embedder's model id; an index embedded by another model is re-embedded.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import InputError
from .library import AudioItem, Kind, file_sha256, read_items, write_items

AUDIO_EXTENSIONS = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif", ".aiff",
    ".aifc", ".wma", ".mka", ".webm", ".mp2", ".ac3", ".caf", ".au", ".alac", ".ape", ".wv",
})
EMBEDDINGS_FILE = "embeddings.npy"
TEXT_MODEL = "text"  # the `model` recorded in index.json when there are no embeddings

_MOODS = ("calm", "tense", "happy", "sad", "epic", "dark", "romantic", "mysterious", "playful", "triumphant",
          "melancholic", "uplifting", "peaceful", "scary", "suspense", "dramatic", "hopeful", "energetic")
_CREDIT_TAGS = ("artist", "album", "album_artist", "composer", "copyright", "license", "date", "url")
_SNIFF = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive"), (b"BM", "a BMP image"))


@runtime_checkable
class AudioEmbedder(Protocol):
    """What index_folder needs from an embedding model (CLAP: `retrieval.ClapEmbedder`)."""

    model_id: str  # recorded in index.json; another id means the index is re-embedded
    sample_rate: int  # audio is decoded and resampled to this rate before `embed_audio`

    def embed_audio(self, samples: np.ndarray) -> np.ndarray:
        """Mono float32 samples at `sample_rate` -> one L2-normalised float32 vector."""
        ...


@dataclass(frozen=True)
class BadFile:
    name: str  # path relative to the indexed folder
    reason: str  # starts with 'corrupt', 'zero-length', 'not audio' or 'duplicate'


@dataclass
class IndexReport:
    dest: Path
    kind: str
    model: str  # embedder model id, or 'text'
    added: list[str] = field(default_factory=list)  # item ids new in this run
    skipped: list[str] = field(default_factory=list)  # file names already in the index (same content hash)
    bad: list[BadFile] = field(default_factory=list)  # audio-named files that could not be used
    ignored: list[BadFile] = field(default_factory=list)  # not an audio file type (cover.jpg), or duplicate content
    removed: list[str] = field(default_factory=list)  # item ids whose files are gone
    embedded: int = 0  # items (re-)embedded in this run
    total: int = 0  # items in the index after this run
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.embedded)

    def summary(self) -> str:
        """A few lines for the CLI: counts, then every bad file with its reason."""
        lines = [f"{self.kind} index {self.dest}: {self.total} items ({len(self.added)} new, "
                 f"{len(self.skipped)} already indexed, {len(self.removed)} removed, {len(self.bad)} bad, "
                 f"{len(self.ignored)} not audio); model {self.model}"
                 + (f", {self.embedded} embedded" if self.embedded else "")]
        lines += [f"  bad: {b.name}: {b.reason}" for b in self.bad]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


class _Unusable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_audio(path: Path, rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode the first audio stream to mono float32 (resampled to `rate` if given).

    Raises InputError naming the file and why it is unusable (corrupt, zero-length, not audio).
    A file that decodes partly (a truncated download) yields the samples that decoded.
    """
    try:
        return _decode(Path(path), rate)
    except _Unusable as exc:
        raise InputError(f"cannot use {path}: {exc.reason}") from None


def _decode(path: Path, rate: int | None) -> tuple[np.ndarray, int]:
    import av

    if path.stat().st_size == 0:
        raise _Unusable("zero-length (empty file)")
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise _Unusable(_sniff(path) or f"corrupt (cannot be decoded: {_short(exc)})") from None
    chunks: list[np.ndarray] = []
    with container:
        if not container.streams.audio:
            found = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
            raise _Unusable(f"not audio ({container.format.name}: {found}, no audio stream)")
        stream = container.streams.audio[0]
        out_rate = rate or stream.codec_context.sample_rate or 48000
        resampler = av.AudioResampler(format="flt", layout="mono", rate=out_rate)
        error = None
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except (av.FFmpegError, ValueError) as exc:
            error = exc
    samples = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        if error is not None:
            raise _Unusable(f"corrupt (no audio could be decoded: {_short(error)})")
        raise _Unusable("zero-length (no audio samples)")
    return samples, out_rate


def _sniff(path: Path) -> str | None:
    """Name what a file that ffmpeg cannot open actually is, when it is plainly something else."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    for magic, what in _SNIFF:
        if head.startswith(magic):
            return f"not audio (the file is {what})"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text and sum(ch.isprintable() or ch.isspace() for ch in text) >= 0.95 * len(text):
        return "not audio (the file is text)"
    return None


def _short(exc: Exception) -> str:
    msg = str(exc)
    return msg.split(":", 1)[0].split("] ", 1)[-1].strip() or type(exc).__name__


def _metadata(path: Path) -> dict[str, str]:
    """Container + audio-stream tags (ID3, Vorbis comments, MP4 atoms), keys lower-cased."""
    import av

    tags: dict[str, str] = {}
    try:
        with av.open(str(path)) as c:
            sources = [c.metadata] + [s.metadata for s in c.streams.audio[:1]]
            for meta in sources:
                for key, value in (meta or {}).items():
                    if isinstance(value, str) and value.strip():
                        tags.setdefault(key.lower(), value.strip())
    except (av.FFmpegError, ValueError):
        pass
    return tags


_SPLIT = re.compile(r"[\s_\-.,;/()\[\]{}+&]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_LEADING_TRACK = re.compile(r"^\s*(?:\d{1,3}|[A-Za-z]\d{1,2})(?:\s*[-_.]\s*|\s+)(?=\S)")


def _words(text: str) -> list[str]:
    return [w for w in _SPLIT.split(_CAMEL.sub(" ", text)) if w]


def _title_from_stem(stem: str) -> str:
    stem = _LEADING_TRACK.sub("", stem) or stem
    words = _words(stem)
    if not words:
        return stem
    title = " ".join(words)
    return title[0].upper() + title[1:]


def describe(
    rel: Path, kind: Kind, tags_meta: dict[str, str]
) -> tuple[str, str, tuple[str, ...], str | None, float | None]:
    """Title, description, tags, mood, tempo from the file name, its folders and its metadata tags."""
    folders = [p for p in rel.parent.parts if p not in ("", ".")]
    title = tags_meta.get("title") or _title_from_stem(rel.stem)
    tags: list[str] = []
    for name in folders:
        tags += [w.lower() for w in _words(name) if not w.isdigit()]
    genre = tags_meta.get("genre", "")
    tags += [g.strip().lower() for g in re.split(r"[,;/]", genre) if g.strip()]
    tags = list(dict.fromkeys(t for t in tags if len(t) > 1))
    vocab = set(tags) | {w.lower() for w in _words(title)} | {w.lower() for w in _words(rel.stem)}
    mood = next((m for m in _MOODS if m in vocab), None) if kind == "music" else None
    tempo = None
    for key in ("tbpm", "bpm", "tempo"):
        try:
            tempo = float(tags_meta[key]) if key in tags_meta else tempo
        except ValueError:
            pass
    what = "Music" if kind == "music" else "Sound effect"
    parts = [f"{what}: {title}"]
    if rel.stem.lower() != title.lower() and _title_from_stem(rel.stem).lower() != title.lower():
        parts.append(f"file {_title_from_stem(rel.stem)}")
    if folders:
        parts.append("from " + " / ".join(" ".join(_words(f)) or f for f in folders))
    if genre:
        parts.append(f"genre {genre}")
    if tags_meta.get("artist"):
        parts.append(f"by {tags_meta['artist']}")
    description = ", ".join(parts) + "."
    comment = tags_meta.get("comment") or tags_meta.get("description")
    if comment:
        description += f" {comment.strip()}"
    return title, description, tuple(tags), mood, tempo


def _slug(rel: Path) -> str:
    text = " ".join(list(rel.parent.parts) + [rel.stem]).lower()
    slug = re.sub(r"[^0-9a-z\u4e00-\u9fff]+", "-", text).strip("-")
    return slug[:80] or "item"


def _store_path(path: Path, dest: Path) -> str:
    path, dest = path.resolve(), dest.resolve()
    try:
        return path.relative_to(dest).as_posix()
    except ValueError:
        return str(path)


def _walk(folder: Path, dest: Path) -> list[Path]:
    dest = dest.resolve()
    found = []
    for root, dirs, files in os.walk(folder):
        root_path = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (root_path / d).resolve() != dest)
        found += [root_path / f for f in sorted(files) if not f.startswith(".")]
    return found


def load_embeddings(dest: Path, items: list[AudioItem] | None = None) -> np.ndarray | None:
    """The index's embeddings (one row per item), or None when absent or not aligned with the items."""
    path = Path(dest) / EMBEDDINGS_FILE
    if not path.is_file():
        return None
    if items is None:
        items, _ = read_items(Path(dest))
    emb = np.load(path)
    if emb.ndim != 2 or emb.shape[0] != len(items):
        return None
    return emb.astype(np.float32, copy=False)


def index_folder(folder: Path, dest: Path, *, kind: Kind, embedder: AudioEmbedder | None = None) -> IndexReport:
    """Index the audio files under `folder` into the library index at `dest` (created or updated).

    Known files (same sha256 as an indexed item) are skipped; items whose file is gone are removed;
    bad files are reported, never fatal. With `embedder`, embeddings.npy is kept aligned with the
    items and index.json records `embedder.model_id`.
    """
    from ..media.files import atomic_path

    folder, dest = Path(folder), Path(dest)
    if kind not in ("music", "sfx"):
        raise InputError(f"unknown library kind {kind!r}; use 'music' or 'sfx'")
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    old_items: list[AudioItem] = []
    old_model = TEXT_MODEL
    if (dest / "index.json").is_file():
        old_items, meta = read_items(dest)
        old_model = meta.get("model", TEXT_MODEL)
        if meta.get("kind") != kind:
            raise InputError(f"{dest} holds a {meta.get('kind')} index, not {kind}")
    old_emb = load_embeddings(dest, old_items) if old_items else None
    model = embedder.model_id if embedder is not None else old_model
    report = IndexReport(dest=dest, kind=kind, model=model)

    items = list(old_items)
    by_hash = {item.sha256: n for n, item in enumerate(items)}
    ids = {item.id for item in items}
    rows: dict[str, np.ndarray] = {}  # sha256 -> embedding row valid for the model in use
    if old_emb is not None and (embedder is None or embedder.model_id == old_model):
        rows = {item.sha256: old_emb[n] for n, item in enumerate(old_items)}
    elif embedder is not None and old_items and old_model != TEXT_MODEL:
        report.notes.append(f"re-embedding: the index was embedded with {old_model}")

    for path in _walk(folder, dest):
        rel = path.relative_to(folder)
        name = rel.as_posix()
        if path.suffix.lower() not in AUDIO_EXTENSIONS:
            what = path.suffix or "no extension"
            report.ignored.append(BadFile(name, f"not audio ({what} is not an audio file type)"))
            continue
        try:
            digest = file_sha256(path)
        except OSError as exc:
            report.bad.append(BadFile(name, f"corrupt (cannot be read: {exc.strerror or exc})"))
            continue
        if digest in by_hash:
            known = items[by_hash[digest]]
            where = known.resolve(dest)
            if not where.is_file():  # the file moved or was renamed: follow it
                items[by_hash[digest]] = replace(known, path=_store_path(path, dest))
            elif where.resolve() != path.resolve():
                report.ignored.append(BadFile(name, f"duplicate (same content as {known.path})"))
                continue
            report.skipped.append(name)
            continue
        try:
            samples, rate = _decode(path, embedder.sample_rate if embedder is not None else None)
        except _Unusable as exc:
            report.bad.append(BadFile(name, exc.reason))
            continue
        meta = _metadata(path)
        title, description, tags, mood, tempo = describe(rel, kind, meta)
        extra = {key: meta[key] for key in _CREDIT_TAGS if key in meta}  # kept for the film's credits
        item_id, n = _slug(rel), 2
        while item_id in ids:
            item_id, n = f"{_slug(rel)}-{n}", n + 1
        ids.add(item_id)
        by_hash[digest] = len(items)
        items.append(AudioItem(id=item_id, path=_store_path(path, dest), kind=kind, title=title,
                               description=description, tags=tags, duration=round(samples.size / rate, 4),
                               sha256=digest, mood=mood, tempo_bpm=tempo, extra=extra))
        report.added.append(item_id)
        if embedder is not None:  # now, while the samples are in memory (one file at a time)
            rows[digest] = _unit(embedder.embed_audio(samples))
            report.embedded += 1
        del samples

    # Forget items whose file is gone.
    moved = any(a.path != b.path for a, b in zip(items, old_items))
    kept = []
    for item in items:
        if item.resolve(dest).is_file():
            kept.append(item)
        else:
            report.removed.append(item.id)
    items = kept

    emb: np.ndarray | None = None
    if embedder is not None:
        for item in items:  # known files embedded by another model
            if item.sha256 not in rows:
                samples, _ = decode_audio(item.resolve(dest), embedder.sample_rate)
                rows[item.sha256] = _unit(embedder.embed_audio(samples))
                report.embedded += 1
        emb = np.stack([rows[i.sha256] for i in items]) if items else None
    elif old_emb is not None:
        if all(i.sha256 in rows for i in items):
            emb = np.stack([rows[i.sha256] for i in items]) if items else None
        else:
            report.notes.append(f"embeddings from {old_model} dropped: new files can only be embedded by that model; "
                                "re-index with it to restore CLAP search")
    model = model if emb is not None else TEXT_MODEL

    report.total = len(items)
    if not old_items or report.changed or moved or model != old_model or (emb is None) != (old_emb is None):
        dest.mkdir(parents=True, exist_ok=True)
        emb_path = dest / EMBEDDINGS_FILE
        if emb is not None:
            with atomic_path(emb_path) as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, emb.astype(np.float32))
        elif emb_path.exists():
            emb_path.unlink()
        write_items(dest, items, kind=kind, model=model)
    report.model = model
    return report


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    return (v / norm if norm > 0 else v).astype(np.float32)
