"""The vendors' own documents the fidelity tests check the sandbox against (see README.md here).

They live in the repository so that a clone needs nothing beside it; :func:`vendor_file` is the one
way tests find them.
"""

from __future__ import annotations

from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent

LIVERAMP_OPENAPI = "liveramp-clean-room-api.openapi.yml"
REPORTING_OPENAPI = "mediamath-reporting-api-v2.openapi.yaml"
MEDIAMATH_PAGE = "mediamath-api-v2.0.page.txt"
MEDIARITHMICS_PAGE = "mediarithmics-clean-rooms.page.txt"


def vendor_file(name: str) -> Path:
    """The path of one vendor document (it must exist: a missing one is an error, not a skip)."""
    path = VENDOR_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"vendor document {name} is missing from {VENDOR_DIR}")
    return path
