"""Checkpoint files: plain tensors and primitives only, so they load with ``weights_only=True``
(a checkpoint holding pickled code is refused, never executed).

Integrity: every checkpoint carries a SHA-256 ``digest`` of its whole content, checked on load,
so a flipped byte in the weights is reported naming the file instead of giving ``nan``
distances. Its fields are checked against the network before anything is built from them: an
``image_size`` the backbone does not take, centers of the wrong shape, non-finite weights or
centers are one line each (exit 2), never a 19 GB allocation or an empty export. Checkpoints
written before digests existed still load (without that check).
"""

from __future__ import annotations

import hashlib
import io
import math
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from siam_workbench.base.atomic import atomic_path, write_error
from siam_workbench.base.errors import SiamError
from siam_workbench.base.paths import check_allocation, require_file
from siam_workbench.data.framing import FIT

FORMAT = "siam-run/1"
DIGEST = "digest"
MAX_CLASSES = 10_000_000
SPACES = ("softplus", "raw", "l2")
#: What inference needs (load_run, export, query) and what a resume needs on top.
MODEL_KEYS = ("model", "centers", "classes", "backbone", "embedding_dim", "image_size", "space")
RESUME_KEYS = ("optimizer", "sampler", "generator", "epoch", "iteration", "step", "best",
               "epoch_loss_sum", "epoch_loss_n")


def state_digest(state: dict[str, Any]) -> str:
    """SHA-256 over every value of ``state`` but the digest itself, in a fixed order."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != DIGEST})
    return h.hexdigest()


def _feed(h: Any, obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}".encode())
        for key in sorted(obj, key=repr):
            h.update(repr(key).encode())
            _feed(h, obj[key])
    elif isinstance(obj, (list, tuple)):
        h.update(f"L{len(obj)}".encode())
        for item in obj:
            _feed(h, item)
    else:
        h.update(f"V{type(obj).__name__}:{obj!r}".encode())


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write atomically: a kill during the write leaves the previous checkpoint intact, a full
    disk is one line naming the file."""
    state = {"format": FORMAT, **state}
    state[DIGEST] = state_digest(state)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        torch.save(state, buf)
        with atomic_path(path) as tmp:
            tmp.write_bytes(buf.getvalue())
    except OSError as exc:
        raise write_error(exc, path) from None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    if not path.exists():
        raise SiamError("checkpoint not found", path)
    require_file(path, "checkpoint")
    check_allocation(2 * path.stat().st_size, "loading this checkpoint", path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise SiamError("checkpoint refused: it holds pickled objects other than tensors "
                        "(not loaded, for safety)", path) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError,
            IndexError, TypeError, AttributeError, MemoryError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SiamError(f"checkpoint is truncated or corrupt ({first[:120]})", path) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SiamError(f"not a Siam Workbench checkpoint (expected format {FORMAT})", path)
    digest = state.get(DIGEST)
    if digest is not None and digest != state_digest(state):
        raise SiamError("checkpoint is corrupt: its content does not match the digest written "
                        "with it (changed on disk after saving)", path)
    return state


def check_model_fields(state: dict[str, Any], path: Path) -> None:
    """Everything inference builds from a checkpoint, checked before it is built.

    Raises :class:`SiamError` naming ``path`` for a missing key, an impossible size, centers
    that do not fit the classes and embedding, or non-finite weights or centers.
    """
    from siam_workbench.model.backbones import INPUT_SIZES, MODELS

    missing = [k for k in MODEL_KEYS if k not in state]
    if missing:
        raise SiamError(f"checkpoint is incomplete: no {', '.join(missing)}", path)
    backbone = state["backbone"]
    if not isinstance(backbone, str) or backbone not in MODELS:
        raise SiamError(f"checkpoint names an unknown backbone {backbone!r} (known: "
                        f"{', '.join(MODELS)})", path)
    size, dim = state["image_size"], state["embedding_dim"]
    if not isinstance(size, int) or size != INPUT_SIZES[backbone]:
        raise SiamError(f"checkpoint says image_size {size!r}, but backbone {backbone} takes "
                        f"{INPUT_SIZES[backbone]}; refused", path)
    if not isinstance(dim, int) or not 2 <= dim <= 1024:
        raise SiamError(f"checkpoint says embedding_dim {dim!r}; expected 2..1024", path)
    pre = state.get("preprocess")
    if pre is not None:
        margin = pre.get("margin", 2) if isinstance(pre, dict) else None
        if (not isinstance(pre, dict) or pre.get("image_size", size) != size
                or not isinstance(margin, int) or not 0 <= 2 * margin < size - 1
                or not isinstance(pre.get("size_mode", FIT), str)):
            raise SiamError(f"checkpoint preprocess {pre!r} does not fit its {size}-pixel "
                            "images; refused", path)
    if state["space"] not in SPACES:
        raise SiamError(f"checkpoint says space {state['space']!r}; expected one of "
                        f"{', '.join(SPACES)}", path)
    classes = state["classes"]
    if (not isinstance(classes, (list, tuple)) or len(classes) > MAX_CLASSES
            or not all(isinstance(c, str) for c in classes)):
        raise SiamError("checkpoint classes must be a list of strings", path)
    weights = state["model"]
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor)
                                                for v in weights.values()):
        raise SiamError("checkpoint model weights must be a dict of tensors", path)
    _check_weight_shapes(weights, backbone, dim, path)
    centers = state["centers"]
    if not isinstance(centers, torch.Tensor) or centers.ndim != 2 \
            or tuple(centers.shape) != (len(classes), dim):
        shape = tuple(centers.shape) if isinstance(centers, torch.Tensor) else type(centers)
        raise SiamError(f"checkpoint centers have shape {shape}, expected "
                        f"({len(classes)}, {dim}) for its classes and embedding", path)
    check_finite(weights, centers, path)


