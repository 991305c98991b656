"""The speech seam: a TTS Protocol returning a stem with word timings, and a registry by name."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..registry import Registry
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


def write_speech(out: Path, pcm, sample_rate: int) -> float:
    """A spoken line as mono 16-bit WAV (`pcm`: int16 samples); returns its exact length in seconds."""
    import wave

    import numpy as np

    from ..errors import SpeechError

    data = np.asarray(pcm).astype("<i2").tobytes()
    try:
        with wave.open(str(out), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            w.writeframes(data)
    except OSError as e:
        raise SpeechError(f"cannot write {out}: {e}") from e
    return len(data) / 2 / sample_rate


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


_REGISTRY: Registry = Registry("TTS engine", ("moviefactory.audio.espeak", "moviefactory.audio.piper_tts", "moviefactory.audio.openai_tts",
                                           "moviefactory.audio.coqui"))
register_tts = _REGISTRY.register
tts_names = _REGISTRY.names
create_tts = _REGISTRY.create
