"""Uploads: media for the footage renderer, and batch files. Each is size-limited (the request's length
before it is read, and the bytes as they are copied) and checked by its content, not by its name. An
upload's file name survives only as its words (the footage renderer matches shots by them), reduced to
letters, digits and dashes under a numbered name of ours, with the extension its content says."""
from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Any

from fastapi import Request

from .requests import RequestError

CHUNK = 1 << 20
BATCH_SUFFIXES = (".txt", ".csv", ".jsonl", ".yaml", ".yml")
MAX_FILES = 200


def sniff(head: bytes) -> str | None:
    """The extension a file's first bytes say it is (JPEG, PNG, WebP, MP4/MOV, WebM/Matroska), else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    if head[4:8] == b"ftyp":
        return ".mov" if head[8:10] == b"qt" else ".mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ".webm"
    return None


def _limit(request: Request, max_mb: float) -> int:
    limit = int(max_mb * 1024 * 1024)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise RequestError(("files",), f"the upload is {int(length) / 2**20:.1f} MB; the limit is {max_mb:g} MB",
                           status=413)
    return limit


async def _form(request: Request, limit: int):
    from .security import TooLarge

    try:
        return await request.form(max_files=MAX_FILES, max_fields=50, max_part_size=CHUNK)
    except TooLarge as exc:  # counted as it arrived (a chunked upload has no Content-Length to check first)
        raise RequestError(("files",), str(exc), status=413) from None
    except Exception as exc:  # noqa: BLE001 - python-multipart's errors vary; all mean a bad form
        raise RequestError((), f"not a readable multipart form ({exc})") from None


async def _copy(upload, target: Path, limit: int, used: int) -> int:
    """Copy an upload to `target` (temp name, then renamed); the total bytes so far."""
    part = target.with_name(f".{target.name}.part")
    try:
        with open(part, "wb") as out:
            while chunk := await upload.read(CHUNK):
                used += len(chunk)
                if used > limit:
                    raise RequestError(("files",), f"the upload is over the limit of {limit / 2**20:g} MB",
                                       status=413)
                out.write(chunk)
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
    return used


def words_of(filename: str) -> str:
    stem = unicodedata.normalize("NFKC", Path(filename.replace("\\", "/")).stem)
    return re.sub(r"[^\w]+", "-", stem).strip("-_")[:60] or "file"


async def save_media(request: Request, folder: Path, max_mb: float) -> list[str]:
    limit = _limit(request, max_mb)
    form = await _form(request, limit)
    uploads = [v for v in form.getlist("files") if hasattr(v, "read")]
    if not uploads:
        raise RequestError(("files",), "no files (multipart field `files`: photos and clips)")
    folder.mkdir(parents=True, exist_ok=False)
    names, used = [], 0
    try:
        for n, upload in enumerate(uploads, 1):
            head = await upload.read(16)
            kind = sniff(head)
            if kind is None:
                raise RequestError(("files", n - 1), f"{words_of(upload.filename or '')}: not a photo or clip "
                                                     "(JPEG, PNG, WebP, MP4, MOV or WebM, by its content)", status=415)
            await upload.seek(0)
            name = f"{n:03d}-{words_of(upload.filename or '')}{kind}"
            used = await _copy(upload, folder / name, limit, used)
            if kind in (".jpg", ".png", ".webp"):
                _check_picture(folder / name, n - 1)
            names.append(name)
    except BaseException:
        for entry in os.scandir(folder):
            os.unlink(entry.path)
        folder.rmdir()
        raise
    return names


def _check_picture(path: Path, index: int) -> None:
    from PIL import Image

    try:
        with Image.open(path) as picture:
            picture.verify()
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for a broken file
        raise RequestError(("files", index), "a broken picture (its header says image, its data does not)",
                           status=415) from None


async def save_batch(request: Request, folder: Path, batch_id: str, max_mb: float) -> tuple[str, list[dict[str, Any]]]:
    """A batch file's films as request bodies (each then checked like POST /api/films). The file is read
    with the batch formats' own readers but not with `load_batch`: a batch film may name a settings file
    (`config:`), and a request must not make the server read one."""
    limit = _limit(request, min(max_mb, 5.0))
    form = await _form(request, limit)
    upload = form.get("file")
    if not hasattr(upload, "read"):
        raise RequestError(("file",), "no batch file (multipart field `file`: .txt, .csv, .jsonl or .yaml)")
    shown = words_of(upload.filename or "batch")
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in BATCH_SUFFIXES:
        raise RequestError(("file",), "a batch is a .txt (a theme a line), .csv, .jsonl or .yaml file", status=415)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{batch_id}{suffix}"
    await _copy(upload, path, limit, 0)
    try:
        text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise RequestError(("file",), "a batch file is UTF-8 text", status=415) from None
    finally:
        path.unlink(missing_ok=True)
    return read_batch_text(text, suffix, shown)


def read_batch_text(text: str, suffix: str, shown: str) -> tuple[str, list[dict[str, Any]]]:
    """(name, film bodies) from a batch file's text; errors name the line, never a server path."""
    from ..batch.formats import LISTS, yaml_entries
    from ..errors import MovieFactoryError
    from ..yamlfile import parse_yaml

    where = Path(shown + suffix)  # how errors name the file: the upload's own name, not where it is kept
    name, defaults = shown, {}
    try:
        data = parse_yaml(text, where) if suffix not in LISTS else None
        if isinstance(data, dict):
            unknown = sorted(set(data) - {"name", "defaults", "films", "workers", "executor"})
            if unknown:
                raise RequestError(("file", unknown[0]), f"{unknown[0]}: not a studio batch key (name, defaults, "
                                                         "films); schedules run with `moviefactory batch schedule`")
            name, defaults = str(data.get("name") or shown), data.get("defaults") or {}
            if not isinstance(defaults, dict) or not isinstance(data.get("films"), list):
                raise RequestError(("file",), "a batch YAML has `films:` (a list) and optional `defaults:` (a mapping)")
            entries = yaml_entries(data["films"], where, text, ["films"])
        elif isinstance(data, list):
            entries = yaml_entries(data, where, text)
        elif data is None:
            entries = LISTS[suffix](where, text)
        else:
            raise RequestError(("file",), "expected a batch (name, films) or a list of themes")
    except MovieFactoryError as exc:
        raise RequestError(("file",), exc.one_line()) from None
    if not entries:
        raise RequestError(("file",), "no films in it (a theme a line; a line starting with # is a comment)")
    return name, [{**defaults, **entry.layer.values, "theme": entry.theme, "_at": entry.at} for entry in entries]
