"""The `espeak` TTS backend: libespeak-ng through ctypes, from the `espeakng-loader` wheel.

The library is one global, non-thread-safe engine per process, so every call goes through
`_LOCK` and the engine is initialised once, lazily. Synthesis is synchronous: espeak hands
us PCM blocks and events through a callback during `espeak_Synth`.

Word timings come from espeakEVENT_WORD events (`text_position` is 1-based and counts
characters, not bytes). For Chinese, espeak emits one event per dictionary word, at its first
character (少林 -> one event at 少), so characters without an event share the time up to the
next one. Numbers get several events ("1990" -> two); those merge into one word.
"""
from __future__ import annotations

import ctypes
import os
import pickle
import re
import threading
import unicodedata
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError, SpeechError
from ..screenplay import Voice
from .base import Speech, WordTiming, register_tts

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED, _EVENT_WORD = 0, 1
_RATE, _PITCH = 1, 3

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


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based, in characters
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms from the start of the message
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
_LOCK = threading.Lock()
_ENGINE: _Engine | None = None


class _Engine:
    """The initialised library plus the buffers of the call in progress (only touched under _LOCK)."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as e:
            raise MissingDependencyError("the espeak TTS needs espeak-ng: pip install espeakng-loader") from e
        self.data_path = Path(espeakng_loader.get_data_path())
        lib = self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        self.rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(self.data_path).encode(),
                                          _INITIALIZE_DONT_EXIT)
        if self.rate <= 0:
            raise SpeechError(f"espeak-ng failed to initialise with data at {self.data_path}")
        self.version = lib.espeak_Info(None).decode()
        self.blocks: list[bytes] = []
        self.words: list[tuple[int, float]] = []  # (0-based character index, seconds)
        self._callback = _CALLBACK(self._on_synth)  # keep a reference: espeak holds the pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _on_synth(self, wav, n: int, events) -> int:
        if n > 0 and wav:
            self.blocks.append(ctypes.string_at(wav, n * 2))
        i = 0
        while events and events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_WORD:
                self.words.append((events[i].text_position - 1, events[i].audio_position / 1000.0))
            i += 1
        return 0

    def synth(self, text: str, voice_name: str, wpm: int, pitch: int) -> tuple[np.ndarray, list[tuple[int, float]]]:
        """Speak one line from the engine's freshly initialised state.

        espeak keeps state from one utterance to the next in static variables that re-initialising does
        not reset (a line spoken second sounds a little different, and is ~10 ms longer or shorter, than
        the same line spoken first). So each line is spoken in a forked child of the process that only
        ever initialised the engine: a line's samples depend on the line alone, and a resumed run's
        re-spoken line is the line of a fresh run."""
        if not hasattr(os, "fork"):  # pragma: no cover - not Linux/macOS: history-dependent, still correct
            return self._synth_here(text, voice_name, wpm, pitch)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: speak, send the result back, leave without running any cleanup
            code = 0
            try:
                os.close(read_end)
                result = pickle.dumps(self._synth_here(text, voice_name, wpm, pitch))
            except BaseException as exc:  # noqa: BLE001 - the parent raises it
                result, code = pickle.dumps(SpeechError(str(exc))), 1
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(result)
            os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
        if not payload:
            raise SpeechError(f"espeak stopped while speaking {text[:60]!r} (status {status})")
        result = pickle.loads(payload)
        if isinstance(result, Exception):
            raise result
        return result

    def _synth_here(self, text: str, voice_name: str, wpm: int, pitch: int):
        if self.lib.espeak_SetVoiceByName(voice_name.encode()) != 0:
            raise SpeechError(f"espeak has no voice {voice_name!r}")
        self.lib.espeak_SetParameter(_RATE, wpm, 0)
        self.lib.espeak_SetParameter(_PITCH, pitch, 0)
        self.blocks, self.words = [], []
        data = text.encode("utf-8")
        # espeak seeds the noise of breathy voices (f3, ...) from the clock when it starts: seed it from the
        # line instead, so the same line is the same samples in every run ("same seed, same film").
        self.lib.espeak_ng_SetRandSeed(zlib.crc32(data + voice_name.encode()))
        buf = ctypes.create_string_buffer(data)  # NUL-terminated
        err = self.lib.espeak_Synth(buf, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        if err != 0:
            raise SpeechError(f"espeak_Synth failed with error {err} for voice {voice_name!r}")
        pcm = np.frombuffer(b"".join(self.blocks), dtype="<i2").copy()
        return pcm, self.words


def _engine() -> _Engine:
    """The process-wide engine; call only while holding _LOCK."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Engine()
    return _ENGINE


@dataclass
class _Unit:
    """A caption word: a CJK character, or a whitespace-delimited token without outer punctuation."""

    text: str
    raw: tuple[int, int]  # character span of the token, punctuation included (events land here)
    start: float | None = None


def _units(text: str) -> list[_Unit]:
    units = []
    for m in _TOKEN.finditer(text):
        a, b = m.span()
        while a < b and unicodedata.category(text[a]).startswith("P"):
            a += 1
        while b > a and unicodedata.category(text[b - 1]).startswith("P"):
            b -= 1
        if a < b:
            units.append(_Unit(text[a:b], m.span()))
    return units


def _timings(text: str, events: list[tuple[int, float]], speech_end: float) -> tuple[WordTiming, ...]:
    """Word timings from WORD events: anchor each unit at its first event, share gaps by length."""
    units = _units(text)
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
        bases = _BASES.get(language, ())
        return list(bases) + [f"{base}+{v}" for base in bases for v in self.variants()]

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
        if not _units(text):
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
        try:
            with wave.open(str(out), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(sr)
                w.writeframes(pcm.astype("<i2").tobytes())
        except OSError as e:
            raise SpeechError(f"cannot write {out}: {e}") from e
        words = _timings(text, events, speech_end / sr)
        return Speech(path=Path(out), duration=len(pcm) / sr, sample_rate=sr, words=words)


@register_tts("espeak")
def _make_espeak(**_options) -> EspeakTTS:
    return EspeakTTS()
