"""`moviefactory` on the command line: a thin wrapper over the API, with progress and a summary."""
from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .errors import MovieFactoryError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="One line in, a finished film out.")
console = Console(stderr=True)
out = Console()
_debug = False

STAGE_LABEL = {"plan": "Writing the screenplay", "narrate": "Recording narration", "render": "Rendering shots",
               "sound": "Choosing music and effects", "timeline": "Cutting the timeline", "assemble": "Mixing and encoding"}


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for unexpected errors.")) -> None:
    global _debug
    _debug = debug


class _Display:
    """Turns pipeline events into a rich progress display: stage, scene k/n, elapsed."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.tasks, self.lock = progress, {}, threading.Lock()
        self.rendered = 0

    def __call__(self, event) -> None:
        with self.lock:
            if event.kind == "note":
                self.progress.console.print(event.detail, highlight=False, soft_wrap=True)
                return
            task = self.tasks.get(event.stage)
            if task is None:
                task = self.progress.add_task(STAGE_LABEL.get(event.stage, event.stage), total=event.total or None)
                self.tasks[event.stage] = task
            if event.stage == "render" and event.kind in ("step", "cached"):
                self.rendered += 1
                note = " (kept)" if event.kind == "cached" else ""
                self.progress.update(task, completed=self.rendered, total=event.total,
                                     description=f"Rendering shots: {event.detail}{note}")
            elif event.kind == "step":
                self.progress.update(task, completed=event.done, total=event.total or None)
            elif event.kind == "done":
                total = self.progress.tasks[task].total or 1
                label = STAGE_LABEL.get(event.stage, event.stage) + (f": {event.detail}" if event.detail else "")
                self.progress.update(task, total=total, completed=total, description=label)


@contextmanager
def _progress() -> Iterator[_Display]:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        yield _Display(progress)


@contextmanager
def _errors(hint_run: str | None = None) -> Iterator[None]:
    try:
        yield
    except MovieFactoryError as exc:
        console.print(f"[red]error:[/red] {exc.one_line()}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        console.print("interrupted" + (f"; continue with: moviefactory resume {hint_run}" if hint_run else ""))
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as exc:  # a bug, not bad input: still one line unless asked for more
        if _debug:
            raise
        console.print(f"[red]internal error:[/red] {type(exc).__name__}: {exc} (rerun with --debug for details)",
                      markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(70) from None


def _summary(result, started: float) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("film", f"[bold]{result.title}[/bold]")
    table.add_row("run", result.run_id + ("  (resumed)" if result.resumed else ""))
    table.add_row("length", f"{result.duration:.2f} s")
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in result.stage_seconds.items())
    table.add_row("time", f"{time.perf_counter() - started:.1f} s wall" + (f"  ({stages})" if stages else ""))
    out.print(table)
    out.print("wrote:")
    for path in result.paths:
        out.print(f"  {path}", highlight=False, soft_wrap=True)


FORMAT = typer.Option(None, "--format", "-f", help="widescreen or vertical (configs/formats/).")
LANG = typer.Option(None, "--lang", help="en, zh or auto (from the theme's script).")
SCENES = typer.Option(None, "--scenes", help="Number of scenes.")
SECONDS = typer.Option(None, "--seconds", help="Target length in seconds.")
SEED = typer.Option(None, "--seed", help="Random seed (same seed, same film).")
DRAFT = typer.Option(None, "--draft/--full", help="Render at a fraction of the size, fast.")
OUTPUT = typer.Option(None, "--output", "-o", help="Where run directories go (default ./runs).")
CONFIG = typer.Option(None, "--config", help="A YAML file of settings (see configs/default.yaml).")
LLM = typer.Option(None, "--llm", help="Model name on an OpenAI-compatible server, e.g. gpt-4o-mini.")
LLM_URL = typer.Option(None, "--llm-base-url", help="OpenAI-compatible server, e.g. http://localhost:11434/v1.")
TTS = typer.Option(None, "--tts", help="Speech engine: espeak (built in) or coqui (optional).")
VOICE = typer.Option(None, "--voice", help="Narrator voice id for the engine (see `moviefactory voices`).")
MUSIC = typer.Option(None, "--music", help="Music library: default, none, or a folder made by `music index`.")
SFX = typer.Option(None, "--sfx", help="Sound-effect library: default, none, or an index folder.")
RENDERER = typer.Option(None, "--renderer", help="animatic (CPU), or a diffusion model: see `moviefactory models`.")
MODEL_PATH = typer.Option(None, "--model-path", help="A local copy of the model weights (diffusion renderers).")
OFFLINE = typer.Option(None, "--offline/--online", help="Never touch the network for model weights.")
VRAM = typer.Option(None, "--vram", help="GPU memory in GB: picks the memory tier (offload, tiling).")
THEME = typer.Argument(..., help='One line, e.g. "An astronaut\'s space adventure".')


@app.command()
def make(
    theme: str = THEME, format: Optional[str] = FORMAT, lang: Optional[str] = LANG, scenes: Optional[int] = SCENES,
    seconds: Optional[float] = SECONDS, seed: Optional[int] = SEED, draft: Optional[bool] = DRAFT,
    output: Optional[Path] = OUTPUT, config: Optional[Path] = CONFIG, llm: Optional[str] = LLM,
    llm_base_url: Optional[str] = LLM_URL, tts: Optional[str] = TTS, voice: Optional[str] = VOICE,
    music: Optional[str] = MUSIC, sfx: Optional[str] = SFX, renderer: Optional[str] = RENDERER,
    model_path: Optional[Path] = MODEL_PATH, offline: Optional[bool] = OFFLINE, vram: Optional[float] = VRAM,
    upscale: Optional[int] = typer.Option(None, "--upscale", help="Super-resolve generated frames x2 or x4."),
    interpolate: Optional[int] = typer.Option(None, "--interpolate", help="Interpolate generated frames x2 or x4."),
) -> None:
    """Make a film from one line."""
    from .api import make_film

    started = time.perf_counter()
    with _errors(), _progress() as display:
        result = make_film(theme, format=format, lang=lang, scenes=scenes, seconds=seconds, seed=seed, draft=draft,
                           output=output, config=config, llm=llm, llm_base_url=llm_base_url, tts=tts, voice=voice,
                           music=music, sfx=sfx, renderer=renderer, model_path=model_path, offline=offline,
                           vram=vram, upscale=upscale, interpolate=interpolate, progress=display)
    _summary(result, started)


@app.command()
def plan(
    theme: str = THEME,
    plan_file: Path = typer.Option(..., "--out", "-o", help="Where to write the screenplay (.yaml or .json)."),
    format: Optional[str] = FORMAT, lang: Optional[str] = LANG, scenes: Optional[int] = SCENES,
    seconds: Optional[float] = SECONDS, seed: Optional[int] = SEED, draft: Optional[bool] = DRAFT,
    output: Optional[Path] = typer.Option(None, "--output", help="Where run directories go (default ./runs)."), config: Optional[Path] = CONFIG, llm: Optional[str] = LLM,
    llm_base_url: Optional[str] = LLM_URL,
) -> None:
    """Write the screenplay only, to review and edit before rendering."""
    from . import api
    from .screenplay import dump_screenplay

    with _errors(), _progress() as display:
        result = api.plan(theme, format=format, lang=lang, scenes=scenes, seconds=seconds, seed=seed, draft=draft,
                          output=output, config=config, llm=llm, llm_base_url=llm_base_url, progress=display)
        dump_screenplay(result.screenplay, plan_file)
    sp = result.screenplay
    out.print(f"[bold]{sp.title}[/bold]: {len(sp.scenes)} scenes, {len(sp.shots())} shots, {sp.duration:.0f} s")
    out.print(f"wrote: {plan_file}", highlight=False, soft_wrap=True)
    out.print(f"edit it, then:  moviefactory render {plan_file}", highlight=False, soft_wrap=True)
    out.print(f"or shoot it as written:  moviefactory resume {result.run_id}", highlight=False, soft_wrap=True)


@app.command()
def render(
    plan_file: Path = typer.Argument(..., help="A screenplay written by `plan` (and edited by you)."),
    format: Optional[str] = FORMAT, seed: Optional[int] = SEED, draft: Optional[bool] = DRAFT,
    output: Optional[Path] = OUTPUT, config: Optional[Path] = CONFIG,
) -> None:
    """Film exactly what a screenplay file says."""
    from . import api

    started = time.perf_counter()
    with _errors(), _progress() as display:
        result = api.render(plan_file, format=format, seed=seed, draft=draft, output=output, config=config,
                            progress=display)
    _summary(result, started)


@app.command()
def resume(
    run_id: str = typer.Argument(..., help="The run id (the directory name under the output dir)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Where run directories are (default ./runs)."),
) -> None:
    """Continue a stopped run; finished stages and shots are kept."""
    from .api import resume_film

    started = time.perf_counter()
    with _errors(run_id), _progress() as display:
        result = resume_film(run_id, output=output, progress=display)
    _summary(result, started)


@app.command()
def formats() -> None:
    """List the format presets."""
    from .config import format_names, load_format

    with _errors():
        for name in format_names():
            f = load_format(name)
            out.print(f"{name:12} {f.width}x{f.height} {f.fps} fps  {f.loudness_lufs} LUFS  {f.description}")


@app.command()
def doctor() -> None:
    """Check that ffmpeg, espeak-ng and the caption font are usable here."""
    from .audio import create_tts
    from .media.ffmpeg import ffmpeg_binary, run_ffmpeg
    from .resources import cjk_font

    ok = True
    checks = {
        "ffmpeg": lambda: run_ffmpeg(ffmpeg_binary(), ["-version"], stage="doctor") and ffmpeg_binary(),
        "espeak-ng": lambda: create_tts("espeak").cache_token(),
        "caption font": lambda: str(cjk_font()),
    }
    for name, check in checks.items():
        try:
            out.print(f"[green]ok[/green]   {name}: {check()}", highlight=False)
        except Exception as exc:  # doctor reports every failure instead of stopping at the first
            ok = False
            out.print(f"[red]fail[/red] {name}: {exc}", highlight=False)
    raise typer.Exit(0 if ok else 1)


music_app = typer.Typer(help="The music library: build the default one, index your own, search.", no_args_is_help=True)
sfx_app = typer.Typer(help="The sound-effect library: build the default one, index your own, search.",
                      no_args_is_help=True)
app.add_typer(music_app, name="music")
app.add_typer(sfx_app, name="sfx")


def _index(kind: str, folder: Path, dest: Optional[Path], clap: Optional[str]) -> None:
    from .audio.index import index_folder
    from .audio.retrieval import load_clap
    from .audio.sources import user_index

    with _errors():
        if not folder.is_dir():
            from .errors import InputError

            raise InputError(f"{folder} is not a folder")
        embedder = load_clap(clap) if clap else None
        report = index_folder(folder, dest or user_index(kind), kind=kind, embedder=embedder)
    out.print(report.summary(), highlight=False, soft_wrap=True, markup=False)


def _search(kind: str, query: str, k: int, index: Optional[str], retriever: str, clap: Optional[str]) -> None:
    from .audio.retrieval import open_retriever
    from .audio.sources import library_opener

    with _errors():
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


@music_app.command("build-default")
def music_build_default() -> None:
    """Build the default music library now (it is otherwise built on first use)."""
    from .audio.music.library import default_music_dir

    with _errors(), console.status("composing and rendering the default music library..."):
        folder = default_music_dir()
    out.print(f"music library: {folder}", highlight=False, soft_wrap=True)


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
    from .audio.foley import default_sfx_dir

    with _errors(), console.status("synthesising the default sound-effect library..."):
        folder = default_sfx_dir()
    out.print(f"sfx library: {folder}", highlight=False, soft_wrap=True)


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


def _clip_done(path: Path) -> None:
    from .media.ffmpeg import probe

    info = probe(path)
    out.print(f"wrote: {path}  ({info.duration:.2f} s)", highlight=False, soft_wrap=True, markup=False)


@app.command()
def animate(
    still: Path = typer.Argument(..., help="The image to bring to life."),
    prompt: str = typer.Argument(..., help="What happens, e.g. 'the clouds drift apart'."),
    seconds: float = typer.Option(4.0, "--seconds", help="Length of the clip."),
    out_file: Path = typer.Option(Path("animated.mp4"), "--out", "-o", help="Where to write the clip."),
    motion: float = typer.Option(0.5, "--motion", help="How much moves, 0 to 1."),
    fps: int = typer.Option(24, "--fps"), seed: int = typer.Option(7, "--seed"),
    edit: Optional[str] = typer.Option(None, "--edit", help="An instruction to edit the still first."),
    model_path: Optional[Path] = MODEL_PATH, offline: Optional[bool] = OFFLINE,
) -> None:
    """Image to video: animate a still with the image-to-video model (GPU)."""
    from .errors import InputError
    from .renderers.diffusion.keyframe import animate as animate_still

    with _errors(), console.status("animating..."):
        if not still.is_file():
            raise InputError(f"{still} does not exist")
        options = {k: v for k, v in (("model_path", model_path), ("offline", offline)) if v is not None}
        animate_still(still, prompt, seconds, out_file, motion=motion, fps=fps, seed=seed, edit_instruction=edit,
                      **options)
    _clip_done(out_file)


def _existing(*paths: Path) -> None:
    from .errors import InputError

    for p in paths:
        if not p.is_file():
            raise InputError(f"{p} does not exist")


@app.command()
def extend(
    clip: Path = typer.Argument(..., help="The shot to continue."),
    prompt: str = typer.Argument(..., help="What happens next."),
    seconds: float = typer.Option(10.0, "--seconds", help="How much longer."),
    out_file: Path = typer.Option(Path("extended.mp4"), "--out", "-o"),
    model: str = typer.Option("svd", "--model", help="An image-to-video model from `moviefactory models`."),
    seed: int = typer.Option(0, "--seed"), model_path: Optional[Path] = MODEL_PATH, offline: Optional[bool] = OFFLINE,
) -> None:
    """Long-shot extension (StreamingT2V): continue a clip in overlapping, blended chunks (GPU)."""
    from .media.ffmpeg import probe
    from .renderers.diffusion.extend import extend_clip, load_image_to_video
    from .renderers.upscale import clip_rate

    with _errors(), console.status("extending..."):
        _existing(clip)
        v = probe(clip).first("video")
        gen = load_image_to_video(model, clip_size=(v.width, v.height), fps=clip_rate(clip), model_path=model_path,
                                  offline=bool(offline))
        extend_clip(clip, prompt, seconds, out_file, gen, seed=seed)
    _clip_done(out_file)


@app.command("connect")
def connect_cmd(
    a: Path = typer.Argument(..., help="The clip that ends."), b: Path = typer.Argument(..., help="The clip that begins."),
    seconds: float = typer.Option(2.0, "--seconds"), out_file: Path = typer.Option(Path("transition.mp4"), "--out", "-o"),
) -> None:
    """A transition clip from A's last frame to B's first (an ffmpeg dissolve without a first-last-frame model)."""
    from .media.ffmpeg import ffmpeg_binary
    from .renderers.diffusion.connect import connect

    with _errors():
        _existing(a, b)
        connect(a, b, seconds, out_file, ffmpeg=ffmpeg_binary())
    _clip_done(out_file)


@app.command("edit")
def edit_cmd(
    clip: Path = typer.Argument(...), prompt: str = typer.Argument(..., help="The new look, e.g. '1920s film'."),
    strength: float = typer.Option(0.5, "--strength", help="0 keeps the clip, 1 ignores it; ~0.5 keeps structure."),
    out_file: Path = typer.Option(Path("edited.mp4"), "--out", "-o"),
    model: str = typer.Option("sd15-img2img", "--model"), model_path: Optional[Path] = MODEL_PATH,
    offline: Optional[bool] = OFFLINE,
) -> None:
    """Video-to-video restyle (SDEdit) that keeps the clip's structure (GPU)."""
    from .renderers.diffusion.base import entry, load_pipeline
    from .renderers.diffusion.connect import edit_clip

    with _errors(), console.status("restyling..."):
        _existing(clip)
        pipe = load_pipeline(entry(model), source=str(model_path) if model_path else None, offline=bool(offline))
        edit_clip(clip, prompt, out_file, pipe, strength)
    _clip_done(out_file)


