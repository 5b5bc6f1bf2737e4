"""The local store: SQLite rows for every generation, image bytes as content-addressed files.

Why: re-running a notebook should neither re-bill nor change its pictures (the cache), a
notebook should not carry full-resolution PNGs (the display shows previews; originals live
here), and every picture should say how it was made (each row keeps the full request).

Layout of a store folder (default ``.nb_banana/`` beside the notebook)::

    store.sqlite            one row per generation (WAL: several kernels may write at once)
    blobs/ab/abcdef….png    image bytes named by their SHA-256, written temp-file-then-rename

A row is inserted only after its blobs are in place, so a crash at any point leaves a
readable store (at worst an orphan temp file or blob). The API key is never written here.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import atomic_write

_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    cache_key TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    request TEXT NOT NULL,
    replies TEXT NOT NULL,
    images INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    cost REAL NOT NULL,
    elapsed REAL NOT NULL,
    chat TEXT,
    turn INTEGER
);
CREATE INDEX IF NOT EXISTS generations_cache_key ON generations (cache_key, id);
CREATE TABLE IF NOT EXISTS chats (
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (scope, name)
);
CREATE TABLE IF NOT EXISTS turns (
    scope TEXT NOT NULL,
    chat TEXT NOT NULL,
    number INTEGER NOT NULL,
    turn TEXT NOT NULL,
    PRIMARY KEY (scope, chat, number)
);
CREATE TABLE IF NOT EXISTS current_chat (scope TEXT PRIMARY KEY, name TEXT);
CREATE TABLE IF NOT EXISTS cells (
    scope TEXT NOT NULL, cell TEXT NOT NULL, option TEXT NOT NULL, chat TEXT NOT NULL,
    turn INTEGER NOT NULL, PRIMARY KEY (scope, cell)
);
"""
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


@dataclass(frozen=True)
class Row:
    """One stored generation; ``request`` and ``replies`` are the JSON documents as written."""

    id: int
    created: float
    cache_key: str
    model: str
    prompt: str
    request: dict[str, Any]
    replies: list[dict[str, Any]]
    images: int
    tokens: int
    cost: float
    elapsed: float
    chat: str | None
    turn: int | None


@dataclass(frozen=True)
class Totals:
    generations: int
    images: int
    tokens: int
    cost: float


