"""A Redis restart while a worker runs a task leaves the worker alive and consuming.

The worker runs as in production (prefork pool, gossip, mingle and heartbeats on) against a
Redis of its own, started and stopped here, so the shared Redis is never restarted.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from celery import Celery

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class OwnRedis:
    def __init__(self, directory):
        self.port = _free_port()
        self.directory = directory
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def answers():
            try:
                return client.ping()
            except redis.ConnectionError:
                return False

        assert _wait_for(answers, 10), "the test Redis did not start"

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path / "redis")
    server.directory.mkdir()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker(own_redis, tmp_path):
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings_test",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{own_redis.port}/0",
            "CELERY_RESULT_BACKEND": "",
            "CELERY_TASK_ALWAYS_EAGER": "false",
        }
    )
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.portal.broker_restart_app", "worker",
         "--pool=prefork", "--concurrency=2", "--loglevel=INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    yield process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    log.close()


def test_a_busy_worker_survives_a_redis_restart_and_runs_the_next_task(own_redis, worker, tmp_path):
    done = tmp_path / "tasks"
    done.mkdir()
    broker_url = f"redis://127.0.0.1:{own_redis.port}/0"
    # The URL is passed per connection: Celery prefers CELERY_BROKER_URL from the environment.
    client = Celery("broker-restart-client")
    log = tmp_path / "worker.log"

    def send(name, seconds):
        with client.connection_for_write(broker_url) as connection:
            client.send_task("tests.write_after", args=[str(done), name, seconds], connection=connection)

    send("long", 4)
    assert _wait_for((done / "long.started").exists, 30), log.read_text()

    own_redis.stop()
    time.sleep(0.5)
    own_redis.start()

    # The long task ends about 4 s after it started; a worker that fails to recover exits then.
    assert _wait_for((done / "long.done").exists, 15), log.read_text()
    time.sleep(3)
    assert worker.poll() is None, "the worker exited after the Redis restart:\n" + log.read_text()

    send("after-restart", 0)
    assert _wait_for((done / "after-restart.done").exists, 20), log.read_text()
    assert worker.poll() is None, log.read_text()
    assert "Unrecoverable error" not in log.read_text()
