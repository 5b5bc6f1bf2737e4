"""The local store: SQLite rows for every generation, image bytes as content-addressed files.

Why: re-running a notebook should neither re-bill nor change its pictures (the cache), a
notebook should not carry full-resolution PNGs (the display shows previews; originals live
here), and every picture should say how it was made (each row keeps the full request).

Layout of a store folder (default ``.nb_banana/`` beside the notebook)::

    store.sqlite            one row per generation (WAL: several kernels may write at once)
    blobs/ab/abcdef….png    image bytes named by their SHA-256, written temp-file-then-rename

A row is inserted only after its blobs are in place, so a crash at any point leaves a
readable store (at worst an orphan temp file or blob). The API key is never written here.

The store heals: a folder deleted while the kernel runs is made again on the next use (the
chats the kernel holds are written back, ``Store.on_reopen``). A database file replaced
under an open connection (another kernel deleted the folder and made it again) is noticed
by its identity (device and inode) and reopened the same way, so no kernel goes on writing
into an unlinked file whose rows nobody will read. A missing image file is a
``MissingBlobError`` (the cache treats it as a miss), and every other failure is a
``StoreError`` whose one line names the folder and the fix.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from ..answer.files import atomic_write, extension_for
from ..errors import StoreError

_WRITERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="nb_banana-blobs")

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
    turn INTEGER,
    endpoint TEXT
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
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    model TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    scope TEXT NOT NULL,
    cell TEXT,
    endpoint TEXT NOT NULL,
    estimate REAL NOT NULL,
    elements TEXT NOT NULL,
    fetched REAL,
    failures TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS jobs_cell ON jobs (scope, cell);
-- ``picture``: the mark-up's key (``Store.save_marks``), the picture's digest first.
CREATE TABLE IF NOT EXISTS marks (picture TEXT PRIMARY KEY, marks TEXT NOT NULL, saved REAL);
"""
# Which endpoint answered (``cache.endpoint_class``): "gemini", "simulator" or a base URL.
# Rows written before the column existed hold NULL and count as "gemini", except those the
# migration recognised as the simulator's by its thought signatures ("nbsim1:", base64).
REAL_SERVICE = "gemini"
SIMULATOR = "simulator"
_SIMULATOR_SIGNATURE = '%"thought_signature": "bmJzaW0x%'
_ENDPOINT = f"COALESCE(endpoint, '{REAL_SERVICE}')"


