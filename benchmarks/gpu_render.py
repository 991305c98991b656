"""Render a few shots with every installed diffusion renderer on a CUDA GPU; time them.

    python benchmarks/gpu_render.py [--models ltx-video,wan2.1-t2v,sdxl+svd] [--format vertical] [--draft]
                                    [--shots 3] [--long 12] [--upscale 4] [--steps N] [--vram GB] [--out DIR]

For each catalogue renderer whose weights are in the local Hugging Face cache (`moviefactory models`
shows which), the pipeline is loaded once (timed), then `--shots` shots of a small screenplay are
rendered through the same `SceneRenderer` the film pipeline uses, plus one `--long`-second shot that
needs chunked extension (StreamingT2V). The animatic renders the same shots first, in this process:
every model's time is also printed as a ratio to it. Printed per model: load time, wall and CPU time
per shot, the long shot's time, peak VRAM (`torch.cuda.max_memory_allocated`), peak RSS, and the
memory tier used (it drops if a shot ran out of memory). The middle frame of each model's first shot
and of its long shot are saved as PNGs in --out, and all numbers go to --out/gpu_render.json. Nothing
is downloaded: get weights first with `hf download`.
"""
from __future__ import annotations

import argparse
import gc
import json
import resource
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
from moviefactory.renderers.diffusion.base import renderer_models, weights_installed  # noqa: E402
from moviefactory.renderers.diffusion.t2v import T2V_MODELS  # noqa: E402
from moviefactory.timeline.build import shot_frames  # noqa: E402

from factories import tiny_screenplay  # noqa: E402


def middle_frame_png(video: Path, png: Path) -> None:
    import av

    with av.open(str(video)) as c:
        frames = [f for f in c.decode(c.streams.video[0])]
    frames[len(frames) // 2].to_image().save(png)


def shots_to_render(args):
    sp = tiny_screenplay()
    shots = list(sp.shots()[: args.shots])
    if args.long:
        scene, shot = shots[0]
        shots.append((scene, shot.model_copy(update={"id": "long", "duration": float(args.long)})))
    return sp, shots


def render_all(renderer, args, out_dir: Path, name: str, cuda: bool) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds per shot; the middle frames of the first and the long shot saved as PNGs."""
    import torch

    fmt = load_format(args.format, draft=args.draft, upscale=args.upscale)
    sp, shots = shots_to_render(args)
    wall, cpu = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (scene, shot) in enumerate(shots):
            ctx = RenderContext(screenplay=sp, scene=scene, format=fmt, seed=shot_seed(7, shot.id),
                                ffmpeg=ffmpeg_binary(), frames=shot_frames(shot.duration, fmt.frame_rate),
                                upscale=args.upscale)
            if cuda:
                torch.cuda.synchronize()
            t0, c0 = time.perf_counter(), time.process_time()
            clip = renderer.render(shot, ctx, Path(tmp) / f"{shot.id}.mp4")
            if cuda:
                torch.cuda.synchronize()
            wall.append(round(time.perf_counter() - t0, 2))
            cpu.append(round(time.process_time() - c0, 2))
            print(f"  {shot.id}: {ctx.frames} frames {fmt.width}x{fmt.height} in {wall[-1]:.1f} s", flush=True)
            if k == 0 or shot.id == "long":
                middle_frame_png(clip.path, out_dir / f"{name}-{shot.id}.png")
    return wall, cpu


def bench(name: str, args, out_dir: Path, baseline: list[float]) -> dict:
    import torch

    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    options = {"steps": args.steps} if args.steps and "+" not in name else {}
    renderer = create_renderer(name, offline=True, vram_gb=args.vram, **options)
    load_s = time.perf_counter() - start
    wall, cpu = render_all(renderer, args, out_dir, name, cuda=True)
    result = {
        "model": name, "tier_gb": getattr(renderer, "tier", None), "settings": getattr(renderer, "settings", None),
        "steps": getattr(renderer, "steps", None), "load_s": round(load_s, 1), "shot_s": wall, "shot_cpu_s": cpu,
        "ratio_to_animatic": round(sum(wall) / max(1e-6, sum(baseline)), 1),
        "peak_vram_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "samples": sorted(str(p) for p in out_dir.glob(f"{name}-*.png")),
    }
    del renderer
    gc.collect()
    torch.cuda.empty_cache()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="", help="comma-separated renderer names (default: every installed one)")
    ap.add_argument("--format", default="vertical")
    ap.add_argument("--draft", action="store_true", help="render at the format's draft size")
    ap.add_argument("--shots", type=int, default=3)
    ap.add_argument("--long", type=float, default=12.0, help="also render one shot this long (0: none)")
    ap.add_argument("--upscale", type=int, default=1, choices=(1, 2, 4), help="super-resolve generated frames")
    ap.add_argument("--steps", type=int, default=None, help="denoising steps (default: the catalogue's)")
    ap.add_argument("--vram", type=float, default=None, help="pretend the GPU has this many GB (pick a lower tier)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/gpu_render"))
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("no CUDA GPU here: this benchmark needs one", file=sys.stderr)
        return 2
    candidates = [*T2V_MODELS, "sdxl+svd"]
    installed = {m for m in candidates if all(weights_installed(e) for e in renderer_models(m))}
    wanted = [m for m in args.models.split(",") if m] or [m for m in candidates if m in installed]
    missing = [m for m in wanted if m not in installed]
    for m in missing:
        print(f"skipping {m}: weights not in the local cache (hf download ...; see `moviefactory models`)")
    wanted = [m for m in wanted if m in installed]
    if not wanted:
        print("no installed diffusion renderer to benchmark", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    gpu = torch.cuda.get_device_properties(0)
    print(f"GPU: {gpu.name}, {gpu.total_memory / 2**30:.1f} GB")
    print("animatic (baseline, same shots):", flush=True)
    baseline, _ = render_all(create_renderer("animatic"), args, args.out, "animatic", cuda=False)
    results = []
    for name in wanted:
        print(f"{name}:", flush=True)
        results.append(bench(name, args, args.out, baseline))
    print(f"\n{'model':<16}{'tier':>6}{'load s':>9}{'shot s':>9}{'long s':>9}{'x animatic':>12}{'VRAM GB':>9}{'RSS GB':>8}")
    for r in results:
        short = r["shot_s"][: args.shots]
        long = f"{r['shot_s'][-1]:.1f}" if args.long else "-"
        print(f"{r['model']:<16}{str(r['tier_gb']):>6}{r['load_s']:>9.1f}{sum(short) / len(short):>9.1f}{long:>9}"
              f"{r['ratio_to_animatic']:>12.1f}{r['peak_vram_gb']:>9.2f}{r['peak_rss_gb']:>8.2f}")
    (args.out / "gpu_render.json").write_text(json.dumps({"gpu": gpu.name, "animatic_s": baseline,
                                                          "results": results}, indent=1))
    print(f"samples and gpu_render.json in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
