"""One contract for every registered audio retriever, and Combined ranking several on the one scale.

The world: four real sound files indexed twice, once for text and once with a tiny CLAP (the real
transformers ClapModel at toy size, fitted in a second to these four captioned sounds, since a
random-weight model finds every text alike), plus a second, text-only library of three other sounds.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moviefactory.audio.index import decode_audio, index_folder
from moviefactory.audio.library import Hit, read_items
from moviefactory.audio.retrieval import create_retriever, load_clap, open_retriever, retriever_names
from moviefactory.audio.sources import Combined
from moviefactory.errors import MissingDependencyError

from test_retrieval import noise, tone, write_wav

ODD_QUERIES = ("", "!!!", "thunder", "xylophone", "夜晚的雷雨", "a long slow low rumbling hum " * 40)


def _write_sounds(folder: Path) -> Path:
    write_wav(folder / "low_hum.wav", tone(110, 1.0))
    write_wav(folder / "high_whistle.wav", tone(3000, 0.8))
    write_wav(folder / "weather" / "thunder_storm.wav", noise(1.2, seed=5))
    write_wav(folder / "clicks.wav", np.tile(np.r_[np.ones(40), np.zeros(1560)], 10) * 0.8)
    return folder


def _write_other_sounds(folder: Path) -> Path:
    write_wav(folder / "distant_thunder.wav", noise(0.9, seed=7) * np.linspace(1, 0, 14400))
    write_wav(folder / "weather" / "rain_on_roof.wav", noise(1.0, seed=8) * 0.3)
    write_wav(folder / "door_slam.wav", np.r_[noise(0.1, seed=9), np.zeros(8000)])
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    pytest.importorskip("transformers")
    from tiny_clap import save_tiny_clap

    root = tmp_path_factory.mktemp("retriever-contract")
    sounds = _write_sounds(root / "sounds")
    text_index = root / "text-idx"
    index_folder(sounds, text_index, kind="sfx")
    other = root / "other-idx"
    index_folder(_write_other_sounds(root / "other"), other, kind="sfx")

    items, _ = read_items(text_index)
    pairs = [(i.description, decode_audio(i.resolve(text_index), 48000)[0]) for i in items]
    unmatched = [i.description for i in read_items(other)[0]]  # sounds this model's world does not have
    model_dir = save_tiny_clap(root / "fitted-clap", pairs=pairs, unmatched=unmatched)
    clap_index = root / "clap-idx"
    report = index_folder(sounds, clap_index, kind="sfx", embedder=load_clap(model_dir))
    assert report.embedded == 4 and report.model == str(model_dir.resolve())
    return {"text": text_index, "clap": clap_index, "other": other, "model_dir": model_dir}


def assert_retriever_contract(retriever, items) -> None:
    """What every retriever owes its callers, checked by behaviour on a known index."""
    known = {i.sha256: i for i in items}
    assert isinstance(retriever.name, str) and retriever.name
    assert isinstance(retriever.model_id, str) and retriever.model_id
    queries = [i.description for i in items] + list(ODD_QUERIES)
    for query in queries:
        for k in (0, 1, 2, len(items) + 3):
            hits = retriever.search(query, k)
            assert isinstance(hits, list) and len(hits) <= min(k, len(items)), (query, k)
            assert all(isinstance(h, Hit) for h in hits)
            scores = [h.score for h in hits]
            assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in scores), scores  # the shared scale
            assert scores == sorted(scores, reverse=True), scores  # best first
            assert len({h.item.sha256 for h in hits}) == len(hits)  # an item at most once
            for h in hits:
                assert known[h.item.sha256] == h.item and h.path.is_file() and h.path.name == Path(h.item.path).name
            if k > 1:  # a shorter list is the head of a longer one
                assert [h.item.sha256 for h in retriever.search(query, 1)] == [h.item.sha256 for h in hits[:1]]
        assert retriever.search(query, 3) == retriever.search(query, 3)  # deterministic
    for item in items:  # an item's own description finds it first, strictly ahead of the rest
        hits = retriever.search(item.description, 3)
        assert hits and hits[0].item == item and hits[0].score > 0, (item.description, hits[:2])
        assert len(hits) == 1 or hits[0].score > hits[1].score


@pytest.mark.parametrize("name", retriever_names())
def test_retriever_contract(name, world):
    index_dir = world["clap"]  # both texts and embeddings: every entry can answer here
    retriever = create_retriever(name, index_dir=index_dir)
    assert retriever.name == name
    items, _ = read_items(index_dir)
    assert_retriever_contract(retriever, items)
    hits = retriever.search(items[0].description, 2)
    assert all(h.path == h.item.resolve(index_dir) for h in hits)
    # open_retriever reaches the same entry by name, and answers the same
    opened = open_retriever(index_dir, prefer=name)
    assert opened.name == name and opened.search(items[0].description, 2) == hits


@pytest.mark.parametrize("name", retriever_names())
def test_retriever_that_cannot_answer_says_why(name, world):
    """An index without embeddings: an entry answers, or raises MissingDependencyError, so open_retriever
    can fall back to text and say why."""
    try:
        retriever = create_retriever(name, index_dir=world["text"])
    except MissingDependencyError as exc:
        opened = open_retriever(world["text"], prefer=name)
        assert opened.name == "text" and exc.message in opened.note
    else:
        assert_retriever_contract(retriever, read_items(world["text"])[0])


def test_combined_ranks_a_clap_and_a_text_library_on_one_scale(world):
    clap = create_retriever("clap", index_dir=world["clap"])
    text = create_retriever("text", index_dir=world["other"])
    combined = Combined([clap, text])
    assert combined.name == "clap + text"
    clap_items, other_items = read_items(world["clap"])[0], read_items(world["other"])[0]
    assert_retriever_contract(combined, clap_items + other_items)
    everything = len(clap_items) + len(other_items)
    from_clap = {i.sha256 for i in clap_items}

    # An exact match in the CLAP library ranks above the text library's weak matches (shared words).
    storm = next(i for i in clap_items if i.title == "Thunder storm")
    hits = combined.search(storm.description, everything)
    assert hits[0].item == storm and hits[0].score > 0.8
    weak_text = [h for h in hits if h.item.sha256 not in from_clap]
    assert {h.item.title for h in weak_text} >= {"Distant thunder", "Rain on roof"}  # "thunder", "weather"
    assert all(0 < h.score < hits[0].score for h in weak_text)

    # An exact match in the text library ranks above whatever the CLAP library offers for it.
    distant = next(i for i in other_items if i.title == "Distant thunder")
    hits = combined.search(distant.description, everything)
    assert hits[0].item == distant
    assert all(h.score < hits[0].score for h in hits if h.item.sha256 in from_clap)

    # Sounds the CLAP model finds unrelated (cosine <= 0) score 0, as text's "nothing in common" does,
    # so they rank under every text hit that shares a word, however weak; (1 + cos) / 2 would put them at ~0.5.
    query = "distant thunder and rain"
    cosines = clap.embeddings @ clap.text_vector(query)
    assert (cosines <= 0).any()
    hits = combined.search(query, everything)
    unrelated = {clap.items[n].sha256 for n in np.flatnonzero(cosines <= 0)}
    text_ranks = [n for n, h in enumerate(hits) if h.item.sha256 not in from_clap]
    zero_ranks = [n for n, h in enumerate(hits) if h.item.sha256 in unrelated]
    assert all(hits[n].score == 0.0 for n in zero_ranks) and len(zero_ranks) == len(unrelated)
    assert len(text_ranks) >= 2 and max(text_ranks) < min(zero_ranks)


def test_combined_counts_a_file_in_two_libraries_once(world):
    """The same sounds indexed for text and for CLAP: each file once, at its better score."""
    text = create_retriever("text", index_dir=world["text"])
    clap = create_retriever("clap", index_dir=world["clap"])
    combined = Combined([text, clap])
    storm = next(i for i in clap.items if i.title == "Thunder storm")
    hits = combined.search(storm.description, 10)
    assert [h.item.sha256 for h in hits].count(storm.sha256) == 1
    best = max(r.search(storm.description, 1)[0].score for r in (text, clap))
    assert hits[0].item.sha256 == storm.sha256 and hits[0].score == best
    assert len(hits) == len({h.item.sha256 for h in hits}) <= 4
