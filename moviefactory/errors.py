"""One exception hierarchy for the whole package.

Every error carries the stage it happened in, the scene/shot when there is one, and the
stderr of the external tool that failed. Only the CLI turns these into exit codes.
"""
from __future__ import annotations


class MovieFactoryError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        stage: str | None = None,
        scene: str | None = None,
        stderr: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.stage = stage
        self.scene = scene
        self.stderr = stderr

    def one_line(self) -> str:
        """The message a person sees: where it happened and what went wrong, on one line."""
        where = ", ".join(p for p in (self.stage and f"stage {self.stage}", self.scene and f"scene {self.scene}") if p)
        text = f"{self.message} ({where})" if where else self.message
        tail = _last_line(self.stderr)
        if tail:
            text += f": {tail}"
        return " ".join(text.split())


class InputError(MovieFactoryError):
    """The user asked for something we cannot do (empty theme, unknown format, bad file)."""

    exit_code = 2


class ConfigError(InputError):
    """A config file or value is wrong."""


class ScreenplayError(InputError):
    """A screenplay failed validation; the message names the field."""


class PlanningError(MovieFactoryError):
    """The screenwriter could not produce a valid screenplay."""


class RenderError(MovieFactoryError):
    """A scene renderer failed."""


class SpeechError(MovieFactoryError):
    """Text-to-speech failed."""


class ToolError(MovieFactoryError):
    """An external tool (ffmpeg) exited non-zero."""


class AssemblyError(MovieFactoryError):
    """The final film could not be assembled."""


class MissingDependencyError(MovieFactoryError):
    """An optional part is not installed; the message says how to install it."""

    exit_code = 3


def _last_line(stderr: str | None) -> str:
    if not stderr:
        return ""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""
