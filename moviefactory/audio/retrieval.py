"""Finding music and sound effects by text: one `AudioRetriever` protocol, a registry of entries.

- `"text"` (`TextRetriever`): TF-IDF over titles, tags and descriptions. Needs no model. English
  words are lower-cased, stop-words dropped and lightly stemmed; Chinese is split into character
  bigrams. The score is the cosine of the TF-IDF vectors.
- `"clap"` (`ClapRetriever`): CLAP (the LAION-CLAP architecture, transformers' `ClapModel` +
  `ClapProcessor`, e.g. the published `laion/clap-htsat-unfused`). The index's `embeddings.npy`
  holds one L2-normalised audio embedding per item (see `index.index_folder(embedder=...)`); a
  query's text embedding is compared by cosine, and the score is `relevance_from_cosine` of it.

Every entry scores on one scale (see `AudioRetriever`), so hits of different libraries merge.
`open_retriever(index_dir)` chooses the entry through the registry: CLAP when the index has
embeddings from a model that loads locally, else text; the retriever's `name` says which answers.
Nothing here downloads: models load with `local_files_only=True` unless a caller asks otherwise.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import InputError, MissingDependencyError
from ..registry import Registry
from ..textmatch import SYNONYM_WEIGHT, TfIdf, expand, synonyms, tokenize  # noqa: F401 - the text entry's words
from .index import TEXT_MODEL, decode_audio, load_embeddings
from .library import AudioItem, Hit, file_sha256, read_items


@runtime_checkable
class AudioRetriever(Protocol):
    """Finds library items for a text query. Every entry passes tests/test_retriever_contract.py.

    One scale for every entry's `Hit.score`, so hits of a CLAP library and a text library rank
    against each other (`sources.Combined`): relevance in [0, 1], where 0 is "nothing in common
    with the query" and 1 is "the query is this item exactly", monotone in the entry's own
    similarity. Both built-in entries score a cosine with that meaning: TF-IDF vectors have no
    negative weights, so theirs is already in [0, 1]; an embedding cosine is floored at 0
    (`relevance_from_cosine`).
    """

    name: str  # the registry name of the entry that answers: 'text' or 'clap'
    model_id: str  # 'text', or the embedding model's id/path recorded in the index

    def search(self, text: str, k: int = 5) -> list[Hit]:
        """At most `k` hits for `text`, best first, scores on the shared scale above."""
        ...


_REGISTRY: Registry = Registry("audio retriever", ("moviefactory.audio.retrieval",))
register_retriever = _REGISTRY.register
retriever_names = _REGISTRY.names
create_retriever = _REGISTRY.create


# --------------------------------------------------------------------------------------------
# Text: TF-IDF over titles, tags and descriptions
# --------------------------------------------------------------------------------------------

def _item_terms(item: AudioItem) -> list[str]:
    tags = " ".join(item.tags + ((item.mood,) if item.mood else ()))
    # Tags count twice: they are the words a person chose to describe the sound.
    return tokenize(item.title) + tokenize(item.description) + 2 * tokenize(tags)


class TextRetriever:
    """TF-IDF (1 + log tf, smoothed idf) with cosine scoring, the query widened by configs/synonyms.yaml;
    needs no model."""

    name = "text"
    model_id = TEXT_MODEL

    def __init__(self, items: Sequence[AudioItem], root: Path, *, note: str = "") -> None:
        self.items = list(items)
        self.root = Path(root)
        self.note = note  # why this retriever answers (e.g. CLAP was not available)
        self._index = TfIdf([_item_terms(i) for i in self.items])

    @classmethod
    def from_index(cls, index_dir: Path, *, note: str = "") -> "TextRetriever":
        items, _ = read_items(Path(index_dir))
        return cls(items, Path(index_dir), note=note)

    def search(self, text: str, k: int = 5) -> list[Hit]:
        """Items sharing words with `text`, best first; items with nothing in common are not returned."""
        return [Hit(self.items[n], score, self.items[n].resolve(self.root)) for score, n in self._index.search(text)[:k]]


# --------------------------------------------------------------------------------------------
# CLAP through transformers
# --------------------------------------------------------------------------------------------

def relevance_from_cosine(cos: np.ndarray) -> np.ndarray:
    """An embedding cosine on the shared relevance scale: max(0, cos).

    Unrelated items are orthogonal to a query in an embedding space, not opposite to it, so a
    negative cosine says no more than 0 does: both mean "nothing in common", as a text score of 0
    does. (1 + cos) / 2 would put every unrelated item at 0.5, above most partial text matches.
    The floor is CLIPScore's (Hessel et al. 2021). Trained CLIP/CLAP models typically give a
    caption and its own sound a cosine of a few tenths, not near 1, so a CLAP library's good
    matches rank under a text library's near-verbatim ones; a per-model weight (CLIPScore's w)
    would fix that, but needs real checkpoints to measure.
    """
    return np.clip(cos, 0.0, 1.0)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    x = x.reshape(1, -1) if x.ndim == 1 else x
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _pooled(out):
    """transformers 4.x returns a tensor from get_*_features, 5.x an output whose pooler_output is it."""
    return out if hasattr(out, "detach") else out.pooler_output


class ClapEmbedder:
    """Text and audio embeddings from a transformers `ClapModel` + `ClapProcessor` (both passed in).

    Audio longer than the feature extractor's window (10 s at 48 kHz for LAION-CLAP) is cut into
    windows (at most `max_windows`, evenly spread), each embedded, averaged and re-normalised, so
    the result is deterministic (no random crop). Counters `text_calls`/`audio_calls` count model calls.
    """

    def __init__(self, model, processor, model_id: str = "", *, max_windows: int = 6, batch_size: int = 8) -> None:
        tokenizer = processor.tokenizer
        if len(tokenizer) < 16:
            raise MissingDependencyError(
                f"the CLAP tokenizer of {model_id or 'this model'} is empty ({len(tokenizer)} tokens): its files were "
                "not found, so every word would map to <unk>; download the model once or pass a complete local folder")
        self.model = model.eval()
        self.processor = processor
        self.model_id = model_id or getattr(model, "name_or_path", "") or "clap"
        fe = processor.feature_extractor
        self.sample_rate = int(fe.sampling_rate)
        self.window = int(getattr(fe, "nb_max_samples", 10 * self.sample_rate))
        self.max_windows = max_windows
        self.batch_size = batch_size
        positions = getattr(getattr(model.config, "text_config", None), "max_position_embeddings", 514)
        self._max_tokens = int(min(getattr(tokenizer, "model_max_length", 512) or 512, positions - 2))
        self.text_calls = 0
        self.audio_calls = 0

    def _device(self):
        return next(self.model.parameters()).device

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised."""
        import torch

        batch = self.processor.tokenizer(list(texts), padding=True, truncation=True, max_length=self._max_tokens,
                                         return_tensors="pt")
        batch = {k: v.to(self._device()) for k, v in batch.items()}
        self.text_calls += 1
        with torch.inference_mode():
            feats = _pooled(self.model.get_text_features(**batch))
        return _unit_rows(feats.float().cpu().numpy())

    def embed_audio(self, samples: np.ndarray) -> np.ndarray:
        """Mono float32 samples at `sample_rate` -> one (dim,) unit vector."""
        import torch

        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if samples.size <= self.window:
            windows = [samples]
        else:
            count = min(self.max_windows, math.ceil(samples.size / self.window))
            starts = np.linspace(0, samples.size - self.window, count).astype(int)
            windows = [samples[s:s + self.window] for s in starts]
        rows = []
        for i in range(0, len(windows), self.batch_size):
            feats = self.processor.feature_extractor(windows[i:i + self.batch_size], sampling_rate=self.sample_rate,
                                                     return_tensors="pt")
            inputs = {k: v.to(self._device()) for k, v in feats.items() if k in ("input_features", "is_longer")}
            self.audio_calls += 1
            with torch.inference_mode():
                rows.append(_unit_rows(_pooled(self.model.get_audio_features(**inputs)).float().cpu().numpy()))
        return _unit_rows(np.concatenate(rows).mean(axis=0))[0]


