"""Maintenance: regenerate data the sandbox packages from a vendor's OpenAPI file.

The emulators never read the vendors' files at run time; what they need is extracted once into a
JSON file beside the emulator (the Reporting datasets, the LiveRamp request body shapes), and the
tests check that file still matches the copy in ``tests/vendor/``. :func:`regenerate` is the
command line both extractions share (``python -m <module> SPEC``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def regenerate(argv: list[str], module: str, target: Path, extract: Callable[[dict[str, Any]], Any]) -> int:
    """Read the spec named by ``argv``, write ``extract(spec)`` as JSON to ``target``; exit status."""
    import yaml

    if len(argv) != 1:
        print(f"usage: python -m {module} SPEC.yaml", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)
    target.write_text(json.dumps(extract(spec), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {target}")
    return 0
