"""Human in the loop: plan, stop, edit the YAML, render exactly what it says."""
from __future__ import annotations

import subprocess
import sys

import pysubs2
import pytest
import yaml

import moviefactory as mf
from moviefactory.errors import ScreenplayError
from moviefactory.screenplay import dump_screenplay, load_screenplay

from media import shot_files, video_frames

pytestmark = [pytest.mark.slow]
OPTS = dict(format="vertical", scenes=3, seconds=12, draft=True)


def test_plan_stops_after_the_screenplay_and_resume_shoots_it(tmp_path):
    planned = mf.plan("A lighthouse keeper and a storm", output=tmp_path, **OPTS)
    assert len(planned.screenplay.scenes) == 3
    assert (planned.run_dir / "screenplay.json").is_file()
    assert not (planned.run_dir / "scenes").exists() and not (planned.run_dir / "film.mp4").exists()

    film = mf.resume_film(planned.run_id, output=tmp_path)
    frames, fps = video_frames(film.video)
    assert frames > 0 and film.title == planned.screenplay.title
    # `make` with the same request finds the same run, already finished.
    again = mf.make_film("A lighthouse keeper and a storm", output=tmp_path, **OPTS)
    assert again.run_id == planned.run_id and again.video.stat().st_mtime_ns == film.video.stat().st_mtime_ns


def test_edited_yaml_is_rendered_as_written(tmp_path):
    planned = mf.plan("A lighthouse keeper and a storm", output=tmp_path, **OPTS)
    path = tmp_path / "plan.yaml"
    dump_screenplay(planned.screenplay, path)
    assert load_screenplay(path) == planned.screenplay  # the round trip loses nothing
    data = yaml.safe_load(path.read_text())
    data["scenes"][0]["narration"] = [{"speaker": "Narrator", "text": "Purple gulls circle the tower."}]
    data["scenes"][1]["shots"] = data["scenes"][1]["shots"][:1]
    left = data["scenes"][1]["shots"][0]["duration"]  # a shorter scene keeps only the sounds inside it
    data["scenes"][1]["sound_cues"] = [c for c in data["scenes"][1]["sound_cues"] if c["at"] < left]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))

    film = mf.render(path, output=tmp_path, draft=True)
    said = " ".join(c.plaintext.replace("\n", " ") for c in pysubs2.load(str(film.subtitles["srt"])))
    assert "Purple gulls circle the tower." in said
    shots = shot_files(film.run_dir)
    assert len(shots) == len(planned.screenplay.shots()) - (len(planned.screenplay.scenes[1].shots) - 1)


def test_a_broken_edit_names_the_line_and_field(tmp_path):
    planned = mf.plan("A lighthouse keeper and a storm", output=tmp_path, **OPTS)
    path = tmp_path / "plan.yaml"
    dump_screenplay(planned.screenplay, path)
    lines = path.read_text().splitlines()
    n = next(i for i, ln in enumerate(lines) if ln.strip().startswith("duration:"))
    lines[n] = lines[n].split(":")[0] + ": -3"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ScreenplayError) as err:
        load_screenplay(path)
    assert f"line {n + 1}" in str(err.value) and "scenes.0.shots.0.duration" in str(err.value)

    proc = subprocess.run([sys.executable, "-m", "moviefactory", "render", str(path), "--output", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"line {n + 1}" in proc.stderr and "duration" in proc.stderr
