"""`--renderer footage --media FOLDER`: the user's own photos and clips, matched to the shots.

Each shot gets the file whose words (media.py) best match it, no file twice while unused ones remain
(match.py); photos play with the shot's camera move, clips are trimmed, slowed or looped to it (fit.py).
The user's files are only read.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import InputError, RenderError
from ...media.camera import SUFFIX
from ...screenplay import Screenplay, Shot
from ..base import RenderContext, register_renderer
from .fit import clip_shot, still_shot
from .match import Candidate, Pick, cast_pictures, shot_query
from .media import MediaFile, index_media


class FootageRenderer:
    name = "footage"
    suffix = ".mp4"  # a clip's; a photo's shot is a still (source_for says which)

    def __init__(self, media: Path, aspect: float = 16 / 9, clip_model: Path | None = None) -> None:
        self.folder, self.aspect = Path(media).expanduser().resolve(), aspect
        self._picks: dict[str, dict[str, Pick]] = {}  # one casting per screenplay, shared by its shots
        files = index_media(self.folder)
        self.files = {f.path: f for f in files if not f.error}
        self.unreadable = [f for f in files if f.error]
        if not self.files:
            raise InputError(f"no photo or clip in {self.folder} can be used"
                             + (f" ({len(self.unreadable)} unreadable)" if self.unreadable else "")
                             + f"; see: moviefactory media index {self.folder}")
        self.ranker = self.vectors = None
        if clip_model is not None:  # where CLIP weights are present, pictures are also matched by what they show
            from .clip_rank import load_clip, picture_vectors
            from .media import index_cache_file

            self.ranker = load_clip(clip_model)
            cache = index_cache_file(self.folder).with_suffix(f".{self.ranker.model_id}.npz")
            self.vectors = picture_vectors(self.ranker, self.folder, list(self.files.values()), cache)

    def cache_token(self) -> str:
        return "footage-1" + (f" clip {self.ranker.model_id}" if self.ranker else "")

    def picks(self, screenplay: Screenplay) -> dict[str, Pick]:
        key = screenplay.model_dump_json()
        if key not in self._picks:
            candidates = [Candidate(f.path, f.caption, f.tags, f.width, f.height, f.kind) for f in self.files.values()]
            looks = None
            if self.ranker is not None:
                shots = [s for _, s in screenplay.shots()]
                sims = self.ranker.scores([shot_query(s, screenplay) for s in shots], self.vectors)
                looks = {s.id: list(row) for s, row in zip(shots, sims)}
            self._picks = {key: cast_pictures(screenplay, candidates, aspect=self.aspect, looks=looks)}
        return self._picks[key]

    def source_for(self, shot: Shot, screenplay: Screenplay) -> tuple[str, str]:
        """The shot file's suffix and what the shot is made from (the file, as it is now)."""
        f = self._file(shot, screenplay)
        return (SUFFIX if f.kind == "photo" else ".mp4"), f"{f.path}:{f.size}:{f.mtime_ns}"

    def credits(self, screenplay: Screenplay) -> list[dict]:
        """What played each shot, for the report: the file, and whether its words matched the shot."""
        picks = self.picks(screenplay)
        return [{"shot": s.id, "source": "footage", "file": picks[s.id].key, "matched": picks[s.id].how,
                 "score": picks[s.id].score} for _, s in screenplay.shots()]

    def render(self, shot: Shot, ctx: RenderContext, out: Path):
        f = self._file(shot, ctx.screenplay)
        path = self.folder / f.path
        if f.kind == "photo":
            from PIL import Image

            try:
                with Image.open(path) as image:
                    return still_shot(image, shot, ctx, out)
            except OSError as exc:
                raise RenderError(f"cannot read the photo {f.path}: {exc}", stage="render", scene=ctx.scene.id) from exc
        return clip_shot(path, shot, ctx, out)

    def _file(self, shot: Shot, screenplay: Screenplay) -> MediaFile:
        return self.files[self.picks(screenplay)[shot.id].key]


@register_renderer("footage")
def create_footage(*, media: Path | str | None = None, aspect: float = 16 / 9, clip_model: Path | str | None = None,
                   **_options) -> FootageRenderer:
    if not media:
        raise InputError("--renderer footage needs a folder of photos and clips: --media FOLDER")
    return FootageRenderer(Path(media), aspect, Path(clip_model) if clip_model else None)
