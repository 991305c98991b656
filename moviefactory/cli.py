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
               "sound": "Choosing music and effects", "connect": "Generating transitions",
               "timeline": "Cutting the timeline", "assemble": "Mixing and encoding"}


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
    upscale: Optional[int] = typer.Option(None, "--upscale", help="Super-resolve generated frames x2 or x4 "
                                          "(widescreen x4: a 3072x1280 film)."),
    interpolate: Optional[int] = typer.Option(None, "--interpolate", help="Interpolate generated frames x2 or x4."),
    upscaler: Optional[str] = typer.Option(None, "--upscaler", help="ffmpeg-lanczos (default) or spandrel."),
    upscale_weights: Optional[Path] = typer.Option(None, "--upscale-weights", help="Weights for spandrel (.pth)."),
    interpolator: Optional[str] = typer.Option(None, "--interpolator", help="ffmpeg-minterpolate (default) or rife."),
    interpolate_weights: Optional[Path] = typer.Option(None, "--interpolate-weights",
                                                       help="Weights for rife (flownet.pkl)."),
    transitions: Optional[str] = typer.Option(None, "--transitions", help="Generate scene transitions with a "
                                              "first-and-last-frame model (wan2.1-flf2v) instead of fading."),
) -> None:
    """Make a film from one line."""
    from .api import make_film

    started = time.perf_counter()
    with _errors(), _progress() as display:
        result = make_film(theme, format=format, lang=lang, scenes=scenes, seconds=seconds, seed=seed, draft=draft,
                           output=output, config=config, llm=llm, llm_base_url=llm_base_url, tts=tts, voice=voice,
                           music=music, sfx=sfx, renderer=renderer, model_path=model_path, offline=offline,
                           vram=vram, upscale=upscale, interpolate=interpolate, upscaler=upscaler,
                           upscale_weights=upscale_weights, interpolator=interpolator,
                           interpolate_weights=interpolate_weights, transitions=transitions, progress=display)
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


@app.command("eval")
def eval_cmd(
    film: Path = typer.Argument(..., help="A film (any mp4/mkv/mov), e.g. runs/<run-id>/film.mp4."),
    format: Optional[str] = typer.Option(None, "--format", help="Check loudness against this preset's target."),
    target_lufs: Optional[float] = typer.Option(None, "--target-lufs", help="Loudness target (overrides --format)."),
    subtitles: Optional[Path] = typer.Option(None, "--subtitles", help="Captions to check (default: beside the film)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the measurements here."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when a check fails."),
) -> None:
    """Measure a finished film: picture, loudness, cuts, captions' speed and sync; checks with a verdict."""
    from .config import load_format
    from .eval import evaluate
    from .media.files import write_text

    with _errors():
        target = target_lufs if target_lufs is not None else load_format(format).loudness_lufs if format else None
        result = evaluate(film, subtitles=subtitles, target_lufs=target)
        if json_out:
            import json

            write_text(json_out, json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
    loud = f"{result.loudness_lufs:.1f} LUFS, LRA {result.loudness_range:.1f}" if result.loudness_lufs is not None \
        else "no audio"
    out.print(f"{film}: {result.width}x{result.height} {result.fps:g} fps, {result.duration:.2f} s, {loud}, "
              f"{len(result.cuts)} cut(s), average shot {result.average_shot:.1f} s", highlight=False, soft_wrap=True)
    for check in result.checks:
        mark = "[green]ok[/green]  " if check.ok else "[red]fail[/red]"
        out.print(f"  {mark} {check.name}: {check.detail}", highlight=False)
    raise typer.Exit(1 if strict and not result.ok else 0)


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


# The other command groups add themselves to `app` when imported.
from . import cli_batch, cli_clips, cli_sound  # noqa: E402,F401  (they add their commands to `app`)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
