"""Real-picture renderers at full size: a 60 s vertical film from a folder of photos and clips
(--renderer footage) and from a stock library with a warm cache (--renderer stock, against the tests'
Pexels stand-in on 127.0.0.1: the network is not what is measured), beside the animatic.

    python benchmarks/pictures.py [--seconds 60] [--format vertical]

Prints, per renderer, wall time as a multiple of the film's length (target <= 0.6 on 2 cores), CPU
time, peak memory of the process tree, the render stage's seconds, and the ratio to the animatic film
and to a bare ffmpeg encode of the same frames, all from this one run (compare ratios, not seconds).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import moviefactory as mf  # noqa: E402
from moviefactory.media.ffmpeg import ffmpeg_binary  # noqa: E402

from _measure import TreeMemory, cpu_seconds  # noqa: E402
from make_default import baseline  # noqa: E402

THEME = "Several giant wooly mammoths approach treading through a snowy meadow"
NAMES = ["mammoth herd", "snowy meadow", "giant mammoths", "wooly mammoth", "snow field", "winter valley",
         "mammoth tusks", "frozen meadow"]


def media(folder: Path) -> list:
    """8 photos (2400x1600 JPEGs, textured) and 4 clips (1280x720, 4 s): a phone's day out, with words."""
    from fake_stock import Item

    rng = np.random.default_rng(3)
    items = []
    for k, name in enumerate(NAMES):
        base = rng.integers(40, 220, 3)
        noise = rng.integers(-30, 30, (400, 600, 1))
        img = np.clip(base + noise, 0, 255).astype(np.uint8)
        path = folder / f"{name.replace(' ', '_')}.jpg"
        Image.fromarray(img).resize((2400, 1600), Image.BICUBIC).save(path, quality=90)
        items.append(Item(100 + k, "photo", f"{name} snow mammoth", path, 2400, 1600))
    for k, name in enumerate(NAMES[:4]):
        path = folder / f"{name.replace(' ', '-')}-clip.mp4"
        subprocess.run([ffmpeg_binary(), "-v", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc2=size=1280x720:rate=30:duration=4", "-pix_fmt", "yuv420p", "-c:v", "libx264",
                        "-preset", "veryfast", str(path)], check=True)
        items.append(Item(200 + k, "video", f"{name} snow mammoth", path, 1280, 720, 4.0))
    return items


def film(seconds: float, fmt: str, out: Path, **options) -> dict:
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    with TreeMemory() as mem:
        result = mf.make_film(THEME, format=fmt, seconds=seconds, output=out, writer="offline", **options)
    wall = time.perf_counter() - t0
    return {"wall": wall, "cpu": cpu_seconds() - cpu0, "peak": mem.peak_kb / 1024, "length": result.duration,
            "render": result.stage_seconds.get("render", 0.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--format", default="vertical")
    args = ap.parse_args()
    from fake_stock import FakeStock

    work = Path(tempfile.mkdtemp(prefix="mf-bench-pictures-"))
    folder = work / "media"
    folder.mkdir()
    items = media(folder)
    base = baseline(args.seconds, args.format)
    # warm-up: the default sound libraries, the voice, the imports: every film below finds them ready
    mf.make_film(THEME, format=args.format, seconds=10, draft=True, output=work / "warm-up", writer="offline")
    results = {"animatic": film(args.seconds, args.format, work / "animatic")}
    results["footage"] = film(args.seconds, args.format, work / "footage", renderer="footage", media=folder)
    os.environ["PEXELS_API_KEY"] = "bench-key"
    with FakeStock(items, key="bench-key") as server:
        from moviefactory.renderers.pictures.stock_api import StockAPI

        shutil.rmtree(StockAPI("pexels", base_url=server.base_url).cache, ignore_errors=True)  # its own folder
        film(args.seconds, args.format, work / "stock-cold", renderer="stock", pexels_base_url=server.base_url)
        asked = len(server.requests)
        results["stock (warm cache)"] = film(args.seconds, args.format, work / "stock-warm", renderer="stock",
                                             pexels_base_url=server.base_url)
        warm_requests = len(server.requests) - asked
    animatic = results["animatic"]["wall"]
    print(f"{os.cpu_count()} cores, {args.format}, {args.seconds:.0f} s; baseline encode {base:.2f} s")
    for name, r in results.items():
        print(f"{name:18s} wall {r['wall']:6.2f} s = {r['wall'] / r['length']:.2f}x the film's length (target <= 0.6) "
              f"| cpu {r['cpu']:6.2f} s | peak {r['peak']:5.0f} MB | render {r['render']:5.2f} s "
              f"| vs animatic {r['wall'] / animatic:.2f} | vs baseline {r['wall'] / base:.2f}")
    print(f"stock requests with a warm cache: {warm_requests} (0 expected)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
