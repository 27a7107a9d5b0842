"""Private Redis and PostgreSQL servers a test starts, restarts and stops itself, so it can
take them away without disturbing the shared ones other tests use."""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class RedisServer:
    """`redis-server` on a free port in `directory`, with an append-only file as in
    docker-compose.yml, so a restart keeps what was queued."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process = None

    def url(self, db=0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--save", "", "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: redis flushes the append-only file and exits
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self, down_for=1.0):
        self.stop()
        time.sleep(down_for)
        self.start()


def _pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PostgresCluster:
    """A throwaway cluster (initdb + pg_ctl) on a free port, trust authentication, user
    postgres. initdb refuses to run as root, so the cluster then belongs to `postgres`, in a
    directory of its own (pytest's tmp_path is private to root)."""

    def __init__(self):
        self.user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        self.directory = Path(tempfile.mkdtemp(prefix="portal-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()

    @staticmethod
    def available() -> bool:
        if not (_pg_bin("initdb") and _pg_bin("pg_ctl")):
            return False
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return False
        return True

    def _run(self, *args):
        kwargs = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid}
        done = subprocess.run(list(args), capture_output=True, text=True, cwd="/tmp", **kwargs)
        if done.returncode:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def start(self, copy_of=None):
        """initdb, or a copy of the data directory `copy_of` (a stopped cluster's), then start."""
        self.make(copy_of)
        return self.start_again()

    def make(self, copy_of=None):
        if self.user is not None:
            os.chown(self.directory, self.user.pw_uid, self.user.pw_gid)
        if copy_of is not None:
            self._run("cp", "-a", str(copy_of), str(self.data))
        else:
            self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--no-sync")  # fmt: skip

    def start_again(self):
        """Start the cluster initdb made (after stop())."""
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "postgres.log"), "-w", "-o",
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off", "start",
        )
        return self

    def stop(self):
        if self.data.exists():
            try:
                self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            except RuntimeError:
                pass  # already stopped

    def remove(self):
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def settings_dict(self, base, name="portal"):
        """A copy of Django's connection settings `base`, pointing at this cluster."""
        return {**base, "HOST": "127.0.0.1", "PORT": str(self.port), "USER": "postgres", "PASSWORD": "",
                "NAME": name}


ROOT = Path(__file__).resolve().parents[1]


