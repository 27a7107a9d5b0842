"""`make test`'s dependency audit: a known vulnerability fails the build, an accepted one
needs its reason, and pins that could not be checked are never reported as safe."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Stands in for pip-audit's advisory service: same command line, same JSON report.
_FAKE_PIP_AUDIT = '''
import json, os, sys
args = sys.argv[1:]
ignored = {args[i + 1] for i, a in enumerate(args) if a == "--ignore-vuln"}
report = json.loads(os.environ["FAKE_REPORT"])
for dependency in report["dependencies"]:
    if "vulns" in dependency:
        dependency["vulns"] = [v for v in dependency["vulns"] if v["id"] not in ignored]
if os.environ.get("FAKE_CRASH"):
    sys.exit("requests.exceptions.ConnectionError: Failed to resolve the package index")
open(args[args.index("--output") + 1], "w").write(json.dumps(report))
sys.exit(1 if any(d.get("vulns") for d in report["dependencies"]) else 0)
'''

VULNERABLE = {"dependencies": [
    {"name": "django", "version": "5.2.1", "vulns": [
        {"id": "GHSA-xxxx-2099-0001", "fix_versions": ["5.2.2"], "aliases": ["CVE-2099-0001"], "description": "…"},
    ]},
    {"name": "whitenoise", "version": "6.12.0", "vulns": []},
], "fixes": []}
UNREACHABLE = {"dependencies": [
    {"name": "django", "skip_reason": "Dependency not found on PyPI and could not be audited: django (5.2.19)"},
    {"name": "whitenoise", "skip_reason": "Dependency not found on PyPI and could not be audited: whitenoise (6.12.0)"},
], "fixes": []}


def _audit(tmp_path, report, *args, ignore="", **env):
    fake = tmp_path / "fake" / "pip_audit"
    fake.mkdir(parents=True, exist_ok=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(_FAKE_PIP_AUDIT)
    ignore_file = tmp_path / "ignore.txt"
    ignore_file.write_text(ignore)
    return subprocess.run(
        [sys.executable, "requirements/audit.py", "--ignore-file", str(ignore_file), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(fake.parent), "FAKE_REPORT": json.dumps(report),
             "DEPENDENCY_AUDIT_REQUIRED": "", **env},
    )


def test_a_known_vulnerability_fails_the_build_and_says_what_fixes_it(tmp_path):
    result = _audit(tmp_path, VULNERABLE)
    assert result.returncode == 1
    assert "django==5.2.1: GHSA-xxxx-2099-0001 (CVE-2099-0001); fixed in 5.2.2" in result.stderr


def test_an_accepted_vulnerability_passes_only_with_its_reason(tmp_path):
    result = _audit(tmp_path, VULNERABLE, ignore="# accepted\nGHSA-xxxx-2099-0001  # only the admin log, unused\n")
    assert result.returncode == 0, result.stderr
    assert "2 pins, no known vulnerabilities (1 accepted" in result.stdout

    result = _audit(tmp_path, VULNERABLE, ignore="GHSA-xxxx-2099-0001\n")
    assert result.returncode != 0
    assert "ignore.txt:1: write `ID  # reason`" in result.stderr


def test_pins_the_source_did_not_answer_for_are_reported_loudly_not_as_safe(tmp_path):
    result = _audit(tmp_path, UNREACHABLE)
    assert result.returncode == 0  # an unreachable service does not make CI flaky...
    assert "DEPENDENCY AUDIT INCOMPLETE: 2 pin(s) NOT checked" in result.stderr  # ...but it says so
    assert "no known vulnerabilities" not in result.stdout + result.stderr

    required = _audit(tmp_path, UNREACHABLE, DEPENDENCY_AUDIT_REQUIRED="1")
    assert required.returncode == 2 and "failing" in required.stderr


def test_a_service_that_cannot_be_reached_at_all_is_reported_with_its_reason(tmp_path):
    result = _audit(tmp_path, UNREACHABLE, FAKE_CRASH="1")
    assert result.returncode == 0
    assert "DEPENDENCY AUDIT NOT RUN" in result.stderr and "Failed to resolve" in result.stderr
    assert _audit(tmp_path, UNREACHABLE, "--require", FAKE_CRASH="1").returncode == 2


def test_the_real_audit_of_the_pins_runs_here():
    result = subprocess.run([sys.executable, "requirements/audit.py"], cwd=ROOT, capture_output=True, text=True,
                            timeout=400, env={**os.environ, "DEPENDENCY_AUDIT_REQUIRED": ""})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Where PyPI answers: the verdict; where it does not (a mirror, no network): the banner.
    assert "no known vulnerabilities" in output or "NOT checked" in output or "NOT RUN" in output, output
