"""The default music library: the catalogue, the composer, and real builds measured by decoding."""
from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import yaml

from moviefactory.audio.library import file_sha256, read_items
from moviefactory.audio.music.catalogue import catalogue_path, load_catalogue
from moviefactory.audio.music.compose import compose, midi_bytes
from moviefactory.audio.music.library import build_default_music, default_music_dir
from moviefactory.errors import ConfigError, InputError

SUBSET = ["playful-02", "calm-02"]  # 4/4 with drums and 3/4 without: the two shortest kinds


def decode(path: Path) -> tuple[np.ndarray, int]:
    """(channels, samples) float32 and the rate, straight from the decoder."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = []
        for frame in container.decode(stream):
            a = frame.to_ndarray()
            chunks.append(a if frame.format.is_planar else a.reshape(-1, stream.channels).T)
        return np.concatenate(chunks, axis=1).astype(np.float32), stream.rate


def dbfs(x: np.ndarray) -> float:
    return 20 * np.log10(float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) + 1e-12)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    dest = tmp_path_factory.mktemp("music")
    start = time.perf_counter()
    items = build_default_music(dest, only=SUBSET)
    return dest, items, time.perf_counter() - start


def test_catalogue_is_big_varied_and_whole_bars(catalogue):
    assert len(catalogue) >= 24
    assert len({s.mood for s in catalogue}) >= 10
    assert len({s.id for s in catalogue}) == len(catalogue)
    tempos = [s.tempo for s in catalogue]
    assert len(set(tempos)) >= 12 and max(tempos) - min(tempos) >= 60
    assert len({s.key for s in catalogue}) >= 10 and len({s.mode for s in catalogue}) >= 5
    assert len({s.form for s in catalogue}) >= 5 and {3, 4, 6} <= {s.meter for s in catalogue}
    assert len({s.parts["lead"]["program"] for s in catalogue}) >= 15
    for s in catalogue:
        assert 60 <= s.length <= 180 and 60 <= s.seconds <= 180, s.id
        assert s.seconds == pytest.approx(s.bars * s.meter * 60 / s.tempo)
        assert s.title and s.description.endswith(".") and s.mood in s.tags + (s.mood,) and len(s.tags) >= 5
        for role, part in s.parts.items():
            if role != "drums":  # names are the General-MIDI names of the programs
                assert part["name"] == pretty_midi.program_to_instrument_name(part["program"]), (s.id, role)


def test_catalogue_errors_name_the_track_and_field(tmp_path):
    data = yaml.safe_load(catalogue_path().read_text())
    data["tracks"][0]["mode"] = "locrian-ish"
    bad = tmp_path / "catalogue.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"epic-01.*mode"):
        load_catalogue(bad)


def test_composing_is_deterministic_whole_bars_and_consonant(catalogue):
    seen = set()
    for spec in catalogue:
        data = midi_bytes(compose(spec))
        assert data == midi_bytes(compose(spec)), spec.id
        seen.add(data)
        midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
        assert midi.get_end_time() == pytest.approx(spec.seconds, abs=0.002)  # ends on the last barline
        parts = {i.name.split(":")[0]: i for i in midi.instruments}
        assert {"lead", "harmony", "bass"} <= set(parts) and ("drums" in parts) == ("drums" in spec.parts)
        # Consonance: a lead note held a beat or more, or struck on a downbeat, is a pitch class the
        # accompaniment is sounding (only short notes between beats may pass through the scale).
        bar, beat = spec.meter * 60 / spec.tempo, 60 / spec.tempo * (2 if spec.meter == 6 else 1)
        backing = [n for r in ("harmony", "texture", "bass") if r in parts for n in parts[r].notes]

        def sounded(n) -> bool:
            return any(b.start <= n.start + 1e-3 < b.end and b.pitch % 12 == n.pitch % 12 for b in backing)

        held = [n for n in parts["lead"].notes if n.end - n.start >= 0.9 * beat]
        downbeats = [n for n in parts["lead"].notes if abs(n.start / bar - round(n.start / bar)) < 1e-3]
        assert len(held) >= 20 and sum(map(sounded, held)) >= 0.98 * len(held), spec.id
        assert len(downbeats) >= 8 and sum(map(sounded, downbeats)) >= 0.9 * len(downbeats), spec.id
    assert len(seen) == len(catalogue)


def test_built_files_decode_to_whole_bars_loud_and_unclipped(built, catalogue):
    dest, items, seconds = built
    specs = {s.id: s for s in catalogue}
    assert [i.id for i in items] == [s.id for s in catalogue if s.id in SUBSET]
    for item in items:
        spec, path = specs[item.id], item.resolve(dest)
        assert item.kind == "music" and not Path(item.path).is_absolute() and path.parent == dest
        assert item.sha256 == file_sha256(path) and (dest / item.extra["midi"]).is_file()
        assert (item.mood, item.tempo_bpm, item.beats_per_bar) == (spec.mood, spec.tempo, spec.meter)
        audio, rate = decode(path)
        measured = audio.shape[1] / rate
        assert audio.shape[0] == 2 and rate == 48000
        assert measured == pytest.approx(item.duration, abs=0.005)
        assert 60 <= measured <= 180
        bar = item.beats_per_bar * 60 / item.tempo_bpm
        assert measured == pytest.approx(spec.bars * bar, abs=0.005)  # no tail: the fade is inside the last bar
        assert -14 > dbfs(audio) > -30  # far above the noise floor
        windows = audio[:, : audio.shape[1] // rate * rate].reshape(2, -1, rate)
        loud = [dbfs(w) > -45 for w in windows.transpose(1, 0, 2)]
        assert sum(loud) >= 0.95 * len(loud)  # no silent stretches
        peak = float(np.abs(audio).max())
        assert 0.5 < peak < 0.97 and not np.any(np.abs(audio) >= 0.999)  # about -3 dBFS, never clipped


def test_index_is_readable_and_lists_the_build(built):
    dest, items, _ = built
    indexed, meta = read_items(dest)
    assert meta["kind"] == "music" and indexed == items
    assert all(i.resolve(dest).is_file() for i in indexed)


def test_rebuild_skips_what_is_built(built):
    dest, items, first = built
    files = sorted(p for p in dest.rglob("*") if p.is_file())
    before = {p: p.stat().st_mtime_ns for p in files}
    seen = []
    again = build_default_music(dest, only=SUBSET, progress=lambda done, total, detail: seen.append(detail))
    assert again == items and all("already built" in d for d in seen) and len(seen) == len(SUBSET)
    assert {p: p.stat().st_mtime_ns for p in files} == before


def test_changing_one_entry_rebuilds_only_it(built, tmp_path):
    src, items, _ = built
    dest = tmp_path / "lib"
    shutil.copytree(src, dest)
    data = yaml.safe_load(catalogue_path().read_text())
    for track in data["tracks"]:
        if track["id"] == SUBSET[1]:
            track["title"] += " (Reprise)"
    edited = tmp_path / "catalogue.yaml"
    edited.write_text(yaml.safe_dump(data))
    other = next(i for i in items if i.id == SUBSET[0]).resolve(dest)
    kept = other.stat().st_mtime_ns
    again = build_default_music(dest, only=SUBSET, catalogue=edited, workers=1)
    assert other.stat().st_mtime_ns == kept
    changed = next(i for i in again if i.id == SUBSET[1])
    assert changed.title.endswith("(Reprise)") and read_items(dest)[0] == again


def test_unknown_ids_and_the_default_folder(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="no-such-track"):
        build_default_music(tmp_path, only=["no-such-track"])
    monkeypatch.setenv("MOVIEFACTORY_CACHE", str(tmp_path))
    assert default_music_dir(build=False) == tmp_path / "music" / "default-v1"


def test_the_full_default_library(catalogue):
    """The library every film draws from, as the session built it (tests/conftest.py builds it once,
    with the same build_default_music a user's first film runs): every catalogue track, whole bars."""
    folder = default_music_dir(build=True)
    items, _ = read_items(folder)
    size = sum(i.resolve(folder).stat().st_size for i in items)
    assert [i.id for i in items] == [s.id for s in catalogue]
    for item in items:
        audio, rate = decode(item.resolve(folder))
        assert audio.shape[1] / rate == pytest.approx(item.duration, abs=0.005)
        assert item.duration == pytest.approx(item.extra["bars"] * item.beats_per_bar * 60 / item.tempo_bpm, abs=0.005)
    assert size < 40e6
