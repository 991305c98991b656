"""What every command shares: the typer app, the consoles, one-line errors and exit codes, the progress
display, the end-of-run summary, and the film-option flags, derived from `FilmOptions`.

Only this package turns exceptions into exit codes: 2 for bad input (a wrong flag, file, value or
name), 1 for a failed run, 3 for a missing part, 70 for a bug (never reachable from input), 130 for
Ctrl-C.
"""
from __future__ import annotations

import functools
import inspect
import os
import sys
import threading
import time
import typing
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import MovieFactoryError
from ..options import FIELDS

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
                  help="One line in, a finished film out.")
console = Console(stderr=True)
out = Console()
_debug = False

STAGE_LABEL = {"plan": "Writing the screenplay", "narrate": "Recording narration", "render": "Rendering shots",
               "sound": "Choosing music and effects", "connect": "Generating transitions",
               "timeline": "Cutting the timeline", "assemble": "Mixing and encoding"}


def _print_version(value: bool) -> None:
    if value:
        from ..version import __version__

        say(f"moviefactory {__version__}")
        raise typer.Exit()


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for unexpected errors."),
          config_dir: Optional[Path] = typer.Option(None, "--config-dir", help="Your folder of presets, prompts and "
                                                    "config.yaml (default: ~/.config/moviefactory)."),
          version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    global _debug
    _debug = debug
    if config_dir is not None:  # this process's default (and its batch films' processes')
        if not config_dir.expanduser().is_dir():
            console.print(f"[red]error:[/red] --config-dir: {config_dir} is not a folder", highlight=False)
            raise typer.Exit(2)
        os.environ["MOVIEFACTORY_CONFIG_DIR"] = str(config_dir.expanduser().resolve())


def say(text: str) -> None:
    """A plain line on stdout (no markup, no highlighting: it greps and pipes well)."""
    out.print(text, highlight=False, soft_wrap=True, markup=False)


@contextmanager
def errors(hint_run: str | None = None) -> Iterator[None]:
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


class Display:
    """Turns pipeline events into a rich progress display: stage, scene k/n, elapsed."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.tasks, self.lock = progress, {}, threading.Lock()
        self.rendered, self.started = 0, False

    def __call__(self, event) -> None:
        with self.lock:
            if not self.started:  # the display appears with the first event: bad input prints one line only
                self.progress.start()
                self.started = True
            if event.kind == "note":
                self.progress.console.print(event.detail, highlight=False, soft_wrap=True, markup=False)
                return
            task = self.tasks.get(event.stage)
            if task is None:
                task = self.progress.add_task(STAGE_LABEL.get(event.stage, event.stage), total=event.total or None)
                self.tasks[event.stage] = task
            if event.stage == "render" and event.kind == "working":  # a server's progress on one shot
                self.progress.update(task, description=f"Rendering shots: {event.detail}")
            elif event.stage == "render" and event.kind in ("step", "cached"):
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
def progress_display() -> Iterator[Display]:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    display = Display(Progress(*columns, console=console, transient=False))
    try:
        yield display
    finally:
        if display.started:
            display.progress.stop()


def summary(result, started: float) -> None:
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


# --- film options as flags ----------------------------------------------------------------------------
_METAVAR = {int: "INTEGER", float: "NUMBER", Path: "PATH"}


def _scalar(annotation: Any) -> type | None:
    """The plain type a flag gives a field (`str | dict | None` -> str; a mapping alone has no flag)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    plain = [a for a in args if a in (str, int, float, bool, Path)]
    return (str if str in plain else plain[0]) if plain else None


def option_parameters(exclude: tuple[str, ...] = ()) -> list[inspect.Parameter]:
    """One keyword parameter per film option with a flag. Values arrive as text (bools as flags) and are
    validated by FilmOptions, so a bad value is the same one-line error from a flag, a file or Python."""
    params = []
    for info in FIELDS.values():
        kind = _scalar(info.annotation)
        if info.flag is None or info.name in exclude or kind is None:
            continue
        decls = [info.flag, *([info.short] if info.short else [])]
        default = "" if info.default is None else f" [default: {info.default}]"
        if kind is bool:
            option, annotation = typer.Option(None, *decls, help=info.help), Optional[bool]
        else:
            option = typer.Option(None, *decls, help=info.help + default, metavar=_METAVAR.get(kind, "TEXT"),
                                  show_default=False)
            annotation = Optional[str]
        params.append(inspect.Parameter(info.name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=annotation))
    return params


def with_film_options(*, exclude: tuple[str, ...] = ()) -> Callable:
    """Give a command every film option as a flag; the command receives the ones set as `options`."""
    def decorate(func: Callable) -> Callable:
        hints = typing.get_type_hints(func)
        own = [p.replace(annotation=hints.get(p.name, p.annotation))
               for p in inspect.signature(func).parameters.values() if p.name != "options"]
        derived = option_parameters(exclude)
        names = {p.name for p in derived}

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            given = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
            options = {k: v for k, v in given.items() if v is not None}
            return func(**kwargs, options=options)

        del command.__wrapped__  # typer must read the signature below, not the function's own
        command.__signature__ = inspect.Signature(own + derived)
        command.__annotations__ = {p.name: p.annotation for p in own + derived}
        return command

    return decorate


def film_flags(options: dict[str, Any]) -> dict[str, Any]:
    """The flags' text as typed values, checked here so that an error names the flag (`--seconds`)."""
    from ..options import Layer, build_options

    checked = build_options([Layer(options, "", flags=True)])
    return {name: getattr(checked, name) for name in options}


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:  # click's errors: an unknown flag, a missing argument, a bad number
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":
            say(ctx.get_help() if ctx else "")
            code = 0
        else:
            see = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
            console.print(f"[red]error:[/red] {exc.format_message()}{see}", markup=True, highlight=False,
                          soft_wrap=True)
            code = exc.exit_code
    except typer.Abort:
        console.print("interrupted")
        code = 130
    sys.exit(code if isinstance(code, int) else 0)
