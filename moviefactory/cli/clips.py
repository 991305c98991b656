"""Clip tools on the command line: animate, extend, connect, edit, upscale, interpolate, models."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .common import app, console, errors, out

MODEL_PATH = typer.Option(None, "--model-path", help="A local copy of the model weights.")
OFFLINE = typer.Option(None, "--offline/--online", help="Never touch the network for model weights.")


def _clip_done(path: Path) -> None:
    from ..media.ffmpeg import probe

    info = probe(path)
    out.print(f"wrote: {path}  ({info.duration:.2f} s)", highlight=False, soft_wrap=True, markup=False)


@app.command()
def animate(
    still: Path = typer.Argument(..., help="The image to bring to life."),
    prompt: str = typer.Argument(..., help="What happens, e.g. 'the clouds drift apart'."),
    seconds: float = typer.Option(4.0, "--seconds", help="Length of the clip."),
    out_file: Path = typer.Option(Path("animated.mp4"), "--out", "-o", help="Where to write the clip."),
    motion: float = typer.Option(0.5, "--motion", help="How much moves, 0 to 1."),
    fps: int = typer.Option(24, "--fps"), seed: int = typer.Option(7, "--seed"),
    edit: Optional[str] = typer.Option(None, "--edit", help="An instruction to edit the still first."),
    model_path: Optional[Path] = MODEL_PATH, offline: Optional[bool] = OFFLINE,
) -> None:
    """Image to video: animate a still with the image-to-video model (GPU)."""
    from ..errors import InputError
    from ..renderers.diffusion.keyframe import animate as animate_still

    with errors(), console.status("animating..."):
        if not still.is_file():
            raise InputError(f"{still} does not exist")
        options = {k: v for k, v in (("model_path", model_path), ("offline", offline)) if v is not None}
        animate_still(still, prompt, seconds, out_file, motion=motion, fps=fps, seed=seed, edit_instruction=edit,
                      **options)
    _clip_done(out_file)


def _existing(*paths: Path) -> None:
    from ..errors import InputError

    for p in paths:
        if not p.is_file():
            raise InputError(f"{p} does not exist")


@app.command()
def extend(
    clip: Path = typer.Argument(..., help="The shot to continue."),
    prompt: str = typer.Argument(..., help="What happens next."),
    seconds: float = typer.Option(10.0, "--seconds", help="How much longer."),
    out_file: Path = typer.Option(Path("extended.mp4"), "--out", "-o"),
    model: str = typer.Option("svd", "--model", help="svd, ltx-video, wan2.1-t2v, cogvideox or hunyuanvideo (`moviefactory models`)."),
    seed: int = typer.Option(0, "--seed"), model_path: Optional[Path] = MODEL_PATH, offline: Optional[bool] = OFFLINE,
) -> None:
    """Long-shot extension (StreamingT2V): continue a clip in overlapping, blended chunks (GPU)."""
    from ..media.ffmpeg import probe
    from ..renderers.diffusion.base import entry
    from ..renderers.diffusion.extend import extend_clip, load_image_to_video
    from ..renderers.upscale import clip_rate

    with errors(), console.status("extending..."):
        _existing(clip)
        v = probe(clip).first("video")
        gen = load_image_to_video(model, clip_size=(v.width, v.height), fps=clip_rate(clip), model_path=model_path,
                                  offline=bool(offline))
        chunk = entry(model).max_frames  # one model call per chunk, a quarter of it overlapping
        extend_clip(clip, prompt, seconds, out_file, gen, seed=seed, chunk_frames=chunk, overlap=max(2, chunk // 4))
    _clip_done(out_file)


@app.command("connect")
def connect_cmd(
    a: Path = typer.Argument(..., help="The clip that ends."), b: Path = typer.Argument(..., help="The clip that begins."),
    seconds: float = typer.Option(2.0, "--seconds"), out_file: Path = typer.Option(Path("transition.mp4"), "--out", "-o"),
    model: Optional[str] = typer.Option(None, "--model", help="A first-and-last-frame model (wan2.1-flf2v); "
                                        "without one, an ffmpeg dissolve."),
    prompt: str = typer.Option("", "--prompt", help="What happens in between (for --model)."),
    seed: int = typer.Option(0, "--seed"), model_path: Optional[Path] = MODEL_PATH, offline: Optional[bool] = OFFLINE,
) -> None:
    """A transition clip from A's last frame to B's first (Mora/SEINE): generated with --model, else a dissolve."""
    from ..media.ffmpeg import ffmpeg_binary, probe
    from ..renderers.diffusion.connect import connect, load_first_last

    with errors(), console.status("connecting..."):
        _existing(a, b)
        generator = None
        if model:
            v = probe(a).first("video")
            generator = load_first_last(model, clip_size=(v.width, v.height), model_path=model_path,
                                        offline=bool(offline))
        connect(a, b, seconds, out_file, ffmpeg=ffmpeg_binary(), generator=generator, prompt=prompt, seed=seed)
    _clip_done(out_file)


@app.command("edit")
def edit_cmd(
    clip: Path = typer.Argument(...), prompt: str = typer.Argument(..., help="The new look, e.g. '1920s film'."),
    strength: float = typer.Option(0.5, "--strength", help="0 keeps the clip, 1 ignores it; ~0.5 keeps structure."),
    out_file: Path = typer.Option(Path("edited.mp4"), "--out", "-o"),
    model: str = typer.Option("sd15-img2img", "--model"), model_path: Optional[Path] = MODEL_PATH,
    offline: Optional[bool] = OFFLINE,
) -> None:
    """Video-to-video restyle (SDEdit) that keeps the clip's structure (GPU)."""
    from ..renderers.diffusion.base import entry, load_pipeline
    from ..renderers.diffusion.connect import edit_clip

    with errors(), console.status("restyling..."):
        _existing(clip)
        pipe = load_pipeline(entry(model), source=str(model_path) if model_path else None, offline=bool(offline))
        edit_clip(clip, prompt, out_file, pipe, strength)
    _clip_done(out_file)


