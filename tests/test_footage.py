"""--renderer footage: the user's own photos and clips, matched to the shots by their words, each used
once while others remain, photos moving with the shot's camera, clips fitted to the shot, the folder
only read. Asserted on the film's decoded frames: each shot's picture is its source's colour."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from moviefactory.config import load_format
from moviefactory.media.ffmpeg import ffmpeg_binary
from moviefactory.renderers.pictures.fit import _window, clip_shot, focus_box
from moviefactory.renderers.pictures.match import Candidate, cast_pictures
from moviefactory.renderers.pictures.media import index_media, name_words
from moviefactory.screenplay import Screenplay

THEME = "Several giant wooly mammoths approach treading through a snowy meadow"
# file -> its colour: every source is told apart in the film's frames by the colour of its ground
PHOTOS = {"mammoths/wooly_mammoth_herd.jpg": (200, 30, 30), "snowy-meadow.png": (30, 190, 40),
          "IMG_0412.jpg": (30, 40, 200), "pine valley at dusk.webp": (200, 180, 20)}
CLIP = ("giant-mammoths-walking.mp4", (200, 30, 200))


def _photo(path: Path, colour, size=(1200, 900)) -> None:
    """A ground of `colour` with a detailed disc off to the right: the centre of interest."""
    a = np.zeros((size[1], size[0], 3), np.uint8)
    a[:] = colour
    yy, xx = np.mgrid[0:size[1], 0:size[0]]
    disc = (xx - size[0] * 0.78) ** 2 + (yy - size[1] * 0.5) ** 2 < (size[1] * 0.16) ** 2
    a[disc] = 255
    a[disc & ((xx // 6 + yy // 6) % 2 == 0)] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)


def _clip(path: Path, colour, seconds=1.0) -> None:
    r, g, b = colour
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c=0x{r:02x}{g:02x}{b:02x}:s=320x240:r=25:d={seconds}", "-vf",
                    "drawbox=x='mod(t*200,300)':y=100:w=20:h=20:c=white:t=fill", "-metadata",
                    "title=giant mammoths walking", "-pix_fmt", "yuv420p", str(path)], check=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("trip")
    for name, colour in PHOTOS.items():
        _photo(folder / name, colour)
    _clip(folder / CLIP[0], CLIP[1])
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a picture")
    return folder


def _fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "moviefactory", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env={**os.environ, "OPENAI_API_KEY": ""})


def _colour_at(film: Path, t: float) -> np.ndarray:
    with av.open(str(film)) as c:
        frame = next(f for f in c.decode(video=0) if f.time >= t)
        rgb = frame.to_ndarray(format="rgb24").reshape(-1, 3).astype(int)
    return np.median(rgb, axis=0)


def test_a_film_from_the_users_photos_and_clips(media, tmp_path):
    before = _fingerprint(media)
    proc = _run("make", THEME, "--renderer", "footage", "--media", str(media), "--format", "vertical", "--draft",
                "--seconds", "24", "--music", "none", "--sfx", "none", "--output", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = next((tmp_path / "runs").iterdir())
    report = json.loads((run / "report.json").read_text())
    screenplay = Screenplay.model_validate_json((run / "screenplay.json").read_text())
    timeline = json.loads((run / "timeline.json").read_text())
    picks = {p["shot"]: p for p in report["pictures"]}
    shots = [shot for _, shot in screenplay.shots()]
    assert set(picks) == {s.id for s in shots}
    colours = {**PHOTOS, CLIP[0]: CLIP[1]}
    used = [picks[s.id]["file"] for s in shots]
    # no file twice while unused ones remain; the broken file is never used
    assert len(set(used[:len(colours)])) == min(len(shots), len(colours)) and "broken.jpg" not in used
    # shots matched by words share words with their file's name
    for s in shots:
        if picks[s.id]["matched"] == "words":
            assert set(name_words(picks[s.id]["file"])) & set(s.description.lower().replace(",", " ").split()), s
    # the film shows each shot's own file: its colour in the middle of the shot
    film = run / "film.mp4"
    clips = {c["shot"]: c for c in timeline["video"]}
    fps = Fraction(timeline["fps"])
    for s in shots:
        clip = clips[s.id]
        middle = float(Fraction(clip["start"]) + Fraction(clip["frames"], 2) / fps)
        got = _colour_at(film, middle)
        want = np.array(colours[picks[s.id]["file"]])
        assert np.abs(got - want).max() < 40, (s.id, picks[s.id]["file"], got, want)
    assert _fingerprint(media) == before  # the user's files are only read


def test_a_photo_moves_with_the_camera_and_keeps_its_centre_of_interest(media, tmp_path):
    from moviefactory.media.frames import read_frames
    from moviefactory.renderers.base import RenderContext
    from moviefactory.screenplay import Shot
    from scripted_llm import request
    from moviefactory.planner import create_writer

    film = create_writer("offline").write(request(theme=THEME, fmt="vertical"))
    scene = film.scenes[0]
    fmt = load_format("vertical", draft=True)
    ctx = RenderContext(screenplay=film, scene=scene, format=fmt, seed=3, ffmpeg=ffmpeg_binary(), frames=24)
    shot = Shot(id="s01-sh01", description="a pan", camera="pan_right", motion=1.0, duration=1.0)
    from moviefactory.renderers.pictures.fit import still_shot

    with Image.open(media / "snowy-meadow.png") as image:
        clip = still_shot(image, shot, ctx, tmp_path / "s.still.npz")
    frames, _ = read_frames(clip.path)
    assert len(frames) == 24 and frames.shape[1:3] == (fmt.height, fmt.width)
    first, last = frames[0].astype(int), frames[-1].astype(int)
    assert np.abs(first - last).mean() > 5  # the camera moved
    # the detailed disc (right of the photo's middle) is in the frame, not cut away by a centre crop
    dark = (frames[12].astype(int).sum(axis=2) < 60).mean()
    assert dark > 0.02


def test_focus_box_goes_where_the_detail_is():
    a = np.zeros((300, 900, 3), np.uint8)
    a[100:200, 700:800] = np.indices((100, 100)).sum(axis=0)[..., None] % 2 * 255
    x, y, w, h = focus_box(a, 1.0)
    assert (w, h) == (300, 300) and x >= 500  # the window holds the detailed patch at x 700-800
    plain = np.full((300, 900, 3), 128, np.uint8)
    assert focus_box(plain, 1.0)[0] == 300  # nothing to go by: the middle


def test_a_short_clip_is_slowed_then_looped_to_the_shot_and_a_long_one_trimmed_to_its_liveliest_part(tmp_path):
    from moviefactory.renderers.base import RenderContext
    from moviefactory.screenplay import Shot
    from scripted_llm import request
    from moviefactory.planner import create_writer

    short = tmp_path / "short.mp4"
    _clip(short, (20, 200, 200), seconds=0.6)
    film = create_writer("offline").write(request(theme=THEME, fmt="widescreen"))
    fmt = load_format("widescreen", draft=True)
    ctx = RenderContext(screenplay=film, scene=film.scenes[0], format=fmt, seed=1, ffmpeg=ffmpeg_binary(), frames=72)
    shot = Shot(id="s01-sh01", description="x", camera="static", motion=0.8, duration=3.0)
    clip = clip_shot(short, shot, ctx, tmp_path / "out.mp4")
    with av.open(str(clip.path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 72 and frames[0].shape[:2] == (fmt.height, fmt.width)
    # motion energy: still for 2 s, then moving for 1 s; a lively shot of 1 s takes the moving second
    energy = [(t / 4, 0.0 if t < 8 else 1.0) for t in range(12)]
    assert _window(energy, 3.0, 1.0, lively=True) >= 1.75 and _window(energy, 3.0, 1.0, lively=False) < 1.0


def test_casting_uses_every_picture_before_any_twice_and_never_twice_in_a_row():
    from scripted_llm import request
    from moviefactory.planner import create_writer

    film = create_writer("offline").write(request(theme=THEME, seconds=60.0))
    shots = [s for _, s in film.shots()]
    candidates = [Candidate("mammoth.jpg", "mammoth"), Candidate("meadow.jpg", "snowy meadow"),
                  Candidate("IMG_1.jpg", "")]
    picks = cast_pictures(film, candidates, aspect=16 / 9)
    order = [picks[s.id].key for s in shots]
    assert len(shots) > 3 and set(order[:3]) == {"mammoth.jpg", "meadow.jpg", "IMG_1.jpg"}
    assert all(a != b for a, b in zip(order, order[1:]))
    assert picks[shots[0].id].how in ("words", "order")


def test_media_index_names_bad_files_and_reads_words_from_names_and_metadata(media, tmp_path):
    proc = _run("media", "index", str(media))
    assert proc.returncode == 0, proc.stderr
    assert "bad    broken.jpg: cannot read it" in proc.stdout and "4 photos, 1 clips usable; 1 unreadable" in proc.stdout
    files = {f.path: f for f in index_media(media)}
    assert files["mammoths/wooly_mammoth_herd.jpg"].caption == "mammoths wooly mammoth herd"
    assert files["IMG_0412.jpg"].caption == "" and files[CLIP[0]].caption.startswith("giant mammoths walking")
    assert files[CLIP[0]].kind == "video" and files[CLIP[0]].duration == pytest.approx(1.0, abs=0.1)
    # EXIF description and Windows keywords
    exif = Image.Exif()
    exif[270] = "a fox in the first snow"
    exif[0x9C9E] = "fox;winter".encode("utf-16-le")
    tagged = tmp_path / "tagged"
    tagged.mkdir()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(tagged / "DSC01234.jpg", exif=exif)
    f = index_media(tagged)[0]
    assert f.caption == "a fox in the first snow" and f.tags == ("fox", "winter") and (f.width, f.height) == (64, 48)


def test_footage_without_a_folder_is_one_line_and_exit_2(tmp_path):
    for args in (["--renderer", "footage"], ["--renderer", "footage", "--media", str(tmp_path / "nowhere")]):
        proc = _run("make", THEME, *args, "--output", str(tmp_path / "runs"))
        said = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
        assert said[-1].startswith("error: --renderer footage needs a folder of photos and clips: --media FOLDER")
    assert not (tmp_path / "runs").exists()


def _tiny_clip(folder: Path) -> Path:
    """A CLIPModel + CLIPProcessor at toy size with random weights, saved as a local model folder."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from tiny_image_video import _text_config, tiny_clip_tokenizer

    tokenizer = tiny_clip_tokenizer()
    text = _text_config(tokenizer).to_dict()
    vision = dict(hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=1, image_size=32,
                  patch_size=8, projection_dim=16)
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                  crop_size={"height": 32, "width": 32}),
                              tokenizer=tokenizer)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_with_clip_weights_pictures_without_words_are_cast_by_what_they_show(tmp_path):
    from moviefactory.planner import create_writer
    from moviefactory.renderers.pictures.clip_rank import load_clip, picture_vectors
    from moviefactory.renderers.pictures.footage import FootageRenderer
    from moviefactory.renderers.pictures.match import shot_query
    from moviefactory.renderers.pictures.media import index_cache_file
    from scripted_llm import request

    clip = _tiny_clip(tmp_path / "clip")
    media = tmp_path / "phone"
    for k, colour in enumerate([(220, 30, 30), (30, 200, 40), (30, 40, 220), (230, 220, 40), (240, 240, 240)]):
        _photo(media / f"IMG_{k:04d}.jpg", colour, (320, 240))
    film = create_writer("offline").write(request(theme=THEME, fmt="vertical", seconds=30.0))
    shots = [s for _, s in film.shots()]
    renderer = FootageRenderer(media, 9 / 16, clip)
    picks = renderer.picks(film)
    # the expected casting, from the same model: in film order, each shot takes its most similar unused picture
    ranker = load_clip(clip)
    files = list(renderer.files.values())
    sims = ranker.scores([shot_query(s, film) for s in shots], picture_vectors(ranker, media, files, tmp_path / "x.npz"))
    used, expected = set(), {}
    for shot, row in zip(shots, sims):
        free = [n for n in np.argsort(-row, kind="stable") if n not in used and row[n] > 0]
        if free:
            used.add(free[0])
            expected[shot.id] = files[free[0]].path
    assert expected and {s: picks[s].key for s in expected} == expected
    assert all(picks[s].how == "looks" for s in expected)
    cache = index_cache_file(media.resolve()).with_suffix(f".{ranker.model_id}.npz")
    stamp = cache.stat().st_mtime_ns
    FootageRenderer(media, 9 / 16, clip)  # the pictures' embeddings are read back, not computed again
    assert cache.stat().st_mtime_ns == stamp
