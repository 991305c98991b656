"""Indexing folders of real audio files, and finding music/sound effects by text (TF-IDF and CLAP)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from moviefactory import textmatch
from moviefactory.audio import retrieval
from moviefactory.audio.index import EMBEDDINGS_FILE, index_folder, load_embeddings
from moviefactory.audio.library import AudioItem, read_items, write_items
from moviefactory.audio.retrieval import (
    ClapEmbedder,
    ClapRetriever,
    create_retriever,
    load_clap,
    open_retriever,
    rank_sfx_for_shot,
    retriever_names,
    tokenize,
)
from moviefactory.errors import InputError, MissingDependencyError


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    """16-bit PCM WAV; `samples` is (n,) mono or (n, channels), floats in [-1, 1]."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.asarray(samples, dtype=np.float64)
    channels = 1 if data.ndim == 1 else data.shape[1]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(data, -1, 1) * 32000).astype("<i2").tobytes())
    return path


def tone(freq: float, seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.5 * np.sin(2 * np.pi * freq * t)


def noise(seconds: float, rate: int = 16000, seed: int = 0) -> np.ndarray:
    return 0.3 * np.random.default_rng(seed).standard_normal(int(seconds * rate))


def make_library(root: Path, ffmpeg: str) -> Path:
    """Three good files (two WAVs, one AAC .m4a with metadata tags) and the bad ones."""
    write_wav(root / "weather" / "thunder_storm-rumbling.wav", noise(2.0))
    write_wav(root / "birdsong-spring.wav", np.stack([tone(2000, 1.0, 22050), tone(2500, 1.0, 22050)], 1), 22050)
    src = write_wav(root.parent / "src.wav", tone(220, 1.5, 48000), 48000)
    m4a = root / "music" / "tense" / "01 - dark_pulse.m4a"
    m4a.parent.mkdir(parents=True)
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-c:a", "aac", "-b:a", "64k",
                    "-metadata", "title=Dark Pulse", "-metadata", "genre=Cinematic; Suspense",
                    "-metadata", "artist=Test Composer", "-metadata", "comment=low strings, slow build",
                    str(m4a)], check=True)
    (root / "broken.wav").write_bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    (root / "empty.wav").write_bytes(b"")
    write_wav(root / "silent.wav", np.zeros(0))  # a valid WAV header with no samples
    (root / "notes.txt").write_text("credits: recorded in 2024\n", encoding="utf-8")
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 30, 30)).save(root / "cover.png")
    (root / "cover.png").rename(root / "cover.mp3")
    return root


def test_index_folder_measures_good_files_and_reports_bad_ones(tmp_path, ffmpeg):
    folder = make_library(tmp_path / "lib", ffmpeg)
    report = index_folder(folder, tmp_path / "idx", kind="music")

    items, meta = read_items(tmp_path / "idx")
    assert meta["kind"] == "music" and meta["model"] == "text" and report.model == "text"
    assert not (tmp_path / "idx" / EMBEDDINGS_FILE).exists()
    by_file = {Path(i.path).name: i for i in items}
    assert sorted(by_file) == ["01 - dark_pulse.m4a", "birdsong-spring.wav", "thunder_storm-rumbling.wav"]
    assert sorted(report.added) == sorted(i.id for i in items) and report.total == 3
    assert by_file["thunder_storm-rumbling.wav"].duration == pytest.approx(2.0, abs=1e-3)
    assert by_file["birdsong-spring.wav"].duration == pytest.approx(1.0, abs=1e-3)
    assert by_file["01 - dark_pulse.m4a"].duration == pytest.approx(1.5, abs=0.05)
    for item in items:
        assert Path(item.path).is_absolute() and Path(item.path).is_file()
        assert len(item.sha256) == 64 and item.kind == "music"

    thunder = by_file["thunder_storm-rumbling.wav"]
    assert thunder.title == "Thunder storm rumbling" and "weather" in thunder.tags
    assert "thunder storm rumbling" in thunder.description.lower()
    pulse = by_file["01 - dark_pulse.m4a"]  # title/genre/artist/comment from the container's tags
    assert pulse.title == "Dark Pulse"
    assert {"music", "tense", "cinematic", "suspense"} <= set(pulse.tags) and pulse.mood == "tense"
    assert "Test Composer" in pulse.description and "slow build" in pulse.description

    bad = {b.name: b.reason for b in report.bad}
    assert sorted(bad) == ["broken.wav", "cover.mp3", "empty.wav", "silent.wav"]
    assert bad["broken.wav"].startswith("corrupt")
    assert bad["empty.wav"].startswith("zero-length")
    assert bad["silent.wav"].startswith("zero-length")
    assert bad["cover.mp3"].startswith("not audio")
    assert [(b.name, b.reason.split(" ")[0]) for b in report.ignored] == [("notes.txt", "not")]
    assert "broken.wav: corrupt" in report.summary()