@app.command()
def upscale(
    clip: Path = typer.Argument(...), factor: int = typer.Option(4, "--factor", help="2 or 4."),
    out_file: Path = typer.Option(Path("upscaled.mp4"), "--out", "-o"),
    upscaler: str = typer.Option("ffmpeg-lanczos", "--upscaler", help="ffmpeg-lanczos, or spandrel (--weights)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="A Real-ESRGAN-family .pth for spandrel."),
) -> None:
    """Super-resolve a clip x2/x4 (tiled, for learned upscalers)."""
    from ..renderers.upscale import create_upscaler, upscale_clip

    with errors(), console.status("upscaling..."):
        _existing(clip)
        up = create_upscaler(upscaler, **({"weights": weights} if weights else {}))
        upscale_clip(clip, factor, out_file, up)
    _clip_done(out_file)


@app.command()
def interpolate(
    clip: Path = typer.Argument(...), factor: int = typer.Option(2, "--factor"),
    out_file: Path = typer.Option(Path("interpolated.mp4"), "--out", "-o"),
    interpolator: str = typer.Option("ffmpeg-minterpolate", "--interpolator",
                                     help="ffmpeg-minterpolate (CPU), or rife (--weights)."),
    weights: Optional[Path] = typer.Option(None, "--weights",
                                           help="A RIFE v4 flownet.pkl (or its train_log folder) for rife."),
) -> None:
    """Frame interpolation (x2 frames at x2 rate): ffmpeg motion compensation, or a learned RIFE model."""
    from ..renderers.upscale import create_interpolator, interpolate_clip

    with errors(), console.status("interpolating..."):
        _existing(clip)
        interp = create_interpolator(interpolator, **({"weights": weights} if weights else {}))
        interpolate_clip(clip, factor, out_file, interp)
    _clip_done(out_file)


@app.command()
def models() -> None:
    """The diffusion model catalogue: task, native size, frames, VRAM tiers, installed here or not."""
    from ..renderers.diffusion.t2v import describe_models

    with errors():
        rows = describe_models()
    table = Table(box=None)
    for col in ("name", "task", "pipeline", "size", "frames", "fps", "VRAM tiers (GB)", "download", "installed"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["task"], r["pipeline"], r["size"], str(r["max_frames"]), str(r["fps"]),
                      " ".join(map(str, r["vram_gb"])), f"{r['download_gb']:g} GB", "yes" if r["installed"] else "no")
    out.print(table)
    out.print("use one with: moviefactory make \"...\" --renderer NAME  (renderers: animatic, "
              "ltx-video, wan2.1-t2v, cogvideox, hunyuanvideo, sdxl+svd)", markup=False, highlight=False)
