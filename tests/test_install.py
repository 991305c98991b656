"""The wheel is what a user gets: built from this checkout, installed into a fresh venv without
downloading anything, it must list its formats and make a film from a folder that is not the source
tree, with its own copy of configs/ and prompts/."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import pytest

from media import decode_audio, video_frames
from moviefactory.audio.foley import default_sfx_dir
from moviefactory.audio.music.library import default_music_dir
from moviefactory.version import __version__

pytestmark = pytest.mark.xdist_group("install")  # one wheel and one venv for the module, on one worker
ROOT = Path(__file__).resolve().parents[1]
# The fresh venv must find nothing through these: they would put the checkout on its path.
_LEAKY = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV", "PIP_FIND_LINKS",
          "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    # MOVIEFACTORY_CACHE comes from conftest: the default libraries it built are reused, not rebuilt.
    env.update(HF_HUB_OFFLINE="1", PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1",
               HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"))
    env.pop("MOVIEFACTORY_CONFIG_DIR", None)
    return env


def _run(args: list, cwd: Path, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{args}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def _checkout_state() -> list[str]:
    """Everything git sees in the checkout, ignored files included (a stray build/, dist/ or runs/ shows
    up), less the bytecode and pytest's cache that the test session itself writes there."""
    lines = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    return [ln for ln in lines if "__pycache__" not in ln and ".pytest_cache" not in ln]


def _libraries() -> dict[str, tuple[int, int]]:
    """Size and mtime of every file of the default libraries conftest built (builders' locks aside)."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for folder in (default_music_dir(build=False), default_sfx_dir(build=False))
            for p in folder.rglob("*") if p.is_file() and p.suffix != ".lock"}


def test_version_flag_prints_version_py():
    proc = subprocess.run([sys.executable, "-m", "moviefactory", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"moviefactory {__version__}"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A wheel of this checkout installed alone into a new venv whose dependencies come from ours."""
    base = tmp_path_factory.mktemp("install")
    home, elsewhere = base / "home", base / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    env = _env(home)
    before = _checkout_state()
    libraries = _libraries()

    # 1. Build the wheel with this venv's pip and hatchling: no isolation, no index.
    dist = base / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", dist, ROOT], cwd=elsewhere, env=env)
    (wheel,) = dist.glob("moviefactory-*.whl")

    # 2. A new venv (pip from ensurepip, offline) that sees our site-packages for the dependencies.
    # A plain path line in a .pth does not run the .pth files inside that folder, so our own editable
    # install of moviefactory (a .pth there) stays invisible: checked before the wheel goes in.
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=elsewhere, env=env)
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=elsewhere, env=env).stdout.strip())
    ours = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "zz_moviefactory_test_deps.pth").write_text("".join(f"{p}\n" for p in ours))
    probe = _run([python, "-c", "import importlib.util, sys, typer, av; "
                  "print(importlib.util.find_spec('moviefactory')); print(sys.prefix)"], cwd=elsewhere, env=env)
    assert probe.stdout.split() == ["None", str(venv)], probe.stdout

    # 3. Only the wheel, nothing from an index.
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel], cwd=elsewhere, env=env)
    yield {"wheel": wheel, "venv": venv, "python": python, "site": site, "bin": venv / "bin", "env": env,
           "elsewhere": elsewhere, "home": home, "before": before, "libraries": libraries}


@pytest.mark.slow
def test_wheel_carries_the_data_the_code_reads(fresh):
    names = set(zipfile.ZipFile(fresh["wheel"]).namelist())
    tracked = subprocess.run(["git", "ls-files", "configs", "prompts", "moviefactory"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    expected = {f"moviefactory/{p}" if not p.startswith("moviefactory/") else p for p in tracked}
    assert expected <= names, sorted(expected - names)
    assert {"moviefactory/configs/formats/vertical.yaml", "moviefactory/prompts/offline/en.yaml",
            "moviefactory/py.typed"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert fresh["wheel"].name.startswith(f"moviefactory-{__version__}-")


@pytest.mark.slow
def test_fresh_venv_imports_its_own_copy(fresh):
    code = ("import importlib.metadata as m, moviefactory, moviefactory.resources as r; "
            "print(moviefactory.__file__); print(r.configs_dir()); print(r.prompts_dir()); print(m.version('moviefactory'))")
    module, configs, prompts, version = _run([fresh["python"], "-c", code], cwd=fresh["elsewhere"],
                                             env=fresh["env"]).stdout.split()
    package = fresh["site"] / "moviefactory"
    assert Path(module) == package / "__init__.py"
    assert (Path(configs), Path(prompts)) == (package / "configs", package / "prompts")
    assert version == __version__
    proc = _run([fresh["bin"] / "moviefactory", "--version"], cwd=fresh["elsewhere"], env=fresh["env"])
    assert proc.stdout.strip() == f"moviefactory {__version__}"


@pytest.mark.slow
def test_installed_wheel_lists_formats_and_makes_a_film_elsewhere(fresh):
    cli, cwd, env = fresh["bin"] / "moviefactory", fresh["elsewhere"], fresh["env"]
    formats = _run([cli, "formats"], cwd=cwd, env=env).stdout
    assert any(ln.split()[:2] == ["vertical", "1080x1920"] for ln in formats.splitlines()), formats
    assert any(ln.split()[:1] == ["widescreen"] for ln in formats.splitlines()), formats

    proc = _run([cli, "make", "A cat on a windowsill", "--draft", "--format", "vertical", "--scenes", "2",
                 "--seconds", "6", "--music", "none", "--sfx", "none"], cwd=cwd, env=env, timeout=600)
    (run_dir,) = (cwd / "runs").iterdir()
    film = run_dir / "film.mp4"
    assert str(film) in proc.stdout or film.name in proc.stdout
    with av.open(str(film)) as c:
        v = c.streams.video[0].codec_context
        assert (v.width, v.height) == (270, 480)
    duration = float(Fraction(json.loads((run_dir / "timeline.json").read_text())["duration"]))
    frames, fps = video_frames(film)
    assert abs(frames / fps - duration) <= 1 / fps
    samples, rate = decode_audio(film)
    assert abs(len(samples) / rate - duration) <= 2 / fps
    assert 5 <= duration <= 20  # the 6 s asked for, stretched to fit the narration at most

    # Nothing written outside the run directory and the temp dirs: not the checkout, not the default
    # libraries (reused, not rebuilt), not the user's config; the working directory holds the runs only.
    assert _checkout_state() == fresh["before"]
    assert fresh["libraries"] and _libraries() == fresh["libraries"]
    assert sorted(p.name for p in cwd.iterdir()) == ["runs"]
    assert not (fresh["home"] / ".config" / "moviefactory").exists()
    assert not (fresh["home"] / ".cache" / "moviefactory").exists()
