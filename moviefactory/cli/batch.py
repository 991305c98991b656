"""`moviefactory batch run|schedule FILE`: content batches from the command line. Every `make` flag is
a default for the batch's films: over the file's `defaults:`, under a film's own keys."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .common import app, console, errors, film_flags, out, with_film_options

batch_app = typer.Typer(help="Content batches: many films from one file, now or on a schedule.",
                        no_args_is_help=True)
app.add_typer(batch_app, name="batch")

BATCH_FILE = typer.Argument(..., help="The films: .txt (a theme a line), .csv or .jsonl (a theme and options a "
                                      "row), or a batch .yaml.")
EXECUTOR = typer.Option(None, "--executor", help="local (default) or ray; overrides the file's.")
CONFIG = typer.Option(None, "--config", help="A YAML file of settings for the films (under the batch's own).")


def _load_options(options: dict[str, Any], config: Path | None) -> dict[str, Any]:
    """The flags checked and typed (a bad one is one line naming it); --output is the batch's folder."""
    flags = film_flags(options)
    return {"flags": flags, "output": flags.pop("output", None), "config": config}


def _report(result) -> None:
    for film in result.films:
        mark = "[green]made[/green]  " if film.status == "made" else "[red]failed[/red]"
        detail = film.video if film.status == "made" else film.error
        if film.same_as is not None:
            detail += f" (the same film as #{film.same_as + 1})"
        out.print(f"{mark} {film.theme}: {detail}", highlight=False, soft_wrap=True)
    made = len(result.films) - len(result.failed)
    out.print(f"{made}/{len(result.films)} films made in {result.wall_seconds:.1f} s ({result.executor}); "
              f"summary: {result.summary}", highlight=False, soft_wrap=True)


@batch_app.command("run")
@with_film_options()
def run_cmd(batch_file: Path = BATCH_FILE, executor: Optional[str] = EXECUTOR, config: Optional[Path] = CONFIG,
            jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, max=256,
                                               help="Films made at once (overrides the file's `workers:`)."),
            *, options: dict[str, Any]) -> None:
    """Make every film of a batch now. Films already made are kept; a failed film does not stop the rest."""
    from ..batch import load_batch, run_batch

    with errors():
        spec = load_batch(batch_file, **_load_options(options, config))
        if jobs is not None:
            spec = dataclasses.replace(spec, workers=jobs)
        columns = (TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task(f"batch {spec.name}: films", total=len(spec.films))
            result = run_batch(spec, executor=executor, on_film=lambda done, total, film: bar.update(task, completed=done))
    _report(result)
    raise typer.Exit(result.exit_code)


@batch_app.command("schedule")
@with_film_options()
def schedule_cmd(
    batch_file: Path = typer.Argument(..., help="The batch YAML, with a cron `schedule:`."),
    firings: Optional[int] = typer.Option(None, "--firings", help="Stop after this many (default: run until Ctrl-C)."),
    executor: Optional[str] = EXECUTOR,
    config: Optional[Path] = CONFIG,
    *,
    options: dict[str, Any],
) -> None:
    """Run a batch at every time its cron schedule names; each firing's films go in their own folder."""
    from ..batch.schedule import run_schedule

    with errors():
        results = run_schedule(
            batch_file, max_firings=firings, executor=executor, **_load_options(options, config),
            on_wait=lambda when: console.print(f"next firing: {when:%Y-%m-%d %H:%M}", highlight=False),
            on_firing=lambda when, result: _report(result))
    raise typer.Exit(max((r.exit_code for r in results), default=0))
