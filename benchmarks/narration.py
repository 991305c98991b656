"""Narration speed: Piper (the default English narrator) beside espeak-ng, on one film's lines.

    python benchmarks/narration.py [--theme "..."] [--seconds 60] [--format vertical]

Writes the film's screenplay with the offline writer, then speaks every line with each engine and
prints wall time, CPU time (this process and its children: espeak's host), peak memory of the
process tree, and the real-time factor (seconds of work per second of speech). Machines here are
noisy: compare the ratio piper/espeak from one run, not seconds across runs. The targets: Piper's
real-time factor at most 0.1 on 2 cores, and a 60 s film's narration adding at most 3 s.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from moviefactory.audio import create_tts  # noqa: E402
from moviefactory.config import load_format  # noqa: E402
from moviefactory.planner.base import PlanRequest  # noqa: E402
from moviefactory.planner.offline import OfflineWriter  # noqa: E402

from _measure import measured  # noqa: E402


def speak_all(tts, lines, voices, language: str, rate: float, folder: Path) -> float:
    """Seconds of speech made."""
    total = 0.0
    for k, (text, voice) in enumerate(zip(lines, voices)):
        total += tts.speak(text, voice, language, folder / f"{tts.name}-{k}.wav", rate=rate).duration
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--theme", default="Several giant wooly mammoths approach treading through a snowy meadow")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--format", default="vertical")
    ap.add_argument("--no-film", dest="film", action="store_false", help="skip the two films through the CLI")
    args = ap.parse_args()
    fmt = load_format(args.format)
    sp = OfflineWriter().write(PlanRequest(theme=args.theme, language="en", seconds=args.seconds, scenes=None,
                                           seed=7, format=args.format, speech_rate=fmt.speech_rate))
    pairs = [(line.text, sp.voice_of(line.speaker)) for scene in sp.scenes for line in scene.narration]
    lines, voices = [p[0] for p in pairs], [p[1] for p in pairs]
    print(f"{len(lines)} lines, {sum(len(t.split()) for t in lines)} words, format {args.format}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("espeak", "piper"):
            with measured() as load:
                tts = create_tts(name)
                tts.speak("Warm up.", voices[0], "en", Path(tmp) / "warm.wav")  # model load, host start
            with measured() as m:
                speech = speak_all(tts, lines, voices, "en", fmt.speech_rate, Path(tmp))
            results[name] = (m, speech)
            print(f"{name:7s} load {load.wall:5.2f} s | {speech:5.1f} s of speech in {m.wall:5.2f} s wall, "
                  f"{m.cpu:5.2f} s CPU, peak {max(load.peak_mb, m.peak_mb):6.0f} MB | real-time factor "
                  f"{m.wall / speech:.3f}")
    (pm, ps), (em, es) = results["piper"], results["espeak"]
    print(f"ratio piper/espeak wall={pm.wall / em.wall:.2f} (per second of speech "
          f"{(pm.wall / ps) / (em.wall / es):.2f}); piper_rtf={pm.wall / ps:.3f} (target <= 0.1)")
    if args.film:
        films(args)


def films(args) -> None:
    """The same film made twice through the CLI, each in a fresh process, spoken by espeak-ng and by the
    default (Piper): the difference is what the neural narrator adds to a film, its loading included
    (which overlaps the writing of the screenplay). Draft size: the picture is the same both times."""
    import subprocess
    import time

    walls = {}
    for tts in ("espeak", "auto", "espeak", "auto"):  # interleaved, best of two: the machine is noisy
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "moviefactory", "make", args.theme, "--seconds", str(args.seconds),
                            "--format", args.format, "--draft", "--tts", tts, "--output", out], check=True,
                           capture_output=True)
            walls[tts] = min(walls.get(tts, 1e9), time.perf_counter() - start)
    print(f"film ({args.seconds:.0f} s, draft): espeak {walls['espeak']:.2f} s, piper {walls['auto']:.2f} s wall; "
          f"narration adds {walls['auto'] - walls['espeak']:.2f} s (target <= 3 s), "
          f"ratio {walls['auto'] / walls['espeak']:.2f}")


if __name__ == "__main__":
    main()
