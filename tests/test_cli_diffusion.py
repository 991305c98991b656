"""`moviefactory make --renderer ltx-video --model-path DIR --offline --upscale 4 --interpolate 2`, run
as a user runs it: the real LTXPipeline class, saved tiny to a folder (random weights), loaded with
from_pretrained by the CLI in its own process, nothing downloaded.

The catalogue's 40 denoising steps would only cost time at toy size, so the CLI process gets a copy
of the ltx-video entry with 2 steps through a `sitecustomize.py` on its PYTHONPATH; everything else
(size rule, frame rule, motion controls, tiers) is the real entry's. The film's size comes from the
widescreen preset's x4 table and the generation from it, not from the catalogue.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import pytest

from media import video_frames
from tiny_diffusion import tiny_ltx

pytestmark = [pytest.mark.slow]

CLI = Path(sys.executable).with_name("moviefactory")
TOY_STEPS = """\
# Test only: the catalogue's ltx-video with 2 denoising steps.
from dataclasses import replace

from moviefactory.renderers.diffusion import base

_toy = {**base.catalogue(), "ltx-video": replace(base.entry("ltx-video"), steps=2)}
base.catalogue = lambda: _toy
"""


def run_cli(*args: str, site: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env, timeout=600, cwd=cwd)


def test_make_with_ltx_from_a_local_folder_upscaled_and_interpolated(tmp_path):
    weights = tmp_path / "ltx"
    tiny_ltx().save_pretrained(weights)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(TOY_STEPS, encoding="utf-8")

    proc = run_cli("make", "A paper boat on a rainy street", "--renderer", "ltx-video", "--model-path", str(weights),
                   "--offline", "--format", "widescreen", "--draft", "--scenes", "2", "--seconds", "8",
                   "--music", "none", "--sfx", "none", "--upscale", "4", "--interpolate", "2",
                   "--output", str(tmp_path / "runs"), site=site, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    # our progress display, not the libraries' loading bars and warnings
    assert "Rendering shots" in proc.stdout + proc.stderr
    assert "Loading pipeline components" not in proc.stderr and "truncated" not in proc.stderr
    (run,) = (tmp_path / "runs").iterdir()
    film = run / "film.mp4"
    assert f"  {film}" in proc.stdout.splitlines()  # the summary lists what it wrote
    with av.open(str(film)) as c:
        v = c.streams.video[0]
        assert (v.width, v.height) == (768, 320)  # 3072x1280 at draft scale
    frames, fps = video_frames(film)
    assert fps == 24 and frames > 24 * 5
    for name in ("contact_sheet.png", "film.otio", "film.srt"):
        assert (run / name).is_file() and name in proc.stdout
    assert '"renderer": "ltx-video"' in (run / "report.json").read_text()
    # nothing written outside the run directory (the weights and site folders are the test's own)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ltx", "runs", "site"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [run.name]
