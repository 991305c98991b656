"""sd-turbo / sdxl-turbo seconds per keyframe, for people who have the weights (no test downloads them).

    python benchmarks/sd_turbo.py [--model sd-turbo|sdxl-turbo] [--model-path DIR] [--shots 6] [--format vertical]

Loads the model once (timed apart), then paints `--shots` keyframes of an offline screenplay, on the
CPU and, when there is one, on the GPU; prints wall time, CPU time and peak memory per device, seconds
per keyframe, and the CPU/GPU ratio from the same run (the machines are noisy: compare ratios).
Needs the weights: `hf download stabilityai/sd-turbo` (about 5 GB), or --model-path to a local copy.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from moviefactory.config import load_format  # noqa: E402
from moviefactory.errors import MissingDependencyError  # noqa: E402
from moviefactory.planner.base import PlanRequest  # noqa: E402
from moviefactory.planner.offline import OfflineWriter  # noqa: E402
from moviefactory.renderers import RenderContext, create_renderer  # noqa: E402
from moviefactory.media.ffmpeg import ffmpeg_binary  # noqa: E402

from _measure import measured  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="sd-turbo", choices=["sd-turbo", "sdxl-turbo"])
    ap.add_argument("--model-path", default=None)
    ap.add_argument("--shots", type=int, default=6)
    ap.add_argument("--format", default="vertical")
    args = ap.parse_args()
    import torch

    fmt = load_format(args.format)
    film = OfflineWriter().write(PlanRequest(theme="A fox in the first snow", language="en", seconds=60, scenes=None,
                                             seed=7, format=args.format, speech_rate=fmt.speech_rate))
    shots = [(scene, shot) for scene, shot in film.shots()][: args.shots]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    per = {}
    for device in devices:
        try:
            with measured() as load:
                renderer = create_renderer(args.model, model_path=args.model_path, device=device,
                                           vram_gb=None if device == "cpu" else 24.0)
        except MissingDependencyError as exc:
            sys.exit(f"{exc.one_line()}")
        with tempfile.TemporaryDirectory() as tmp, measured() as m:
            for k, (scene, shot) in enumerate(shots):
                ctx = RenderContext(screenplay=film, scene=scene, format=fmt, seed=k, ffmpeg=ffmpeg_binary(), frames=30)
                renderer.render(shot, ctx, Path(tmp) / f"{k}.still.npz")
        per[device] = m.wall / len(shots)
        print(f"{args.model} on {device}: load {load.wall:.1f} s | {len(shots)} keyframes in {m.wall:.1f} s wall, "
              f"{m.cpu:.1f} s CPU, peak {max(load.peak_mb, m.peak_mb):.0f} MB | {per[device]:.2f} s per keyframe")
        del renderer
    if len(per) == 2:
        print(f"ratio cpu/gpu per keyframe = {per['cpu'] / per['cuda']:.1f}")


if __name__ == "__main__":
    main()
