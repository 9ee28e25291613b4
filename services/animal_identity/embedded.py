"""The embedded gallery database: a real PostgreSQL + pgvector server on a local directory.

The PyPI package ``pgserver`` ships PostgreSQL 16 with pgvector 0.6 and runs it on a data
directory we choose, reached over a Unix socket inside that directory (no TCP port). The
service's SQL is the same as against a production server; only the URL differs.

PostgreSQL refuses to run as root. When we are root, pgserver creates an unprivileged system
user ``pgserver``, gives it the data directory (and read/traverse rights on its parent folders)
and runs the server as that user; as any other user it runs as that user. Containers should run
the service as a non-root user.

The server runs detached from the service: if the service is killed, the server keeps its
committed data and the restarted service attaches to it again; a clean stop shuts it down.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pgserver
import psycopg
from psycopg import sql

log = logging.getLogger(__name__)
# pgserver logs every pg_ctl invocation with its full output at INFO
logging.getLogger("pgserver").setLevel(logging.WARNING)


class EmbeddedPostgres:
    """A pgserver-run PostgreSQL on ``data_dir`` with the given server settings applied."""

    def __init__(self, data_dir: Path, server_settings: Mapping[str, str] = ()):
        data_dir = Path(data_dir).expanduser().resolve()
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        # cleanup_mode=None: pgserver's own exit hook counts handles per pid and would leave
        # the server running after a crash anyway; we stop it explicitly in ``stop``.
        self._server = pgserver.get_server(data_dir, cleanup_mode=None)
        self.url = self._server.get_uri()
        if self._apply(dict(server_settings)):
            self._pg_ctl("restart")

    def _apply(self, wanted: dict[str, str]) -> bool:
        """Persist the settings (postgresql.auto.conf); True if some need a restart to apply."""
        if not wanted:
            return False
        with psycopg.connect(self.url, autocommit=True) as conn:
            for name, value in wanted.items():
                conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(
                    sql.Identifier(name), sql.Literal(str(value))))
            conn.execute("SELECT pg_reload_conf()")  # settings that need no restart
            # pg_file_settings reads the files now: a value that differs from the running one
            # and can only change at start shows as not applied, with an error
            pending = conn.execute("SELECT name FROM pg_file_settings "
                                   "WHERE NOT applied AND error IS NOT NULL").fetchall()
        if pending:
            log.info("restarting %s to apply %s", self.data_dir, [row[0] for row in pending])
        return bool(pending)

    def _pg_ctl(self, action: str) -> None:
        # -l: a restarted server logs into the data dir, as pgserver's first start does
        log_file = str(self.data_dir / "log")
        pgserver.pg_ctl(["-w", "-m", "fast", "-l", log_file, action], pgdata=self.data_dir,
                        user=self._server.system_user, timeout=60)

    def start(self) -> None:
        """Start the server again on its data directory (after ``stop`` or a crash), on the
        same socket: pgserver knows the options (Unix socket only, no TCP) it needs."""
        self._server.ensure_postgres_running()

    def stop(self) -> None:
        """Shut the server down cleanly (a checkpoint, then exit)."""
        self._pg_ctl("stop")

