"""One contract per seam, run over every registered entry: a new backend passes these or is not done."""
from __future__ import annotations

import contextlib
import io
import wave

import av
import pytest

from moviefactory.audio import create_tts, tts_names
from moviefactory.errors import MissingDependencyError
from moviefactory.config import load_format
from moviefactory.media.camera import is_still
from moviefactory.planner import PlanRequest, create_writer, writer_names
from moviefactory.planner.llm import LLMSettings
from moviefactory.renderers import RenderContext, create_renderer, renderer_names
from moviefactory.renderers.base import shot_source
from moviefactory.screenplay import Screenplay, Voice

from factories import tiny_screenplay
from fake_openai import FakeOpenAI, Reply
from scripted_llm import Story, zh_story
from media import decode_video, video_frames


def _tiny_renderer(name: str):
    """Diffusion entries at toy size: the real pipeline classes with random weights (no weights here)."""
    if name in ("ltx-video", "wan2.1-t2v"):
        from tiny_diffusion import tiny_ltx, tiny_model, tiny_wan

        return create_renderer(name, pipe=tiny_ltx() if name == "ltx-video" else tiny_wan(), model=tiny_model(name))
    if name in ("cogvideox", "hunyuanvideo"):
        from tiny_diffusion import tiny_model
        from tiny_video_families import tiny_cogvideox, tiny_hunyuan

        pipe = tiny_cogvideox() if name == "cogvideox" else tiny_hunyuan()
        return create_renderer(name, pipe=pipe, model=tiny_model(name))
    if name in ("sd-turbo", "sdxl-turbo"):
        from dataclasses import replace

        from moviefactory.renderers.diffusion.base import entry
        from tiny_image_video import tiny_sd, tiny_sdxl

        model = replace(entry(name), size=(64, 64), multiple=8)
        return create_renderer(name, pipe=tiny_sd() if name == "sd-turbo" else tiny_sdxl(), model=model)
    if name == "sdxl+svd":
        from tiny_image_video import tiny_models, tiny_sdxl, tiny_svd

        image, video, _ = tiny_models()
        return create_renderer(name, image_pipe=tiny_sdxl(), video_pipe=tiny_svd(), image_model=image,
                               video_model=video)
    return None


def _sources(name: str, folder, stack: contextlib.ExitStack) -> dict:
    """What a renderer of real pictures is given: for footage, a folder with a photo; for a remote
    service, its stand-in on 127.0.0.1."""
    from PIL import Image

    if name == "footage":
        Image.new("RGB", (800, 600), (200, 60, 30)).save(folder / "lighthouse.jpg")
        return {"media": folder}
    if name == "openai-images":
        from fake_images import FakeImages

        def paint(body) -> bytes:
            out = io.BytesIO()
            Image.new("RGB", tuple(int(v) for v in body["size"].split("x")), (30, 90, 200)).save(out, "PNG")
            return out.getvalue()

        server = stack.enter_context(FakeImages(paint))
        return {"images_base_url": server.base_url, "images_model": "sd-local"}
    if name == "comfyui":
        from fake_comfyui import FakeComfyUI

        def make(prompt, width, height, frames, fps):
            out = io.BytesIO()
            Image.new("RGB", (width, height), (120, 40, 160)).save(out, "PNG")
            return out.getvalue(), ".png"

        server = stack.enter_context(FakeComfyUI(make))
        return {"comfyui_url": server.url}
    if name == "stock":
        from fake_stock import FakeStock, Item

        Image.new("RGB", (1080, 1920), (30, 150, 90)).save(folder / "keeper.jpg")
        server = stack.enter_context(FakeStock([Item(7, "photo", "lighthouse keeper storm sea tower lamp",
                                                     folder / "keeper.jpg", 1080, 1920)], key="contract-key"))
        stack.enter_context(pytest.MonkeyPatch.context()).setenv("PEXELS_API_KEY", "contract-key")
        stack.enter_context(pytest.MonkeyPatch.context()).setenv("MOVIEFACTORY_CACHE", str(folder / "cache"))
        return {"stock": "pexels", "pexels_base_url": server.base_url}
    return {}


@pytest.mark.parametrize("name", renderer_names())
def test_renderer_contract(name, tmp_path, tmp_path_factory, ffmpeg):
    with contextlib.ExitStack() as stack:
        _renderer_contract(name, tmp_path, tmp_path_factory.mktemp("sources"), ffmpeg, stack)


