"""Where the bundled data lives: ``data/`` beside the package, or inside an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
DATA_DIR = _PACKAGE / "data" if (_PACKAGE / "data").is_dir() else _PACKAGE.parent / "data"


def data_path(*parts: str) -> Path:
    return DATA_DIR.joinpath(*parts)
