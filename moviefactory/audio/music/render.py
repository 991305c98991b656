"""Sound for the default music library: MIDI through the General-MIDI SoundFont pretty_midi ships
(TimGM6mb.sf2) with tinysoundfont, one stem per part mixed at fixed role levels, a small room,
a fade and a peak level; then Opus through ffmpeg, and the duration a decoder really gets."""
from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import numpy as np

from ...errors import MissingDependencyError, ToolError

SAMPLE_RATE = 48_000  # Opus's own rate: no resampling on the way in or out
BITRATE = "64k"  # VBR Opus, stereo
PEAK_DBFS = -3.0
STEM_DB = {"lead": 0.0, "harmony": -6.0, "texture": -7.0, "bass": -4.0, "drums": -8.0}  # RMS vs the lead
RENDER_VERSION = f"tsf-TimGM6mb/stems1/room2/opus-{BITRATE}-c6/{SAMPLE_RATE}"  # bump when the sound changes


@cache
def soundfont_path() -> Path:
    try:
        import pretty_midi
    except ImportError:  # pragma: no cover - a broken install
        raise MissingDependencyError("the default music needs pretty_midi: pip install pretty_midi") from None
    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not path.is_file():  # pragma: no cover
        raise MissingDependencyError(f"pretty_midi's General-MIDI SoundFont is missing ({path})")
    return path


def render(midi, seconds: float, *, reverb: float = 0.2, fade: float = 0.5) -> np.ndarray:
    """`midi` (pretty_midi) as float32 stereo at SAMPLE_RATE, exactly `seconds` long, peak at PEAK_DBFS.

    Each part is synthesised alone and mixed at its role's level relative to the lead (STEM_DB), so
    loud and quiet General-MIDI presets balance; then a room, a fade over `fade` seconds, the peak.
    """
    total = round(seconds * SAMPLE_RATE)
    out, lead = np.zeros((total, 2), np.float32), 0.0
    for inst in midi.instruments:
        stem = _synthesise(inst, total)
        level = _level(stem)
        if level > 0:
            lead = lead or level  # the lead comes first
            gain = lead / level * 10 ** (STEM_DB.get(inst.name.split(":")[0], -6.0) / 20)
            out += stem * np.float32(gain)
    if reverb > 0:
        _add_room(out, reverb)
    n = min(total, max(1, round(fade * SAMPLE_RATE)))
    out[-n:] *= (0.5 + 0.5 * np.cos(np.linspace(0, np.pi, n, dtype=np.float32)))[:, None]
    peak = float(np.abs(out).max())
    return out * np.float32(10 ** (PEAK_DBFS / 20) / peak) if peak > 0 else out


def _synthesise(inst, total: int) -> np.ndarray:
    """One pretty_midi instrument through tinysoundfont, sample-accurately, as (total, 2) float32."""
    try:
        import tinysoundfont
    except ImportError:  # pragma: no cover
        raise MissingDependencyError("the default music needs tinysoundfont: pip install tinysoundfont") from None
    synth, ch = tinysoundfont.Synth(samplerate=SAMPLE_RATE), 9 if inst.is_drum else 0
    sfid = synth.sfload(str(soundfont_path()))
    synth.program_select(ch, sfid, 128 if inst.is_drum else 0, 0 if inst.is_drum else inst.program, inst.is_drum)
    events = [(round(c.time * SAMPLE_RATE), 1, c.number, c.value) for c in inst.control_changes]
    for n in inst.notes:  # at one instant: note-offs, then controls, then note-ons
        events += [(round(n.start * SAMPLE_RATE), 2, n.pitch, n.velocity), (round(n.end * SAMPLE_RATE), 0, n.pitch, 0)]
    buf, pos = memoryview(bytearray(total * 8)), 0  # interleaved float32 stereo
    for at, kind, a, b in sorted(events):
        if (at := min(at, total)) > pos:
            synth.generate_simple(at - pos, buffer=buf[pos * 8:at * 8])
            pos = at
        if kind == 0:
            synth.noteoff(ch, a)
        elif kind == 1:
            synth.control_change(ch, a, b)
        else:
            synth.noteon(ch, a, b)
    if pos < total:
        synth.generate_simple(total - pos, buffer=buf[pos * 8:])
    return np.frombuffer(buf, dtype=np.float32).reshape(-1, 2)


def _level(stem: np.ndarray, window: int = SAMPLE_RATE // 10) -> float:
    """RMS over the windows where the part plays (within 20 dB of its loudest), 0.0 when silent."""
    n = len(stem) // window * window
    frames = stem[:n].reshape(-1, window * 2)
    rms = np.sqrt(np.einsum("ij,ij->i", frames, frames) / (window * 2))
    if n == 0 or rms.max() <= 0:
        return 0.0
    return float(np.sqrt((rms[rms > rms.max() * 0.1] ** 2).mean()))


def _add_room(out: np.ndarray, amount: float) -> None:
    """Add the reverb of `out` to it: its mono sum at half rate through a fixed stereo room.

    A room's tail has little above 12 kHz, and half the rate is a third of the work.
    """
    half = out[: len(out) // 2 * 2].reshape(-1, 4).mean(axis=1, keepdims=True)  # (L0+R0+L1+R1)/4
    wet = _convolve(half, _room(SAMPLE_RATE // 2)) * np.float32(amount)
    out[0:2 * len(wet):2] += wet
    out[1:2 * len(wet) - 1:2] += (wet[:-1] + wet[1:]) * np.float32(0.5)  # linear interpolation


@cache
def _room(rate: int, seconds: float = 1.6, rt60: float = 1.8) -> np.ndarray:
    """A fixed stereo room: decaying, slightly darkened noise after a 12 ms pre-delay, unit energy."""
    n = round(seconds * rate)
    noise = np.random.default_rng(1).standard_normal((n + 1, 2))
    ir = (noise[1:] + noise[:-1]) / 2 * np.exp(-6.9 * np.arange(n) / rate / rt60)[:, None]
    ir[: round(0.012 * rate)] = 0
    return (ir / np.sqrt((ir ** 2).sum(axis=0))).astype(np.float32)


def _convolve(x: np.ndarray, ir: np.ndarray, nfft: int = 1 << 17) -> np.ndarray:
    """Overlap-add FFT convolution of (n, 1 or 2) `x` with a (m, 2) `ir`, cut to len(x)."""
    step, spectrum = nfft - len(ir) + 1, np.fft.rfft(ir, nfft, axis=0)
    out = np.zeros((len(x) + nfft, 2), dtype=np.float32)
    for s in range(0, len(x), step):
        out[s:s + nfft] += np.fft.irfft(np.fft.rfft(x[s:s + step], nfft, axis=0) * spectrum, nfft, axis=0)
    return out[: len(x)]


def encode_opus(audio: np.ndarray, target: Path, ffmpeg: str) -> None:
    """Pipe float32 stereo PCM into ffmpeg (so no -nostdin); bitexact, so equal audio gives equal bytes."""
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "2",
           "-i", "pipe:0", "-c:a", "libopus", "-b:a", BITRATE, "-vbr", "on", "-compression_level", "6",
           "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "ogg", str(target)]
    proc = subprocess.run(cmd, input=np.ascontiguousarray(audio, dtype="<f4").tobytes(), capture_output=True)
    if proc.returncode != 0:
        raise ToolError(f"ffmpeg failed (exit {proc.returncode})", stage="music",
                        stderr=proc.stderr.decode("utf-8", "replace"))


def decoded_seconds(path: Path) -> float:
    """The duration of the audio a decoder really produces (encoder padding trimmed)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.codec_context.sample_rate
