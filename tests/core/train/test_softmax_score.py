"""The softmax baseline's scorer reads the classifier's top-5 block by block; it must give what
the whole logit matrix gives (which at 11,172 classes no longer fits a modest machine)."""

from __future__ import annotations

import numpy as np
import torch

from siam_workbench.data.glyphs import GlyphSet
from siam_workbench.parts.centers import images_to_input, topk_accuracy
from siam_workbench.train.softmax import _Classifier, _score
from tests.conftest import synth_glyphs


def _set(num_classes: int, fonts: int, seed: int) -> GlyphSet:
    images, labels, sources = synth_glyphs(num_classes, fonts, seed=0, font_offset=seed)
    return GlyphSet(images=torch.from_numpy(images), labels=torch.from_numpy(labels),
                    sources=torch.from_numpy(sources),
                    classes=[f"c{i}" for i in range(num_classes)],
                    source_names=[f"f{i}" for i in range(fonts)],
                    rows=np.arange(len(labels), dtype=np.int64))


def test_blockwise_top5_equals_the_whole_logit_matrix():
    torch.manual_seed(0)
    from siam_workbench.model.backbones import build_model

    train, data = _set(7, 2, 0), _set(7, 160, 50)  # 1,120 images: two blocks of 1,024
    model = _Classifier(build_model("mokin37", 8), 8, 7)
    centers = torch.randn(7, 8)
    got = _score(model, train, data, torch.device("cpu"), centers)

    with torch.no_grad():
        model.eval()
        logits = model(images_to_input(data.images, torch.device("cpu")))
    want1, want5 = topk_accuracy(torch.topk(logits, 5, dim=1).indices, data.labels)
    assert len(data) > 1024
    assert abs(got["argmax_top1"] - want1) < 1e-6
    assert abs(got["argmax_top5"] - want5) < 1e-6


def test_fewer_than_five_classes_score_without_error():
    torch.manual_seed(0)
    from siam_workbench.model.backbones import build_model

    train, data = _set(3, 2, 0), _set(3, 2, 7)
    model = _Classifier(build_model("mokin37", 8), 8, 3)
    got = _score(model, train, data, torch.device("cpu"), torch.randn(3, 8))
    assert got["argmax_top5"] == 1.0  # every label is among the only three classes
