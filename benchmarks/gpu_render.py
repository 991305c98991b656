"""Render a few shots with every installed text-to-video model on a CUDA GPU; time them.

    python benchmarks/gpu_render.py [--models ltx-video,wan2.1-t2v] [--format vertical] [--draft]
                                    [--shots 3] [--steps N] [--vram GB] [--out DIR]

For each catalogue t2v model whose weights are in the local Hugging Face cache (`moviefactory models`
shows which), the pipeline is loaded once (timed), then `--shots` shots of a small screenplay are
rendered through the same `SceneRenderer` the film pipeline uses. Printed per model: load time, wall
time per shot, peak VRAM (`torch.cuda.max_memory_allocated`) and the memory tier used (it drops if a
shot ran out of memory). The middle frame of each model's first shot is saved as a PNG in --out, and
all numbers go to --out/gpu_render.json. Nothing is downloaded: get weights first with `hf download`.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from moviefactory.config import load_format  # noqa: E402
from moviefactory.media.ffmpeg import ffmpeg_binary  # noqa: E402
from moviefactory.pipeline.nodes import shot_seed  # noqa: E402
from moviefactory.renderers import RenderContext, create_renderer  # noqa: E402
from moviefactory.renderers.diffusion.t2v import T2V_MODELS, describe_models  # noqa: E402
from moviefactory.timeline.build import shot_frames  # noqa: E402

from factories import tiny_screenplay  # noqa: E402


def middle_frame_png(video: Path, png: Path) -> None:
    import av

    with av.open(str(video)) as c:
        frames = [f for f in c.decode(c.streams.video[0])]
    frames[len(frames) // 2].to_image().save(png)


def bench(name: str, args, out_dir: Path) -> dict:
    import torch

    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    renderer = create_renderer(name, offline=True, vram_gb=args.vram, steps=args.steps)
    load_s = time.perf_counter() - start
    fmt = load_format(args.format, draft=args.draft)
    sp = tiny_screenplay()
    shots = sp.shots()[: args.shots]
    timings = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (scene, shot) in enumerate(shots):
            ctx = RenderContext(screenplay=sp, scene=scene, format=fmt, seed=shot_seed(7, shot.id),
                                ffmpeg=ffmpeg_binary(), frames=shot_frames(shot.duration, fmt.frame_rate))
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            clip = renderer.render(shot, ctx, Path(tmp) / f"{shot.id}.mp4")
            torch.cuda.synchronize()
            timings.append(round(time.perf_counter() - t0, 2))
            print(f"  {shot.id}: {ctx.frames} frames {fmt.width}x{fmt.height} in {timings[-1]:.1f} s", flush=True)
            if k == 0:
                middle_frame_png(clip.path, out_dir / f"{name}.png")
    result = {
        "model": name, "tier_gb": renderer.tier, "settings": renderer.settings, "steps": renderer.steps,
        "load_s": round(load_s, 1), "shot_s": timings,
        "peak_vram_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "sample": str(out_dir / f"{name}.png"),
    }
    del renderer
    gc.collect()
    torch.cuda.empty_cache()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="", help="comma-separated names (default: every installed t2v model)")
    ap.add_argument("--format", default="vertical")
    ap.add_argument("--draft", action="store_true", help="render at the format's draft size")
    ap.add_argument("--shots", type=int, default=3)
    ap.add_argument("--steps", type=int, default=None, help="denoising steps (default: the catalogue's)")
    ap.add_argument("--vram", type=float, default=None, help="pretend the GPU has this many GB (pick a lower tier)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/gpu_render"))
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("no CUDA GPU here: this benchmark needs one", file=sys.stderr)
        return 2
    installed = {r["name"] for r in describe_models() if r["installed"]}
    wanted = [m for m in args.models.split(",") if m] or [m for m in T2V_MODELS if m in installed]
    missing = [m for m in wanted if m not in installed]
    for m in missing:
        print(f"skipping {m}: weights not in the local cache (hf download ...; see `moviefactory models`)")
    wanted = [m for m in wanted if m in installed]
    if not wanted:
        print("no installed text-to-video model to benchmark", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    gpu = torch.cuda.get_device_properties(0)
    print(f"GPU: {gpu.name}, {gpu.total_memory / 2**30:.1f} GB")
    results = []
    for name in wanted:
        print(f"{name}:", flush=True)
        results.append(bench(name, args, args.out))
    print(f"\n{'model':<16}{'tier':>6}{'load s':>9}{'mean shot s':>13}{'peak VRAM GB':>14}")
    for r in results:
        mean = sum(r["shot_s"]) / len(r["shot_s"])
        print(f"{r['model']:<16}{r['tier_gb']:>6}{r['load_s']:>9.1f}{mean:>13.1f}{r['peak_vram_gb']:>14.2f}")
    (args.out / "gpu_render.json").write_text(json.dumps({"gpu": gpu.name, "results": results}, indent=1))
    print(f"samples and gpu_render.json in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
