"""What the studio's page offers: formats, languages, speech engines, and the renderers usable on this
server (configs/studio.yaml says what each needs), with the server's defaults."""
from __future__ import annotations

from functools import cache
from typing import Any

from ..errors import MovieFactoryError
from ..options import FilmOptions
from ..resources import config_path
from ..yamlfile import parse_yaml, read_text

# What a request may set: what the film is. Paths, binaries, server URLs and the names of the variables
# holding keys are the server's own (studio/requests.py says why).
FROM_REQUEST = frozenset({
    "format", "lang", "scenes", "seconds", "seed", "draft", "writer", "llm", "llm_temperature", "llm_max_tokens",
    "llm_max_repairs", "renderer", "credits", "stock", "images_model", "upscale", "upscaler", "interpolate",
    "interpolator", "transitions", "tts", "voice", "tts_model", "music", "sfx", "media"})
LIBRARIES = ("default", "none")  # music/sfx over HTTP: the built-in library or none, not a folder


def menu(defaults: FilmOptions) -> dict[str, Any]:
    from ..config import format_names, load_format
    from ..languages import languages

    formats = []
    for name in format_names():
        f = load_format(name)
        formats.append({"name": name, "size": [f.width, f.height], "fps": f.fps, "description": f.description})
    table = _table()
    renderers = [{"name": name, "needs": entry["needs"]} for name, entry in table["renderers"].items()
                 if _usable(entry["check"], name, defaults)]
    return {
        "formats": formats,
        "languages": [{"code": "auto", "name": "from the theme"}] +
                     [{"code": code, "name": lang.name} for code, lang in languages().items()],
        "tts": usable_tts(defaults), "renderers": renderers,
        "defaults": {k: v for k, v in defaults.model_dump(mode="json").items() if k in FROM_REQUEST},
        "options": sorted(FROM_REQUEST),
    }


def usable_tts(o: FilmOptions) -> list[str]:
    """The speech engines this server can run (installed, and with a key where one is needed)."""
    from ..audio import tts_names

    return [name for name in tts_names() if _tts_ready(name, o.tts_base_url, o.tts_model, o.tts_api_key_env)]


@cache
def _tts_ready(name: str, base_url: str | None, model: str, key_env: str) -> bool:
    from ..audio import create_tts

    if name == "auto":
        return True
    try:
        create_tts(name, tts_base_url=base_url, tts_model=model, tts_api_key_env=key_env)
    except MovieFactoryError:
        return False
    return True


def usable_renderer(name: str, o: FilmOptions) -> str | None:
    """None if the renderer can be used on this server, else what it needs (a request may not make the
    server download a model or call a service it has no key for)."""
    entry = _table()["renderers"].get(name)
    if entry is None:
        return None  # a renderer of the user's own (a plugin): the options' checks decide
    return None if _usable(entry["check"], name, o) else entry["needs"]


def _table() -> dict[str, Any]:
    return parse_yaml(read_text(config_path("studio.yaml"), "studio menu"), config_path("studio.yaml"))


def _usable(check: str, name: str, o: FilmOptions) -> bool:
    try:
        if check == "always":
            return True
        if check == "stock":
            from ..renderers.pictures.stock_api import StockAPI

            for service, url in (("pexels", o.pexels_base_url), ("pixabay", o.pixabay_base_url)):
                try:
                    StockAPI(service, base_url=url).check_key()
                    return True
                except MovieFactoryError:
                    pass
            return False
        if check == "comfyui":
            return o.comfyui_url is not None
        if check == "images":
            from ..renderers.pictures.openai_images import image_key

            image_key(o.images_base_url, o.images_api_key_env)
            return True
        if check == "weights":
            from ..renderers.diffusion.base import check_weights

            check_weights(name, model_path=o.model_path, offline=True)
            return True
    except MovieFactoryError:
        return False
    return False