def test_reindex_skips_known_files_and_picks_up_new_ones(tmp_path):
    folder = tmp_path / "sfx"
    write_wav(folder / "door_slam.wav", noise(0.5, seed=2))
    write_wav(folder / "rain" / "gentle_rain.wav", noise(0.7, seed=3))
    dest = tmp_path / "idx"
    first = index_folder(folder, dest, kind="sfx")
    assert len(first.added) == 2
    before = (dest / "index.json").read_bytes()
    mtime = (dest / "index.json").stat().st_mtime_ns

    again = index_folder(folder, dest, kind="sfx")
    assert again.added == [] and sorted(again.skipped) == ["door_slam.wav", "rain/gentle_rain.wav"]
    assert not again.changed and again.total == 2
    assert (dest / "index.json").read_bytes() == before and (dest / "index.json").stat().st_mtime_ns == mtime

    write_wav(folder / "rain" / "thunder_clap.wav", noise(0.3, seed=4))
    (folder / "door_slam.wav").rename(folder / "door_slam_2.wav")  # moved: followed, not re-added
    (folder / "rain" / "gentle_rain.wav").unlink()
    third = index_folder(folder, dest, kind="sfx")
    assert third.added == ["rain-thunder-clap"] and third.skipped == ["door_slam_2.wav"]
    assert third.removed == ["rain-gentle-rain"]
    items, _ = read_items(dest)
    assert {Path(i.path).name for i in items} == {"door_slam_2.wav", "thunder_clap.wav"}

    with pytest.raises(InputError, match="sfx index"):
        index_folder(folder, dest, kind="music")


def _text_index(tmp_path: Path) -> Path:
    def item(id_, title, description, tags, kind="sfx", mood=None):
        return AudioItem(id=id_, path=f"{id_}.wav", kind=kind, title=title, description=description, tags=tags,
                         duration=3.0, sha256=id_, mood=mood)

    items = [
        item("thunder", "Thunder storm", "Thunder storm rumbling at night", ("weather", "thunder", "storm")),
        item("birdsong", "Birdsong", "Birdsong in a spring meadow at dawn", ("birds", "nature")),
        item("rain", "Rain on roof", "Gentle rain on a roof", ("weather", "rain")),
        item("leiyu", "雷雨", "夜晚的雷雨和远处的雷声", ("天气",)),
        item("tense-01", "Dark pulse", "Tense orchestral strings with a slow build", ("tense", "orchestral", "strings"),
             kind="music", mood="tense"),
        item("calm-01", "Still water", "Calm orchestral piano, soft and slow", ("calm", "orchestral", "piano"),
             kind="music", mood="calm"),
    ]
    write_items(tmp_path / "text-idx", items, kind="sfx")
    return tmp_path / "text-idx"


def test_text_retriever_ranks_by_words(tmp_path):
    index_dir = _text_index(tmp_path)
    retriever = create_retriever("text", index_dir=index_dir)  # what every entry owes: test_retriever_contract.py
    assert retriever.name == "text"
    assert {"clap", "text"} <= set(retriever_names())

    hits = retriever.search("thunder storm at night", k=3)
    assert hits[0].item.id == "thunder" and all(0.0 <= h.score <= 1.0 for h in hits)
    scores = {h.item.id: h.score for h in retriever.search("thunder storm at night", k=10)}
    assert scores["thunder"] > scores.get("birdsong", 0.0)
    assert hits[0].path == index_dir / "thunder.wav"

    music = {h.item.id: h.score for h in retriever.search("tense orchestral, slow build", k=10)}
    assert music["tense-01"] > music["calm-01"] > 0

    assert retriever.search("夜里的雷雨", k=1)[0].item.id == "leiyu"  # character bigrams
    assert retriever.search("xylophone", k=5) == []
    assert tokenize("Storms rumbling") == tokenize("storm rumbles") == ["storm", "rumbl"]


def test_rank_sfx_for_shot_is_the_retrievers_search_until_clip_scores_keyframes(tmp_path):
    """No CLIP weights are configured, so nothing re-ranks yet: the shot's effects are exactly the
    retriever's hits for its description, and a keyframe, even a real image, changes nothing."""
    from PIL import Image

    retriever = create_retriever("text", index_dir=_text_index(tmp_path))
    keyframe = tmp_path / "keyframe.png"
    Image.new("RGB", (32, 18), (20, 20, 60)).save(keyframe)
    description = "A storm breaks over the house at night: thunder, then rain on the roof"
    plain = retriever.search(description, k=3)
    assert [h.item.id for h in plain] == ["thunder", "rain"]
    assert rank_sfx_for_shot(description, None, retriever, k=3) == plain
    assert rank_sfx_for_shot(description, keyframe, retriever, k=3) == plain
    assert rank_sfx_for_shot(description, keyframe, retriever, k=1) == plain[:1]


