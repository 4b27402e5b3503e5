"""Export a run for deployment, with no Siam Workbench needed on the deploying side.

- **TorchScript** (default): one file that loads with plain ``torch.jit.load``, carrying the
  network, the class centers and (as extra files) the class list and preprocessing facts.
- **ONNX** (the ``onnx`` extra): ``model.onnx`` with a dynamic batch, inputs ``image
  [B,1,S,S]`` and outputs ``embedding [B,D]`` (in the space the centers live in) and ``distance
  [B,C]`` (L2 to every class center, ``inf`` for classes without samples); the class list and
  the facts of ``meta.json`` ride in the model's metadata (``siam.classes``, ``siam.meta``).
  ``--out X.onnx`` writes that file alone; any other ``--out`` is a folder holding
  ``model.onnx``, ``centers.npy``, ``classes.json``, ``meta.json`` and ``classify.py`` (a
  reference classifier on onnxruntime, numpy and Pillow:
  :mod:`siam_workbench.infer.onnx_reference`).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from siam_workbench.base.atomic import atomic_path, check_writable_dir
from siam_workbench.base.errors import SiamError
from siam_workbench.infer.evaluate import RunModel

FORMATS = ("torchscript", "onnx")
#: ONNX opset of the export: every op used (Conv, MatMul, Softplus, Sqrt, …) is in opset 17,
#: which onnxruntime ≥ 1.13, OpenCV DNN ≥ 4.7 and the mobile runtimes read.
ONNX_OPSET = 17
#: The preprocessing margin of runs that did not record theirs (siam_workbench.data.imaging).
MARGIN = 2


class ExportedClassifier(nn.Module):
    """``forward(x)`` → embeddings; ``classify(x, k)`` → (distances, class indices).

    ``x`` is float ``[B,1,H,W]`` in [0,1] with ink = 1 (see meta.json in the file).
    """

    # The buffers, typed for mypy only: TorchScript cannot resolve a postponed class annotation
    # (``from __future__ import annotations``) and finds the buffers on the module by itself.
    if TYPE_CHECKING:
        centers: Tensor
        class_ids: Tensor

    def __init__(self, net: nn.Module, centers: Tensor, space: str) -> None:
        super().__init__()
        self.net = net
        valid = ~torch.isnan(centers).any(dim=1)
        self.register_buffer("centers", centers[valid].clone())
        self.register_buffer("class_ids", torch.nonzero(valid).squeeze(1).clone())
        self.space = space  # siam_workbench.parts.losses.spaces: where the centers live

    def forward(self, x: Tensor) -> Tensor:
        e = self.net(x)
        if self.space == "softplus":
            e = F.softplus(e)
        elif self.space == "l2":
            e = F.normalize(e, dim=1, eps=1e-12)
        return e

    @torch.jit.export
    def classify(self, x: Tensor, k: int = 5) -> tuple[Tensor, Tensor]:
        d = torch.cdist(self.forward(x), self.centers)
        k = min(k, int(self.centers.shape[0]))
        dist, i = torch.topk(d, k, dim=1, largest=False)
        return dist, self.class_ids[i]


def _meta(run: RunModel, fmt: str) -> dict[str, Any]:
    margin = run.preprocess.margin
    return {
        "format": fmt,
        "image_size": run.image_size,
        "margin": margin,
        "size_mode": run.preprocess.size_mode,
        "input": "float [B,1,H,W] in [0,1], ink = 1; "
                 + ("glyph cropped to ink, padded and resized to image_size"
                    if run.preprocess.fits_ink else
                    "the image height as the em box (0.95 em above to 0.25 em below the "
                    "baseline) scaled to image_size, ink centred horizontally")
                 + f" (margin {margin})",
        "space": run.space,
        "classes": len(run.classes),
        "run": str(run.run_dir),
        **{k: v for k, v in run.meta.items() if isinstance(v, (int, float, str))},
    }


def export_run(run: RunModel, out: str | Path, force: bool = False,
               fmt: str = "torchscript") -> Path:
    """Write ``run`` to ``out`` in format ``fmt`` (see the module docstring); returns ``out``."""
    if fmt == "onnx":
        return export_onnx(run, out, force=force)
    if fmt != "torchscript":
        raise SiamError(f"unknown export format {fmt!r} (choose {' or '.join(FORMATS)})")
    out = Path(out)
    net = copy.deepcopy(run.model).cpu().eval()  # the run keeps its device
    module = ExportedClassifier(net, run.centers.cpu(), run.space)
    meta = _meta(run, "siam-export/1")
    del meta["classes"]
    extra = {
        "classes.json": json.dumps(run.classes, ensure_ascii=False),
        "meta.json": json.dumps(meta),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(module)
        buf = io.BytesIO()
        torch.jit.save(scripted, buf, _extra_files=extra)
    with atomic_path(out, force=force) as tmp:
        tmp.write_bytes(buf.getvalue())
    return out


# -- ONNX ---------------------------------------------------------------------------------------
class OnnxClassifier(nn.Module):
    """``forward(x)`` → ``(embedding [B,D], distance [B,C])`` in ops every ONNX runtime has.

    Classes without samples (NaN centers) get a zero center and ``‖c‖² = inf``, so their
    distance is ``inf`` and the columns still line up with the class list.
    """

    def __init__(self, net: nn.Module, centers: Tensor, space: str) -> None:
        super().__init__()
        self.net = net
        empty = torch.isnan(centers).any(dim=1)
        c = torch.nan_to_num(centers.float(), nan=0.0)
        c_sq = (c.double() * c.double()).sum(1).float()
        c_sq[empty] = float("inf")
        self.register_buffer("centers_t", c.T.contiguous())
        self.register_buffer("centers_sq", c_sq)
        self.space = space  # siam_workbench.parts.losses.spaces: where the centers live

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        e = self.net(x)
        if self.space == "softplus":
            e = F.softplus(e)
        elif self.space == "l2":
            e = F.normalize(e, dim=1, eps=1e-12)
        d2 = (e * e).sum(1, keepdim=True) - 2.0 * (e @ self.centers_t) + self.centers_sq
        return e, torch.sqrt(torch.relu(d2))  # Relu, not Clip: Clip caps inf at FLT_MAX


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise SiamError("ONNX export needs the onnx package: pip install "
                        "'siam-workbench[onnx]' (or pip install onnx onnxruntime)") from None
    return onnx


def onnx_model_bytes(run: RunModel) -> bytes:
    """The self-contained ONNX model of ``run`` (network, centers, class list in metadata)."""
    onnx = _require_onnx()
    net = copy.deepcopy(run.model).cpu().eval()  # the run keeps its device
    module = OnnxClassifier(net, run.centers.cpu(), run.space).eval()
    x = torch.zeros(2, 1, run.image_size, run.image_size)
    buf = io.BytesIO()
    # The TorchScript-based exporter: it needs only torch (the torch.export-based one adds
    # onnxscript) and handles these plain convolutional networks exactly.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            # torch annotates ``f`` as a path, but the TorchScript exporter (dynamo=False)
            # writes to a file-like object as well, as it always has.
            module, (x,), buf,  # type: ignore[arg-type]
            dynamo=False, opset_version=ONNX_OPSET,
            input_names=["image"], output_names=["embedding", "distance"],
            dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"},
                          "distance": {0: "batch"}})
    model = onnx.load_from_string(buf.getvalue())
    meta = _meta(run, "siam-onnx/1")
    for key, value in (("siam.classes", json.dumps(run.classes, ensure_ascii=False)),
                       ("siam.meta", json.dumps(meta))):
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    model.producer_name = "siam-workbench"
    model.doc_string = (f"Siam Workbench export of {run.run_dir.name}: image [B,1,"
                        f"{run.image_size},{run.image_size}] -> embedding, distance to "
                        f"{len(run.classes)} class centers")
    onnx.checker.check_model(model)
    return model.SerializeToString()


def export_onnx(run: RunModel, out: str | Path, force: bool = False) -> Path:
    """``out`` ending in ``.onnx``: the model file alone; otherwise a folder bundle."""
    out = Path(out)
    data = onnx_model_bytes(run)
    if out.suffix.lower() == ".onnx":
        with atomic_path(out, force=force) as tmp:
            tmp.write_bytes(data)
        return out
    files: dict[str, bytes] = {
        "model.onnx": data,
        "classes.json": json.dumps(run.classes, ensure_ascii=False, indent=0).encode("utf-8"),
        "meta.json": json.dumps(_meta(run, "siam-onnx/1"), indent=1).encode("utf-8"),
        "classify.py": Path(__file__).with_name("onnx_reference.py").read_bytes(),
    }
    npy = io.BytesIO()
    np.save(npy, run.centers.cpu().float().numpy())  # NaN rows: classes without samples
    files["centers.npy"] = npy.getvalue()
    _write_folder(out, files, force=force)
    return out


def _write_folder(out: Path, files: dict[str, bytes], force: bool) -> None:
    """Write a folder whole: into a temporary sibling, then renamed into place.

    An existing ``out`` is an error unless ``force``; then it must be a folder this exporter
    wrote (it holds ``model.onnx`` and ``meta.json``), and it is swapped out by rename and
    removed only after the new folder is in place.
    """
    if out.exists():
        if not force:
            raise SiamError("already exists (use --force to replace it)", out)
        if not out.is_dir() or not {"model.onnx", "meta.json"} <= {p.name for p in
                                                                   out.iterdir()}:
            raise SiamError("exists and is not an ONNX export folder; not replacing it", out)
    check_writable_dir(out)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:
        raise SiamError(f"cannot write here ({exc.strerror})", out) from None
    old: Path | None = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        for name, blob in files.items():
            (tmp / name).write_bytes(blob)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(tmp, out)
    except OSError as exc:
        if old is not None and not out.exists():
            os.replace(old, out)
            old = None
        shutil.rmtree(tmp, ignore_errors=True)
        raise SiamError(f"cannot write ({exc.strerror or exc})", out) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(old)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
