"""Checkpoint files: plain tensors and primitives only, so they load with ``weights_only=True``
(a checkpoint holding pickled code is refused, never executed)."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from core.atomic import atomic_path
from core.errors import SiamError

FORMAT = "siam-run/1"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write atomically: a kill during the write leaves the previous checkpoint intact."""
    state = {"format": FORMAT, **state}
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(state, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    if not path.exists():
        raise SiamError("checkpoint not found", path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise SiamError("checkpoint refused: it holds pickled objects other than tensors "
                        "(not loaded, for safety)", path) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SiamError(f"checkpoint is truncated or corrupt ({first[:120]})", path) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SiamError(f"not a Siam Workbench checkpoint (expected format {FORMAT})", path)
    return state
