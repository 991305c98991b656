"""`moviefactory music|sfx|voices`: the sound libraries and the speech engines from the command line."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import app, console, errors, out

music_app = typer.Typer(help="The music library: build the default one, index your own, search.", no_args_is_help=True)
sfx_app = typer.Typer(help="The sound-effect library: build the default one, index your own, search.",
                      no_args_is_help=True)
app.add_typer(music_app, name="music")
app.add_typer(sfx_app, name="sfx")


def _index(kind: str, folder: Path, dest: Optional[Path], clap: Optional[str]) -> None:
    from ..audio.index import index_folder
    from ..audio.retrieval import load_clap
    from ..audio.sources import user_index

    with errors():
        if not folder.is_dir():
            from ..errors import InputError

            raise InputError(f"{folder} is not a folder")
        embedder = load_clap(clap) if clap else None
        report = index_folder(folder, dest or user_index(kind), kind=kind, embedder=embedder)
    out.print(report.summary(), highlight=False, soft_wrap=True, markup=False)


def _search(kind: str, query: str, k: int, index: Optional[str], retriever: str, clap: Optional[str]) -> None:
    from ..audio.retrieval import open_retriever
    from ..audio.sources import library_opener

    with errors():
        found = open_retriever(Path(index), prefer=retriever, clap_model=clap) if index else \
            library_opener(kind, "default")()
        hits = found.search(query, k)
    note = getattr(found, "note", "")
    out.print(f"answered by: {found.name}" + (f" ({note})" if note else ""), highlight=False, markup=False)
    for h in hits:  # plain lines, so the output greps and pipes well
        out.print(f"{h.score:.3f}  {h.item.title}  ({h.item.duration:.1f} s)  [{', '.join(h.item.tags[:6])}]\n"
                  f"       {h.path}", highlight=False, soft_wrap=True, markup=False)
    if not hits:
        out.print("no match: try other words", markup=False)


K = typer.Option(5, "-k", help="How many results.")
INDEX = typer.Option(None, "--index", help="Search this index folder instead of the default + your own.")
RETRIEVER = typer.Option("clap", "--retriever", help="clap (where the index has CLAP embeddings) or text.")
CLAP = typer.Option(None, "--clap", help="A CLAP model id or local path (transformers ClapModel, or a .pt).")


def _build_default(kind: str, doing: str) -> None:
    from ..audio.sources import default_library

    with errors(), console.status(f"{doing} the default {kind} library..."):
        folder = default_library(kind)
    out.print(f"{kind} library: {folder}", highlight=False, soft_wrap=True)


@music_app.command("build-default")
def music_build_default() -> None:
    """Build the default music library now (it is otherwise built on first use)."""
    _build_default("music", "composing and rendering")


@music_app.command("index")
def music_index(folder: Path = typer.Argument(..., help="A folder of your own tracks."),
                dest: Optional[Path] = typer.Option(None, "--dest", help="Index folder (default: your music index)."),
                clap: Optional[str] = CLAP) -> None:
    """Add your own tracks to the music index (known files are skipped, bad ones reported)."""
    _index("music", folder, dest, clap)


@music_app.command("search")
def music_search(query: str = typer.Argument(...), k: int = K, index: Optional[str] = INDEX,
                 retriever: str = RETRIEVER, clap: Optional[str] = CLAP) -> None:
    """Show what retrieval picks for a description, with scores."""
    _search("music", query, k, index, retriever, clap)


@sfx_app.command("build-default")
def sfx_build_default() -> None:
    """Build the default sound-effect library now (it is otherwise built on first use)."""
    _build_default("sfx", "synthesising")


@sfx_app.command("index")
def sfx_index(folder: Path = typer.Argument(..., help="A folder of your own sound effects."),
              dest: Optional[Path] = typer.Option(None, "--dest", help="Index folder (default: your sfx index)."),
              clap: Optional[str] = CLAP) -> None:
    """Add your own sound effects to the index."""
    _index("sfx", folder, dest, clap)


@sfx_app.command("search")
def sfx_search(query: str = typer.Argument(...), k: int = typer.Option(3, "-k", help="How many results."),
               index: Optional[str] = INDEX, retriever: str = RETRIEVER, clap: Optional[str] = CLAP) -> None:
    """Show which sound effects retrieval picks for a description, with scores."""
    _search("sfx", query, k, index, retriever, clap)


voices_app = typer.Typer(help="The speech engines, their voices and languages; add a Piper voice.")
app.add_typer(voices_app, name="voices")


@voices_app.callback(invoke_without_command=True)
def voices(
    ctx: typer.Context,
    engine: Optional[str] = typer.Option(None, "--engine", help="Only this engine."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Only this language (en, zh)."),
) -> None:
    """List the voices of every speech engine, per language, and which are installed."""
    if ctx.invoked_subcommand is not None:
        return
    from ..audio import create_tts, tts_names
    from ..errors import MissingDependencyError

    with errors():
        for name in [engine] if engine else tts_names():
            try:
                tts = create_tts(name)
            except MissingDependencyError as exc:
                out.print(f"{name}: not available: {exc.one_line()}", highlight=False, soft_wrap=True, markup=False)
                continue
            for language in [lang] if lang else ["en", "zh"]:
                ids = tts.voices(language)
                out.print(f"{name} [{language}] {len(ids)} voices: " + " ".join(ids[:40]) +
                          (" ..." if len(ids) > 40 else ""), highlight=False, soft_wrap=True, markup=False)
            if name == "piper":
                for v in tts.files():
                    out.print(f"  {v.name}  {v.language}  {v.model}", highlight=False, soft_wrap=True, markup=False)


@voices_app.command("add")
def voices_add(model: Path = typer.Argument(..., help="A Piper voice: VOICE.onnx, with VOICE.onnx.json beside it.")) -> None:
    """Add a Piper voice (copied into <config dir>/voices); it is then chosen with --voice NAME."""
    from ..audio.piper_tts import add_voice

    with errors():
        added = add_voice(model)
    out.print(f"added {added.name} ({added.language}) -> {added.model}", highlight=False, soft_wrap=True, markup=False)
