"""Audit the pins in requirements/constraints.txt against known vulnerabilities (`make test`).

The advisory source is PyPI's vulnerability data (OSV / the PyPA advisory database, per
release: PyPI's JSON API documentation, "Known vulnerabilities"), read by pip-audit. The outcome:

- a known vulnerability in a pinned version, not in requirements/audit-ignore.txt: the
  step fails and lists it, with the versions that fix it;
- every pin answered, none vulnerable: "no known vulnerabilities";
- the source cannot be reached, or does not answer for some pins (no network, or a
  registry mirror without PyPI's per-release JSON): pip-audit alone would report "No known
  vulnerabilities found" for pins it never checked. This step instead prints a banner
  saying which pins were NOT audited and why. It still exits 0, because an unreachable
  service is not a fault of the change under test and must not turn CI red at random;
  DEPENDENCY_AUDIT_REQUIRED=1 (or --require) makes it exit 2, for a release pipeline
  that has the internet.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONSTRAINTS = HERE / "constraints.txt"
IGNORE_FILE = HERE / "audit-ignore.txt"
# Per request; the whole audit gets AUDIT_DEADLINE so a network that hangs cannot stall CI.
REQUEST_TIMEOUT = 10
AUDIT_DEADLINE = 300

_ENTRY = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9._:-]*)\s*#\s*(?P<reason>\S.*)$")


def read_ignored(path=IGNORE_FILE):
    """IDs accepted on purpose. Each line: `ID  # why it does not affect the portal, until when`."""
    ignored = {}
    if not path.exists():
        return ignored
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENTRY.match(line)
        if not match:
            raise SystemExit(f"{path}:{number}: write `ID  # reason` (an accepted vulnerability needs its why)")
        ignored[match["id"]] = match["reason"]
    return ignored


def _banner(lines):
    width = max(len(line) for line in lines) + 4
    rule = "!" * width
    return "\n".join([rule, *(f"! {line.ljust(width - 4)} !" for line in lines), rule])


def run_pip_audit(requirements, ignored, service, output):
    command = [
        sys.executable, "-m", "pip_audit", "--requirement", str(requirements), "--no-deps", "--disable-pip",
        "--vulnerability-service", service, "--format", "json", "--output", str(output),
        "--progress-spinner", "off", "--timeout", str(REQUEST_TIMEOUT),
    ]
    for vuln_id in ignored:
        command += ["--ignore-vuln", vuln_id]
    return subprocess.run(command, capture_output=True, text=True, timeout=AUDIT_DEADLINE)


def audit(requirements=CONSTRAINTS, *, ignore_file=IGNORE_FILE, required=False, service="pypi",
          out=sys.stdout, err=sys.stderr):
    """Run the audit and report; returns the exit code."""
    ignored = read_ignored(ignore_file)
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "audit.json"
        try:
            result = run_pip_audit(requirements, ignored, service, output)
            report = json.loads(output.read_text()) if output.exists() else None
            problem = None if report else (result.stderr.strip().splitlines() or ["pip-audit gave no report"])[-1]
        except subprocess.TimeoutExpired:
            report, problem = None, f"no answer within {AUDIT_DEADLINE} s"
        except (OSError, ValueError) as exc:
            report, problem = None, f"pip-audit failed: {exc}"

    if report is None:
        skipped, vulnerable, audited = [("all pins", problem)], [], []
    else:
        dependencies = report.get("dependencies", [])
        skipped = [(d["name"], d["skip_reason"]) for d in dependencies if d.get("skip_reason")]
        vulnerable = [d for d in dependencies if d.get("vulns")]
        audited = dependencies

    if vulnerable:
        print("Known vulnerabilities in requirements/constraints.txt:", file=err)
        for dependency in vulnerable:
            for vuln in dependency["vulns"]:
                fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed release yet"
                aliases = ", ".join(vuln.get("aliases") or [])
                print(f"  {dependency['name']}=={dependency['version']}: {vuln['id']}"
                      f"{f' ({aliases})' if aliases else ''}; fixed in {fixes}", file=err)
        print("Upgrade the pin (then `make install` and the suite), or, if it cannot affect the portal, accept it "
              "in requirements/audit-ignore.txt with the reason.", file=err)
        return 1

    if skipped:
        headline = (
            f"DEPENDENCY AUDIT INCOMPLETE: {len(skipped)} pin(s) NOT checked for known vulnerabilities "
            f"({len(audited) - len(skipped)} checked)."
            if report
            else "DEPENDENCY AUDIT NOT RUN: no pin was checked for known vulnerabilities."
        )
        lines = [
            headline,
            f"Advisory source: {service} (pip-audit --vulnerability-service {service}). Reason, e.g.:",
            f"  {skipped[0][0]}: {skipped[0][1]}"[:160],
            "Run `make audit` where PyPI answers per-release JSON (see README, Development).",
        ]
        print(_banner(lines), file=err)
        if required:
            print("DEPENDENCY_AUDIT_REQUIRED is set: failing.", file=err)
            return 2
        return 0

    print(f"Dependency audit: {len(audited)} pins, no known vulnerabilities"
          f"{f' ({len(ignored)} accepted, see requirements/audit-ignore.txt)' if ignored else ''}.", file=out)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--requirement", type=Path, default=CONSTRAINTS)
    parser.add_argument("--ignore-file", type=Path, default=IGNORE_FILE)
    parser.add_argument("--require", action="store_true", default=os.environ.get("DEPENDENCY_AUDIT_REQUIRED") == "1",
                        help="exit 2 when some pins could not be audited (default: DEPENDENCY_AUDIT_REQUIRED=1)")
    parser.add_argument("--service", choices=["pypi", "osv"], default="pypi")
    args = parser.parse_args(argv)
    return audit(args.requirement, ignore_file=args.ignore_file, required=args.require, service=args.service)


if __name__ == "__main__":
    sys.exit(main())
