"""The speech seam: a TTS Protocol returning a stem with word timings, and a registry by name."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

from ..errors import InputError
from ..screenplay import Voice


@dataclass(frozen=True)
class WordTiming:
    """One word (or, for Chinese, one character/phrase) and when it is spoken, in seconds from the stem's start."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Speech:
    """A spoken line on disk: mono WAV (16-bit PCM), its exact length, and word timings."""

    path: Path
    duration: float  # seconds, measured from the written samples
    sample_rate: int
    words: tuple[WordTiming, ...] = field(default_factory=tuple)


@runtime_checkable
class TTSBackend(Protocol):
    name: str

    def cache_token(self) -> str:
        """Engine + version string; part of the cache key of every line it speaks."""
        ...

    def speak(self, text: str, voice: Voice, language: str, out: Path, *, rate: float = 1.0) -> Speech:
        """Speak `text` with `voice` into a WAV at `out`. `rate` multiplies the voice's own rate."""
        ...

    def voices(self, language: str) -> list[str]:
        """Voice ids usable for `language` ('en' or 'zh')."""
        ...


TTSFactory = Callable[..., TTSBackend]
_REGISTRY: dict[str, TTSFactory] = {}


def register_tts(name: str) -> Callable[[TTSFactory], TTSFactory]:
    def add(factory: TTSFactory) -> TTSFactory:
        _REGISTRY[name] = factory
        return factory

    return add


def tts_names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def create_tts(name: str, **options) -> TTSBackend:
    _load_builtins()
    if name not in _REGISTRY:
        raise InputError(f"unknown TTS engine {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**options)


def _load_builtins() -> None:
    from . import espeak  # noqa: F401  (registers itself)
