"""Where a sweep's study lives: a journal file in ``--out`` by default, or a database many workers share.

- no ``--storage``: Optuna's journal file ``OUT/sweep.journal`` (append-only, file-locked, so a
  sweep killed at any point resumes from it, and several workers on one machine can share it);
- ``sqlite:///path.db``: one file, one machine;
- ``postgresql://user:password@host:port/db``: any number of workers on any machines. The server is
  reached first with a connect timeout, so a wrong host or password fails in seconds with exit 2.

Optuna is imported here, lazily: ``import edgekd`` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from edgekd.errors import InputError
from edgekd.inputfile import parse_json

JOURNAL = "sweep.journal"
SCHEMA_LOCK = 0x65646B64  # "edkd": the advisory lock around creating Optuna's tables


def redact(url: str) -> str:
    """The URL without its password (all of it, also one containing ``@``), for messages and ``sweep.json``."""
    from edgekd.redact import redact_url

    return redact_url(url)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def check_journal(path: Path, log: Callable[[str], None]) -> None:
    """Make a journal a killed writer or a full disk left usable, or refuse a damaged one naming the line.

    Optuna appends whole records, one JSON object a line. A writer killed mid-write (or a full disk) leaves a
    last line without its newline: it is dropped with a warning (it was never acknowledged) and the sweep
    resumes from the whole records; left in place, the next record would be glued to it and lost. Any other
    line that is not a JSON record (a hand edit, another file) is refused, exit 2, naming the file and the line.

    Raises:
        InputError: not a regular file, unreadable, or a whole line that is not a journal record.
    """
    import json
    import os

    if not os.path.lexists(path):  # a first sweep: Optuna creates it
        return
    if not path.is_file():  # a folder, a FIFO (reading it would block), a device, a dangling link
        raise InputError(f"{path}: not a regular file; a sweep's journal is a file it appends to")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the sweep journal ({exc.strerror or exc})") from None
    if data and not data.endswith(b"\n"):
        data = _drop_truncated_tail(path, log)
    for number, line in enumerate(data.split(b"\n")[:-1], start=1):
        try:
            record = parse_json(line, path, "sweep journal")  # a line nested 100,000 deep would kill json's C scanner
        except (ValueError, InputError):  # also UnicodeDecodeError
            record = None
        if not isinstance(record, dict) or type(record.get("op_code")) is not int:
            shown = line[:60].decode("utf-8", "replace")
            raise InputError(f"{path}: line {number}: not an Optuna journal record ({shown!r}); the file is damaged: "
                             f"remove that line, or move the file away to start the study over")


def _drop_truncated_tail(path: Path, log: Callable[[str], None]) -> bytes:
    """Cut the journal after its last newline, under the journal's own lock (another worker may be appending)."""
    import os

    from optuna.storages.journal import JournalFileOpenLock

    lock = JournalFileOpenLock(str(path))
    lock.acquire()
    try:
        with open(path, "r+b") as f:
            data = f.read()
            if data.endswith(b"\n") or not data:
                return data
            keep = data.rfind(b"\n") + 1
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
    finally:
        lock.release()
    whole = data[:keep].count(b"\n")
    log(f"sweep: warning: {path}: dropped a truncated last line ({len(data) - keep} bytes: a writer was killed or "
        f"the disk was full); the sweep resumes from the {whole} whole records")
    return data[:keep]


def check_sqlite_file(db: Path, url: str) -> None:
    """An sqlite study file must be a writable SQLite database in a writable folder (or not exist yet).

    Raises:
        InputError: naming the path: its folder missing or read-only, a folder, a special file, another kind of
            file, or a read-only file (no write permission bit: edgekd does not write into what is marked read-only).
    """
    import os

    shown = f"--storage {redact(url)}: {db}"
    if not db.parent.is_dir():
        raise InputError(f"--storage {redact(url)}: folder {db.parent} not found")
    if db.is_dir():
        raise InputError(f"{shown}: is a folder; give a database file, e.g. sqlite:///{db / 'study.db'}")
    if db.exists():
        if not db.is_file():
            raise InputError(f"{shown}: not a regular file")
        try:
            with open(db, "rb") as f:
                head = f.read(16)
        except OSError as exc:
            raise InputError(f"{shown}: cannot read it ({exc.strerror or exc})") from None
        if head and head != b"SQLite format 3\x00":
            raise InputError(f"{shown}: not an SQLite database")
        if not db.stat().st_mode & 0o222 or not os.access(db, os.W_OK):
            raise InputError(f"{shown}: is read-only; a sweep writes its trials there")
    if not os.access(db.parent, os.W_OK):
        raise InputError(f"{shown}: its folder is read-only (SQLite writes a journal beside the database)")


