"""The request logs of a real run carry no OAuth code, state or consent-link token.

The development server (what `make run` serves) and gunicorn (the image's web process, with
the repository's gunicorn.conf.py) are started as they are run, on a free port, and their
whole output is searched after requests that carry each kind of secret.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection as db_connection

from connections.microsoft import consent

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("SECRETCODE", "SECRETSTATE", "SECRETTOKEN")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url():
    # The suite's own (test) database, where the link below is committed.
    s = db_connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _get(url, **headers):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (our own loopback server)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _post(url, **headers):
    request = urllib.request.Request(url, data=b"", method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _run_and_capture(command, port, link_token, tmp_path):
    log = tmp_path / "server.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings_test", "DATABASE_URL": _database_url(),
           "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    _get(base + "/healthz")
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        pytest.fail("the server did not start:\n" + log.read_text())
                    time.sleep(0.3)
            link = f"{base}/consent/{link_token}/"
            statuses = [
                _get(f"{base}/connect/microsoft/callback?code=SECRETCODE&state=SECRETSTATE&session_state=x"),
                _get(f"{base}/connect/microsoft/adminconsent/callback?admin_consent=True&state=SECRETSTATE"),
                _get(link),
                _get(f"{base}/consent/SECRETTOKEN-unknown/"),
                _post(link + "start/", Referer=link),
                _get(f"{base}/accounts/login/?next=/consent/{link_token}/", Referer=link),
            ]
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return statuses, log.read_text()


@pytest.fixture
def link_token(transactional_db):
    from tenants.models import Role
    from tests.factories import ConnectionFactory, MembershipFactory

    connection = ConnectionFactory(features=["user_mapping"])
    admin = MembershipFactory(organization=connection.organization, role=Role.ADMIN).user
    _request, raw = consent.consent_request_create(connection=connection, acting_user=admin)
    return raw


def _assert_clean(output, link_token):
    for secret in (*SECRETS, link_token):
        assert secret not in output, f"{secret!r} is in the log:\n{output}"


def test_the_development_server_logs_request_lines_without_secrets(link_token, tmp_path):
    port = _free_port()
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"]
    statuses, output = _run_and_capture(command, port, link_token, tmp_path)

    assert statuses[:4] == [403, 403, 200, 404]
    _assert_clean(output, link_token)
    # The requests are logged all the same, with the secrets replaced.
    assert '"GET /connect/microsoft/callback?code=[redacted]&state=[redacted]&session_state=[redacted] HTTP/1.1" 403' \
        in output
    assert '"GET /consent/[redacted]/ HTTP/1.1" 200' in output
    assert '"GET /consent/[redacted]/ HTTP/1.1" 404' in output
    assert '"POST /consent/[redacted]/start/ HTTP/1.1" 403' in output
    assert "Not Found: /consent/[redacted]/" in output  # django.request's line too


def test_gunicorn_logs_request_lines_without_secrets(link_token, tmp_path):
    port = _free_port()
    command = [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "-c", "gunicorn.conf.py",
               "--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket"]
    statuses, output = _run_and_capture(command, port, link_token, tmp_path)

    assert statuses[:4] == [403, 403, 200, 404]
    _assert_clean(output, link_token)
    referer = f'"http://127.0.0.1:{port}/consent/[redacted]/"'
    assert '"GET /connect/microsoft/callback?code=[redacted]&state=[redacted]&session_state=[redacted] HTTP/1.1" 403' \
        in output
    assert '"GET /consent/[redacted]/ HTTP/1.1" 200' in output
    assert '"POST /consent/[redacted]/start/ HTTP/1.1" 403 ' in output and referer in output
    assert '"GET /accounts/login/?next=[redacted] HTTP/1.1" 200' in output
