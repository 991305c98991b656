"""Make a 60 s vertical short at full 1080x1920 on the embedded defaults; print where the time went.

    python benchmarks/make_default.py [--seconds 60] [--format vertical] [--keep]

Prints wall time, CPU time (this process and its ffmpeg children), peak memory (this process, and
the whole process tree sampled every 50 ms) and each stage's share. Machines here are noisy, so it
also times a baseline in the same run: ffmpeg encoding the film's frame count of a test pattern at
the same size and encoder settings. Compare the ratio to that baseline across runs, not seconds.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import moviefactory as mf  # noqa: E402
from moviefactory.config import load_format  # noqa: E402
from moviefactory.media.ffmpeg import ffmpeg_binary  # noqa: E402

from _measure import TreeMemory, cpu_seconds  # noqa: E402


def baseline(seconds: float, fmt_name: str) -> float:
    """Wall seconds for ffmpeg to encode `seconds` of a test pattern at the format's size and settings."""
    fmt = load_format(fmt_name)
    frames = int(seconds * fmt.fps)
    start = time.perf_counter()
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size={fmt.width}x{fmt.height}:rate={fmt.fps}", "-frames:v", str(frames),
                    "-c:v", fmt.encoder.video_codec, "-preset", fmt.encoder.preset, "-crf", str(fmt.encoder.crf),
                    "-pix_fmt", "yuv420p", "-f", "null", "-"], check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--format", default="vertical")
    ap.add_argument("--theme", default="A day in the life of a street cat")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    args = ap.parse_args()

    out = Path(tempfile.mkdtemp(prefix="mf-bench-"))
    base = baseline(args.seconds, args.format)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    with TreeMemory() as mem:
        result = mf.make_film(args.theme, format=args.format, seconds=args.seconds, output=out)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    fmt = load_format(args.format)
    print(f"film: {result.duration:.2f} s of {args.format} at {fmt.width}x{fmt.height} {fmt.fps} fps, "
          f"{os.cpu_count()} cores")
    print(f"wall: {wall:.2f} s  = {wall / result.duration:.2f}x the film's length (target <= 0.6 on 2 cores; the encode of the baseline below is the floor)")
    print(f"cpu:  {cpu:.2f} s  ({cpu / wall:.2f} cores busy on average)")
    print(f"peak RSS: whole process tree {mem.peak_kb / 1024:.0f} MB (target <= 1229), "
          f"this process {self_peak:.0f} MB, largest child {child_peak:.0f} MB")
    print(f"baseline (ffmpeg encoding {result.duration:.0f} s of testsrc2 at the same settings): {base:.2f} s; "
          f"ratio make/baseline = {wall / base:.2f}")
    print("stages:")
    for stage, secs in result.stage_seconds.items():
        print(f"  {stage:9} {secs:7.2f} s  {100 * secs / wall:5.1f} %")
    if args.keep:
        print(f"kept: {result.run_dir}")
    else:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