def wait_until(predicate, timeout, what, every=0.1):
    """predicate()'s first truthy value within `timeout` seconds, else AssertionError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class PrivateStack:
    """This test process moved onto a PostgreSQL cluster and a Redis of its own: the default
    database (the sandbox's tables live there too on PostgreSQL) and Celery's broker, result
    backend and the sync throttle's shared store. `worker()` starts real Celery workers on the
    same pair, pointed at the sandbox this process serves. `stop()` puts everything back and
    removes both servers, whatever the test did to them."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = Path(tmp_path)
        self.cluster = PostgresCluster()
        self.redis = RedisServer(self.tmp_path / "redis")
        self.workers: list[subprocess.Popen] = []
        self._saved_db: dict | None = None
        self._saved_env: dict[str, str | None] = {}

    # A stopped cluster with the portal's database migrated, made by the first stack of this
    # test process: each stack starts from a copy of it (migrating takes seconds, a copy less).
    _template: "PostgresCluster | None" = None

    def start(self):
        import atexit

        import psycopg
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        template = PrivateStack._template
        self.cluster.start(copy_of=template.data if template else None)
        self.redis.start()
        if template is None:
            with psycopg.connect(f"host=127.0.0.1 port={self.cluster.port} user=postgres dbname=postgres",
                                 autocommit=True) as admin:  # fmt: skip
                admin.execute("CREATE DATABASE portal")
        connection = connections["default"]
        connection.close()
        # In place: every thread's connection (the sandbox serves from threads) reads this dict.
        self._saved_db = dict(connection.settings_dict)
        connection.settings_dict.update(self.cluster.settings_dict(self._saved_db))
        if template is None:
            call_command("migrate", interactive=False, verbosity=0)
            connection.close()
            template = PostgresCluster()
            self.cluster.stop()
            template.make(copy_of=self.cluster.data)
            atexit.register(template.remove)
            PrivateStack._template = template
            self.cluster.start_again()
        # Celery reads CELERY_BROKER_URL from the environment before its configuration.
        for name, value in (("CELERY_BROKER_URL", self.redis.url(0)), ("CELERY_RESULT_BACKEND", self.redis.url(1))):
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value
        self._saved_broker = settings.CELERY_BROKER_URL
        settings.CELERY_BROKER_URL = self.redis.url(0)
        from portal.celery import app

        self._eager = app.conf.task_always_eager
        self._reset_clients(eager=False)  # tasks go to the workers, through the broker
        return self

    def database_url(self):
        return f"postgres://postgres@127.0.0.1:{self.cluster.port}/portal"

    @staticmethod
    def _reset_clients(eager):
        """Forget pooled broker connections and the throttle's store: they point at the old Redis."""
        from connections import throttle
        from portal.celery import app

        throttle.reset_default_store()
        # Dropped, not closed: kombu keeps each pool in a registry by broker URL, and hands the
        # same one out again when the app comes back to that URL.
        app._pool = None
        app.amqp._producer_pool = None
        # The result backend: cached for the app when thread-safe, else for this thread.
        app._backend_cache = None
        app._local.__dict__.pop("backend", None)
        app.conf.update(task_always_eager=eager)

    def worker_env(self, **extra):
        from django.conf import settings

        env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "portal.settings_test",
                "DATABASE_URL": self.database_url(),
                "CELERY_BROKER_URL": self.redis.url(0),
                "CELERY_RESULT_BACKEND": self.redis.url(1),
                "CELERY_TASK_ALWAYS_EAGER": "false",
                "PYTHONUNBUFFERED": "1",
                # The sandbox this process serves (ephemeral ports), as its settings point at it.
                "MICROSOFT_AUTHORITY_HOST": settings.MICROSOFT_AUTHORITY_HOST,
                "MICROSOFT_GRAPH_URL": settings.MICROSOFT_GRAPH_URL,
                "ATLASSIAN_AUTH_URL": settings.ATLASSIAN_AUTH_URL,
                "ATLASSIAN_API_URL": settings.ATLASSIAN_API_URL,
                "ATLASSIAN_EXTRA_SITE_PREFIXES": ",".join(settings.ATLASSIAN_EXTRA_SITE_PREFIXES),
                "HTTP_CA_BUNDLE": settings.HTTP_CA_BUNDLE,
            }
        )
        env.update({name: str(value) for name, value in extra.items()})
        return env

    def worker(self, name="worker", **settings_env):
        """A real `celery worker` (solo pool, one task at a time) on this stack, ready to take
        tasks; `settings_env` are settings given to it through its environment."""
        log = self.tmp_path / f"{name}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--without-heartbeat",
                 "--without-gossip", "--without-mingle", "--loglevel=INFO", "-n", f"{name}-{os.getpid()}@%h"],
                cwd=ROOT, env=self.worker_env(**settings_env), stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        process.log = log  # type: ignore[attr-defined]
        self.workers.append(process)
        wait_until(lambda: " ready." in log.read_text() or process.poll() is not None, 60, f"{name} to be ready")
        assert process.poll() is None, log.read_text()
        return process

    def stop(self):
        from django.conf import settings
        from django.db import connections

        for process in self.workers:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if self._saved_env:
            settings.CELERY_BROKER_URL = self._saved_broker
            self._reset_clients(eager=self._eager)
        if self._saved_db is not None:
            connection = connections["default"]
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(self._saved_db)
        self.redis.stop()
        self.cluster.remove()


@contextmanager
def celery_workers(env):
    """Start real `celery worker` processes (solo pool) with `env` on demand: `start()` inside
    the block. Tasks this process queues go to them while inside (eager mode is off), and the
    workers are stopped on the way out."""
    from portal.celery import app

    processes = []

    def start():
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--without-heartbeat",
             "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        processes.append(process)
        return process

    app.conf.update(task_always_eager=False)
    try:
        yield start
    finally:
        app.conf.update(task_always_eager=True)
        for process in processes:
            if process.poll() is None:
                process.terminate()
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
