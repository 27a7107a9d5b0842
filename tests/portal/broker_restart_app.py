"""The portal's Celery app plus one slow task, for the broker-restart test's worker process."""

import time
from pathlib import Path

from portal.celery import app

__all__ = ["app"]


@app.task(name="tests.write_after")
def write_after(directory, name, seconds):
    """Mark the start, work for `seconds`, then leave a file the test can see."""
    Path(directory, f"{name}.started").touch()
    time.sleep(seconds)
    Path(directory, f"{name}.done").touch()