@app.command()
def upscale(
    clip: Path = typer.Argument(...), factor: int = typer.Option(4, "--factor", help="2 or 4."),
    out_file: Path = typer.Option(Path("upscaled.mp4"), "--out", "-o"),
    upscaler: str = typer.Option("ffmpeg-lanczos", "--upscaler", help="ffmpeg-lanczos, or spandrel (--weights)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="A Real-ESRGAN-family .pth for spandrel."),
) -> None:
    """Super-resolve a clip x2/x4 (tiled, for learned upscalers)."""
    from .renderers.upscale import create_upscaler, upscale_clip

    with _errors(), console.status("upscaling..."):
        _existing(clip)
        up = create_upscaler(upscaler, **({"weights": weights} if weights else {}))
        upscale_clip(clip, factor, out_file, up)
    _clip_done(out_file)


@app.command()
def interpolate(
    clip: Path = typer.Argument(...), factor: int = typer.Option(2, "--factor"),
    out_file: Path = typer.Option(Path("interpolated.mp4"), "--out", "-o"),
) -> None:
    """Motion-compensated frame interpolation (x2 frames at x2 rate)."""
    from .renderers.upscale import create_interpolator, interpolate_clip

    with _errors(), console.status("interpolating..."):
        _existing(clip)
        interpolate_clip(clip, factor, out_file, create_interpolator("ffmpeg-minterpolate"))
    _clip_done(out_file)


@app.command()
def models() -> None:
    """The diffusion model catalogue: task, native size, frames, VRAM tiers, installed here or not."""
    from .renderers.diffusion.t2v import describe_models

    with _errors():
        rows = describe_models()
    table = Table(box=None)
    for col in ("name", "task", "pipeline", "size", "frames", "fps", "VRAM tiers (GB)", "download", "installed"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["task"], r["pipeline"], r["size"], str(r["max_frames"]), str(r["fps"]),
                      " ".join(map(str, r["vram_gb"])), f"{r['download_gb']:g} GB", "yes" if r["installed"] else "no")
    out.print(table)
    out.print("use one with: moviefactory make \"...\" --renderer NAME  (renderers: animatic, "
              "ltx-video, wan2.1-t2v, cogvideox, hunyuanvideo, sdxl+svd)", markup=False, highlight=False)


@app.command()
def voices(
    engine: Optional[str] = typer.Option(None, "--engine", help="Only this engine."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Only this language (en, zh)."),
) -> None:
    """List the voices of every speech engine, per language."""
    from .audio import create_tts, tts_names
    from .errors import MissingDependencyError

    with _errors():
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


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
