"""A vertical short from one line, with the Python API.

    python examples/make_short.py                                   # the default theme, into ./runs
    python examples/make_short.py "How a single seed becomes a forest" --seconds 30
    python examples/make_short.py "月光下的少林寺" --output /tmp/films  # the language follows the theme
    python examples/make_short.py --review                          # plan, change a line, then film it

A draft (270x480) by default, so it is made in seconds on a CPU; --full makes the 1080x1920 film.
The same theme and settings find the same run directory again: a second run redoes nothing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import moviefactory as mf
from moviefactory.errors import MovieFactoryError
from moviefactory.screenplay import Screenplay, parse_screenplay

THEME = "A day in the life of a street cat"
OPENING = "Every morning, the city belongs to the cats."


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = dict(format="vertical", draft=not args.full, scenes=args.scenes, seconds=args.seconds,
                    seed=args.seed, output=args.output)
    try:
        if args.review:
            planned = mf.plan(args.theme, progress=show, **settings)
            print_lines(planned.screenplay)
            edited = with_opening_line(planned.screenplay, OPENING)
            # render() films exactly what it is given; the format and size are its settings, not the script's
            film = mf.render(edited, progress=show, **{k: v for k, v in settings.items() if k in RENDER_KEYS})
        else:
            film = mf.make_film(args.theme, progress=show, **settings)
    except MovieFactoryError as exc:  # bad input, a tool that failed: one line, and the CLI's exit codes
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    print(f"{film.title}: {film.duration:.2f} s")
    print(f"film: {film.video}")
    print(f"captions: {film.subtitles['srt']}")
    print(f"run: {film.run_dir}")
    return 0


# a screenplay brings its own scenes, shots and language: only the settings that shoot it apply
RENDER_KEYS = ("format", "draft", "seed", "output")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Make a vertical short from one line.")
    parser.add_argument("theme", nargs="?", default=THEME, help=f"one line (default: {THEME!r})")
    parser.add_argument("--output", type=Path, default=Path("runs"),
                        help="where run directories go (default: ./runs, as for `moviefactory make`)")
    parser.add_argument("--seconds", type=float, default=15.0, help="target length (default: 15)")
    parser.add_argument("--scenes", type=int, default=3, help="number of scenes (default: 3)")
    parser.add_argument("--seed", type=int, default=7, help="another seed, another take")
    parser.add_argument("--full", action="store_true", help="the full 1080x1920 film instead of a draft")
    parser.add_argument("--review", action="store_true",
                        help="plan first, print the lines, rewrite the opening one, then film the result")
    return parser.parse_args(argv)


def with_opening_line(screenplay: Screenplay, text: str) -> Screenplay:
    """The screenplay with its first narration line replaced, validated again like an edited file."""
    data = screenplay.model_dump(mode="json")
    narration = data["scenes"][0]["narration"]
    if narration:
        narration[0]["text"] = text
    else:
        narration.append({"speaker": "Narrator", "text": text})
    return parse_screenplay(data, source="the edited screenplay")  # a bad edit names its field


def print_lines(screenplay: Screenplay) -> None:
    print(f"{screenplay.title}: {len(screenplay.scenes)} scenes, {len(screenplay.shots())} shots", file=sys.stderr)
    for scene in screenplay.scenes:
        print(f"  {scene.heading}", file=sys.stderr)
        for line in scene.narration:
            print(f"    {line.speaker}: {line.text}", file=sys.stderr)
    print(f"rewriting the opening line as: {OPENING}", file=sys.stderr)


def show(event) -> None:
    """Pipeline events (moviefactory.pipeline.progress.Event): a line per finished stage, on stderr."""
    if event.kind == "note":
        print(event.detail, file=sys.stderr)
    elif event.kind == "done":
        print(f"  {event.stage} done" + (f": {event.detail}" if event.detail else ""), file=sys.stderr)

if __name__ == "__main__":
    raise SystemExit(main())
