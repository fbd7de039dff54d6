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
.venv/bin/python -m pytest -q "$@"
# Lint and format check (pyproject's [tool.ruff]). The API reference is built by the tests
# (tests/test_api_reference.py), not again here.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Static types ([tool.mypy] in pyproject.toml).
.venv/bin/mypy taskgroup