class LaionClapEmbedder:
    """A laion-clap `.pt` checkpoint through the `laion_clap` package (optional; not installable offline)."""

    sample_rate = 48000

    def __init__(self, checkpoint: Path) -> None:
        try:
            import laion_clap
        except ImportError:
            raise MissingDependencyError(
                f"{checkpoint} is a laion-clap checkpoint; loading it needs the laion_clap package "
                "(pip install laion-clap; it needs torchvision and numpy<2). Or use a transformers CLAP model, "
                "e.g. laion/clap-htsat-unfused") from None
        name = checkpoint.name.lower()
        audio_model = "HTSAT-base" if ("music" in name or "base" in name) else "HTSAT-tiny"
        self._model = laion_clap.CLAP_Module(enable_fusion="fusion" in name, amodel=audio_model)
        self._model.load_ckpt(str(checkpoint))
        self.model_id = str(checkpoint.resolve())

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        return _unit_rows(self._model.get_text_embedding(list(texts), use_tensor=False))

    def embed_audio(self, samples: np.ndarray) -> np.ndarray:
        x = np.asarray(samples, dtype=np.float32).reshape(1, -1)
        return _unit_rows(self._model.get_audio_embedding_from_data(x=x, use_tensor=False))[0]


def clap_model_id(model: str | os.PathLike) -> str:
    """The id an index records for `model`: a local folder/file as its absolute path, else the hub id."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else str(model)


def load_clap(model: str | os.PathLike, *, local_files_only: bool = True, device: str | None = None):
    """Load a CLAP embedder by hub id or local path (a transformers folder, or a laion-clap `.pt`).

    Never downloads unless `local_files_only=False`. Raises MissingDependencyError when the model
    (or transformers/torch) is not available locally.
    """
    path = Path(model).expanduser()
    if path.suffix in (".pt", ".ckpt") and path.is_file():
        return LaionClapEmbedder(path)
    try:
        import torch
        from transformers import ClapModel, ClapProcessor
    except ImportError:
        raise MissingDependencyError("CLAP needs torch and transformers: pip install torch transformers") from None
    source = str(path) if path.exists() else str(model)
    try:
        clap = ClapModel.from_pretrained(source, local_files_only=local_files_only)
        processor = ClapProcessor.from_pretrained(source, local_files_only=local_files_only)
    except (OSError, ValueError) as exc:
        raise MissingDependencyError(
            f"CLAP model {model!s} is not available locally ({str(exc).splitlines()[0][:200]}); download it once "
            f"(huggingface-cli download {model}) or pass a local folder") from None
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return ClapEmbedder(clap.to(device), processor, clap_model_id(model))


class ClapRetriever:
    """Cosine top-k of a text (or audio) query against an index's CLAP audio embeddings."""

    name = "clap"
    note = ""

    def __init__(self, model, processor, index_dir: Path, *, model_id: str | None = None, embedder=None) -> None:
        self.embedder = embedder if embedder is not None else ClapEmbedder(model, processor, model_id or "")
        self.root = Path(index_dir)
        self.items, meta = read_items(self.root)
        indexed_with = meta.get("model", TEXT_MODEL)
        emb = load_embeddings(self.root, self.items)
        if emb is None or indexed_with == TEXT_MODEL:
            raise InputError(f"the index at {self.root} has no CLAP embeddings; index it with a CLAP model first")
        if model_id is not None and model_id != indexed_with:
            raise InputError(f"the index at {self.root} was embedded with {indexed_with}, not {model_id}; re-index it")
        self.model_id = indexed_with
        self.embeddings = _unit_rows(emb)
        self._by_hash = {item.sha256: n for n, item in enumerate(self.items)}
        self._text_cache: dict[str, np.ndarray] = {}
        self._audio_cache: dict[str, np.ndarray] = {}

    @classmethod
    def from_embedder(cls, embedder, index_dir: Path) -> "ClapRetriever":
        return cls(None, None, index_dir, embedder=embedder)

    def text_vector(self, text: str) -> np.ndarray:
        """The query's unit text embedding, computed once per query string."""
        if text not in self._text_cache:
            self._text_cache[text] = self.embedder.embed_text([text])[0]
        return self._text_cache[text]

    def audio_vector(self, path: Path) -> np.ndarray:
        """A file's unit audio embedding: the index's row when its content hash is indexed, else computed once."""
        digest = file_sha256(Path(path))
        if digest in self._by_hash:
            return self.embeddings[self._by_hash[digest]]
        if digest not in self._audio_cache:
            samples, _ = decode_audio(Path(path), self.embedder.sample_rate)
            self._audio_cache[digest] = _unit_rows(self.embedder.embed_audio(samples))[0]
        return self._audio_cache[digest]

    def search(self, text: str, k: int = 5) -> list[Hit]:
        return self.search_vector(self.text_vector(text), k)

    def search_audio(self, path: Path, k: int = 5) -> list[Hit]:
        """Items that sound like the file at `path` (query by example)."""
        return self.search_vector(self.audio_vector(path), k)

    def search_vector(self, vector: np.ndarray, k: int = 5) -> list[Hit]:
        """Top-k items by cosine with an embedding vector, best first; scores are relevance_from_cosine."""
        query = _unit_rows(vector)[0]
        if query.shape[0] != self.embeddings.shape[1]:
            raise InputError(f"query vector has {query.shape[0]} dimensions; the index has {self.embeddings.shape[1]}")
        cosines = self.embeddings @ query
        order = np.argsort(-cosines, kind="stable")[: max(k, 0)]  # by cosine: items floored at 0 stay in order
        scores = relevance_from_cosine(cosines)
        return [Hit(self.items[n], float(scores[n]), self.items[n].resolve(self.root)) for n in order]


