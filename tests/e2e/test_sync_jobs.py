"""In the browser: an admin starts a channel messages run on the connection page; a real
Celery worker runs it, and the progress bar moves on the page without a reload."""

import time

from connections.models import SyncRun
from portal.celery import app
from tests.connections.teams.conftest import start_worker, teams_world  # noqa: F401 (fixtures)
from tests.factories import PASSWORD

from .conftest import sign_in


def test_the_progress_bar_moves_while_a_worker_runs_the_job(page, live_server, teams_world, start_worker):  # noqa: F811
    app.conf.update(task_always_eager=True)
    assert teams_world.directory().state == SyncRun.State.SUCCEEDED  # the five channels
    app.conf.update(task_always_eager=False)
    app.control.purge()
    teams_world.sandbox.set_fault("latency", "fabrikam", ms=1500)  # about 1.5 s per channel
    start_worker()

    sign_in(page, live_server, teams_world.admin.email, PASSWORD)
    page.goto(f"{live_server.url}/connections/{teams_world.connection.pk}/")
    page.select_option("#job-kind", "channel_messages")
    page.select_option("#job-mode", "full")
    page.click("[data-job-start] button[type=submit]")
    page.wait_for_selector("text=Channel messages (full) queued.")
    page.evaluate("window.__same_page = true")  # gone if the page reloads
    run = SyncRun.objects.get(kind=SyncRun.Kind.CHANNEL_MESSAGES)
    row = f'#jobs-live tr[data-run="{run.pk}"]'

    seen = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        value = page.evaluate(
            "(row) => { const bar = document.querySelector(row + ' progress');"
            " return bar && bar.hasAttribute('value') ? Number(bar.value) : null; }",
            row,
        )
        if value is not None and (not seen or seen[-1] != value):
            seen.append(value)
        if page.locator(f"{row} .status", has_text="Succeeded").count():
            break
        time.sleep(0.25)
    assert page.evaluate("window.__same_page === true")
    page.locator(f"{row} .status", has_text="Succeeded").wait_for(timeout=10_000)
    assert len([v for v in seen if 0 < v < 100]) >= 2, seen  # it moved, step by step
    assert seen == sorted(seen)
    assert page.locator(row, has_text="5/5 · 100%").count() == 1
