#!/usr/bin/env bash
# Set up and run the whole test suite on a fresh machine; CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  # The report test renders report.html in headless Chromium (Debian package `chromium`).
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
python3 -m venv .venv
.venv/bin/pip install -q -r requirements-ci.txt -e ".[test]"
# The tests on both cores (pytest-xdist, a test file per worker at a time), then those marked serial alone: they
# bound their own wall time (Ctrl-C within seconds) or run processes side by side themselves.
# Arguments go to both parts; a part they leave empty (pytest's exit status 5) is not a failure.
part() { .venv/bin/python -m pytest -q "$@" || [ $? -eq 5 ]; }
part -n 2 --dist loadfile --serial=without "$@"
part --serial=only "$@"
# Lint and format check (pyproject's [tool.ruff]). The API reference is built by the tests
# (tests/test_api_reference.py), not again here.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Static types ([tool.mypy] in pyproject.toml).
.venv/bin/mypy taskgroup
