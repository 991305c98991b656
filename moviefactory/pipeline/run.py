"""Running a job's graph: its components built from the options (or the objects given), the graph
started, continued, or replayed over its cached artifacts, and the report written at the end."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..job import Job, tts_for
from ..secrets import public_url
from ..media.files import write_text
from ..results import FilmResult
from ..runs import RunDir
from ..screenplay import Screenplay
from .graph import Components, build_graph, open_checkpointer
from .progress import no_progress

THREAD = {"configurable": {"thread_id": "film"}}


@dataclass(frozen=True)
class Done:
    values: dict[str, Any]
    components: Components
    resumed: bool


def llm_settings(o):
    from ..planner.llm import LLMSettings

    return LLMSettings.resolve(o.llm, o.llm_base_url, {
        "timeout": o.llm_timeout, "max_retries": o.llm_max_retries, "max_repairs": o.llm_max_repairs,
        "temperature": o.llm_temperature, "max_tokens": o.llm_max_tokens})


class WriterOnDemand:
    """Builds the screenwriter only if the plan stage runs: a resumed run needs no API key."""

    def __init__(self, options) -> None:
        self.options, self.name = options, options.writer

    def write(self, request):
        from ..planner import create_writer

        if self.options.writer == "llm":
            return create_writer("llm", llm=llm_settings(self.options)).write(request)
        return create_writer(self.options.writer).write(request)


def build_components(job: Job, run: RunDir, progress) -> Components:
    from ..audio.sources import library_opener
    from ..config import load_format
    from ..media.ffmpeg import ffmpeg_binary
    from ..renderers import create_renderer

    o, given = job.options, job.components
    # --upscale N makes the film at the preset's upscaled size (widescreen x4: 3072x1280)
    fmt = load_format(o.format, draft=o.draft, upscale=o.upscale)
    renderer = given.get("renderer") or create_renderer(
        o.renderer, model_path=str(o.model_path) if o.model_path else None, offline=o.offline, vram_gb=o.vram,
        config={"adapters": o.adapters, "adapter": o.adapter}, media=o.media, aspect=fmt.width / fmt.height,
        images_base_url=o.images_base_url, images_model=o.images_model, images_api_key_env=o.images_api_key_env,
        stock=o.stock, pexels_base_url=o.pexels_base_url, pixabay_base_url=o.pixabay_base_url,
        comfyui_url=o.comfyui_url, workflow=o.workflow, clip_model=o.clip_model)
    return Components(
        writer=given.get("writer") or WriterOnDemand(o), renderer=renderer, tts=given.get("tts") or tts_for(o),
        format=fmt, options=o, run=run, ffmpeg=ffmpeg_binary(o.ffmpeg),
        music=library_opener("music", o.music), sfx=library_opener("sfx", o.sfx),
        transitions=_transitions(job, fmt), transitions_token=job.tokens.get("transitions") or (
            [o.transitions, str(o.transitions_path) if o.transitions_path else None] if o.transitions else None),
        tokens=dict(job.tokens), progress=progress or no_progress)


def _transitions(job: Job, fmt):
    """Opens the run's first-and-last-frame generator when the first scene bridge is due (None: fades)."""
    if "transitions" in job.components:
        return lambda: job.components["transitions"]
    o = job.options
    if not o.transitions:
        return None

    def open_generator():
        from ..renderers.diffusion.connect import load_first_last

        return load_first_last(o.transitions, clip_size=(fmt.width, fmt.height),
                               model_path=str(o.transitions_path) if o.transitions_path else None,
                               offline=o.offline, vram_gb=o.vram)

    return open_generator


def run_graph(job: Job, run: RunDir, progress, *, stop_after_plan: bool = False) -> Done:
    run.sweep()
    components = build_components(job, run, progress)
    o = job.options
    with open_checkpointer(run.state) as saver:
        graph = build_graph(components, saver, stop_after_plan=stop_after_plan)
        config = {**THREAD, "max_concurrency": o.worker_count}
        snapshot = graph.get_state(config)
        resumed = bool(snapshot.values)
        prepare = getattr(components.tts, "prepare", None)
        if prepare is not None and not stop_after_plan and "speech" not in snapshot.values:
            prepare(o.lang)  # the voice loads while the screenplay is written
        request = {"theme": job.theme, "language": o.lang, "seconds": o.seconds, "scenes": o.scenes, "seed": o.seed,
                   "screenplay": job.screenplay}
        if snapshot.next:  # stopped part-way (a crash, a kill, a plan-only run): go on from there
            if not (stop_after_plan and "screenplay" in snapshot.values):
                graph.invoke(None, config)
        elif not (stop_after_plan and "screenplay" in snapshot.values):
            # New, or finished: run every stage. Each finds its artifacts by key and redoes only what is
            # missing, so making a finished film again checks it and rebuilds what was deleted.
            graph.invoke({"request": request}, config)
        values = graph.get_state(config).values
    return Done(values, components, resumed)


def _pictures(c: Components, values: dict) -> list[dict] | None:
    """What played each shot, for renderers that choose a source per shot (a file, a stock item)."""
    credits = getattr(c.renderer, "credits", None)
    return credits(Screenplay.model_validate(values["screenplay"])) if callable(credits) else None


def finish(run: RunDir, done: Done, wall: float) -> FilmResult:
    from ..media.ffmpeg import probe

    values, c = done.values, done.components
    video = run.root / values["film"]
    info = probe(video)
    subtitles = {k: run.root / v for k, v in values["subtitles"].items()}
    extras = {k: run.root / v for k, v in (values.get("extras") or {}).items()}
    title = values["screenplay"]["title"]
    o = c.options
    report = {
        "run_id": run.id, "title": title, "format": c.format.name, "size": [c.format.width, c.format.height],
        "fps": c.format.fps, "language": values["request"]["language"], "duration": round(info.duration, 3),
        "scenes": len(values["screenplay"]["scenes"]), "shots": len(values["clips"]),
        "narration_lines": len(values["speech"]), "loudness_target": c.format.loudness_lufs,
        "loudness_measured_before": values.get("loudness", {}), "stage_seconds": c.clock.seconds(),
        "wall_seconds": round(wall, 3), "resumed": done.resumed,
        "renderer": c.renderer.name, "tts": c.tts.name, "writer": o.writer,
        "music": values.get("music"), "sfx": values.get("sfx"), "pictures": _pictures(c, values),
        "llm": {"model": o.llm, "base_url": public_url(o.llm_base_url)} if o.writer == "llm" else None,
        "files": [run.rel(p) for p in (video, *subtitles.values(), *extras.values(), run.screenplay, run.timeline)],
    }
    if any(p.get("source") in ("pexels", "pixabay") for p in report["pictures"] or ()):
        from ..renderers.pictures.stock import credits_text

        credits = write_text(run.root / "credits.txt", credits_text(title, report["pictures"]))
        report["files"].append(run.rel(credits))
        extras = {**extras, "credits": credits}
    write_text(run.report, json.dumps(report, ensure_ascii=False, indent=1))
    return FilmResult(run.id, run.root, video, subtitles, run.screenplay, run.timeline, run.report, title,
                      info.duration, c.clock.seconds(), done.resumed, extras)
