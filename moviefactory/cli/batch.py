"""`moviefactory batch run|schedule batch.yaml`: content batches from the command line."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .common import app, console, errors, out

batch_app = typer.Typer(help="Content batches: many films from one YAML file, now or on a schedule.",
                        no_args_is_help=True)
app.add_typer(batch_app, name="batch")

EXECUTOR = typer.Option(None, "--executor", help="local (default) or ray; overrides the file's.")


def _report(result) -> None:
    for film in result.films:
        mark = "[green]made[/green]  " if film.status == "made" else "[red]failed[/red]"
        detail = film.video if film.status == "made" else film.error
        out.print(f"{mark} {film.theme}: {detail}", highlight=False, soft_wrap=True)
    made = len(result.films) - len(result.failed)
    out.print(f"{made}/{len(result.films)} films made in {result.wall_seconds:.1f} s ({result.executor}); "
              f"summary: {result.summary}", highlight=False, soft_wrap=True)


@batch_app.command("run")
def run_cmd(batch_file: Path = typer.Argument(..., help="The batch YAML."), executor: Optional[str] = EXECUTOR) -> None:
    """Make every film of a batch now. Films already made are kept; a failed film does not stop the rest."""
    from ..batch import load_batch, run_batch

    with errors():
        spec = load_batch(batch_file)
        columns = (TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task(f"batch {spec.name}: films", total=len(spec.films))
            result = run_batch(spec, executor=executor, on_film=lambda done, total, film: bar.update(task, completed=done))
    _report(result)
    raise typer.Exit(result.exit_code)


@batch_app.command("schedule")
def schedule_cmd(
    batch_file: Path = typer.Argument(..., help="The batch YAML, with a cron `schedule:`."),
    firings: Optional[int] = typer.Option(None, "--firings", help="Stop after this many (default: run until Ctrl-C)."),
    executor: Optional[str] = EXECUTOR,
) -> None:
    """Run a batch at every time its cron schedule names; each firing's films go in their own folder."""
    from ..batch.schedule import run_schedule

    with errors():
        results = run_schedule(
            batch_file, max_firings=firings, executor=executor,
            on_wait=lambda when: console.print(f"next firing: {when:%Y-%m-%d %H:%M}", highlight=False),
            on_firing=lambda when, result: _report(result))
    raise typer.Exit(max((r.exit_code for r in results), default=0))
