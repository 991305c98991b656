"""`--renderer openai-images`: a keyframe per shot from any OpenAI-compatible `/v1/images/generations`
server (OpenAI, LocalAI, a local SD/Flux server that speaks it), through the openai client, played
with the shot's camera move.

The prompt is the keyframe renderers' (the character bible for the characters in the shot, what the
shot shows, the format's style). The key comes from the environment ($OPENAI_API_KEY, or the
variable `images_api_key_env` names) and is never stored or printed. Timeouts, 429 (its Retry-After)
and 5xx are retried by the client, a bounded number of times; then one line names the server.
"""
from __future__ import annotations

import base64
import io
import os
from pathlib import Path

from ...errors import MissingDependencyError, RenderError
from ...media.camera import SUFFIX
from ...secrets import public_url
from ...screenplay import Shot
from ..base import RenderContext, keyframe_prompts, register_renderer
from .fit import still_shot


def image_size(model: str, aspect: float) -> str:
    """The size to ask for: the model's nearest to the film's shape (gpt-image-1 and dall-e-3 have their
    own three; other servers take any, so the square's area in the film's shape, in multiples of 64)."""
    if model.startswith("gpt-image"):
        return "1536x1024" if aspect > 1.2 else "1024x1536" if aspect < 0.83 else "1024x1024"
    if model == "dall-e-3":
        return "1792x1024" if aspect > 1.2 else "1024x1792" if aspect < 0.83 else "1024x1024"
    w = round((1024 * 1024 * aspect) ** 0.5 / 64) * 64
    return f"{w}x{round(1024 * 1024 / w / 64) * 64}"


class OpenAIImagesRenderer:
    name = "openai-images"
    suffix = SUFFIX

    def __init__(self, *, base_url: str | None = None, model: str = "gpt-image-1", api_key_env: str = "OPENAI_API_KEY",
                 aspect: float = 16 / 9, timeout: float = 180.0, max_retries: int = 3) -> None:
        import openai

        self.base_url, self.model, self.aspect, self.key_env = base_url, model, aspect, api_key_env
        key = image_key(base_url, api_key_env)
        self._client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=max_retries)

    def cache_token(self) -> str:
        return f"openai-images {self._where()} {self.model} {image_size(self.model, self.aspect)}"

    def render(self, shot: Shot, ctx: RenderContext, out: Path):
        from PIL import Image, UnidentifiedImageError

        prompts = keyframe_prompts(shot, ctx)
        prompt = prompts.prompt + (f". Avoid: {prompts.negative}" if prompts.negative else "")
        image = self._generate(prompt, ctx)
        try:
            with Image.open(io.BytesIO(image)) as picture:
                return still_shot(picture, shot, ctx, out)
        except (UnidentifiedImageError, OSError) as exc:
            raise RenderError(f"image server {self._where()} sent something that is not a picture "
                              f"({len(image)} bytes)", stage="render", scene=ctx.scene.id) from exc

    def _generate(self, prompt: str, ctx: RenderContext) -> bytes:
        import openai

        extra = {} if self.model.startswith("gpt-image") else {"response_format": "b64_json"}  # gpt-image: always
        where = dict(stage="render", scene=ctx.scene.id)
        try:
            reply = self._client.images.generate(model=self.model, prompt=prompt, n=1,
                                                 size=image_size(self.model, self.aspect), **extra)
        except openai.APIStatusError as e:
            hint = {401: f": the key was refused (set ${self.key_env}, or --images-api-key-env)",
                    403: f": the key may not make images (${self.key_env})",
                    429: ": too many requests, still after waiting as it asked"}.get(e.status_code, "")
            raise RenderError(f"image server {self._where()} answered {e.status_code}{hint}", **where) from None
        except openai.APITimeoutError:
            raise RenderError(f"image server {self._where()} did not answer in time (retried)", **where) from None
        except openai.APIConnectionError:
            raise RenderError(f"image server {self._where()} cannot be reached (retried)", **where) from None
        item = reply.data[0] if reply.data else None
        if item is None or not (item.b64_json or item.url):
            raise RenderError(f"image server {self._where()} sent no image", **where)
        if item.b64_json:
            return base64.b64decode(item.b64_json)
        return _fetch(item.url)

    def _where(self) -> str:
        return public_url(self.base_url) or "https://api.openai.com/v1"


def _fetch(url: str) -> bytes:
    import httpx

    return httpx.get(url, timeout=60, follow_redirects=True).raise_for_status().content


def image_key(base_url: str | None, api_key_env: str) -> str:
    """The key from the environment; a local server (a base URL) needs none. No key is one line."""
    key = os.environ.get(api_key_env) or ("not-needed" if base_url else None)
    if key is None:
        raise MissingDependencyError(f"--renderer openai-images needs a key in ${api_key_env} "
                                     f"(or --images-base-url for a local server)")
    return key


@register_renderer("openai-images")
def create_openai_images(*, images_base_url: str | None = None, images_model: str = "gpt-image-1",
                         images_api_key_env: str = "OPENAI_API_KEY", aspect: float = 16 / 9,
                         **_options) -> OpenAIImagesRenderer:
    return OpenAIImagesRenderer(base_url=images_base_url, model=images_model, api_key_env=images_api_key_env,
                                aspect=aspect)
