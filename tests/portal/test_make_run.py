"""`make run` on a fresh directory: SQLite, the embedded broker, a real worker and the sandbox
as separate processes, exactly as a first-time user starts them. It must come up with the
sign-in printed and both demo connections active, their first jobs and checks done."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A user's shell: none of what the test suite sets for itself (portal/settings_test.py).
SHELL = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


def _free_port(pair=False):
    """A free port (and, with pair, the one below it free too: the sandbox's sign-in port)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not pair:
            return port
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port - 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port pair")


def _query(db, sql):
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql).fetchall()


def _wait(predicate, seconds, what, output):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"{what} within {seconds} s; the demo printed:\n" + "".join(output[-80:]))


def test_the_demo_command_comes_up_with_working_connections(tmp_path):
    port, sandbox_port = _free_port(), _free_port(pair=True)
    env = {k: v for k, v in os.environ.items() if k in SHELL}
    env.update(DEBUG="true", SANDBOX_ENABLED="true", VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1",
               SITE_URL=f"http://127.0.0.1:{port}", SANDBOX_PORT=str(sandbox_port))
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    output = []
    threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True).start()
    db = tmp_path / "portal.sqlite3"
    try:
        _wait(lambda: any("stop        Ctrl-C" in line for line in output), 180, "no sign-in banner", output)
        printed = "".join(output)
        assert "sign in     admin@demo.example" in printed, printed
        assert "connected   acme ↔ Contoso" in printed and "connected   acme-support ↔ Contoso" in printed, printed
        assert "connected   globex ↔ Northwind Traders" in printed, printed

        # The worker runs the first jobs and health checks; nothing waits on a locked database.
        _wait(lambda: {"user_matching", "teams_directory"} <= {kind for (kind,) in _query(
            db, "select kind from connections_syncrun where state = 'succeeded'")},
              120, "the first user matching and Teams directory runs did not succeed", output)
        _wait(lambda: _query(db, "select count(distinct connection_id) from connections_healthcheckresult "
                                 "where is_latest") == [(3,)], 120, "no health check results", output)
        statuses = dict(_query(db, "select s.name, c.status from connections_connection c "
                                   "join tenants_atlassiansite s on s.id = c.site_id"))
        expected = {"acme": "active", "acme-support": "active", "globex": "active"}
        assert statuses == expected, (statuses, "".join(output[-60:]))
        failed = _query(db, "select check_name, message from connections_healthcheckresult "
                            "where is_latest and outcome = 'failed'")
        assert failed == []
        assert _query(db, "select kind, error from connections_syncrun where state = 'failed'") == []
        assert "database is locked" not in "".join(output)

        # Ctrl-C in the terminal signals the whole foreground process group: the demo stops its
        # children in order and exits cleanly, with no traceback from any of them.
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=60) == 0, "".join(output[-60:])
        time.sleep(0.5)  # the reader thread drains the last lines
        stopped = "".join(output)
        assert "Stopping…" in stopped and "Traceback" not in stopped and "Error" not in stopped.split("Stopping…")[-1]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