def _renderer_contract(name, tmp_path, sources, ffmpeg, stack):
    try:
        renderer = create_renderer(name, **_sources(name, sources, stack))
    except MissingDependencyError as exc:  # no weights here: it must say what to download
        assert "download" in str(exc)
        renderer = _tiny_renderer(name)
        if renderer is None:
            pytest.skip(f"{name}: no toy-size build of this model family in the tests; {exc.one_line()[:80]}")
    assert renderer.name == name and renderer.cache_token()
    sp = tiny_screenplay()
    fmt = load_format("vertical", draft=True)
    ctx = RenderContext(screenplay=sp, scene=sp.scenes[0], format=fmt, seed=1, ffmpeg=ffmpeg, frames=17)
    suffix, _ = shot_source(renderer, sp.scenes[0].shots[0], sp)
    out = tmp_path / f"shot{suffix}"  # a video file, or a still and its move
    clip = renderer.render(sp.scenes[0].shots[0], ctx, out)
    assert clip.path == out and clip.frames == 17
    assert (clip.width, clip.height) == ctx.size and clip.fps == ctx.fps
    frames, fps = video_frames(out)  # what the film's encode will play, not what the Clip says
    assert frames == 17 and fps == 30
    assert decode_video(out).shape[1:3] == (ctx.size[1], ctx.size[0])
    if not is_still(out):
        with av.open(str(out)) as c:
            assert [s.type for s in c.streams] == ["video"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name], "renderer left scratch files"


@pytest.mark.parametrize("name", tts_names())
@pytest.mark.parametrize("language, text", [("en", "Hello there, keeper."), ("zh", "你好，守塔人。")])
def test_tts_contract(name, language, text, tmp_path):
    with contextlib.ExitStack() as stack:
        if name == "openai":  # a remote service: its stand-in is a real HTTP server on 127.0.0.1 (espeak's speech)
            from fake_speech import FakeSpeech

            espeak = create_tts("espeak")
            server = stack.enter_context(FakeSpeech(lambda body: espeak.speak(
                body["input"], Voice(id="cmn" if language == "zh" else "en-us"), language,
                tmp_path.parent / f"{tmp_path.name}-server.wav").path.read_bytes()))
            tts = create_tts(name, tts_base_url=server.base_url, tts_model="tts-1", voice="alloy")
        else:
            try:
                tts = create_tts(name)
            except MissingDependencyError as exc:  # an optional engine not installed: it must say how to get it
                assert "pip install" in str(exc) or "download" in str(exc)
                pytest.skip(f"{name}: {exc}")
        assert tts.name == name and tts.cache_token()
        voices = tts.voices(language)
        if not voices:  # an engine with no voice for the language says so in one line, naming it
            from moviefactory.errors import SpeechError

            with pytest.raises(SpeechError, match=repr(language)):
                tts.speak(text, Voice(id="any"), language, tmp_path / "line.wav")
            assert not (tmp_path / "line.wav").exists()
            return
        said = tts.speak(text, Voice(id=voices[0]), language, tmp_path / "line.wav")
    with wave.open(str(said.path)) as w:
        assert abs(w.getnframes() / w.getframerate() - said.duration) < 0.002
    assert said.words and all(0 <= w.start < w.end <= said.duration + 1e-6 for w in said.words)


@pytest.fixture(scope="module")
def llm_server():
    with FakeOpenAI() as server:  # the only stand-in: a remote model, as a real HTTP server on 127.0.0.1
        yield server


def _writer(name: str, language: str, server: FakeOpenAI):
    if name != "llm":
        return create_writer(name)
    server.default = Reply(respond=zh_story() if language == "zh" else Story())
    return create_writer("llm", llm=LLMSettings(model="test-model", base_url=server.base_url, api_key="sk-test",
                                                 timeout=5, max_retries=0))


@pytest.mark.parametrize("name", writer_names())
@pytest.mark.parametrize("language, theme", [("en", "An astronaut's space adventure"), ("zh", "月光下的少林寺")])
def test_writer_contract(name, language, theme, llm_server):
    writer = _writer(name, language, llm_server)
    assert writer.name == name
    sp = writer.write(PlanRequest(theme=theme, language=language, seconds=30, scenes=3, seed=1, format="vertical"))
    assert isinstance(sp, Screenplay) and Screenplay.model_validate(sp.model_dump()) == sp
    assert sp.language == language and len(sp.scenes) == 3
    assert 20 <= sp.duration <= 45
    assert all(scene.narration for scene in sp.scenes)
