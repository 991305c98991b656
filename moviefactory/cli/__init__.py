"""`moviefactory` on the command line: a thin wrapper over the API, with progress and a summary.

`common` holds the app and what every command shares; each command module adds its commands to it.
"""
from __future__ import annotations

from . import film, batch, clips, sound, media, studio  # noqa: F401,I001  (each adds its commands to the app, in --help's order)
from .common import app, main

__all__ = ["app", "main"]
