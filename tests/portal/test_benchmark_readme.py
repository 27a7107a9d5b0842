"""The README's benchmark steps work as written, on SQLite in a fresh shell and on PostgreSQL in
a database of their own: each block run line by line (tiny: a few hundred users, one run), the
JSON it prints read back."""

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.processes import RedisServer

ROOT = Path(__file__).resolve().parents[2]
TINY = "--users 300 --runs 1"
PAGES_TINY = "--connections 16 --audit-events 200 --repeat 1"
# Graph's rate raised so the tiny crawl is quick; --replay so the PUTs' replay runs too.
SEARCH_TINY = "--pages 300 --spaces 3 --edits 10 --ingest-rate 200 --replay"


def _blocks():
    """The section's code blocks by what they run: sync on PostgreSQL, sync on SQLite, pages."""
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"### Benchmarks\n(.*?)(?=\n##|\Z)", readme, re.S).group(1)
    blocks = re.findall(r"```\n(.*?)```", section, re.S)
    sync = [b for b in blocks if "benchmark sync" in b]
    postgres = next(b for b in sync if "DATABASE_URL" in b)
    sqlite = next(b for b in sync if "DATABASE_URL" not in b)
    return postgres, sqlite, next(b for b in blocks if "benchmark pages" in b)


def _search_block():
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"### Benchmarks\n(.*?)(?=\n##|\Z)", readme, re.S).group(1)
    return next(b for b in re.findall(r"```\n(.*?)```", section, re.S) if "benchmark search" in b)


def _run_block(block, env, database=None):
    """Each line as a shell would: `export` sets variables, `createdb` makes `database`."""
    output = ""
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = shlex.split(line)
        if words[0] == "export":
            env.update(word.split("=", 1) for word in words[1:])
        elif words[0] == "createdb":
            with psycopg.connect(**_server(), dbname="postgres", autocommit=True) as db:
                db.execute(f'CREATE DATABASE "{database}"')
        else:
            assert words[:2] == ["python", "manage.py"], line
            args = line.replace("--users 100000", TINY) if "benchmark" in line else line
            args = args.replace("--connections 10000 --audit-events 1000000", PAGES_TINY)
            args = args.replace("--pages 100000 --spaces 200", SEARCH_TINY)
            done = subprocess.run([sys.executable, *shlex.split(args)[1:]], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=900)  # fmt: skip
            assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
            output = done.stdout
    return json.loads(output)


def _server():
    s = connection.settings_dict
    return {"host": s["HOST"] or "127.0.0.1", "port": s["PORT"] or 5432, "user": s["USER"]}


def _fresh_shell(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_", "SANDBOX_", "DJANGO_"))}
    env.update(VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1")
    return env


def _check(result, database):
    assert result["database"] == database
    assert result["users"]["atlassian"] >= 300 and result["full"]["outcomes"]["matched"] > 0
    assert result["full"]["rows_written"] == result["floor"]["rows_written"]
    assert result["naive"]["rows_written"] == result["users"]["atlassian"]
    assert result["incremental"]["mode"] == "incremental" and result["incremental"]["requests"] < 10
    assert 0 < result["peak_rss_mb"]["worker"]["peak_rss_mb"] < 1000
    assert {"full_vs_floor", "naive_vs_full", "incremental_vs_full"} <= set(result["ratios"])
    assert result["storm"]["graph_served"] > 0 and 0 < result["storm"]["budget_used"] <= 1


def test_the_readme_benchmark_steps_work_on_sqlite(tmp_path):
    postgres, sqlite, _ = _blocks()
    assert "SANDBOX_ENABLED=true" in sqlite and "DATABASE_URL" not in sqlite
    _check(_run_block(sqlite, _fresh_shell(tmp_path)), "sqlite")


@pytest.fixture
def bench_database():
    name = f"portal_bench_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(**_server(), dbname="postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_readme_benchmark_steps_work_on_postgres(tmp_path, bench_database):
    postgres, _, _ = _blocks()
    server = _server()
    # The README's database, renamed so the test never touches a developer's portal_bench.
    block = postgres.replace("portal_bench", bench_database).replace(
        "postgres@127.0.0.1:5432", f"{server['user']}@{server['host']}:{server['port']}"
    )
    redis = RedisServer(tmp_path / "redis").start()  # the worker's broker: no other worker takes the run
    try:
        env = {**_fresh_shell(tmp_path), "CELERY_BROKER_URL": redis.url(0), "CELERY_RESULT_BACKEND": redis.url(1)}
        _check(_run_block(block, env, database=bench_database), "postgresql")
    finally:
        redis.stop()


def test_the_readme_pages_benchmark_steps_work_on_postgres(tmp_path, bench_database):
    _, _, pages = _blocks()
    server = _server()
    block = pages.replace("portal_bench_pages", bench_database).replace(
        "postgres@127.0.0.1:5432", f"{server['user']}@{server['host']}:{server['port']}"
    )
    result = _run_block(block, _fresh_shell(tmp_path), database=bench_database)
    assert result["benchmark"] == "pages" and result["database"] == "postgresql"
    assert result["connections"] == 16 and result["audit_events"] == 200
    assert {"dashboard", "connection_list", "audit_deep_page", "support_organization_list"} <= set(result["pages"])
    assert all(page["empty"]["queries"] > 0 and page["ratio"] > 0 for page in result["pages"].values())


def test_the_readme_search_benchmark_steps_work_on_postgres(tmp_path, bench_database):
    """`benchmark search` after the PostgreSQL setup lines it shares with `benchmark sync`."""
    postgres, _, _ = _blocks()
    server = _server()
    setup = "\n".join(line for line in postgres.splitlines() if "benchmark sync" not in line)
    block = (setup + "\n" + _search_block()).replace("portal_bench", bench_database).replace(
        "postgres@127.0.0.1:5432", f"{server['user']}@{server['host']}:{server['port']}"
    )
    redis = RedisServer(tmp_path / "redis").start()
    try:
        env = {**_fresh_shell(tmp_path), "CELERY_BROKER_URL": redis.url(0), "CELERY_RESULT_BACKEND": redis.url(1)}
        result = _run_block(block, env, database=bench_database)
    finally:
        redis.stop()
    assert result["pages"] == 300 and result["spaces"] == 3
    # Every 100th page is restricted to a group Ada belongs to: all are readable by someone mapped.
    assert result["items_indexed"] == 300
    assert result["full"]["graph_requests_per_item"] >= 1 and result["full"]["confluence_requests_per_item"] >= 1
    assert result["incremental"]["edits"] == 10 and result["incremental"]["graph_requests"] >= 10
    floor = result["floor"]
    assert floor["graph_puts"] == 300 and floor["seconds"] == max(floor["confluence_seconds"], floor["graph_seconds"])
    assert floor["graph_seconds_replayed_at_allowed_rate"] >= floor["graph_seconds"]
    rss = result["peak_rss_mb"]
    assert 0 < rss["before_runs"] <= rss["after_crawls"] <= rss["after_runs"] < 1000
    assert {"full_vs_floor", "incremental_vs_full"} <= set(result["ratios"])
