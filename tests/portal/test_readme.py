"""The README documents every environment variable the settings read, and CI runs the
README's test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _read_variables():
    source = (ROOT / "portal" / "settings.py").read_text()
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', source))
    names |= set(re.findall(r'_secret\(\s*"([A-Z_]+)"', source))
    names |= set(re.findall(r'_endpoint\(\s*"([A-Z_]+)"', source))
    return names


def test_every_environment_variable_is_documented():
    readme = (ROOT / "README.md").read_text()
    variables = _read_variables()
    assert len(variables) > 20
    missing = sorted(v for v in variables if f"`{v}`" not in readme)
    assert not missing, f"README's Configuration table lacks {missing}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\s+```\n(.*?)```", readme, re.S).group(1)
    run, test = [line.strip() for line in block.splitlines() if line.strip()]
    assert (run, test) == ("make run", "make test")
    assert re.search(rf"^{test}$", (ROOT / ".ci" / "run").read_text(), re.M)