def test_open_retriever_falls_back_to_text(tmp_path):
    index_dir = _text_index(tmp_path)
    r = open_retriever(index_dir)
    assert r.name == "text" and "no CLAP embeddings" in r.note

    # Embeddings from a model that is not on this machine: still answered, by the text index.
    items, _ = read_items(index_dir)
    np.save(index_dir / EMBEDDINGS_FILE, np.eye(len(items), 8, dtype=np.float32))
    write_items(index_dir, items, kind="sfx", model=str(tmp_path / "no-such-clap-model"))
    r = open_retriever(index_dir)
    assert r.name == "text" and "not available locally" in r.note
    assert r.search("thunder storm at night", 1)[0].item.id == "thunder"
    assert open_retriever(index_dir, prefer="text").name == "text"
    with pytest.raises(InputError):
        open_retriever(tmp_path / "nowhere")
    with pytest.raises(InputError, match=r"unknown audio retriever 'bm25'; available: clap, text"):
        open_retriever(index_dir, prefer="bm25")


def test_open_retriever_chooses_through_the_registry(tmp_path, monkeypatch):
    """A new entry is reached by its config name with no change to open_retriever; one that cannot
    answer for this index gives way to text, which says why."""
    index_dir = _text_index(tmp_path)
    calls = []

    def make_exact(index_dir, model=None):
        calls.append((index_dir, model))
        return retrieval.TextRetriever.from_index(index_dir)

    def make_unavailable(index_dir, model=None):
        raise MissingDependencyError("the exact-words model is not installed")

    monkeypatch.setitem(retrieval._REGISTRY._factories, "exact", make_exact)
    monkeypatch.setitem(retrieval._REGISTRY._factories, "missing", make_unavailable)
    assert open_retriever(index_dir, prefer="exact", clap_model="m").search("thunder", 1)[0].item.id == "thunder"
    assert calls == [(index_dir, "m")]
    r = open_retriever(index_dir, prefer="missing")
    assert r.name == "text" and r.note == "missing not used: the exact-words model is not installed"
    with pytest.raises(InputError, match="available: clap, exact, missing, text"):
        open_retriever(index_dir, prefer="nope")


# ----------------------------------------------------------------------------------------------
# CLAP with a tiny random-weight model (real transformers classes, loaded from a local folder)
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clap_setup(tmp_path_factory):
    pytest.importorskip("transformers")
    from tiny_clap import save_tiny_clap

    root = tmp_path_factory.mktemp("clap")
    model_dir = save_tiny_clap(root / "tiny-clap")
    folder = root / "sfx"
    write_wav(folder / "low_hum.wav", tone(110, 1.0))
    write_wav(folder / "high_whistle.wav", tone(3000, 0.8))
    write_wav(folder / "weather" / "thunder_storm.wav", noise(1.2, seed=5))
    write_wav(folder / "clicks.wav", np.tile(np.r_[np.ones(40), np.zeros(1560)], 10) * 0.8)
    embedder = load_clap(model_dir)
    report = index_folder(folder, root / "idx", kind="sfx", embedder=embedder)
    return {"model_dir": model_dir, "folder": folder, "index": root / "idx", "embedder": embedder, "report": report}


def test_clap_index_has_unit_embeddings_per_item(clap_setup):
    index_dir, embedder = clap_setup["index"], clap_setup["embedder"]
    assert len(embedder.processor.tokenizer) > 200 and embedder.sample_rate == 48000
    items, meta = read_items(index_dir)
    assert meta["model"] == str(clap_setup["model_dir"].resolve()) == embedder.model_id
    emb = load_embeddings(index_dir)
    assert emb.shape == (4, 16) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert clap_setup["report"].embedded == 4


def test_clap_search_scores_sorted_and_cached(clap_setup):
    from tiny_clap import tiny_clap

    model, processor = tiny_clap(clap_setup["index"].parent / "again")  # same seed, built in memory
    retriever = ClapRetriever(model, processor, clap_setup["index"])
    assert retriever.name == "clap"

    calls = []
    original = model.get_text_features
    model.get_text_features = lambda *a, **kw: calls.append(1) or original(*a, **kw)
    hits = retriever.search("thunder storm at night", k=3)
    assert len(hits) == 3 and len(calls) == 1
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    assert all(h.path.is_file() for h in hits)
    again = retriever.search("thunder storm at night", k=3)
    assert len(calls) == 1 and [h.item.id for h in again] == [h.item.id for h in hits]
    retriever.search("birdsong", k=2)
    assert len(calls) == 2


