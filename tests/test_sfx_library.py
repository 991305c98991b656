"""The default sound-effect library (moviefactory.audio.foley): the catalogue, the build, and what
the written files actually sound like, decoded and measured rather than read from our records."""
from __future__ import annotations

import re
import shutil
import time
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from moviefactory.audio import foley
from moviefactory.audio.foley_recipes import RECIPES
from moviefactory.audio.library import file_sha256, read_items

SR = 48000
# Every sound the brief asks for, as a tag some clip must carry.
REQUIRED_TAGS = (
    "wind howling rain roof thunder distant ocean waves river stream fire campfire footsteps gravel wood snow "
    "door creak slam knock whoosh swish punch impact thud explosion car engine idle rev spaceship hum beeps "
    "computer laser crowd murmur applause birdsong crickets night owl clock bell temple heartbeat glass drip "
    "cave traffic helicopter rotor magic sparkle chime wolf"
).split()


@pytest.fixture(scope="module")
def catalogue() -> list[dict]:
    return foley.load_catalogue()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cache")
    dest = root / "sfx" / foley.LIBRARY_NAME  # where default_sfx_dir() looks with MOVIEFACTORY_CACHE=root
    start = time.perf_counter()
    items = foley.build_default_sfx(dest)
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in dest.glob("*.wav"))
    print(f"\nbuilt {len(items)} clips, {sum(i.duration for i in items):.0f} s of audio, "
          f"{size / 1e6:.1f} MB, in {seconds:.2f} s")
    return {"root": root, "dest": dest, "items": items, "seconds": seconds}


def decode(path: Path) -> np.ndarray:
    """(2, n) float samples of a 16-bit WAV, checked to be stereo 48 kHz."""
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (2, SR, 2), path.name
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    return pcm.reshape(-1, 2).T / 32768.0


def clip_audio(built: dict, clip_id: str) -> np.ndarray:
    return decode(built["dest"] / f"{clip_id}.wav")