# --------------------------------------------------------------------------------------------
# Choosing a retriever
# --------------------------------------------------------------------------------------------
# Every entry is a factory `(index_dir, model=None) -> AudioRetriever`. `model` is whatever the
# entry needs to answer (CLAP: a loaded embedder, a model id/path, or None for the index's own).
# An entry that cannot answer for this index on this machine raises MissingDependencyError
# saying why; open_retriever then falls back to FALLBACK_RETRIEVER.

DEFAULT_RETRIEVER = "clap"  # tried first: it understands sound, where the index has embeddings
FALLBACK_RETRIEVER = "text"  # needs no model: answers for every index


@register_retriever("text")
def _make_text(index_dir: Path, model=None) -> TextRetriever:
    return TextRetriever.from_index(Path(index_dir))


@register_retriever("clap")
def _make_clap(index_dir: Path, model=None) -> ClapRetriever:
    index_dir = Path(index_dir)
    items, meta = read_items(index_dir)
    indexed_with = meta.get("model", TEXT_MODEL)
    if indexed_with == TEXT_MODEL or load_embeddings(index_dir, items) is None:
        raise MissingDependencyError("the index has no CLAP embeddings; index it with a CLAP model to search by sound")
    if model is None or isinstance(model, (str, os.PathLike)):
        wanted = indexed_with if model is None else clap_model_id(model)
        if wanted != indexed_with:  # checked before loading: a model the index cannot use is never loaded
            raise MissingDependencyError(f"the index was embedded with {indexed_with}, not {wanted}; re-index it")
        model = load_clap(wanted)
    elif model.model_id != indexed_with:
        raise MissingDependencyError(f"the index was embedded with {indexed_with}, not {model.model_id}; re-index it")
    return ClapRetriever.from_embedder(model, index_dir)


