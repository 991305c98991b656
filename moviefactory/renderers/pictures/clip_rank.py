"""Image-text similarity for casting pictures, where CLIP weights are present (`--clip-model PATH`: a
local transformers CLIPModel + CLIPProcessor folder; nothing is downloaded): a photo's or a clip's
middle frame against a shot's words, so files named IMG_0412.jpg still find their shots.

A picture's embedding is cached beside the media index (per model, by the file's size and time).
Scores are cosines floored at 0 (the relevance scale text matching uses, as for CLAP sounds).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from ...errors import InputError, MissingDependencyError


class ClipRanker:
    def __init__(self, model, processor, model_id: str = "") -> None:
        self.model, self.processor, self.model_id = model, processor, model_id

    def text_vectors(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        batch = self.processor(text=list(texts), return_tensors="pt", padding=True, truncation=True)
        with torch.inference_mode():
            out = self.model.get_text_features(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return _unit(_tensor(out))

    def image_vectors(self, images: Sequence) -> np.ndarray:
        import torch

        batch = self.processor(images=list(images), return_tensors="pt")
        with torch.inference_mode():
            out = self.model.get_image_features(pixel_values=batch["pixel_values"])
        return _unit(_tensor(out))

    def scores(self, texts: Sequence[str], images: np.ndarray) -> np.ndarray:
        """(len(texts), len(images)) relevance in [0, 1]."""
        if not len(texts) or not len(images):
            return np.zeros((len(texts), len(images)))
        return np.clip(self.text_vectors(texts) @ images.T, 0.0, 1.0)


def load_clip(path: str | Path) -> ClipRanker:
    try:
        from transformers import CLIPModel, CLIPProcessor
    except ImportError as exc:  # pragma: no cover - a dependency
        raise MissingDependencyError("--clip-model needs transformers: pip install transformers") from exc
    path = Path(path).expanduser()
    if not (path / "config.json").is_file():
        raise InputError(f"--clip-model: no CLIP model at {path} (a folder with config.json, e.g. from "
                         f"`hf download openai/clip-vit-base-patch32 --local-dir {path}`)")
    model = CLIPModel.from_pretrained(str(path), local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(str(path), local_files_only=True)
    digest = hashlib.sha256((path / "config.json").read_bytes()).hexdigest()[:12]
    return ClipRanker(model, processor, f"{path.name}-{digest}")


def picture_vectors(ranker: ClipRanker, folder: Path, files: Sequence, cache: Path) -> np.ndarray:
    """One embedding per file (a photo, or a clip's middle frame), cached in `cache` (.npz) by path,
    size and time."""
    key = lambda f: f"{f.path}|{f.size}|{f.mtime_ns}"  # noqa: E731
    known: dict[str, np.ndarray] = {}
    if cache.is_file():
        with np.load(cache) as data:
            known = {k: data[k] for k in data.files}
    names = {key(f): hashlib.sha1(key(f).encode()).hexdigest() for f in files}
    missing = [f for f in files if names[key(f)] not in known]
    for start in range(0, len(missing), 16):
        chunk = missing[start:start + 16]
        for f, vec in zip(chunk, ranker.image_vectors([_picture(folder / f.path, f.kind) for f in chunk])):
            known[names[key(f)]] = vec
    if missing:
        from ...media.files import atomic_path

        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **{names[key(f)]: known[names[key(f)]] for f in files})
    return np.stack([known[names[key(f)]] for f in files]) if files else np.zeros((0, 1))


def _picture(path: Path, kind: str):
    from PIL import Image, ImageOps

    if kind == "photo":
        with Image.open(path) as im:
            return ImageOps.exif_transpose(im).convert("RGB")
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration:
            container.seek(int(stream.duration / 2), stream=stream)  # to the keyframe before the middle
        return next(container.decode(stream)).to_image().convert("RGB")


def _tensor(out) -> np.ndarray:
    vec = out if hasattr(out, "detach") else getattr(out, "pooler_output", out[0])
    return vec.detach().float().cpu().numpy()


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
