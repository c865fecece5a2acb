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
from typing import Any, Optional

from edgekd.errors import InputError

JOURNAL = "sweep.journal"
SCHEMA_LOCK = 0x65646B64  # "edkd": the advisory lock around creating Optuna's tables


def redact(url: str) -> str:
    """The URL without its password (all of it, also one containing ``@``), for messages and ``sweep.json``."""
    from edgekd.redact import redact_url

    return redact_url(url)


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


def open_storage(url: Optional[str], out: Path, connect_timeout_s: float = 10.0) -> Any:
    """The Optuna storage for ``url`` (None: the journal file in ``out``).

    Raises:
        InputError: an unknown scheme, an unreachable server, wrong credentials (within the timeout).
    """
    import optuna

    if url is None:
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        out.mkdir(parents=True, exist_ok=True)
        path = str(out / JOURNAL)
        return optuna.storages.JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
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
        if db and db != ":memory:" and not Path(db).parent.is_dir():
            raise InputError(f"--storage {url}: folder {Path(db).parent} not found")
        return optuna.storages.RDBStorage(url)
    raise InputError(f"--storage {redact(url)}: unknown scheme {scheme!r}; use postgresql://..., sqlite:///FILE, "
                     f"or leave it out for the journal file in --out")


def dashboard_command(url: Optional[str], out: Path) -> str:
    """How to watch the study live with optuna-dashboard."""
    if url is None:
        return f"optuna-dashboard {out / JOURNAL}"
    if url.split(":", 1)[0] in ("postgresql", "postgres"):  # SQLAlchemy 2.1 reads the bare scheme as psycopg 3
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]
    return f"optuna-dashboard '{redact(url)}'"
