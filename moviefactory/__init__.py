"""moviefactory: one line in, a finished film out."""
from __future__ import annotations

from .version import __version__

__all__ = ["FilmResult", "PlanResult", "__version__", "make_film", "plan", "render", "resume_film", "run_id"]


def __getattr__(name: str):
    # The API pulls in LangGraph; keep `import moviefactory` (and `--help`) fast.
    if name in ("FilmResult", "PlanResult", "make_film", "plan", "render", "resume_film", "run_id"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
