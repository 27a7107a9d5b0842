"""The console email backend (development, the demo) prints what a person can read."""

import io
import os
import subprocess
import sys

from django.core.mail import EmailMessage

from portal.mail import ReadableConsoleBackend


def test_subjects_and_bodies_print_as_text_not_mime():
    stream = io.StringIO()
    message = EmailMessage("[Connections portal] acme ↔ Contoso: permissions granted", "Jörg granted it.\nhttp://x/y",
                           "portal@localhost", ["admin@demo.example"])
    ReadableConsoleBackend(stream=stream).send_messages([message])
    out = stream.getvalue()
    assert "Subject: [Connections portal] acme ↔ Contoso: permissions granted" in out
    assert "Jörg granted it." in out and "http://x/y" in out
    assert "=?utf-8?" not in out and "Content-Transfer-Encoding" not in out


def test_the_default_email_url_prints_through_the_readable_backend():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "DEBUG": "true", "EMAIL_URL": "consolemail://"}
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                               "print(settings.EMAIL_BACKEND)"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    assert out == "portal.mail.ReadableConsoleBackend"
