"""The `espeak` TTS backend: libespeak-ng through ctypes, from the `espeakng-loader` wheel.

The library is one global, non-thread-safe engine, and it remembers the lines it spoke. So it lives in
a host process of its own (espeak_host.py, started lazily, one per process, every call through
`_LOCK`) that speaks each line in a fork of itself: the same line is the same samples whatever was
spoken before it.

Word timings come from espeakEVENT_WORD events (`text_position` is 1-based and counts
characters, not bytes). For Chinese, espeak emits one event per dictionary word, at its first
character (少林 -> one event at 少), so characters without an event share the time up to the
next one. Numbers get several events ("1990" -> two); those merge into one word.
"""
from __future__ import annotations

import atexit
import contextlib
import re
import subprocess
import sys
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError, SpeechError
from ..screenplay import Voice
from . import espeak_host
from .base import Speech, WordTiming, register_tts, write_speech

NORMAL_WPM = 175
_MIN_WPM, _MAX_WPM = 80, 450
_SILENCE = 200  # |sample| below this (about -44 dBFS) counts as silence
_KEEP_TAIL = 0.15  # seconds of trailing silence kept after the last sound
_BASES = {"en": ("en-us", "en"), "zh": ("cmn",)}
_DEFAULT_BASE = {"en": "en-us", "zh": "cmn"}
_ALIASES = {"zh": "cmn", "zh-cn": "cmn", "en-US": "en-us"}
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"  # kana + ideographs
_SEPARATORS = "\\s—–…\u3000-\u303f！（），：；？"
_TOKEN = re.compile(f"[{_CJK}]|[^{_SEPARATORS}{_CJK}]+")  # one CJK character, or a run between separators
_LOCK = threading.Lock()  # one request at a time to the host
_ENGINE: _Host | None = None


class _Host:
    """The engine's own process (espeak_host.py): it speaks every line in a fresh fork of itself."""

    def __init__(self) -> None:
        try:
            import espeakng_loader  # noqa: F401 - checked here, so the error is ours, not the host's
        except ImportError as e:
            raise MissingDependencyError("the espeak TTS needs espeak-ng: pip install espeakng-loader") from e
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("espeak_host.py"))],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        kind, *ready = self._reply()
        if kind != "ready":
            raise SpeechError(f"espeak-ng failed to start: {ready[0]}")
        self.rate, self.version, data_path = ready
        self.data_path = Path(data_path)

    def alive(self) -> bool:
        return self._proc.poll() is None

    def _reply(self) -> tuple:
        reply = espeak_host.receive(self._proc.stdout)
        if reply is None:
            self._proc.wait()
            self._stderr.seek(0)
            said = self._stderr.read().decode(errors="replace").strip().splitlines()
            raise SpeechError(f"espeak-ng's process ended (exit {self._proc.returncode})"
                              + (f": {said[-1]}" if said else ""))
        return reply

    def synth(self, text: str, voice_name: str, wpm: int, pitch: int) -> tuple[np.ndarray, list[tuple[int, float]]]:
        try:
            espeak_host.send(self._proc.stdin, ("speak", text, voice_name, wpm, pitch))
        except OSError:
            pass  # the host has gone: _reply says how
        kind, *result = self._reply()
        if kind != "ok":
            raise SpeechError(result[0])
        pcm, words = result
        return np.frombuffer(pcm, dtype="<i2").copy(), words

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._proc.stdin.close()  # EOF: the host ends
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._stderr.close()


def _engine() -> _Host:
    """The process-wide engine host, (re)started when needed; call only while holding _LOCK."""
    global _ENGINE
    if _ENGINE is None or not _ENGINE.alive():
        _ENGINE = _Host()
        atexit.register(_ENGINE.close)
    return _ENGINE


@dataclass
class _Unit:
    """A caption word: a CJK character, or a whitespace-delimited token without outer punctuation."""

    text: str
    raw: tuple[int, int]  # character span of the token, punctuation included (events land here)
    start: float | None = None


def caption_units(text: str) -> list[_Unit]:
    """The words captions show: a CJK character, a run between separators, or a phrase of a run in a
    script written without spaces (Thai), each without outer punctuation."""
    units = []
    for a0, b0 in _spans(text):
        a, b = a0, b0
        while a < b and unicodedata.category(text[a]).startswith("P"):
            a += 1
        while b > a and unicodedata.category(text[b - 1]).startswith("P"):
            b -= 1
        if a < b:
            units.append(_Unit(text[a:b], (a0, b0)))
    return units


def _spans(text: str) -> Iterator[tuple[int, int]]:
    """Token spans; a run in a script written without spaces (Thai) is cut into its phrases."""
    from ..languages import script_of

    for m in _TOKEN.finditer(text):
        a, b = m.span()
        script = script_of(m.group())
        if script.spaced or len(m.group()) == 1:
            yield a, b
            continue
        for piece in script.phrases(m.group()):
            at = text.find(piece, a, b)
            if at < 0:  # pragma: no cover - phrases are pieces of the token, in order
                yield a, b
                break
            yield at, at + len(piece)
            a = at + len(piece)


