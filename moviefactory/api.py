"""The Python API: make_film, plan, render, resume_film. The CLI is a thin wrapper over these."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .audio import TTSBackend, create_tts, tts_names
from .audio.sources import library_opener
from .config import Settings, load_format, load_settings
from .errors import InputError
from .media.ffmpeg import ffmpeg_binary, probe
from .media.files import write_text
from .pipeline import Components, Event, Progress, build_graph, open_checkpointer
from .pipeline.progress import no_progress
from .planner import Screenwriter, create_writer, detect_language
from .planner.llm import LLMSettings
from .renderers import SceneRenderer, create_renderer, renderer_names
from .runs import RunDir, find_run_dir, open_run_dir, run_id_for
from .screenplay import Screenplay, load_screenplay, parse_screenplay

log = logging.getLogger("moviefactory")
MAX_THEME = 1000
THREAD = {"configurable": {"thread_id": "film"}}
NO_LLM = "no LLM configured (set OPENAI_API_KEY, or --llm-base-url for a local server): using the offline screenwriter"


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
    extras: dict[str, Path] = field(default_factory=dict)  # contact_sheet, otio

    @property
    def paths(self) -> list[Path]:
        return [self.video, *self.subtitles.values(), *self.extras.values(), self.screenplay, self.timeline,
                self.report]


@dataclass(frozen=True)
class PlanResult:
    run_id: str
    run_dir: Path
    screenplay: Screenplay


def make_film(theme: str, *, progress: Progress | None = None, writer: Screenwriter | None = None,
              renderer: SceneRenderer | None = None, tts: TTSBackend | None = None, **options: Any) -> FilmResult:
    """Make a film from one line. Same theme and settings -> same run directory, continued, not redone.

    Options: format, lang, scenes, seconds, seed, draft, output, config, llm, llm_base_url, tts, voice,
    music, sfx ('default', 'none' or an index folder), renderer ('animatic', 'ltx-video', 'sdxl+svd', ...),
    model_path, offline, vram (GB: the memory tier), upscale / interpolate (2 or 4: generated frames are
    super-resolved / frame-interpolated before they are fitted to the film), upscaler (registry name),
    transitions (a first-and-last-frame model name such as 'wan2.1-flf2v', {model, path}, or a
    generator object: scene transitions are generated instead of faded).
    """
    renderer, tts = _components_or_names(options, renderer, tts)
    run, theme, settings = _prepare(_clean_theme(theme), options, progress)
    return _execute(run, theme, settings, progress, writer, renderer, tts, transitions=_generator(options))


def plan(theme: str, *, progress: Progress | None = None, writer: Screenwriter | None = None,
         **options: Any) -> PlanResult:
    """Write the screenplay only and stop (a LangGraph interrupt): edit it, then `render` or `resume_film`."""
    run, theme, settings = _prepare(_clean_theme(theme), options, progress)
    values = _run_graph(run, theme, settings, progress, writer, None, None, stop_after_plan=True)[0]
    return PlanResult(run.id, run.root, Screenplay.model_validate(values["screenplay"]))


def render(screenplay: Screenplay | str | Path, *, progress: Progress | None = None,
           renderer: SceneRenderer | None = None, tts: TTSBackend | None = None, **options: Any) -> FilmResult:
    """Film exactly what a screenplay (a model, or a .yaml/.json file a person edited) says."""
    renderer, tts = _components_or_names(options, renderer, tts)
    if not isinstance(screenplay, Screenplay):
        screenplay = load_screenplay(Path(screenplay))
    data = screenplay.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]
    options = {**options, "lang": screenplay.language}
    run, _, settings = _prepare(f"{screenplay.title} {digest}", options, progress, writer_name="screenplay")
    return _execute(run, screenplay.title, settings, progress, None, renderer, tts, screenplay=data,
                    transitions=_generator(options))


def resume_film(run_id: str, *, output: str | Path | None = None, progress: Progress | None = None) -> FilmResult:
    """Continue a stopped (or planned-only) run: finished stages and shots are kept, not redone."""
    run = find_run_dir(Path(output) if output else load_settings().output_dir, run_id)
    saved = json.loads(run.request.read_text(encoding="utf-8"))
    view = dict(saved["settings"])
    settings = Settings(**{k: v for k, v in view.items() if k != "extra"}, extra=view.get("extra", {}),
                        output_dir=run.root.parent)
    return _execute(run, saved["theme"], settings, progress, None, None, None)


# --------------------------------------------------------------------------------------------------
def _components_or_names(options: dict[str, Any], renderer, tts):
    """`renderer="ltx-video"` / `tts="coqui"` name a registry entry (a setting); objects are components."""
    if isinstance(renderer, str):
        options["renderer"], renderer = renderer, None
    if isinstance(tts, str):
        options["tts"], tts = tts, None
    return renderer, tts


def _prepare(theme: str, options: dict[str, Any], progress: Progress | None,
             writer_name: str | None = None) -> tuple[RunDir, str, Settings]:
    unknown = set(options) - {"format", "lang", "scenes", "seconds", "seed", "draft", "output", "config", "llm",
                              "llm_base_url", "tts", "voice", "music", "sfx", "renderer", "model_path", "offline",
                              "vram", "transitions", *POST}
    if unknown:
        raise InputError(f"unknown option(s): {', '.join(sorted(unknown))}")
    config = options.get("config")
    settings = load_settings(Path(config) if config else None).with_overrides(
        format=options.get("format"), language=options.get("lang"), scenes=options.get("scenes"),
        seconds=options.get("seconds"), seed=options.get("seed"), draft=options.get("draft"),
        output_dir=options.get("output"), llm_model=options.get("llm"), llm_base_url=options.get("llm_base_url"),
        tts=options.get("tts"), voice=options.get("voice"), music=options.get("music"), sfx=options.get("sfx"),
        renderer=options.get("renderer"))
    backend = {k: v for k, v in (("model_path", options.get("model_path")), ("offline", options.get("offline")),
                                 ("vram_gb", options.get("vram"))) if v is not None}
    # super-resolution and frame interpolation of generated frames: the config's `post:`, then flags
    post = {**(settings.extra.get("post") or {}), **{k: options[k] for k in POST if options.get(k)}}
    if post:
        settings = settings.with_overrides(extra={**settings.extra, "post": _check_post(post)})
    if options.get("transitions") is not None:  # generated scene transitions: recorded, so the run id changes
        settings = settings.with_overrides(extra={**settings.extra, "transitions": _transitions_spec(
            options["transitions"])})
    if backend:  # renderer options (diffusion backends): recorded with the run, so resume loads the same
        settings = settings.with_overrides(extra={**settings.extra, "renderer_options": {
            **settings.extra.get("renderer_options", {}), **{k: str(v) if k == "model_path" else v
                                                             for k, v in backend.items()}}})
    _check(settings)
    language = detect_language(theme) if settings.language == "auto" else settings.language
    settings = settings.with_overrides(language=language)
    load_format(settings.format, draft=settings.draft)  # fail on bad names before making a directory
    for kind, name, names in (("renderer", settings.renderer, renderer_names), ("TTS engine", settings.tts, tts_names)):
        if name not in names():
            raise InputError(f"unknown {kind} {name!r}; available: {', '.join(names())}")
    backend = settings.extra.get("renderer_options", {})
    from .renderers.diffusion.base import check_weights  # light: no torch, no diffusers

    check_weights(settings.renderer, model_path=backend.get("model_path"), offline=bool(backend.get("offline")))
    if bridge_model := _transitions_model(settings):  # the bridge model, before hours of rendering
        check_weights(bridge_model[0], model_path=bridge_model[1], offline=bool(backend.get("offline")))
    settings = _choose_writer(settings, progress) if writer_name is None else settings.with_overrides(
        writer=writer_name)
    run = open_run_dir(settings.output_dir, run_id_for(theme, settings.cache_view()))
    if not run.request.is_file():
        write_text(run.request, json.dumps({"theme": theme, "settings": settings.cache_view()},
                                           ensure_ascii=False, indent=1))
    return run, theme, settings


def _choose_writer(settings: Settings, progress: Progress | None) -> Settings:
    if settings.writer not in ("auto", "llm"):
        return settings
    llm = LLMSettings.resolve(settings.llm_model, settings.llm_base_url, settings.extra.get("llm"))
    if llm is None:
        if settings.writer == "llm":
            raise InputError("writer 'llm' needs a model server: set OPENAI_API_KEY or --llm-base-url")
        log.info(NO_LLM)
        (progress or no_progress)(Event("plan", "note", detail=NO_LLM))
        return settings.with_overrides(writer="offline")
    return settings.with_overrides(writer="llm", llm_model=llm.model, llm_base_url=llm.base_url)


def _make_writer(settings: Settings) -> Screenwriter:
    if settings.writer == "llm":
        llm = LLMSettings.resolve(settings.llm_model, settings.llm_base_url, settings.extra.get("llm"))
        return create_writer("llm", llm=llm)
    return create_writer(settings.writer)


class _WriterOnDemand:
    """Builds the screenwriter only if the plan stage runs: a resumed run needs no API key."""

    def __init__(self, settings: Settings) -> None:
        self.settings, self.name = settings, settings.writer

    def write(self, request):
        return _make_writer(self.settings).write(request)


POST = ("upscale", "interpolate", "upscaler", "interpolator", "upscale_weights", "interpolate_weights")


def _check_post(post: dict[str, Any]) -> dict[str, Any]:
    from .renderers.upscale import interpolator_names, upscaler_names

    unknown = set(post) - set(POST)
    if unknown:
        raise InputError(f"post: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(POST)}")
    if any(post.get(k, 1) not in (1, 2, 4) for k in ("upscale", "interpolate")):
        raise InputError("--upscale and --interpolate take 2 or 4")
    for key, names in (("upscaler", upscaler_names), ("interpolator", interpolator_names)):
        if key in post and post[key] not in names():
            raise InputError(f"unknown {key} {post[key]!r}; available: {', '.join(names())}")
    for key in ("upscale_weights", "interpolate_weights"):
        if post.get(key):
            path = Path(post[key]).expanduser().resolve()
            if not path.exists():
                raise InputError(f"--{key.replace('_', '-')}: {path} does not exist")
            post[key] = str(path)
    return post


def _transitions_spec(given: Any) -> Any:
    """What the run records for `transitions`: the model name ({model, path}), or a given generator's token."""
    if hasattr(given, "generate"):  # an object: recorded by its token, never reloaded by name
        return {"given": getattr(given, "cache_token", lambda: type(given).__name__)()}
    name = given if isinstance(given, str) else given.get("model") if isinstance(given, dict) else None
    from .renderers.diffusion.base import catalogue

    models = catalogue()
    if name not in models or models[name].task != "flf2v":
        flf2v = ", ".join(n for n, m in models.items() if m.task == "flf2v")
        raise InputError(f"--transitions takes a first-and-last-frame model ({flf2v}), not {name!r}")
    return given if isinstance(given, str) else {"model": name, "path": str(given["path"]) if given.get("path") else None}


