from .base import PlanRequest, Screenwriter, create_writer, detect_language, register_writer, writer_names

__all__ = ["PlanRequest", "Screenwriter", "create_writer", "detect_language", "register_writer", "writer_names"]
