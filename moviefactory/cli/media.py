"""`moviefactory media index FOLDER`: what the footage renderer sees in a folder of photos and clips."""
from __future__ import annotations

from pathlib import Path

import typer

from .common import app, errors, out

media_app = typer.Typer(help="Your photos and clips for --renderer footage: what it sees in them.",
                        no_args_is_help=True)
app.add_typer(media_app, name="media")


@media_app.command("index")
def index(folder: Path = typer.Argument(..., help="A folder of photos and clips (only read).")) -> None:
    """List every photo and clip with the words a shot is matched against, and name the files that
    cannot be read (they are skipped). The index is cached by file size and time, outside the folder."""
    from ..renderers.pictures.media import index_media

    with errors():
        files = index_media(folder)
    good = [f for f in files if not f.error]
    for f in good:  # plain lines: they grep and pipe well
        shape = f"{f.width}x{f.height}" + (f", {f.duration:.1f} s" if f.kind == "video" else "")
        words = f.caption or "(no words: used in folder order)"
        tags = f"  [{', '.join(f.tags)}]" if f.tags else ""
        out.print(f"{f.kind:5s}  {f.path}  ({shape})\n       {words}{tags}", highlight=False, soft_wrap=True,
                  markup=False)
    for f in files:
        if f.error:
            out.print(f"bad    {f.path}: {f.error}", highlight=False, soft_wrap=True, markup=False)
    photos = sum(f.kind == "photo" for f in good)
    out.print(f"{photos} photos, {len(good) - photos} clips usable; {len(files) - len(good)} unreadable",
              highlight=False, markup=False)