def _transitions_model(settings: Settings) -> tuple[str, str | None] | None:
    """(model name, local path) of the run's first-and-last-frame model; None for fades or a given object."""
    spec = settings.extra.get("transitions")
    if not spec or (isinstance(spec, dict) and "given" in spec):
        return None
    return (spec, None) if isinstance(spec, str) else (spec.get("model"), spec.get("path"))


def _transitions_opener(settings: Settings, fmt):
    """Loads the run's first-and-last-frame model when the first scene bridge is due (None: fades)."""
    if not (bridge_model := _transitions_model(settings)):
        return None
    name, path = bridge_model
    backend = settings.extra.get("renderer_options", {})

    def open_generator():
        from .renderers.diffusion.connect import load_first_last

        return load_first_last(name, clip_size=(fmt.width, fmt.height), model_path=path,
                               offline=bool(backend.get("offline")), vram_gb=backend.get("vram_gb"))

    return open_generator


def _generator(options: dict[str, Any]):
    """A transitions generator given as an object (not a model name) to make_film / render."""
    given = options.get("transitions")
    return given if hasattr(given, "generate") else None


def _execute(run: RunDir, theme: str, settings: Settings, progress: Progress | None, writer: Screenwriter | None,
             renderer: SceneRenderer | None, tts: TTSBackend | None, screenplay: dict | None = None,
             transitions=None) -> FilmResult:
    started = time.perf_counter()
    values, components, resumed = _run_graph(run, theme, settings, progress, writer, renderer, tts,
                                             screenplay=screenplay, transitions=transitions)
    return _finish(run, values, components, time.perf_counter() - started, resumed)


