"""With DEBUG on (as `make run` has it) a log line of Django's prints once, not twice."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import django, logging
django.setup()
logging.getLogger("django.request").warning("Not Found: /no-such-page")
logging.getLogger("connections").warning("a line of the portal's own")
"""


def test_a_django_log_line_prints_once_with_debug_on(tmp_path):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(DEBUG="true", SANDBOX_ENABLED="false", VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="portal.settings")
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    lines = result.stderr.splitlines()
    assert lines.count("Not Found: /no-such-page") == 1, result.stderr
    assert lines.count("a line of the portal's own") == 1, result.stderr