def _at_in_password(rest: str) -> str:
    """``user:p@ss@host/db`` → ``user:p%40ss@host/db``: the host follows the *last* ``@`` of the authority
    (SQLAlchemy would cut the password at its first ``@`` and take the rest of it for the host name, putting
    part of the password in "cannot connect" messages)."""
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return rest
    user, _, password = userinfo.partition(":")
    return f"{user}:{password.replace('@', '%40')}@{host}{slash}{path}"


def _connect_postgres(url: str, timeout_s: float, shown: str) -> Any:
    """A psycopg2 connection to the database in ``url`` (first contact: a clear error within the timeout)."""
    try:
        import psycopg2
    except ImportError:
        raise InputError("--storage: postgresql needs psycopg2 (pip install psycopg2-binary)") from None
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception as exc:
        raise InputError(f"--storage {redact(shown)}: not a database URL ({exc})") from None
    try:
        return psycopg2.connect(host=parsed.host or "localhost", port=parsed.port or 5432, user=parsed.username,
                                password=parsed.password, dbname=parsed.database,
                                connect_timeout=max(1, int(round(timeout_s))))
    except psycopg2.Error as exc:
        first = " ".join(str(exc).split())[:300]
        raise InputError(f"--storage {redact(shown)}: cannot connect: {first}") from None


def open_storage(url: Optional[str], out: Path, connect_timeout_s: float = 10.0,
                 log: Callable[[str], None] = lambda line: None) -> Any:
    """The Optuna storage for ``url`` (None: the journal file in ``out``).

    Raises:
        InputError: an unknown scheme, an unreachable server, wrong credentials (within the timeout), a damaged
            journal, an sqlite path that is a folder, not a database or read-only.
    """
    import optuna

    if url is None:
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        out.mkdir(parents=True, exist_ok=True)
        path = out / JOURNAL
        check_journal(path, log)
        try:  # the records are replayed here: one that Optuna cannot apply is a damaged file, named
            return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
        except Exception as exc:
            raise InputError(f"{path}: not a journal of Optuna studies that can be replayed ({_one_line(exc)}); "
                             f"move it away to start the study over") from None
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres", "postgresql+psycopg2"):
        # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; edgekd ships psycopg2
        shown, url = url, "postgresql+psycopg2://" + _at_in_password(url.split("://", 1)[1])
        conn = _connect_postgres(url, connect_timeout_s, shown)
        try:
            # workers starting together would race to create Optuna's tables (a duplicate-key error):
            # an advisory lock lets one create them while the others wait
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
            # heartbeats: a worker that dies mid-trial (power, kill -9) has its trial failed and retried by another
            return optuna.storages.RDBStorage(
                url, engine_kwargs={"pool_pre_ping": True, "connect_args": {"connect_timeout": int(connect_timeout_s)}},
                heartbeat_interval=30, grace_period=120,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
        finally:
            conn.close()  # releases the advisory lock
    if scheme == "sqlite":
        db = url.split(":///", 1)[-1]
        if db and db != ":memory:":
            check_sqlite_file(Path(db), url)
        try:
            return optuna.storages.RDBStorage(url)
        except Exception as exc:  # SQLAlchemy's errors: a damaged or locked file, a bad URL
            raise InputError(f"--storage {redact(url)}: cannot use it as a study database: {_one_line(exc)}") from None
    raise InputError(f"--storage {redact(url)}: unknown scheme {scheme!r}; use postgresql://..., sqlite:///FILE, "
                     f"or leave it out for the journal file in --out")


def dashboard_command(url: Optional[str], out: Path) -> str:
    """How to watch the study live with optuna-dashboard."""
    if url is None:
        return f"optuna-dashboard {out / JOURNAL}"
    if url.split(":", 1)[0] in ("postgresql", "postgres"):  # SQLAlchemy 2.1 reads the bare scheme as psycopg 3
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]
    return f"optuna-dashboard '{redact(url)}'"
