"""The studio's job queue, in SQLite beside the runs (`<output>/studio.sqlite`): films, batches and
media uploads. It outlives the server: a film that was running when the server stopped is queued again
at the next start and continues from its run's checkpoint.

A film's id is its run id, so the same request twice is the same film (and the same run directory).
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS films (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, request TEXT NOT NULL, theme TEXT NOT NULL,
  status TEXT NOT NULL, stage TEXT, progress REAL NOT NULL DEFAULT 0, error TEXT, title TEXT,
  batch TEXT, pid INTEGER, created REAL NOT NULL, started REAL, finished REAL);
CREATE INDEX IF NOT EXISTS films_queue ON films (status, created);
CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, name TEXT NOT NULL, films TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (id TEXT PRIMARY KEY, files TEXT NOT NULL, created REAL NOT NULL);
"""
STATUSES = ("queued", "running", "done", "failed", "cancelled")
ENDED = ("done", "failed", "cancelled")


class Store:
    """Thread-safe: one connection, one lock (the server is one process; SQLite is the durable part)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)  # runners wait here for a queued film

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # --- films ---------------------------------------------------------------------------------------
    def add_film(self, film_id: str, kind: str, request: dict[str, Any], theme: str, batch: str | None = None) -> bool:
        """Queue a film. A film already queued or running stays as it is (False); one that ended is queued
        again, which continues its run (True)."""
        with self.wake:
            row = self.db.execute("SELECT status FROM films WHERE id=?", (film_id,)).fetchone()
            if row is not None and row["status"] in ("queued", "running"):
                return False
            self.db.execute(
                "INSERT INTO films (id, kind, request, theme, status, created, batch) VALUES (?,?,?,?, 'queued', ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, request=excluded.request, status='queued', "
                "error=NULL, progress=0, stage=NULL, pid=NULL, finished=NULL, created=excluded.created, "
                "batch=COALESCE(excluded.batch, films.batch)",
                (film_id, kind, json.dumps(request, ensure_ascii=False), theme, time.time(), batch))
            self.wake.notify_all()
            return True

    def add_ended(self, film_id: str, theme: str, status: str, title: str | None, error: str | None,
                  created: float) -> None:
        """A run made elsewhere (the CLI, a batch), listed as it is; resuming it continues its run."""
        with self.lock:
            self.db.execute("INSERT OR IGNORE INTO films (id, kind, request, theme, status, title, error, created, "
                            "finished, progress) VALUES (?, 'resume', '{\"kind\": \"resume\"}', ?, ?, ?, ?, ?, ?, ?)",
                            (film_id, theme, status, title, error, created, created, 1.0 if status == "done" else 0))

    def requeue(self, film_id: str) -> bool:
        """Queue an ended film again (False if it is queued or running already)."""
        with self.wake:
            done = self.db.execute("UPDATE films SET status='queued', error=NULL, pid=NULL, finished=NULL "
                                   "WHERE id=? AND status IN ('done', 'failed', 'cancelled')", (film_id,))
            self.wake.notify_all()
            return done.rowcount == 1

    def cancel_queued(self, film_id: str) -> bool:
        """Take a film off the queue if no worker has claimed it yet (one statement: no race with claim)."""
        with self.lock:
            done = self.db.execute("UPDATE films SET status='cancelled', finished=? WHERE id=? AND status='queued'",
                                   (time.time(), film_id))
            return done.rowcount == 1

    def film(self, film_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT * FROM films WHERE id=?", (film_id,)).fetchone()
        return dict(row) if row else None

    def films(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute("SELECT * FROM films ORDER BY created DESC, rowid DESC LIMIT ?", (limit,))
            return [dict(r) for r in rows]

    def count(self, status: str) -> int:
        with self.lock:
            return self.db.execute("SELECT COUNT(*) FROM films WHERE status=?", (status,)).fetchone()[0]

    def claim(self, timeout: float) -> dict[str, Any] | None:
        """The oldest queued film, now running; None if none came within `timeout` seconds."""
        with self.wake:
            deadline = time.monotonic() + timeout
            while True:
                row = self.db.execute("SELECT * FROM films WHERE status='queued' ORDER BY created, rowid LIMIT 1"
                                      ).fetchone()
                if row is not None:
                    self.db.execute("UPDATE films SET status='running', started=?, error=NULL WHERE id=?",
                                    (time.time(), row["id"]))
                    return {**dict(row), "status": "running"}
                left = deadline - time.monotonic()
                if left <= 0 or not self.wake.wait(left):
                    return None

    def update(self, film_id: str, **fields: Any) -> None:
        if fields.get("status") in ENDED:
            fields.setdefault("finished", time.time())
        names = ", ".join(f"{k}=?" for k in fields)
        with self.lock:
            self.db.execute(f"UPDATE films SET {names} WHERE id=?", (*fields.values(), film_id))

    def interrupted(self) -> list[dict[str, Any]]:
        """Films that were running when the server stopped: queued again, oldest first."""
        with self.wake:
            rows = [dict(r) for r in self.db.execute("SELECT * FROM films WHERE status='running'")]
            self.db.execute("UPDATE films SET status='queued' WHERE status='running'")
            self.wake.notify_all()
        return rows

    # --- batches and uploads -------------------------------------------------------------------------
    def add_batch(self, batch_id: str, name: str, film_ids: list[str]) -> None:
        with self.lock:
            self.db.execute("INSERT INTO batches (id, name, films, created) VALUES (?,?,?,?)",
                            (batch_id, name, json.dumps(film_ids), time.time()))

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT * FROM batches WHERE id=?", (batch_id,)).fetchone()
        return {**dict(row), "films": json.loads(row["films"])} if row else None

    def add_upload(self, upload_id: str, files: list[str]) -> None:
        with self.lock:
            self.db.execute("INSERT INTO uploads (id, files, created) VALUES (?,?,?)",
                            (upload_id, json.dumps(files, ensure_ascii=False), time.time()))

    def upload(self, upload_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT * FROM uploads WHERE id=?", (upload_id,)).fetchone()
        return {**dict(row), "files": json.loads(row["files"])} if row else None
