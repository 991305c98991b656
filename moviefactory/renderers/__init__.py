from .base import Clip, RenderContext, SceneRenderer, create_renderer, register_renderer, renderer_names

__all__ = ["Clip", "RenderContext", "SceneRenderer", "create_renderer", "register_renderer", "renderer_names"]