class Store:
    """One store folder; safe to share between threads and between processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            root / "store.sqlite", timeout=60, check_same_thread=False, isolation_level=None
        )
        _set_up(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put_blob(self, data: bytes, mime_type: str) -> str:
        """Write ``data`` once under its hash; returns the file name relative to ``blobs/``."""
        digest = hashlib.sha256(data).hexdigest()
        name = f"{digest[:2]}/{digest}{_EXTENSIONS.get(mime_type, '.bin')}"
        target = self.blobs / name
        if not target.exists():
            target.parent.mkdir(exist_ok=True)
            atomic_write(target, data)
        return name

    def put_blobs(self, items: Sequence[tuple[bytes, str]]) -> list[str]:
        """``put_blob`` for several at once: hashing and fsync release the GIL, so the
        writes of a ``-n 8`` reply overlap instead of queueing."""
        if len(items) < 2:
            return [self.put_blob(data, mime_type) for data, mime_type in items]
        with ThreadPoolExecutor(max_workers=min(4, len(items))) as pool:
            return list(pool.map(lambda item: self.put_blob(*item), items))

    def blob(self, name: str) -> bytes:
        return (self.blobs / name).read_bytes()

    def blob_path(self, name: str) -> Path:
        return self.blobs / name

    def record(self, row: dict[str, Any]) -> int:
        """Insert a generation whose blobs are already written; returns its id."""
        with self._lock, self._transaction():
            cursor = self._db.execute(
                "INSERT INTO generations (created, cache_key, model, prompt, request, replies,"
                " images, tokens, cost, elapsed, chat, turn)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.get("created", time.time()),
                    row["cache_key"],
                    row["model"],
                    row["prompt"],
                    json.dumps(row["request"]),
                    json.dumps(row["replies"]),
                    row["images"],
                    row["tokens"],
                    row["cost"],
                    row["elapsed"],
                    row.get("chat"),
                    row.get("turn"),
                ),
            )
            return int(cursor.lastrowid or 0)

    def lookup(self, cache_key: str) -> Row | None:
        """The newest generation made for exactly this request, if any."""
        with self._lock:
            found = self._db.execute(
                "SELECT * FROM generations WHERE cache_key = ? ORDER BY id DESC LIMIT 1",
                (cache_key,),
            ).fetchone()
        return _row(found) if found else None

    def search(self, text: str = "", limit: int = 50) -> list[Row]:
        """Newest first; ``text`` matches anywhere in the prompt or the model id."""
        like = f"%{text}%"
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM generations WHERE prompt LIKE ? OR model LIKE ?"
                " ORDER BY id DESC LIMIT ?",
                (like, like, limit),
            ).fetchall()
        return [_row(r) for r in rows]

    def totals(self) -> Totals:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*), TOTAL(images), TOTAL(tokens), TOTAL(cost) FROM generations"
            ).fetchone()
        return Totals(int(row[0]), int(row[1]), int(row[2]), float(row[3]))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    def load_chats(self, scope: str) -> tuple[dict[str, tuple[str, list[dict]]], str | None]:
        """Every chat of a notebook: name -> (model, turn documents in order); and the current."""
        with self._lock:
            chats = self._db.execute(
                "SELECT name, model FROM chats WHERE scope = ? ORDER BY created", (scope,)
            ).fetchall()
            turns = self._db.execute(
                "SELECT chat, turn FROM turns WHERE scope = ? ORDER BY chat, number", (scope,)
            ).fetchall()
            current = self._db.execute(
                "SELECT name FROM current_chat WHERE scope = ?", (scope,)
            ).fetchone()
        loaded: dict[str, tuple[str, list[dict]]] = {name: (model, []) for name, model in chats}
        for chat, turn in turns:
            if chat in loaded:
                loaded[chat][1].append(json.loads(turn))
        return loaded, current[0] if current else None

    def save_chat(self, scope: str, name: str, model: str, turns: list[dict]) -> None:
        """Replace a chat's turns in one transaction (a branch or a reset is one change)."""
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO chats (scope, name, model, created) VALUES (?, ?, ?, ?)",
                (scope, name, model, time.time()),
            )
            self._db.execute("DELETE FROM turns WHERE scope = ? AND chat = ?", (scope, name))
            self._db.executemany(
                "INSERT INTO turns (scope, chat, number, turn) VALUES (?, ?, ?, ?)",
                [(scope, name, i + 1, json.dumps(t)) for i, t in enumerate(turns)],
            )

    def delete_chat(self, scope: str, name: str) -> None:
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM chats WHERE scope = ? AND name = ?", (scope, name))
            self._db.execute("DELETE FROM turns WHERE scope = ? AND chat = ?", (scope, name))

    def set_current_chat(self, scope: str, name: str | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO current_chat (scope, name) VALUES (?, ?)", (scope, name)
            )

    def load_cells(self, scope: str) -> dict[str, tuple[str, str, int]]:
        """Which notebook cell made which chat turn: cell id -> (chat option, chat, turn)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT cell, option, chat, turn FROM cells WHERE scope = ?", (scope,)
            ).fetchall()
        return {cell: (option, chat, int(turn)) for cell, option, chat, turn in rows}

    def save_cell(self, scope: str, cell: str, option: str, chat: str, turn: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO cells (scope, cell, option, chat, turn) "
                "VALUES (?, ?, ?, ?, ?)",
                (scope, cell, option, chat, turn),
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _set_up(db: sqlite3.Connection) -> None:
    """Switch to WAL and create the tables, waiting out another process doing the same.

    Changing the journal mode can fail with "database is locked" at once, without SQLite's
    busy timeout, when two kernels open a new store in the same instant.
    """
    deadline = time.monotonic() + 30
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _row(values: tuple) -> Row:
    (id_, created, key, model, prompt, request, replies, *rest) = values
    return Row(id_, created, key, model, prompt, json.loads(request), json.loads(replies), *rest)


def cache_key(document: dict[str, Any]) -> str:
    """A stable hash of everything that decides a reply: model, options, parts, history."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def resolve_root(setting: str) -> Path:
    """``Banana.store``: a folder path, or ``user`` for one store per user (platformdirs)."""
    if setting == "user":
        import platformdirs

        return Path(platformdirs.user_data_dir("nb_banana"))
    return Path(setting).expanduser().resolve()


_open_lock = threading.Lock()


def open_store_or_none(setting: str) -> Store | None:
    """The store, or ``None`` when its folder cannot be used (read-only, full): work goes on."""
    try:
        return open_store(setting)
    except (OSError, sqlite3.Error):
        return None


def open_store(setting: str) -> Store:
    """The ``Store`` for a setting, opened once per kernel."""
    from .context import context

    root = resolve_root(setting)
    stores = context().stores
    with _open_lock:
        if root not in stores:
            stores[root] = Store(root)
        return stores[root]