def envelope(x: np.ndarray, hop: float = 0.005) -> np.ndarray:
    """RMS per `hop` seconds of the mono mix."""
    m = int(hop * SR)
    mono = x.mean(axis=0)
    frames = mono[: mono.size // m * m].reshape(-1, m)
    return np.sqrt((frames ** 2).mean(axis=1))


def band_fraction(x: np.ndarray, lo: float, hi: float) -> float:
    power = np.abs(np.fft.rfft(x.mean(axis=0))) ** 2
    f = np.fft.rfftfreq(x.shape[1], 1 / SR)
    return float(power[(f >= lo) & (f < hi)].sum() / power.sum())


# ------------------------------------------------------------------ the catalogue

def test_catalogue_is_data_with_unique_ids_and_descriptions(catalogue):
    assert len(catalogue) >= 30
    ids = [c["id"] for c in catalogue]
    assert len(set(ids)) == len(ids)
    for c in catalogue:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", c["id"]), c["id"]
        text = c["description"].strip()
        assert len(text.split()) >= 6 and text.endswith(".") and text.count(". ") == 0, c["id"]  # one sentence
        assert c["title"].strip() and len(c["tags"]) >= 4, c["id"]
        assert 1 <= c["duration"] <= 12 and c["recipe"] in RECIPES, c["id"]
    tags = {t for c in catalogue for t in c["tags"]}
    assert not [t for t in REQUIRED_TAGS if t not in tags]


def test_descriptions_find_the_right_clip_by_words(catalogue):
    """A plain bag-of-words match over description + tags already picks the intended clip."""
    def words(text: str) -> set[str]:
        return set(re.findall(r"[a-z]+", text.lower()))

    def best(query: str) -> str:
        return max(catalogue, key=lambda c: len(words(query) & words(" ".join([c["description"], *c["tags"]]))))["id"]

    assert best("thunder rumbling far away") == "thunder-distant"
    assert best("footsteps on gravel") == "footsteps-gravel"
    assert best("heavy rain on a roof") == "rain-heavy-roof"
    assert best("a wolf howling at the moon") == "wolf-howl"


def test_bad_catalogue_is_rejected(tmp_path):
    bad = tmp_path / "catalogue.yaml"
    bad.write_text("clips:\n  - {id: a, title: A, description: x., tags: [t], duration: 30, recipe: noise_bed}\n")
    with pytest.raises(ValueError, match="duration"):
        foley.load_catalogue(bad)
    bad.write_text("clips:\n  - {id: a, title: A, description: x., tags: [t], duration: 3, recipe: nope}\n")
    with pytest.raises(ValueError, match="recipe"):
        foley.load_catalogue(bad)


# ------------------------------------------------------------------ the build

def test_build_is_deterministic(built, tmp_path):
    again = foley.build_default_sfx(tmp_path / "again")
    assert again == built["items"]  # same hashes, durations, relative paths
    for item in built["items"]:
        assert (tmp_path / "again" / item.path).read_bytes() == item.resolve(built["dest"]).read_bytes(), item.id


def test_every_clip_decodes_to_its_stated_length_and_level(built, catalogue):
    stated = {c["id"]: float(c["duration"]) for c in catalogue}
    assert [i.id for i in built["items"]] == list(stated)
    for item in built["items"]:
        path = item.resolve(built["dest"])
        x = decode(path)
        seconds = x.shape[1] / SR
        assert abs(seconds - stated[item.id]) <= 0.010, item.id
        assert abs(item.duration - seconds) < 1e-6, item.id
        peak, rms = np.abs(x).max(), np.sqrt((x ** 2).mean())
        assert 0.5 < peak < 0.99, f"{item.id}: peak {peak:.3f}"  # normalised near -3 dBFS, never clipped
        assert rms > 0.005, f"{item.id}: rms {rms:.4f}"  # not silent
        assert np.abs(x[:, :24]).max() < 0.05 and np.abs(x[:, -24:]).max() < 0.05, f"{item.id}: clicks at an edge"
        with av.open(str(path)) as container:  # a second decoder agrees on format and length
            stream = container.streams.audio[0]
            frames = sum(f.samples for f in container.decode(stream))
            assert (stream.rate, stream.codec_context.channels) == (SR, 2), item.id
            assert frames == x.shape[1], item.id


# ------------------------------------------------------------------ does it sound like what it says

def test_thunder_is_low_and_birdsong_is_high(built):
    birds = clip_audio(built, "birdsong-day")
    birds_low, birds_high = band_fraction(birds, 0, 200), band_fraction(birds, 1500, SR / 2)
    assert birds_high > 0.8, birds_high
    for clip_id in ("thunder-distant", "thunder-close"):
        low = band_fraction(clip_audio(built, clip_id), 0, 200)
        assert low > 0.6 and low > 20 * birds_low, (clip_id, low, birds_low)


@pytest.mark.parametrize("clip_id", ["clock-ticking", "footsteps-gravel", "footsteps-wood", "footsteps-snow",
                                     "heartbeat", "helicopter"])
def test_rhythmic_clips_repeat_at_their_rate(built, catalogue, clip_id):
    period = next(c for c in catalogue if c["id"] == clip_id)["extra"]["period_s"]
    hop = 0.005
    env = envelope(clip_audio(built, clip_id), hop)
    env = env - env.mean()
    ac = np.correlate(env, env, "full")[env.size - 1:]
    ac /= ac[0]
    lags = np.arange(ac.size) * hop
    window = (lags > 0.6 * period) & (lags < 1.4 * period)
    best = lags[window][np.argmax(ac[window])]
    assert abs(best - period) < 0.04 * period, (clip_id, best, period)
    assert ac[window].max() > 0.3, (clip_id, ac[window].max())


@pytest.mark.parametrize("clip_id, ratio", [("bell-strike", 0.2), ("service-bell", 0.3), ("temple-bell", 0.5)])
def test_bells_ring_with_inharmonic_partials_and_decay(built, clip_id, ratio):
    x = clip_audio(built, clip_id)
    env = envelope(x, 0.01)
    onset = int(np.argmax(env[:50]))
    early, late = env[onset: onset + 100].mean(), env[-110:-10].mean()
    assert late < ratio * early, (clip_id, late / early)
    # strongest spectral peaks: not all whole multiples of the lowest one (a bell, not a note)
    spec = np.abs(np.fft.rfft(x.mean(axis=0)[: 2 * SR]))
    f = np.fft.rfftfreq(2 * SR, 1 / SR)
    is_peak = (spec[1:-1] > spec[:-2]) & (spec[1:-1] > spec[2:]) & (spec[1:-1] > 0.1 * spec.max())
    peaks = f[1:-1][is_peak]
    peaks = peaks[peaks > 50]
    ratios = peaks / peaks.min()
    assert len(peaks) >= 3 and np.any(np.abs(ratios - np.round(ratios)) > 0.15), (clip_id, peaks[:8])


# ------------------------------------------------------------------ the index and rebuilding

def test_index_reads_back_with_measured_facts(built, catalogue):
    items, meta = read_items(built["dest"])
    assert meta["kind"] == "sfx" and meta["model"] == "text"
    assert items == built["items"]
    assert [i.id for i in items] == [c["id"] for c in catalogue]
    for item in items:
        assert item.kind == "sfx" and item.description and item.tags and not Path(item.path).is_absolute()
        assert file_sha256(item.resolve(built["dest"])) == item.sha256
        clip = next(c for c in catalogue if c["id"] == item.id)
        assert item.extra["recipe"] == clip["recipe"] and item.extra["recipe_key"] == foley.recipe_key(clip)


def test_rebuild_skips_existing_clips(built):
    dest = built["dest"]
    before = {p.name: p.stat().st_mtime_ns for p in dest.iterdir()}
    assert foley.build_default_sfx(dest) == built["items"]
    assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir()} == before  # nothing rewritten, index included


