"""The Python API: `make_film(theme, ...)` and `resume_film(run_id)`. The CLI is a thin wrapper."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .audio import TTSBackend, create_tts
from .config import Settings, load_format, load_settings
from .errors import InputError
from .media.ffmpeg import ffmpeg_binary, probe
from .media.files import write_text
from .pipeline import Components, Progress, build_graph, open_checkpointer
from .pipeline.progress import no_progress
from .planner import Screenwriter, create_writer, detect_language
from .render import SceneRenderer, create_renderer
from .runs import RunDir, find_run_dir, open_run_dir, run_id_for

MAX_THEME = 1000
THREAD = {"configurable": {"thread_id": "film"}}


@dataclass(frozen=True)
class FilmResult:
    run_id: str
    run_dir: Path
    video: Path
    subtitles: dict[str, Path]
    screenplay: Path
    timeline: Path
    report: Path
    title: str
    duration: float  # seconds, probed from the film
    stage_seconds: dict[str, float] = field(default_factory=dict)
    resumed: bool = False

    @property
    def paths(self) -> list[Path]:
        return [self.video, *self.subtitles.values(), self.screenplay, self.timeline, self.report]


def make_film(
    theme: str,
    *,
    format: str | None = None,
    lang: str | None = None,
    scenes: int | None = None,
    seconds: float | None = None,
    seed: int | None = None,
    draft: bool | None = None,
    output: str | Path | None = None,
    config: str | Path | None = None,
    progress: Progress | None = None,
    writer: Screenwriter | None = None,
    renderer: SceneRenderer | None = None,
    tts: TTSBackend | None = None,
) -> FilmResult:
    """Make a film from one line. Same theme and settings -> same run directory, continued, not redone."""
    theme = _clean_theme(theme)
    settings = load_settings(Path(config) if config else None).with_overrides(
        format=format, language=lang, scenes=scenes, seconds=seconds, seed=seed, draft=draft, output_dir=output)
    _check(settings)
    language = detect_language(theme) if settings.language == "auto" else settings.language
    settings = settings.with_overrides(language=language)
    load_format(settings.format, draft=settings.draft)  # fail on a bad format before making a directory
    run = open_run_dir(settings.output_dir, run_id_for(theme, settings.cache_view()))
    if not run.request.is_file():
        write_text(run.request, json.dumps({"theme": theme, "settings": settings.cache_view()}, ensure_ascii=False, indent=1))
    return _execute(run, theme, settings, progress, writer, renderer, tts)


def resume_film(run_id: str, *, output: str | Path | None = None, progress: Progress | None = None) -> FilmResult:
    """Continue a run that was stopped: finished stages and shots are kept, not redone."""
    defaults = load_settings()
    run = find_run_dir(Path(output) if output else defaults.output_dir, run_id)
    saved = json.loads(run.request.read_text(encoding="utf-8"))
    view = dict(saved["settings"])
    settings = Settings(**{k: v for k, v in view.items() if k != "extra"}, extra=view.get("extra", {}),
                        output_dir=run.root.parent)
    return _execute(run, saved["theme"], settings, progress, None, None, None)


def _execute(run: RunDir, theme: str, settings: Settings, progress: Progress | None,
             writer: Screenwriter | None, renderer: SceneRenderer | None, tts: TTSBackend | None) -> FilmResult:
    fmt = load_format(settings.format, draft=settings.draft)
    components = Components(
        writer=writer or create_writer(settings.writer),
        renderer=renderer or create_renderer(settings.renderer),
        tts=tts or create_tts(settings.tts),
        format=fmt, settings=settings, run=run, ffmpeg=ffmpeg_binary(settings.ffmpeg),
        progress=progress or no_progress,
    )
    started = time.perf_counter()
    with open_checkpointer(run.state) as saver:
        graph = build_graph(components, saver)
        config = {**THREAD, "max_concurrency": settings.worker_count}
        snapshot = graph.get_state(config)
        resumed = bool(snapshot.values)
        if not snapshot.values:
            request = {"theme": theme, "language": settings.language, "seconds": settings.seconds,
                       "scenes": settings.scenes, "seed": settings.seed}
            graph.invoke({"request": request}, config)
        elif snapshot.next:
            graph.invoke(None, config)
        values = graph.get_state(config).values
    return _finish(run, values, components, time.perf_counter() - started, resumed)


def _finish(run: RunDir, values: dict[str, Any], c: Components, wall: float, resumed: bool) -> FilmResult:
    video = run.root / values["film"]
    info = probe(video)
    subtitles = {k: run.root / v for k, v in values["subtitles"].items()}
    title = values["screenplay"]["title"]
    report = {
        "run_id": run.id, "title": title, "format": c.format.name, "size": [c.format.width, c.format.height],
        "fps": c.format.fps, "language": values["request"]["language"], "duration": round(info.duration, 3),
        "scenes": len(values["screenplay"]["scenes"]), "shots": len(values["clips"]),
        "narration_lines": len(values["speech"]), "loudness_target": c.format.loudness_lufs,
        "loudness_measured_before": values.get("loudness", {}), "stage_seconds": c.clock.seconds(),
        "wall_seconds": round(wall, 3), "resumed": resumed,
        "renderer": c.renderer.name, "tts": c.tts.name, "writer": c.writer.name,
        "files": [run.rel(p) for p in (video, *subtitles.values(), run.screenplay, run.timeline)],
    }
    write_text(run.report, json.dumps(report, ensure_ascii=False, indent=1))
    return FilmResult(run.id, run.root, video, subtitles, run.screenplay, run.timeline, run.report, title,
                      info.duration, c.clock.seconds(), resumed)


def _clean_theme(theme: str) -> str:
    if not isinstance(theme, str) or not theme.strip():
        raise InputError('the theme is empty: give one line, e.g. "An astronaut\'s space adventure"')
    theme = " ".join(theme.split())
    if len(theme) > MAX_THEME:
        raise InputError(f"the theme is {len(theme)} characters long; keep it under {MAX_THEME}")
    return theme


def _check(settings: Settings) -> None:
    if settings.language not in ("auto", "en", "zh"):
        raise InputError(f"unknown language {settings.language!r}; choose en, zh or auto")
    if settings.scenes is not None and not 1 <= settings.scenes <= 40:
        raise InputError(f"--scenes must be between 1 and 40, got {settings.scenes}")
    if not 5 <= float(settings.seconds) <= 3600:
        raise InputError(f"--seconds must be between 5 and 3600, got {settings.seconds}")