def _run_graph(run: RunDir, theme: str, settings: Settings, progress: Progress | None,
               writer: Screenwriter | None, renderer: SceneRenderer | None, tts: TTSBackend | None,
               *, stop_after_plan: bool = False, screenplay: dict | None = None, transitions=None):
    # --upscale N makes the film at the preset's upscaled size (widescreen x4: 3072x1280)
    fmt = load_format(settings.format, draft=settings.draft, upscale=settings.extra.get("post", {}).get("upscale", 1))
    components = Components(
        writer=writer or _WriterOnDemand(settings),
        # the run config goes along: diffusion renderers read their domain adapters (LoRA) from it
        renderer=renderer or create_renderer(settings.renderer, **settings.extra.get("renderer_options", {}),
                                             config=settings.extra),
        tts=tts or create_tts(settings.tts),
        format=fmt, settings=settings, run=run, ffmpeg=ffmpeg_binary(settings.ffmpeg),
        music=library_opener("music", settings.music), sfx=library_opener("sfx", settings.sfx),
        transitions=(lambda: transitions) if transitions is not None else _transitions_opener(settings, fmt),
        progress=progress or no_progress,
    )
    with open_checkpointer(run.state) as saver:
        graph = build_graph(components, saver, stop_after_plan=stop_after_plan)
        config = {**THREAD, "max_concurrency": settings.worker_count}
        snapshot = graph.get_state(config)
        resumed = bool(snapshot.values)
        if not snapshot.values:
            request = {"theme": theme, "language": settings.language, "seconds": settings.seconds,
                       "scenes": settings.scenes, "seed": settings.seed, "screenplay": screenplay}
            graph.invoke({"request": request}, config)
        elif snapshot.next and not (stop_after_plan and "screenplay" in snapshot.values):
            graph.invoke(None, config)
        values = graph.get_state(config).values
    return values, components, resumed


