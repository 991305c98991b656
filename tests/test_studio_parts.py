"""The studio's pure parts, without a server: the queue's order and its restart rule, the progress
number, what an upload's first bytes say it is, who needs a token, and what a request may set."""
from __future__ import annotations

import threading
import time

import pytest

from moviefactory.errors import InputError
from moviefactory.studio.requests import FROM_REQUEST, RequestError, film_options
from moviefactory.studio.runner import WEIGHTS, overall
from moviefactory.studio.security import check_host
from moviefactory.studio.store import Store
from moviefactory.studio.uploads import sniff, words_of


def test_queue_order_claims_and_restart(tmp_path):
    store = Store(tmp_path / "studio.sqlite")
    assert store.add_film("a", "make", {"theme": "A"}, "A")
    assert store.add_film("b", "make", {"theme": "B"}, "B")
    assert not store.add_film("a", "make", {"theme": "A"}, "A")  # still queued: left as it is
    assert store.claim(0.1)["id"] == "a"
    assert store.film("a")["status"] == "running"
    assert not store.add_film("a", "make", {"theme": "A"}, "A")  # running: left as it is
    store.update("a", status="failed", error="boom")
    assert store.film("a")["finished"] is not None
    assert store.add_film("a", "make", {"theme": "A"}, "A")  # ended: queued again, error cleared
    assert store.film("a")["error"] is None
    assert store.claim(0.1)["id"] == "b"  # the older one first
    store.close()
    reopened = Store(tmp_path / "studio.sqlite")  # a restart: the running film is queued again
    assert [row["id"] for row in reopened.interrupted()] == ["b"]
    assert reopened.film("b")["status"] == "queued"
    assert [f["id"] for f in reopened.films()] == ["a", "b"]  # newest first


def test_a_claimed_film_cannot_be_cancelled_as_queued(tmp_path):
    store = Store(tmp_path / "studio.sqlite")
    store.add_film("a", "make", {}, "A")
    store.add_film("b", "make", {}, "B")
    assert store.claim(0.1)["id"] == "a"
    assert not store.cancel_queued("a")  # a worker has it: only stopping its process cancels it
    assert store.film("a")["status"] == "running"
    assert store.cancel_queued("b") and store.film("b")["status"] == "cancelled"
    assert store.claim(0.05) is None


def test_claim_wakes_when_a_film_is_queued(tmp_path):
    store = Store(tmp_path / "studio.sqlite")
    got = []
    waiter = threading.Thread(target=lambda: got.append(store.claim(5.0)))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.2)
    store.add_film("late", "make", {}, "late")
    waiter.join()
    assert got[0]["id"] == "late" and time.monotonic() - started < 2
    assert store.claim(0.05) is None


def test_progress_runs_from_zero_to_one_through_the_stages():
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    assert overall("plan", 0) == 0
    assert overall("render", 0.5) == pytest.approx(0.08 + 0.12 + 0.25)
    assert overall("assemble", 1.0) == 1.0
    assert overall("assemble", 7) == 1.0 and overall("render", -1) == overall("render", 0)
    points = [overall(s, f) for s in ("plan", "narrate", "render", "connect", "timeline", "assemble")
              for f in (0, 0.5, 1)]
    assert points == sorted(points)


@pytest.mark.parametrize("head, kind", [
    (b"\xff\xd8\xff\xe0\0\x10JFIF", ".jpg"), (b"\x89PNG\r\n\x1a\n\0\0", ".png"), (b"RIFF\0\0\0\0WEBPVP8 ", ".webp"),
    (b"\0\0\0\x20ftypisom\0\0", ".mp4"), (b"\0\0\0\x14ftypqt  ", ".mov"), (b"\x1a\x45\xdf\xa3\x9f", ".webm"),
    (b"#!/bin/sh\nrm", None), (b"GIF89a", None), (b"", None), (b"<svg xmlns=", None)])
def test_uploads_are_typed_by_their_first_bytes(head, kind):
    assert sniff(head) == kind


def test_upload_names_keep_only_their_words():
    assert words_of("../../etc/passwd") == "passwd"
    assert words_of("C:\\Users\\me\\red fox (1).JPG") == "red-fox-1"
    assert words_of("雪の狐.png") == "雪の狐"
    assert words_of(".hidden") == "hidden" and words_of("") == "file"


def test_anything_but_loopback_needs_a_token():
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_host(host, None)
    for host in ("0.0.0.0", "192.168.1.5", "::", "example.com"):
        with pytest.raises(InputError, match="token"):
            check_host(host, None)
        check_host(host, "t")


def test_a_request_sets_only_what_the_film_is(tmp_path):
    uploads = {"m-1": tmp_path}
    assert film_options({"theme": "x", "seconds": 12, "media": "m-1"}, uploads.get) == {"seconds": 12.0,
                                                                                        "media": tmp_path}
    for key in ("output", "model_path", "config_dir", "ffmpeg", "llm_base_url", "tts_base_url", "images_base_url",
                "comfyui_url", "workflow", "tts_api_key_env", "images_api_key_env", "pexels_base_url", "workers",
                "offline", "clip_model", "adapters", "upscale_weights"):
        assert key not in FROM_REQUEST
        with pytest.raises(RequestError) as refused:
            film_options({key: "x"}, uploads.get)
        assert refused.value.loc == (key,)
    with pytest.raises(RequestError) as bad:
        film_options({"scenes": 0}, uploads.get)
    assert bad.value.loc == ("scenes",)