def open_retriever(index_dir: Path, prefer: str | None = DEFAULT_RETRIEVER, clap_model=None) -> AudioRetriever:
    """The retriever for the index at `index_dir`, chosen through the registry by name.

    `prefer` names the entry to try (default 'clap': CLAP when the index has embeddings from a model
    that loads locally). When it cannot answer here, 'text' answers instead and carries the reason
    in `.note`. An unknown name is an InputError listing the registered ones. `clap_model` goes to
    the entry as its `model`: a loaded embedder (`load_clap(...)`), a model id/path, or None (the
    model the index records).
    """
    index_dir = Path(index_dir)
    if not (index_dir / "index.json").is_file():
        raise InputError(f"no audio index at {index_dir}; build one first (music index FOLDER)")
    prefer = prefer or DEFAULT_RETRIEVER
    names = retriever_names()
    if prefer not in names:
        raise InputError(f"unknown audio retriever {prefer!r}; available: {', '.join(names)}")
    try:
        return create_retriever(prefer, index_dir=index_dir, model=clap_model)
    except MissingDependencyError as exc:
        if prefer == FALLBACK_RETRIEVER:
            raise
        reason = exc.message
    fallback = create_retriever(FALLBACK_RETRIEVER, index_dir=index_dir)
    fallback.note = f"{prefer} not used: {reason}"
    return fallback


def rank_sfx_for_shot(
    description: str, keyframe_path: Path | None, retriever: AudioRetriever, k: int = 5
) -> list[Hit]:
    """Sound effects for a shot, from its description.

    The keyframe is not used yet: CLIP image-text scoring plugs in here (embed the keyframe with
    CLIP, re-rank the text hits by the image's similarity to each item's description) once CLIP
    weights are configured. Without them this is `retriever.search(description, k)`.
    """
    return retriever.search(description, k)