def test_clap_audio_embedding_finds_its_own_item(clap_setup):
    retriever = ClapRetriever.from_embedder(clap_setup["embedder"], clap_setup["index"])
    for n, item in enumerate(retriever.items):
        hits = retriever.search_vector(retriever.embeddings[n], k=2)
        assert hits[0].item.id == item.id and hits[0].score == pytest.approx(1.0, abs=1e-5)
    # Query by example: an indexed file's embedding comes from the index (content hash), no model call.
    calls = clap_setup["embedder"].audio_calls
    path = clap_setup["folder"] / "high_whistle.wav"
    assert retriever.search_audio(path, k=1)[0].item.title == "High whistle"
    assert clap_setup["embedder"].audio_calls == calls
    # A long clip is embedded window by window into one unit vector.
    vec = clap_setup["embedder"].embed_audio(np.zeros(48000 * 25, np.float32) + 0.01)
    assert vec.shape == (16,) and np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)


def test_open_retriever_uses_local_clap_model(clap_setup):
    r = open_retriever(clap_setup["index"])  # loads the index's model id (a local folder) via from_pretrained
    assert r.name == "clap" and r.model_id == str(clap_setup["model_dir"].resolve())
    hits = r.search("gentle rain", k=4)
    assert len(hits) == 4 and {h.item.id for h in hits} == {i.id for i in r.items}
    r = create_retriever("clap", index_dir=clap_setup["index"], model=str(clap_setup["model_dir"]))
    assert r.name == "clap"
    other = open_retriever(clap_setup["index"], clap_model=ClapEmbedder(
        clap_setup["embedder"].model, clap_setup["embedder"].processor, model_id="another-clap"))
    assert other.name == "text" and "another-clap" in other.note
    by_id = open_retriever(clap_setup["index"], clap_model="laion/clap-htsat-unfused")  # never downloaded
    assert by_id.name == "text" and "laion/clap-htsat-unfused" in by_id.note


def test_reindex_with_another_model_reembeds(clap_setup, tmp_path):
    e = clap_setup["embedder"]
    dest = tmp_path / "idx"
    index_folder(clap_setup["folder"], dest, kind="sfx", embedder=e)
    assert index_folder(clap_setup["folder"], dest, kind="sfx", embedder=e).embedded == 0
    other = ClapEmbedder(e.model, e.processor, model_id="tiny-clap-b")
    report = index_folder(clap_setup["folder"], dest, kind="sfx", embedder=other)
    assert report.embedded == 4 and report.added == []
    assert read_items(dest)[1]["model"] == "tiny-clap-b" and load_embeddings(dest).shape == (4, 16)
    # A new file without the embedder cannot be embedded: the index falls back to text, and says so.
    write_wav(clap_setup["folder"].parent / "more" / "new_tone.wav", tone(660, 0.5))
    report = index_folder(clap_setup["folder"].parent / "more", dest, kind="sfx")
    assert report.model == "text" and "dropped" in report.notes[0]
    assert not (dest / EMBEDDINGS_FILE).exists() and json.loads((dest / "index.json").read_text())["model"] == "text"


def test_empty_tokenizer_is_refused(clap_setup):
    from transformers import ClapProcessor, RobertaTokenizer

    e = clap_setup["embedder"]
    empty = ClapProcessor(feature_extractor=e.processor.feature_extractor, tokenizer=RobertaTokenizer())
    with pytest.raises(MissingDependencyError, match="empty"):
        ClapEmbedder(e.model, empty, "x")


@pytest.mark.skipif(importlib.util.find_spec("laion_clap") is not None, reason="laion_clap is installed")
def test_laion_checkpoint_needs_laion_clap(tmp_path):
    ckpt = tmp_path / "630k-audioset-best.pt"
    ckpt.write_bytes(b"not really a checkpoint")
    with pytest.raises(MissingDependencyError, match="laion_clap"):
        load_clap(ckpt)


def test_a_screenplays_mood_word_finds_the_library_word_it_stands_for(monkeypatch):
    """The offline and LLM writers say "adventurous", "wistful", "curious"; the library's tags say
    heroic, melancholic, playful. configs/synonyms.yaml bridges them, at half weight."""
    from moviefactory.audio import retrieval
    from moviefactory.audio.sources import library_opener

    music = library_opener("music", "default")()
    picks = {q: music.search(q, k=1)[0].item.mood
             for q in ("adventurous accordion fiddle strings", "wistful solo cello piano",
                       "curious marimba acoustic guitar", "serene guqin bamboo flute")}
    assert picks == {"adventurous accordion fiddle strings": "heroic", "wistful solo cello piano": "melancholic",
                     "curious marimba acoustic guitar": "playful", "serene guqin bamboo flute": "calm"}
    # a track tagged with the query's own word still outranks one reached through a synonym
    assert music.search("epic heroic", k=1)[0].item.mood in ("epic", "heroic")
    monkeypatch.setattr(textmatch, "synonyms", lambda: {})
    assert music.search("adventurous accordion fiddle strings", k=1)[0].item.mood != "heroic"