def _check_weight_shapes(weights: dict[str, torch.Tensor], backbone: str, dim: int,
                         path: Path) -> None:
    """The weights must be exactly those of ``backbone`` with embedding ``dim``."""
    from siam_workbench.model.backbones import build_model

    expected = {k: tuple(v.shape) for k, v in build_model(backbone, dim).state_dict().items()}
    missing = [k for k in expected if k not in weights]
    extra = [k for k in weights if k not in expected]
    if missing or extra:
        what = (f"missing {', '.join(missing[:3])}" if missing
                else f"unexpected {', '.join(extra[:3])}")
        raise SiamError(f"checkpoint weights do not fit backbone {backbone} ({what}); refused",
                        path)
    for key, shape in expected.items():
        if tuple(weights[key].shape) != shape:
            raise SiamError(f"checkpoint weights {key} have shape {tuple(weights[key].shape)}, "
                            f"backbone {backbone} with embedding {dim} needs {shape}; refused",
                            path)


def check_finite(weights: dict[str, torch.Tensor], centers: torch.Tensor | None,
                 path: Path) -> None:
    """Non-finite weights, infinite centers, half-NaN center rows or no center at all are
    corruption (or a diverged run); NaN rows alone are classes without samples."""
    for key, value in weights.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise SiamError(f"checkpoint weights {key} hold NaN or infinite values (a diverged "
                            "or damaged run); refused", path)
    if centers is None:
        return
    c = centers.float()
    if bool(torch.isinf(c).any()):
        raise SiamError("checkpoint centers hold infinite values; refused", path)
    nan_rows = torch.isnan(c)
    partial = nan_rows.any(dim=1) & ~nan_rows.all(dim=1)
    if bool(partial.any()):
        raise SiamError(f"checkpoint centers: {int(partial.sum())} row(s) are partly NaN "
                        "(damaged); refused", path)
    if c.shape[0] and bool(nan_rows.all()):
        raise SiamError("checkpoint centers are all NaN: no class has a center (a diverged "
                        "or damaged run); refused", path)


def check_resume(state: dict[str, Any], backbone: str, embedding_dim: int,
                 classes: list[str], path: Path) -> None:
    """A checkpoint a run can continue from: complete, sound, and of this run's network."""
    missing = [k for k in (*MODEL_KEYS, *RESUME_KEYS) if k not in state]
    if missing:
        raise SiamError(f"checkpoint is incomplete: no {', '.join(missing)}; cannot resume",
                        path)
    if state["backbone"] != backbone or state["embedding_dim"] != embedding_dim:
        raise SiamError(f"checkpoint is of backbone {state['backbone']} with embedding size "
                        f"{state['embedding_dim']}, the run's config says {backbone} with "
                        f"{embedding_dim}; cannot resume (start a new run)", path)
    check_model_fields(state, path)
    if list(state["classes"]) != list(classes):
        raise SiamError("the training data's classes changed since this run started; "
                        "start a new run", path)
    for key in ("epoch", "iteration", "step", "epoch_loss_n"):
        if not isinstance(state[key], int) or state[key] < 0:
            raise SiamError(f"checkpoint field {key} is {state[key]!r}; expected a count",
                            path)
    loss_sum = state["epoch_loss_sum"]
    if not isinstance(loss_sum, (int, float)) or not math.isfinite(loss_sum):
        raise SiamError(f"checkpoint field epoch_loss_sum is {loss_sum!r}", path)
