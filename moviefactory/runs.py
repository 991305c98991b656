"""A run on disk: its id, its layout, and the content-addressed cache of its stages."""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .version import __version__
from .errors import InputError
from .media.files import write_text


def run_id_for(theme: str, settings_view: dict[str, Any]) -> str:
    """slug + short hash of (theme, settings): the same request lands in the same run directory."""
    ascii_text = unicodedata.normalize("NFKD", theme).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40].strip("-") or "film"
    digest = hashlib.sha256(json.dumps([theme, settings_view], sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"{slug}-{digest[:8]}"


def cache_key(stage: str, **parts: Any) -> str:
    """Hash of a stage's inputs, the settings it reads, the model/tool it uses and our version."""
    blob = json.dumps({"stage": stage, "version": __version__, **parts}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def id(self) -> str:
        return self.root.name

    request = property(lambda self: self.root / "run.json")
    plan = property(lambda self: self.root / "plan.json")  # the screenplay as the writer wrote it
    screenplay = property(lambda self: self.root / "screenplay.json")
    timeline = property(lambda self: self.root / "timeline.json")
    state = property(lambda self: self.root / "state.sqlite")
    film = property(lambda self: self.root / "film.mp4")
    report = property(lambda self: self.root / "report.json")

    def shot(self, scene_id: str, shot_id: str, suffix: str = ".mp4") -> Path:
        return self.root / "scenes" / scene_id / f"{shot_id}{suffix}"

    def narration(self, line_id: str) -> Path:
        return self.root / "audio" / "narration" / f"{line_id}.wav"

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    # The cache: a sidecar <artifact>.done.json holds the key the artifact was made with, and the
    # other files made with it (`files`, run-relative). The artifact counts as done only while all of
    # them exist and the key matches: delete any of them and the stage makes them again.
    def cached(self, artifact: Path, key: str) -> dict[str, Any] | None:
        marker = artifact.with_name(artifact.name + ".done.json")
        if not (artifact.is_file() and marker.is_file()):
            return None
        try:
            meta = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        if meta.get("key") != key or not all((self.root / f).is_file() for f in meta.get("files", ())):
            return None
        return meta

    def done_key(self, artifact: Path) -> str | None:
        """The key a finished artifact was made with (what later artifacts made from it are keyed on)."""
        try:
            return json.loads(artifact.with_name(artifact.name + ".done.json").read_text(encoding="utf-8"))["key"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def sweep(self) -> None:
        """Remove what a killed run left half-written: temp names (.x.<pid>.part.ext) and scratch folders
        (.assemble-*, .shot-*, ...). Only their finished files count, so none of this is ever read."""
        import shutil

        for path in self.root.rglob(".*"):
            if path.is_dir() and re.match(r"\.(assemble|shot|sheet|play|animatic)-", path.name):
                shutil.rmtree(path, ignore_errors=True)
            elif path.is_file() and ".part" in path.name:
                path.unlink(missing_ok=True)

    def mark_done(self, artifact: Path, key: str, **meta: Any) -> None:
        write_text(artifact.with_name(artifact.name + ".done.json"), json.dumps({"key": key, **meta}))


def open_run_dir(output_dir: Path, run_id: str) -> RunDir:
    root = Path(output_dir).expanduser() / run_id
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"cannot write to output directory {output_dir}: {exc.strerror or exc}") from None
    return RunDir(root.resolve())


def find_run_dir(output_dir: Path, run_id: str) -> RunDir:
    root = Path(output_dir).expanduser() / run_id
    if not (root / "run.json").is_file():
        raise InputError(f"no run {run_id!r} in {output_dir} (looked for {root / 'run.json'})")
    return RunDir(root.resolve())
