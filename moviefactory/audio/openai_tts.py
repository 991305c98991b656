"""The `openai` TTS backend: POST /v1/audio/speech on OpenAI or any server that speaks it (Kokoro-FastAPI,
LocalAI, ...), through the openai client.

The key comes from the environment ($OPENAI_API_KEY, or the variable `tts_api_key_env` names) and is
never stored or printed; a base URL is shown without its credentials. Timeouts, 429 and 5xx are
retried by the client with backoff, a bounded number of times; then one line says what failed.

Such servers give no word timings: they are fitted by `align.fit_words` from espeak-ng's reading of
the same text to the pauses in the returned speech.
"""
from __future__ import annotations

import io
import os
import wave
import zlib
from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError, SpeechError
from ..screenplay import Voice
from ..secrets import public_url
from .base import Speech, register_tts, write_speech

OPENAI_VOICES = {"f": ["nova", "shimmer", "coral"], "m": ["onyx", "echo", "fable", "alloy"]}
_KEEP_TAIL = 0.15


class OpenAITTS:
    name = "openai"

    def __init__(self, *, base_url: str | None = None, model: str = "tts-1", voice: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0, max_retries: int = 3) -> None:
        try:
            import openai
        except ImportError as e:  # pragma: no cover - a dependency
            raise MissingDependencyError("the openai TTS needs the openai package: pip install openai") from e
        self.base_url, self.model, self.voice = base_url, model, voice
        key = os.environ.get(api_key_env) or ("not-needed" if base_url else None)
        if key is None:
            raise MissingDependencyError(f"--tts openai needs a key in ${api_key_env} (or --tts-base-url for a local "
                                         f"server)")
        self._client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=max_retries)
        self._espeak = None

    def cache_token(self) -> str:
        return f"openai-speech {public_url(self.base_url) or 'api.openai.com'} {self.model}"

    def voices(self, language: str) -> list[str]:
        return ([self.voice] if self.voice else []) + [v for vs in OPENAI_VOICES.values() for v in vs
                                                       if v != self.voice]

    def check_voice(self, voice_id: str, language: str) -> bool:
        return bool(voice_id.strip())  # the server's own names: it answers for them

    def _voice_id(self, voice: Voice) -> str:
        """The server's voice: one named for this engine (--voice), else, on a local server, the narrator's
        for everyone (its voice names are its own), else an OpenAI voice of the screenplay voice's kind
        (its espeak id says f or m), the same for the same character."""
        if voice.engine == self.name:
            return voice.id
        if self.voice and self.base_url:
            return self.voice
        pool = OPENAI_VOICES["f" if "+f" in voice.id else "m"]
        return pool[zlib.crc32(voice.id.encode()) % len(pool)]

    def speak(self, text: str, voice: Voice, language: str, out: Path, *, rate: float = 1.0) -> Speech:
        import openai

        if not text.strip():
            raise SpeechError("cannot speak an empty line")
        speed = min(4.0, max(0.25, rate * voice.rate))
        try:
            reply = self._client.audio.speech.create(model=self.model, voice=self._voice_id(voice), input=text,
                                                     response_format="wav", speed=speed)
            data = reply.read()
        except openai.APIStatusError as e:
            hint = " (check the key in the environment)" if e.status_code in (401, 403) else ""
            raise SpeechError(f"speech server {self._where()} answered {e.status_code}{hint}") from None
        except openai.APITimeoutError:
            raise SpeechError(f"speech server {self._where()} did not answer in time (retried)") from None
        except openai.APIConnectionError:
            raise SpeechError(f"speech server {self._where()} cannot be reached (retried)") from None
        audio, sr = _decode(data)
        loud = np.flatnonzero(np.abs(audio) >= 200 / 32768)
        if loud.size == 0:
            raise SpeechError(f"speech server {self._where()} returned silence for {text[:60]!r}")
        audio = audio[: min(len(audio), int(loud[-1]) + 1 + int(_KEEP_TAIL * sr))]
        pcm = np.clip(np.round(audio * 32768), -32768, 32767).astype("<i2")  # 16-bit PCM back to the same samples
        duration = write_speech(out, pcm, sr)
        return Speech(path=Path(out), duration=duration, sample_rate=sr,
                      words=self._timings(text, voice, language, out, audio, sr, duration))

    def _timings(self, text, voice, language, out: Path, audio, sr, duration):
        """The words' times: espeak-ng reads the text, its reading is fitted to this speech's pauses."""
        from .align import fit_words
        from .espeak import EspeakTTS

        self._espeak = self._espeak or EspeakTTS()
        ref_path = out.with_name(out.name + ".ref.wav")
        try:
            ref = self._espeak.speak(text, Voice(id="en-us" if language == "en" else language), language, ref_path)
            with wave.open(str(ref_path)) as w:
                ref_audio = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
                ref_sr = w.getframerate()
        finally:
            ref_path.unlink(missing_ok=True)
        return fit_words(ref.words, ref_audio, ref_sr, audio, sr, duration)

    def _where(self) -> str:
        return public_url(self.base_url) or "https://api.openai.com/v1"


def _decode(data: bytes) -> tuple[np.ndarray, int]:
    """Mono float samples of whatever the server sent (wav, mp3, ...), at its own rate."""
    import av

    chunks = []
    try:
        with av.open(io.BytesIO(data)) as c:
            stream = c.streams.audio[0]
            sr = stream.codec_context.sample_rate
            mono = av.AudioResampler(format="flt", layout="mono", rate=sr)
            for frame in c.decode(stream):
                chunks += [g.to_ndarray()[0] for g in mono.resample(frame)]
            chunks += [g.to_ndarray()[0] for g in mono.resample(None)]
    except (av.error.FFmpegError, IndexError, ValueError) as e:
        raise SpeechError(f"the speech server's reply is not audio ({len(data)} bytes): {e}") from None
    if not chunks:
        raise SpeechError("the speech server's reply has no audio")
    return np.concatenate(chunks).astype(np.float32), sr


@register_tts("openai")
def _make_openai(*, tts_base_url: str | None = None, tts_model: str = "tts-1", voice: str | None = None,
                 tts_api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0, max_retries: int = 3,
                 **_options) -> OpenAITTS:
    return OpenAITTS(base_url=tts_base_url, model=tts_model, voice=voice, api_key_env=tts_api_key_env,
                     timeout=timeout, max_retries=max_retries)