class MissingBlobError(StoreError):
    """An image file a row or a chat turn names is gone (the folder was cleaned)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"The image file {path} is missing from the store (was the folder cleaned?): "
            "run the cell again to ask anew."
        )


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
    endpoint: str | None = None

    @property
    def complete(self) -> bool:
        """Every sample asked for came back: only then may it answer a re-run."""
        return len(self.replies) >= int(self.request.get("count") or 1)


@dataclass(frozen=True)
class Totals:
    generations: int
    images: int
    tokens: int
    cost: float


@dataclass(frozen=True)
class JobRow:
    """One Batch API job as kept in the store, so it outlives the kernel that submitted it.

    ``elements`` are the documents ``batch`` wrote (index, label, cache key, the request);
    ``fetched`` is when its results were recorded (``None`` before), and ``failures`` maps
    the cache key of each element that came back without an image to the reason.
    """

    name: str
    display_name: str
    model: str
    state: str
    created: float
    scope: str
    cell: str | None
    endpoint: str
    estimate: float
    elements: list[dict[str, Any]]
    fetched: float | None = None
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def awaited(self) -> bool:
        """Its cost is owed but not yet recorded: a job on an endpoint that bills, running
        or succeeded, whose results are not fetched yet (a budget counts it as committed)."""
        return (
            self.fetched is None
            and self.endpoint != SIMULATOR
            and self.state not in ENDED_WITHOUT_RESULTS
        )


# Job states (the API's, less ``JOB_STATE_``) after which a job has no results to fetch;
# ``GONE`` is not the API's: it answered 404 for the job.
ENDED_WITHOUT_RESULTS = ("FAILED", "CANCELLED", "EXPIRED", "GONE")


_T = TypeVar("_T")


def _known(named: dict[int, tuple[bytes, str]], data: bytes) -> str | None:
    """The name of these very bytes if they were written in this answer (the entry holds
    them, so their id cannot have been reused)."""
    found = named.get(id(data))
    return found[1] if found is not None and found[0] is data else None


def _guarded(method: Callable[..., _T]) -> Callable[..., _T]:
    """Heal a deleted folder first; turn OS and SQLite failures into one-line ``StoreError``s."""

    @functools.wraps(method)
    def guarded(self: Store, *args: Any, **kwargs: Any) -> _T:
        try:
            self._ensure()
            return method(self, *args, **kwargs)
        except StoreError:
            raise
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(explain(self.root, exc)) from exc

    return guarded


class Store:
    """One store folder; safe to share between threads and between processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self._file = root / "store.sqlite"
        self._lock = threading.Lock()
        # Batch API jobs this kernel saved, by name, and those not written yet (a full disk):
        # a job is paid for, so it outlives a store that cannot be written or was deleted.
        self._jobs_kept: dict[str, JobRow] = {}
        self._jobs_unwritten: set[str] = set()
        # Called (outside the lock) after a deleted or replaced database was opened again:
        # the chats and the jobs write themselves back.
        self.on_reopen: list[Callable[[], None]] = [self._rewrite_jobs]
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        self._named = threading.local()  # ``one_answer``'s blobs, by the id of their bytes
        self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        self.blobs.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._file, timeout=60, check_same_thread=False, isolation_level=None)
        _set_up(db)
        self._identity = _identity(self._file)
        return db

    def _ensure(self) -> None:
        """Make the folder again if it was deleted (``rm -rf .nb_banana`` mid-session), and
        reopen the database if its file is no longer the one open here (another kernel
        deleted the folder and made it again: SQLite would go on writing the unlinked file)."""
        if self.blobs.is_dir() and _identity(self._file) == self._identity:
            return
        reopened = False
        with self._lock:
            if _identity(self._file) != self._identity:
                with suppress(sqlite3.Error):
                    self._db.close()
                self._db = self._connect()
                reopened = True
            self.blobs.mkdir(parents=True, exist_ok=True)
        for write_back in list(self.on_reopen) if reopened else ():
            write_back()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put_blob(self, data: bytes, mime_type: str) -> str:
        """Write ``data`` once under its hash; returns the file name relative to ``blobs/``."""
        return self.put_blobs([(data, mime_type)])[0]

    def put_blobs(self, items: Sequence[tuple[bytes, str]]) -> list[str]:
        """``put_blob`` for several at once: hashing and fsync release the GIL, so the
        writes of a ``-n 8`` reply overlap instead of queueing. The writers are shared by
        every store and call (``_WRITERS``): starting threads for each reply cost more than
        its picture's hash. Inside ``one_answer`` a blob already named is not hashed again."""
        named: dict[int, tuple[bytes, str]] = getattr(self._named, "blobs", {})  # {}: outside
        names = [_known(named, data) for data, _ in items]
        todo = [i for i, name in enumerate(names) if name is None]
        writes = [_WRITERS.submit(self._write_blob, *items[i]) for i in todo[1:]]
        # The caller writes one itself: a writer busy with another reply holds none back.
        written = [self._write_blob(*items[todo[0]])] if todo else []
        written += [future.result() for future in writes]
        for i, name in zip(todo, written, strict=True):
            names[i] = name
            named[id(items[i][0])] = (items[i][0], name)
        return cast(list[str], names)

    @contextmanager
    def one_answer(self) -> Iterator[None]:
        """While one answer is recorded (its row, then its chat turn), on this thread: the
        same picture and ~1 MB of signatures go in three times, and are hashed once."""
        self._named.blobs = {}
        try:
            yield
        finally:
            del self._named.blobs

    @_guarded
    def _write_blob(self, data: bytes, mime_type: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        name = f"{digest[:2]}/{digest}{extension_for(mime_type, '.bin')}"
        target = self.blobs / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, data)
        return name

    @_guarded
    def blob(self, name: str) -> bytes:
        try:
            return (self.blobs / name).read_bytes()
        except FileNotFoundError:
            raise MissingBlobError(self.blobs / name) from None

    def blob_path(self, name: str) -> Path:
        return self.blobs / name

    @_guarded
    def record(self, row: dict[str, Any]) -> int:
        """Insert a generation whose blobs are already written; returns its id."""
        with self._lock, self._transaction():
            cursor = self._db.execute(
                "INSERT INTO generations (created, cache_key, model, prompt, request, replies,"
                " images, tokens, cost, elapsed, chat, turn, endpoint)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    row.get("endpoint", REAL_SERVICE),
                ),
            )
            return int(cursor.lastrowid or 0)

    @_guarded
    def lookup(self, cache_key: str, endpoint: str = REAL_SERVICE) -> Row | None:
        """The newest complete generation made for exactly this request by this endpoint
        class; one with a failed or refused sample is history, never an answer."""
        with self._lock:
            found = self._db.execute(
                f"SELECT * FROM generations WHERE cache_key = ? AND {_ENDPOINT} = ?"
                " ORDER BY id DESC LIMIT 20",
                (cache_key, endpoint),
            ).fetchall()
        return next((row for row in map(_row, found) if row.complete), None)

    @_guarded
    def made_picture(self, digest: str) -> Row | None:
        """The newest generation one of whose pictures has this SHA-256 (blob names hold
        it): how a saved file kept byte for byte finds its prompt and settings."""
        with self._lock:
            found = self._db.execute(
                "SELECT * FROM generations WHERE replies LIKE ? ORDER BY id DESC LIMIT 1",
                (f'%"blob": "{digest[:2]}/{digest}.%',),
            ).fetchone()
        return _row(found) if found else None

    @_guarded
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

    @_guarded
    def totals(self) -> Totals:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*), TOTAL(images), TOTAL(tokens), TOTAL(cost) FROM generations"
            ).fetchone()
        return Totals(int(row[0]), int(row[1]), int(row[2]), float(row[3]))

    @_guarded
    def totals_by_endpoint(self) -> dict[str, Totals]:
        """The totals split by who answered: "gemini", "simulator", or a custom base URL."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_ENDPOINT}, COUNT(*), TOTAL(images), TOTAL(tokens), TOTAL(cost)"
                " FROM generations GROUP BY 1 ORDER BY 1"
            ).fetchall()
        return {r[0]: Totals(int(r[1]), int(r[2]), int(r[3]), float(r[4])) for r in rows}

    @_guarded
    def billed_cost(self) -> float:
        """Estimated spending that may have been billed: every endpoint but the simulator."""
        with self._lock:
            row = self._db.execute(
                f"SELECT TOTAL(cost) FROM generations WHERE {_ENDPOINT} != ?", (SIMULATOR,)
            ).fetchone()
        return float(row[0])

    @_guarded
    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    @_guarded
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

    @_guarded
    def has_chats(self, scope: str) -> bool:
        with self._lock:
            found = self._db.execute("SELECT 1 FROM chats WHERE scope = ? LIMIT 1", (scope,))
            return found.fetchone() is not None

    @_guarded
    def scope_of_cell(self, cell: str, other_than: str) -> str | None:
        """The notebook scope (not ``other_than``) that last recorded a turn made by ``cell``:
        how a renamed notebook, or one run headless, finds its chats again."""
        with self._lock:
            found = self._db.execute(
                "SELECT scope FROM cells WHERE cell = ? AND scope != ? ORDER BY rowid DESC LIMIT 1",
                (cell, other_than),
            ).fetchone()
        return found[0] if found else None

    @_guarded
    def copy_scope(self, source: str, target: str) -> None:
        """Copy a notebook's chats, current chat and cells to another scope (a renamed copy
        keeps its own; the original keeps theirs)."""
        with self._lock, self._transaction():
            for table, columns in (
                ("chats", "name, model, created"),
                ("turns", "chat, number, turn"),
                ("current_chat", "name"),
                ("cells", "cell, option, chat, turn"),
            ):
                self._db.execute(
                    f"INSERT OR IGNORE INTO {table} (scope, {columns}) "
                    f"SELECT ?, {columns} FROM {table} WHERE scope = ?",
                    (target, source),
                )

    @_guarded
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

    @_guarded
    def delete_chat(self, scope: str, name: str) -> None:
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM chats WHERE scope = ? AND name = ?", (scope, name))
            self._db.execute("DELETE FROM turns WHERE scope = ? AND chat = ?", (scope, name))

    @_guarded
    def set_current_chat(self, scope: str, name: str | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO current_chat (scope, name) VALUES (?, ?)", (scope, name)
            )

    @_guarded
    def load_cells(self, scope: str) -> dict[str, tuple[str, str, int]]:
        """Which notebook cell made which chat turn: cell id -> (chat option, chat, turn)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT cell, option, chat, turn FROM cells WHERE scope = ?", (scope,)
            ).fetchall()
        return {cell: (option, chat, int(turn)) for cell, option, chat, turn in rows}

    @_guarded
    def save_cell(self, scope: str, cell: str, option: str, chat: str, turn: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO cells (scope, cell, option, chat, turn) "
                "VALUES (?, ?, ?, ?, ?)",
                (scope, cell, option, chat, turn),
            )

    def save_job(self, job: JobRow) -> None:
        """Keep a job (or its new state, or its fetched results) by its API name: in this
        kernel first, so that a store that cannot be written (``StoreError``) still
        lists it to this kernel, and writes it when it next can."""
        with self._lock:
            self._jobs_kept[job.name] = job
            self._jobs_unwritten.add(job.name)
        self._write_job(job)

    def _rewrite_jobs(self) -> None:
        """The store was made again: every job this kernel knows goes back in (once it can)."""
        with self._lock:
            self._jobs_unwritten |= set(self._jobs_kept)
        self._write_unwritten()

    def _write_unwritten(self) -> None:
        """Write the jobs a failed write left in memory; they stay there if it fails again."""
        with self._lock:
            waiting = [self._jobs_kept[name] for name in self._jobs_unwritten]
        with suppress(StoreError):
            for job in waiting:
                self._write_job(job)

    @_guarded
    def _write_job(self, job: JobRow) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO jobs (name, display_name, model, state, created, scope,"
                " cell, endpoint, estimate, elements, fetched, failures)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.name, job.display_name, job.model, job.state, job.created, job.scope,
                    job.cell, job.endpoint, job.estimate, json.dumps(job.elements),
                    job.fetched, json.dumps(job.failures),
                ),
            )  # fmt: skip
            if self._jobs_kept.get(job.name) is job:
                self._jobs_unwritten.discard(job.name)

    def jobs(self, scope: str | None = None, cell: str | None = None) -> list[JobRow]:
        """Jobs newest first: all of them, a notebook's (``scope``), or one cell's; those
        this kernel could not write yet are written now if they can be, and listed anyway."""
        if self._jobs_unwritten:
            self._write_unwritten()
        found = {row.name: row for row in self._read_jobs(scope, cell)}
        with self._lock:
            for name in self._jobs_unwritten:
                row = self._jobs_kept[name]
                if scope is None or (row.scope, row.cell) == (scope, cell):
                    found[name] = row
        return sorted(found.values(), key=lambda row: row.created, reverse=True)

    @_guarded
    def _read_jobs(self, scope: str | None, cell: str | None) -> list[JobRow]:
        query, values = "SELECT * FROM jobs", []
        if scope is not None:
            query += " WHERE scope = ? AND cell IS ?"
            values = [scope, cell]
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created DESC", values).fetchall()
        return [_job_row(row) for row in rows]

    @_guarded
    def save_marks(self, key: str, marks: list[dict[str, object]]) -> None:
        """The marks last drawn on a mark-up, for ``nb_banana.markup``. ``key`` is the
        picture's digest and the mark-up's owner (its cell and place there, or the panel's
        reference); the digest alone for one made outside a cell, and in older stores."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO marks (picture, marks, saved) VALUES (?, ?, ?)",
                (key, json.dumps(marks), time.time()),
            )

    @_guarded
    def marks(self, key: str) -> list[dict[str, object]] | None:
        with self._lock:
            row = self._db.execute("SELECT marks FROM marks WHERE picture = ?", (key,))
            found = row.fetchone()
        return None if found is None else json.loads(found[0])

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` names now (device, inode); ``None`` when there is none."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


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
            _migrate(db)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _migrate(db: sqlite3.Connection) -> None:
    """Add the ``endpoint`` column to a store made before it, once, in one transaction.

    Old rows stay NULL (counted as the real service, so an old notebook re-runs free) unless
    their replies carry the simulator's thought signatures: those are marked "simulator",
    so a placeholder is never served as a real answer nor counted against a budget.
    """
    if "endpoint" in _columns(db):
        return
    db.execute("BEGIN IMMEDIATE")  # another kernel may be migrating the same store
    try:
        if "endpoint" not in _columns(db):
            db.execute("ALTER TABLE generations ADD COLUMN endpoint TEXT")
            db.execute(
                "UPDATE generations SET endpoint = ? WHERE replies LIKE ?",
                (SIMULATOR, _SIMULATOR_SIGNATURE),
            )
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _columns(db: sqlite3.Connection) -> set[str]:
    return {row[1] for row in db.execute("PRAGMA table_info(generations)")}


def _row(values: tuple) -> Row:
    (id_, created, key, model, prompt, request, replies, *rest) = values
    return Row(id_, created, key, model, prompt, json.loads(request), json.loads(replies), *rest)


def _job_row(values: tuple) -> JobRow:
    *head, elements, fetched, failures = values
    return JobRow(*head, json.loads(elements), fetched, json.loads(failures))


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


def explain(root: Path, exc: BaseException) -> str:
    """One line for a store failure: the folder, what went wrong, and the fix."""
    where, elsewhere = f"The store {root}", "or point %config Banana.store at another folder"
    if root.exists() and not root.is_dir():
        return (f"The store {root} is a file, not a folder: move the file away, or point "
                "%config Banana.store at a folder.")  # fmt: skip
    if isinstance(exc, PermissionError) or "readonly" in str(exc) or "read-only" in str(exc):
        return f"{where} cannot be written (permission denied): make it writable, {elsewhere}."
    if getattr(exc, "errno", None) == errno.ENOSPC or "disk is full" in str(exc):
        return f"{where} cannot be written: the disk is full; free some space, {elsewhere}."
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"The store {root} failed ({reason}): check the folder, {elsewhere}."