def _finish(run: RunDir, values: dict[str, Any], c: Components, wall: float, resumed: bool) -> FilmResult:
    video = run.root / values["film"]
    info = probe(video)
    subtitles = {k: run.root / v for k, v in values["subtitles"].items()}
    extras = {k: run.root / v for k, v in (values.get("extras") or {}).items()}
    title = values["screenplay"]["title"]
    report = {
        "run_id": run.id, "title": title, "format": c.format.name, "size": [c.format.width, c.format.height],
        "fps": c.format.fps, "language": values["request"]["language"], "duration": round(info.duration, 3),
        "scenes": len(values["screenplay"]["scenes"]), "shots": len(values["clips"]),
        "narration_lines": len(values["speech"]), "loudness_target": c.format.loudness_lufs,
        "loudness_measured_before": values.get("loudness", {}), "stage_seconds": c.clock.seconds(),
        "wall_seconds": round(wall, 3), "resumed": resumed,
        "renderer": c.renderer.name, "tts": c.tts.name, "writer": c.settings.writer,
        "music": values.get("music"), "sfx": values.get("sfx"),
        "llm": {"model": c.settings.llm_model, "base_url": c.settings.llm_base_url} if c.settings.writer == "llm"
        else None,
        "files": [run.rel(p) for p in (video, *subtitles.values(), *extras.values(), run.screenplay, run.timeline)],
    }
    write_text(run.report, json.dumps(report, ensure_ascii=False, indent=1))
    return FilmResult(run.id, run.root, video, subtitles, run.screenplay, run.timeline, run.report, title,
                      info.duration, c.clock.seconds(), resumed, extras)


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


__all__ = ["FilmResult", "PlanResult", "make_film", "parse_screenplay", "plan", "render", "resume_film"]