def _timings(text: str, events: list[tuple[int, float]], speech_end: float) -> tuple[WordTiming, ...]:
    """Word timings from WORD events: anchor each unit at its first event, share gaps by length."""
    units = caption_units(text)
    if not units:
        return ()
    for pos, t in events:
        for u in units:
            if u.raw[0] <= pos < u.raw[1]:
                u.start = t if u.start is None else min(u.start, t)
                break
    units[0].start = 0.0 if units[0].start is None else units[0].start
    last = -1.0
    for u in units:  # anchors must rise strictly and leave room before the end of speech
        if u.start is not None and not (last < u.start < speech_end):
            u.start = None
        last = u.start if u.start is not None else last
    units[0].start = 0.0 if units[0].start is None else units[0].start
    anchors = [i for i, u in enumerate(units) if u.start is not None] + [len(units)]
    starts: list[float] = []
    for i, j in zip(anchors, anchors[1:]):  # units i..j-1 share [start_i, start_j) by character count
        t0 = units[i].start
        t1 = units[j].start if j < len(units) else speech_end
        sizes = [len(u.text) for u in units[i:j]]
        acc = 0
        for size in sizes:
            starts.append(t0 + (t1 - t0) * acc / sum(sizes))
            acc += size
    ends = starts[1:] + [speech_end]
    return tuple(WordTiming(u.text, s, e) for u, s, e in zip(units, starts, ends))


class EspeakTTS:
    """espeak-ng voices: `<language>[+<variant>]`, e.g. 'en-us+m3', 'en+f3', 'cmn+f2', 'cmn'."""

    name = "espeak"

    def __init__(self) -> None:
        with _LOCK:
            engine = _engine()
        self._variants_dir = engine.data_path / "voices" / "!v"
        # espeak matches names loosely ('klingon' -> 'kl'), so bases are checked against its language files
        self._languages = {p.name.lower() for p in (engine.data_path / "lang").rglob("*") if p.is_file()}

    def cache_token(self) -> str:
        with _LOCK:
            return f"espeak-ng {_engine().version}"

    def variants(self) -> list[str]:
        """Variant names usable after '+': m1..m8 and f1..f5 first, then the named ones."""
        names = [p.name for p in self._variants_dir.iterdir() if p.is_file() and re.fullmatch(r"[A-Za-z0-9_-]+", p.name)]
        return sorted(names, key=lambda n: (0, n[0], int(n[1:])) if re.fullmatch(r"[mf]\d+", n) else (1, n.lower(), 0))

    def voices(self, language: str) -> list[str]:
        bases = _BASES.get(language) or ((language,) if language.lower() in self._languages else ())
        return list(bases) + [f"{base}+{v}" for base in bases for v in self.variants()]

    def check_voice(self, voice_id: str, language: str) -> bool:
        try:
            self.resolve(voice_id, language)
        except SpeechError:
            return False
        return True

    def resolve(self, voice_id: str, language: str) -> str:
        """The name espeak_SetVoiceByName gets: default base for the language, checked variant."""
        base, _, variant = voice_id.strip().partition("+")
        base = _ALIASES.get(base, base) or _DEFAULT_BASE.get(language, language)
        if base.lower() not in self._languages:
            raise SpeechError(f"espeak has no voice {voice_id!r}: unknown language {base!r}")
        if variant and not (self._variants_dir / variant).is_file():
            raise SpeechError(f"espeak voice {voice_id!r}: no variant {variant!r} in {self._variants_dir}")
        return f"{base}+{variant}" if variant else base

    def speak(self, text: str, voice: Voice, language: str, out: Path, *, rate: float = 1.0) -> Speech:
        text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
        if not text.strip():
            raise SpeechError("cannot speak an empty line")
        if not caption_units(text):
            raise SpeechError(f"nothing to speak in {text!r} (only punctuation)")
        name = self.resolve(voice.id, language)
        wpm = int(round(min(max(rate * voice.rate * NORMAL_WPM, _MIN_WPM), _MAX_WPM)))
        with _LOCK:
            engine = _engine()
            pcm, events = engine.synth(text, name, wpm, int(voice.pitch))
            sr = engine.rate
        loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) >= _SILENCE)
        if loud.size == 0:
            raise SpeechError(f"espeak produced no sound for {text[:60]!r} with voice {voice.id!r}")
        speech_end = int(loud[-1]) + 1
        pcm = pcm[: min(len(pcm), speech_end + int(_KEEP_TAIL * sr))]
        duration = write_speech(out, pcm, sr)
        return Speech(path=Path(out), duration=duration, sample_rate=sr, words=_timings(text, events, speech_end / sr))


@register_tts("espeak")
def _make_espeak(**_options) -> EspeakTTS:
    return EspeakTTS()
