"""`moviefactory eval film.mp4`: measure a finished film from its media alone (any film, ours or not)."""
from .metrics import Check, FilmEval, evaluate

__all__ = ["Check", "FilmEval", "evaluate"]
