"""The generated CLI reference matches the code."""

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_up_to_date():
    script = runpy.run_path(str(ROOT / "scripts" / "cli_reference.py"))
    assert (ROOT / "docs" / "cli.md").read_text() == script["render"](), "run: python scripts/cli_reference.py"
