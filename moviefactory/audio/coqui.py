"""Coqui TTS (the maintained `coqui-tts` package, imported as `TTS`): neural voices, XTTS-v2 cloning.

Optional: it needs a torch with a matching torchaudio, which the default CPU install does not have.
Used when its package and model files are present; otherwise it fails with one line saying how
to get them. Coqui gives no word timings, so words are spread over the speech by their length.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError, SpeechError
from ..screenplay import Voice
from .base import Speech, WordTiming, register_tts, write_speech

XTTS = "tts_models/multilingual/multi-dataset/xtts_v2"
INSTALL = "Coqui TTS is not installed: pip install coqui-tts (it needs torch with a matching torchaudio)"


class CoquiTTS:
    name = "coqui"

    def __init__(self, engine, model: str) -> None:
        self.engine, self.model = engine, model  # a TTS.api.TTS, passed in

    def cache_token(self) -> str:
        return f"coqui {self.model}"

    def voices(self, language: str) -> list[str]:
        speakers = getattr(self.engine, "speakers", None) or []
        return list(speakers)

    def speak(self, text: str, voice: Voice, language: str, out: Path, *, rate: float = 1.0) -> Speech:
        if not text.strip():
            raise SpeechError("nothing to say: the line is empty", stage="narrate")
        speakers = self.voices(language)
        kwargs: dict = {"language": "zh-cn" if language == "zh" else language}
        if Path(voice.id).is_file():  # a reference clip: XTTS clones the voice
            kwargs["speaker_wav"] = voice.id
        elif speakers:
            # espeak-style ids from a screenplay map onto this model's speakers, stably.
            kwargs["speaker"] = voice.id if voice.id in speakers else speakers[zlib.crc32(voice.id.encode()) % len(speakers)]
        try:
            samples = np.asarray(self.engine.tts(text=text, speed=rate * voice.rate, **kwargs), dtype=np.float32)
        except Exception as exc:  # the model's own errors are many and untyped
            raise SpeechError(f"Coqui TTS failed: {exc}", stage="narrate") from None
        sample_rate = int(self.engine.synthesizer.output_sample_rate)
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
        duration = write_speech(out, pcm, sample_rate)
        return Speech(out, duration, sample_rate, spread_words(text, language, duration))


def spread_words(text: str, language: str, duration: float) -> tuple[WordTiming, ...]:
    """Word timings without an aligner: each word gets time in proportion to its length."""
    units = list(text.replace(" ", "")) if language == "zh" else text.split()
    weights = np.array([max(1, len(u)) for u in units], dtype=float)
    if not len(units):
        return ()
    edges = np.concatenate([[0.0], np.cumsum(weights) / weights.sum() * duration])
    return tuple(WordTiming(u, float(a), float(b)) for u, a, b in zip(units, edges[:-1], edges[1:]))


@register_tts("coqui")
def _make(model: str = XTTS, **_options) -> CoquiTTS:
    try:
        from TTS.api import TTS
    except Exception:  # ImportError, or torchaudio failing to load beside this torch
        raise MissingDependencyError(INSTALL) from None
    try:
        return CoquiTTS(TTS(model_name=model, progress_bar=False), model)
    except Exception as exc:
        raise MissingDependencyError(f"Coqui model {model!r} is not available here ({exc}); download it on a "
                                     "machine with network access or pass a local model path") from None
