"""The film commands: make, plan, render, resume; and formats, options, eval, doctor."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer

from .common import app, errors, film_flags, out, progress_display, say, summary, with_film_options

THEME = typer.Argument(..., help='One line, e.g. "An astronaut\'s space adventure".')
CONFIG = typer.Option(None, "--config", help="A YAML file of settings (see `moviefactory options --yaml`).")
WRITER_OPTIONS = ("lang", "writer", "llm", "llm_base_url", "llm_temperature", "llm_max_tokens", "llm_max_repairs",
                  "llm_timeout", "llm_max_retries")


@app.command()
@with_film_options()
def make(theme: str = THEME, config: Optional[Path] = CONFIG, *, options: dict[str, Any]) -> None:
    """Make a film from one line."""
    from ..api import make_film

    started = time.perf_counter()
    with errors(), progress_display() as display:
        result = make_film(theme, config=config, progress=display, **film_flags(options))
    summary(result, started)


@app.command()
@with_film_options()
def plan(theme: str = THEME,
         plan_file: Path = typer.Option(..., "--out", "-o", help="Where to write the screenplay (.yaml or .json)."),
         config: Optional[Path] = CONFIG, *, options: dict[str, Any]) -> None:
    """Write the screenplay only, to review and edit before rendering."""
    from .. import api
    from ..screenplay import dump_screenplay

    with errors(), progress_display() as display:
        result = api.plan(theme, config=config, progress=display, **film_flags(options))
        dump_screenplay(result.screenplay, plan_file)
    sp = result.screenplay
    out.print(f"[bold]{sp.title}[/bold]: {len(sp.scenes)} scenes, {len(sp.shots())} shots, {sp.duration:.0f} s")
    say(f"wrote: {plan_file}")
    say(f"edit it, then:  moviefactory render {plan_file}")
    say(f"or shoot it as written:  moviefactory resume {result.run_id}")


@app.command()
@with_film_options(exclude=WRITER_OPTIONS)
def render(plan_file: Path = typer.Argument(..., help="A screenplay written by `plan` (and edited by you)."),
           config: Optional[Path] = CONFIG, *, options: dict[str, Any]) -> None:
    """Film exactly what a screenplay file says."""
    from .. import api

    started = time.perf_counter()
    with errors(), progress_display() as display:
        result = api.render(plan_file, config=config, progress=display, **film_flags(options))
    summary(result, started)


@app.command()
def resume(
    run_id: str = typer.Argument(..., help="The run id (the directory name under the output dir)."),
    output: Optional[Path] = typer.Option(None, "--output", help="Where run directories are (default ./runs)."),
) -> None:
    """Continue a stopped run with exactly its own settings; finished stages and shots are kept."""
    from ..api import resume_film

    started = time.perf_counter()
    with errors(run_id), progress_display() as display:
        result = resume_film(run_id, output=output, progress=display)
    summary(result, started)


@app.command()
def formats() -> None:
    """List the format presets (built in, and your own in the config dir)."""
    from ..config import format_names, load_format

    with errors():
        for name in format_names():
            f = load_format(name)
            say(f"{name:12} {f.width}x{f.height} {f.fps} fps  {f.loudness_lufs} LUFS  {f.description}")


@app.command("options")
def options_cmd(yaml: bool = typer.Option(False, "--yaml", help="Print a config file of every setting's default.")
                ) -> None:
    """Every film setting: its flag, default and what it does (the same keys work in --config files and
    batch files)."""
    from ..options import FIELDS, options_yaml

    if yaml:
        out.print(options_yaml(), end="", highlight=False, markup=False, soft_wrap=True)
        return
    for info in FIELDS.values():
        flag = info.flag or "(config only)"
        say(f"{info.name:20} {flag:28} {info.role:4}  default {info.default!r}\n{'':20} {info.help}")


@app.command("eval")
def eval_cmd(
    film: Path = typer.Argument(..., help="A film (any mp4/mkv/mov), e.g. runs/<run-id>/film.mp4."),
    format: Optional[str] = typer.Option(None, "--format", help="Check loudness and true peak against this preset's "
                                         "target and ceiling."),
    target_lufs: Optional[float] = typer.Option(None, "--target-lufs", help="Loudness target (overrides --format)."),
    subtitles: Optional[Path] = typer.Option(None, "--subtitles", help="Captions to check (default: beside the film)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the measurements here."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when a check fails."),
) -> None:
    """Measure a finished film: picture, loudness, cuts, captions' speed and sync; checks with a verdict."""
    from ..config import load_format
    from ..eval import evaluate
    from ..media.files import write_text

    with errors():
        preset = load_format(format) if format else None
        target = target_lufs if target_lufs is not None else preset.loudness_lufs if preset else None
        ceiling = {"max_true_peak": preset.true_peak_db} if preset else {}
        result = evaluate(film, subtitles=subtitles, target_lufs=target, **ceiling)
        if json_out:
            import json

            write_text(json_out, json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
    loud = f"{result.loudness_lufs:.1f} LUFS, LRA {result.loudness_range:.1f}" if result.loudness_lufs is not None \
        else "no audio"
    say(f"{film}: {result.width}x{result.height} {result.fps:g} fps, {result.duration:.2f} s, {loud}, "
        f"{len(result.cuts)} cut(s), average shot {result.average_shot:.1f} s")
    for check in result.checks:
        mark = "[green]ok[/green]  " if check.ok else "[red]fail[/red]"
        out.print(f"  {mark} {check.name}: {check.detail}", highlight=False)
    raise typer.Exit(1 if strict and not result.ok else 0)


@app.command()
def doctor() -> None:
    """Check that ffmpeg, espeak-ng and the caption fonts are usable here."""
    from ..audio import create_tts
    from ..media.ffmpeg import ffmpeg_binary, run_ffmpeg
    from ..languages import caption_fonts, caption_fonts_dir

    ok = True
    checks = {
        "ffmpeg": lambda: run_ffmpeg(ffmpeg_binary(), ["-version"], stage="doctor") and ffmpeg_binary(),
        "espeak-ng": lambda: create_tts("espeak").cache_token(),
        "caption fonts": lambda: ", ".join(family for _, family in caption_fonts()) + f" ({caption_fonts_dir()})",
    }
    for name, check in checks.items():
        try:
            out.print(f"[green]ok[/green]   {name}: {check()}", highlight=False)
        except Exception as exc:  # doctor reports every failure instead of stopping at the first
            ok = False
            out.print(f"[red]fail[/red] {name}: {exc}", highlight=False)
    raise typer.Exit(0 if ok else 1)
