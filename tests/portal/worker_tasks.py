"""A stand-in for a long sync job, loaded only into the test's own workers (`-I`): it runs
until the test lets it finish, so the broker can be restarted while it is in flight."""

import time
from pathlib import Path

from celery import shared_task


@shared_task(name="tests.hold_until_released", acks_late=True)
def hold_until_released(*, folder):
    folder = Path(folder)
    (folder / "started").touch()
    deadline = time.monotonic() + 120
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    (folder / "finished").touch()
    return "finished"
