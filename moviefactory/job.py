"""A film request made exact: the theme, validated options with every `auto` resolved, the components
given as objects, and the run id they add up to. Everything is checked here, before a run directory
exists, so bad input writes nothing.

The run id is the theme's slug and a hash of what makes the film: the theme, the options whose role is
"film", the format preset's content, and the name and cache token of any component passed as an object
(a renderer, TTS engine, screenwriter or transitions generator). run.json records all of it (secrets
removed), and resume rebuilds exactly this job from it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from .version import __version__
from .errors import InputError
from .options import FilmOptions, Layer, build_options
from .pipeline.progress import Event, Progress, no_progress
from .resources import use_config_dir, user_dir
from .runs import RunDir, open_run_dir, run_id_for
from .yamlfile import key_lines, parse_yaml, read_text

log = logging.getLogger("moviefactory")
MAX_THEME = 1000
NO_LLM = "no LLM configured (set OPENAI_API_KEY, or --llm-base-url for a local server): using the offline screenwriter"
ROLES = ("writer", "renderer", "tts", "transitions")  # components that may be passed as objects


@dataclass(frozen=True)
class Job:
    theme: str
    options: FilmOptions
    components: Mapping[str, Any] = field(default_factory=dict)  # role -> object given by the caller
    tokens: Mapping[str, str] = field(default_factory=dict)  # role -> "name:cache token" of those objects
    screenplay: dict[str, Any] | None = None  # render(): film exactly this screenplay
    format_digest: str = ""

    @property
    def run_id(self) -> str:
        return run_id_for(self.theme, {"options": self.options.identity(), "components": dict(self.tokens),
                                       "format": self.format_digest})

    def record(self) -> dict[str, Any]:
        """run.json: what resume needs to make exactly this film again."""
        return {"theme": self.theme, "options": self.options.record(), "components": dict(self.tokens),
                "screenplay": self.screenplay, "version": __version__}


def split_components(options: dict[str, Any], **given: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """`renderer="ltx-video"` names a registry entry (an option); an object is a component."""
    options = dict(options)
    objects = {}
    for role, value in given.items():
        if value is None:
            continue
        if isinstance(value, (str, Path)):
            options[role] = str(value)
        else:
            objects[role] = value
    return options, objects


def token_of(component: Any) -> str:
    name = getattr(component, "name", None) or type(component).__name__
    token = getattr(component, "cache_token", None)
    return f"{name}:{token() if callable(token) else type(component).__qualname__}"


def options_layers(given: Mapping[str, Any], config: str | Path | None, *, flags: bool = False) -> list[Layer]:
    """Defaults < the user's config.yaml < --config FILE < flags / keyword arguments."""
    chosen = given.get("config_dir")  # it says where config.yaml is, so it comes first
    if chosen is not None and not Path(chosen).expanduser().is_dir():
        raise InputError(f"config_dir: {chosen} is not a folder")
    use_config_dir(chosen)  # this request's (None: the default), not the one a request before it chose
    layers = []
    mine = user_dir() / "config.yaml"
    if mine.is_file():
        layers.append(file_layer(mine))
    if config is not None:
        layers.append(file_layer(Path(config)))
    layers.append(Layer({k: v for k, v in given.items() if v is not None}, "",
                        flags=flags))
    return layers


