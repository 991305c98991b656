"""Which libraries a run draws music and effects from: the defaults (built on first use), the
user's own index (`moviefactory music index DIR`), or a given index folder."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..errors import ConfigError
from .library import Hit, cache_dir


def user_index(kind: str) -> Path:
    return cache_dir() / kind / "user"


class Combined:
    """Several retrievers searched as one: the best hits of all, best first.

    Hits merge by score, which every retriever gives on the one relevance scale of
    `retrieval.AudioRetriever`, so a CLAP library and a text library rank against each other.
    A file in two libraries (same content) counts once, at its better score; ties keep the
    retrievers' order.
    """

    def __init__(self, retrievers: list) -> None:
        self.retrievers = retrievers
        self.name = " + ".join(r.name for r in retrievers)
        self.model_id = ",".join(getattr(r, "model_id", "") for r in retrievers)
        self.note = "; ".join(n for r in retrievers if (n := getattr(r, "note", "")))

    def search(self, text: str, k: int = 5) -> list[Hit]:
        hits = sorted((h for r in self.retrievers for h in r.search(text, k)), key=lambda h: -h.score)
        seen: set[str] = set()
        best = []
        for hit in hits:  # the sort is stable: ties keep the retrievers' order
            key = hit.item.sha256 or str(hit.path)
            if key not in seen:
                seen.add(key)
                best.append(hit)
        return best[:k]


def library_opener(kind: str, choice: str | None) -> Callable | None:
    """A function that opens the retriever for `choice` ('default', 'none' or an index folder)."""
    if choice in (None, "", "none", "off"):
        return None
    if choice != "default" and not (Path(choice).expanduser() / "index.json").is_file():
        raise ConfigError(f"{kind} library {choice!r} is not an index folder (no index.json); "
                          f"make one with: moviefactory {kind} index DIR")

    def open_():
        from .retrieval import open_retriever

        if choice != "default":
            return open_retriever(Path(choice).expanduser())
        folders = [default_library(kind)]
        if (user_index(kind) / "index.json").is_file():
            folders.append(user_index(kind))
        found = [open_retriever(f) for f in folders]
        return found[0] if len(found) == 1 else Combined(found)

    return open_


def library_token(kind: str, choice: str | None) -> str:
    """What a run's choice of library stands for, without opening it: the catalogue the default
    library is built from (and the user's own index), or the index folder's content. A change to
    either is a change to the sound a film gets."""
    import hashlib

    if choice in (None, "", "none", "off"):
        return "none"
    if choice != "default":
        folders = [Path(choice).expanduser()]
    else:
        folders = [user_index(kind)]
    digest = hashlib.sha256(choice.encode())
    if choice == "default":
        from .foley import catalogue_path as sfx_catalogue
        from .music.catalogue import catalogue_path as music_catalogue

        digest.update((music_catalogue() if kind == "music" else sfx_catalogue()).read_bytes())
    for folder in folders:
        index = folder / "index.json"
        if index.is_file():
            digest.update(index.read_bytes())
    return digest.hexdigest()[:16]


def default_library(kind: str) -> Path:
    """The default library's folder, built first if it is missing or out of date."""
    if kind == "music":
        from .music.library import default_music_dir

        return default_music_dir()
    from .foley import default_sfx_dir

    return default_sfx_dir()
