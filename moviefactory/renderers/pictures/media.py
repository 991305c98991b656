"""A folder of the user's photos and clips, as the footage renderer sees it: each file's kind, size and
the words that describe it (its name and folders, its EXIF/XMP description, title and keywords, a
clip's metadata), and the files that cannot be read, by name.

The index is cached by each file's size and modification time, in our cache folder (never in the
user's folder: their files and folders are only read, and may be read-only).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...errors import InputError

PHOTOS = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".bmp", ".tif", ".tiff", ".gif")
CLIPS = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")
INDEX_VERSION = 1
# camera file names carry no words: IMG_0412, DSC01234, PXL_20240101_120000, VID-2024..., 20240101_1200
_CAMERA = re.compile(r"^(img|dsc|dscn|dscf|pxl|vid|mvimg|photo|image|movie|clip|screenshot|gopr|dji|mov)?\d*$|^\d")
_SPLIT = re.compile(r"[\s_\-.,+()\[\]]+|(?<=[a-z])(?=[A-Z])")
_XMP_ALT = re.compile(r"<dc:(description|title)>.*?<rdf:li[^>]*>(.*?)</rdf:li>", re.S)
_XMP_BAG = re.compile(r"<dc:subject>(.*?)</dc:subject>", re.S)
_XMP_LI = re.compile(r"<rdf:li[^>]*>(.*?)</rdf:li>", re.S)
_EXIF_TEXT = {270: "description", 0x9C9B: "title", 0x9C9C: "comment", 0x9C9E: "keywords", 0x9C9F: "subject"}


@dataclass(frozen=True)
class MediaFile:
    path: str  # relative to the folder, with forward slashes
    kind: str  # photo | video
    size: int = 0
    mtime_ns: int = 0
    width: int = 0  # upright (EXIF orientation, a clip's rotation applied)
    height: int = 0
    duration: float = 0.0  # clips
    caption: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    error: str = ""  # why it cannot be used; empty when it can


def index_media(folder: Path) -> list[MediaFile]:
    """Every photo and clip under `folder` (sorted by path), readable or not; cached (see module)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"no media folder at {folder}")
    cache = index_cache_file(folder)
    known = _read_cache(cache)
    out, changed = [], False
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in PHOTOS + CLIPS
                       and not any(part.startswith(".") for part in p.relative_to(folder).parts)):
        rel, st = path.relative_to(folder).as_posix(), path.stat()
        old = known.get(rel)
        if old is not None and (old.size, old.mtime_ns) == (st.st_size, st.st_mtime_ns):
            out.append(old)
            continue
        out.append(_read(path, rel, st.st_size, st.st_mtime_ns))
        changed = True
    if changed or set(known) != {m.path for m in out}:
        _write_cache(cache, out)
    return out


def index_cache_file(folder: Path) -> Path:
    from ...audio.library import cache_dir

    key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / "media" / f"{key}.json"


def _read_cache(cache: Path) -> dict[str, MediaFile]:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("version") != INDEX_VERSION:
            return {}
        return {e["path"]: MediaFile(**{**e, "tags": tuple(e["tags"])}) for e in data["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # no cache, or one from another version: read the files again


def _write_cache(cache: Path, files: list[MediaFile]) -> None:
    from ...media.files import write_text

    cache.parent.mkdir(parents=True, exist_ok=True)
    write_text(cache, json.dumps({"version": INDEX_VERSION, "files": [asdict(f) for f in files]}, ensure_ascii=False))


def name_words(rel: str) -> list[str]:
    """The words of a file's name and folders: 'snow/Fox_in-the_snow 2.jpg' -> snow fox in the snow."""
    parts = Path(rel).with_suffix("").parts
    words = [w for part in parts for w in _SPLIT.split(part) if w]
    return [w.lower() for w in words if not _CAMERA.match(w.lower())]


def _read(path: Path, rel: str, size: int, mtime_ns: int) -> MediaFile:
    base = dict(path=rel, size=size, mtime_ns=mtime_ns)
    kind = "photo" if path.suffix.lower() in PHOTOS else "video"
    try:
        found = _read_photo(path) if kind == "photo" else _read_clip(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is this file's problem, named and skipped
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return MediaFile(kind=kind, error=f"cannot read it: {reason}", **base)
    words, tags = found.pop("words"), found.pop("tags")
    caption = " ".join(dict.fromkeys([*words, *name_words(rel)]))
    return MediaFile(kind=kind, caption=caption, tags=tuple(dict.fromkeys(tags)), **base, **found)


def _read_photo(path: Path) -> dict:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        exif = im.getexif()
        xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp") or b""
        width, height = im.size
        if exif.get(0x0112, 1) in (5, 6, 7, 8):  # EXIF orientation: turned a quarter
            width, height = height, width
        im.draft("RGB", (64, 64))  # decoding a small version still finds a truncated or broken file
        ImageOps.exif_transpose(im).load()
    words, tags = [], []
    for tag, what in _EXIF_TEXT.items():
        text = _exif_text(exif.get(tag))
        if text:
            (tags if what in ("keywords", "subject") else words).extend(
                [t.strip() for t in re.split(r"[;,]", text) if t.strip()] if what in ("keywords", "subject") else [text])
    xmp = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else str(xmp)
    words += [m.group(2).strip() for m in _XMP_ALT.finditer(xmp) if m.group(2).strip()]
    for bag in _XMP_BAG.findall(xmp):
        tags += [li.strip() for li in _XMP_LI.findall(bag) if li.strip()]
    return dict(width=width, height=height, words=words, tags=tags)


def _exif_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):  # Windows XP* tags: UTF-16LE as a tuple of bytes
        value = bytes(value)
    if isinstance(value, bytes):
        for codec in ("utf-16-le", "utf-8"):
            try:
                return value.decode(codec).rstrip("\x00").strip()
            except UnicodeDecodeError:
                continue
        return ""
    return str(value).strip()


def _read_clip(path: Path) -> dict:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        meta = {k.lower(): v for k, v in {**container.metadata, **stream.metadata}.items()}
        frame = next(container.decode(stream))  # one picture: the file plays
        width, height = frame.width, frame.height
        if round(getattr(frame, "rotation", 0) or float(meta.get("rotate", 0) or 0)) % 180:
            width, height = height, width
        duration = float(stream.duration * stream.time_base) if stream.duration else float(container.duration or 0) / 1e6
    words = [meta[k] for k in ("title", "description", "comment") if meta.get(k)]
    tags = [t.strip() for t in re.split(r"[;,]", meta.get("keywords", "")) if t.strip()]
    return dict(width=width, height=height, duration=round(duration, 3), words=words, tags=tags)