def file_layer(path: Path, what: str = "config file") -> Layer:
    text = read_text(path, what)
    data = parse_yaml(text, path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of settings (key: value), see `moviefactory options`")
    return Layer(data, str(path), key_lines(text))


def resolve_job(theme: str, given: Mapping[str, Any], *, config: str | Path | None = None,
                components: Mapping[str, Any] | None = None, screenplay: dict | None = None,
                progress: Progress | None = None, flags: bool = False) -> Job:
    """The exact job for a request, checked (names, weights, files); nothing is written."""
    theme = clean_theme(theme)
    options = build_options(options_layers(given, config, flags=flags))
    return check_job(Job(theme, options, dict(components or {}), screenplay=screenplay), progress)


def check_job(job: Job, progress: Progress | None = None) -> Job:
    from .planner import detect_language

    o, given = job.options, job.components
    use_config_dir(o.config_dir)
    updates: dict[str, Any] = {}
    if o.lang == "auto":
        updates["lang"] = detect_language(job.theme)
    if job.screenplay is not None:
        updates["writer"] = "screenplay"
    elif "writer" not in given:
        updates.update(_writer(o, progress))
    o = o.model_copy(update=updates)
    if o.writer == "offline" and job.screenplay is None and "writer" not in given:
        from .languages import OFFLINE, language

        if o.lang not in OFFLINE:
            raise InputError(f"the offline writer writes English and Chinese only; for {language(o.lang).name} "
                             f"give it a model: --llm MODEL --llm-base-url URL (any OpenAI-compatible server)")
    digest = format_digest(o)
    _check_names(o, given)
    tokens = {role: token_of(obj) for role, obj in sorted(given.items())}
    return replace(job, options=o, tokens=tokens, format_digest=digest)


def format_digest(o: FilmOptions) -> str:
    """A hash of the format preset as this film uses it: editing a preset makes a different film."""
    from .config import load_format

    fmt = load_format(o.format, draft=o.draft, upscale=o.upscale)
    return hashlib.sha256(json.dumps(fmt.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:12]


def _writer(o: FilmOptions, progress: Progress | None, env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """writer auto -> llm when a model server is configured (flags, config, environment), else offline."""
    if o.writer not in ("auto", "llm"):
        return {}
    from .planner.llm import LLMSettings

    llm = LLMSettings.resolve(o.llm, o.llm_base_url, env=env)
    if llm is None:
        if o.writer == "llm":
            raise InputError("writer 'llm' needs a model server: set OPENAI_API_KEY or --llm-base-url")
        log.info(NO_LLM)
        (progress or no_progress)(Event("plan", "note", detail=NO_LLM))
        return {"writer": "offline"}
    return {"writer": "llm", "llm": llm.model, "llm_base_url": llm.base_url}


def _check_names(o: FilmOptions, given: Mapping[str, Any]) -> None:
    """What needs more than a name: the renderer's and the transitions model's weights (exit 3 when a
    download is missing). Names and paths were checked with the options."""
    from .renderers.diffusion.base import check_weights  # light: no torch, no diffusers

    if "renderer" not in given:
        check_weights(o.renderer, model_path=o.model_path, offline=o.offline)
        if o.renderer == "comfyui":  # a workflow that cannot be used: say so before anything is made
            from .renderers.pictures.comfyui import load_workflow, server_address, workflow_path

            server_address(o.comfyui_url)
            load_workflow(workflow_path(o.workflow))
        if o.renderer == "openai-images":
            from .renderers.pictures.openai_images import image_key

            image_key(o.images_base_url, o.images_api_key_env)
        if o.renderer == "stock":  # no key: say so before anything is made
            from .renderers.pictures.stock_api import StockAPI

            StockAPI(o.stock, base_url=o.pexels_base_url if o.stock == "pexels" else o.pixabay_base_url).check_key()
        if o.renderer == "footage" and (o.media is None or not o.media.is_dir()):
            raise InputError("--renderer footage needs a folder of photos and clips: --media FOLDER"
                             + (f" ({o.media} is not a folder)" if o.media else ""))
    if o.transitions is not None and "transitions" not in given:
        check_weights(o.transitions, model_path=o.transitions_path, offline=o.offline)
    if o.voice and "tts" not in given:  # a voice the engine does not have fails now, not at its first line
        tts = tts_for(o)
        if hasattr(tts, "check_voice") and not tts.check_voice(o.voice, o.lang):
            raise InputError(f"--voice: {o.tts} has no voice {o.voice!r} for language {o.lang!r} "
                             f"(moviefactory voices lists them)")


def tts_for(o: FilmOptions):
    """The speech engine the options name, with its settings."""
    from .audio import create_tts

    return create_tts(o.tts, tts_base_url=o.tts_base_url, tts_model=o.tts_model, voice=o.voice,
                      tts_api_key_env=o.tts_api_key_env, timeout=o.llm_timeout, max_retries=o.llm_max_retries)


def open_job(job: Job) -> RunDir:
    """The job's run directory (made if new), with run.json written once."""
    run = open_run_dir(job.options.output, job.run_id)
    if not run.request.is_file():
        from .media.files import write_text

        write_text(run.request, json.dumps(job.record(), ensure_ascii=False, indent=1))
    return run


def job_from_run(run: RunDir, components: Mapping[str, Any]) -> Job:
    """The job a run was made for, from its run.json; objects it was made with must be given again."""
    try:
        saved = json.loads(run.request.read_text(encoding="utf-8"))
        options = FilmOptions.from_record({**saved["options"], "output": str(run.root.parent)},
                                          f"{run.request}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{run.request} cannot be read as a run record ({exc})") from None
    wanted = saved.get("components") or {}
    for role, token in wanted.items():
        if role not in components:
            raise InputError(f"run {run.id} was made with a {role} object ({token}); pass the same one again "
                             f"(resume_film(..., {role}=...)): a name alone cannot rebuild it")
    for role, obj in components.items():
        if wanted.get(role) != token_of(obj):
            raise InputError(f"the {role} given ({token_of(obj)}) is not the one run {run.id} was made with "
                             f"({wanted.get(role) or 'its ' + role + ' option'})")
    use_config_dir(options.config_dir)
    return Job(saved["theme"], options, dict(components), dict(wanted), saved.get("screenplay"),
               format_digest(options))


def clean_theme(theme: Any) -> str:
    if not isinstance(theme, str) or not theme.strip():
        raise InputError('the theme is empty: give one line, e.g. "An astronaut\'s space adventure"')
    theme = " ".join(theme.split())
    if len(theme) > MAX_THEME:
        raise InputError(f"the theme is {len(theme)} characters long; keep it under {MAX_THEME}")
    return theme