def test_missing_or_changed_clip_alone_is_rebuilt(built, tmp_path, monkeypatch):
    dest = tmp_path / "lib"
    shutil.copytree(built["dest"], dest)
    (dest / "owl-hoot.wav").unlink()
    (dest / "laser-zap.wav").write_bytes(b"not a wav")
    before = {p.name: p.stat().st_mtime_ns for p in dest.glob("*.wav")}
    rebuilt = foley.build_default_sfx(dest, only=["owl-hoot", "laser-zap", "clock-ticking"])
    assert sorted(i.id for i in rebuilt) == ["clock-ticking", "laser-zap", "owl-hoot"]
    after = {p.name: p.stat().st_mtime_ns for p in dest.glob("*.wav")}
    assert {n for n in after if after[n] != before.get(n)} == {"owl-hoot.wav", "laser-zap.wav"}
    for name in ("owl-hoot.wav", "laser-zap.wav"):
        assert (dest / name).read_bytes() == (built["dest"] / name).read_bytes()
    assert read_items(dest)[0] == built["items"]
    # an edited catalogue entry rebuilds that clip only; a new FOLEY_VERSION changes every clip's key
    edited = [dict(c, params={**c["params"], "period": 1.8}) if c["id"] == "clock-ticking" else c
              for c in foley.load_catalogue()]
    monkeypatch.setattr(foley, "load_catalogue", lambda path=None: edited)
    before = {p.name: p.stat().st_mtime_ns for p in dest.glob("*.wav")}
    foley.build_default_sfx(dest)
    after = {p.name: p.stat().st_mtime_ns for p in dest.glob("*.wav")}
    assert {n for n in after if after[n] != before[n]} == {"clock-ticking.wav"}
    key = foley.recipe_key(edited[0])
    monkeypatch.setattr(foley, "FOLEY_VERSION", foley.FOLEY_VERSION + 1)
    assert foley.recipe_key(edited[0]) != key
    with pytest.raises(ValueError, match="unknown"):
        foley.build_default_sfx(dest, only=["no-such-clip"])


def test_default_sfx_dir_uses_the_cache_and_does_not_rebuild(built, monkeypatch, tmp_path):
    monkeypatch.setenv("MOVIEFACTORY_CACHE", str(tmp_path / "empty"))
    assert foley.default_sfx_dir(build=False) == tmp_path / "empty" / "sfx" / foley.LIBRARY_NAME
    assert not (tmp_path / "empty").exists()
    monkeypatch.setenv("MOVIEFACTORY_CACHE", str(built["root"]))
    before = {p.name: p.stat().st_mtime_ns for p in built["dest"].iterdir()}
    assert foley.default_sfx_dir() == built["dest"]
    assert {p.name: p.stat().st_mtime_ns for p in built["dest"].iterdir()} == before
