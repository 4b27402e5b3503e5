import pytest
import torch
from torch import nn

from siam_workbench.model.backbones import INPUT_SIZES, MODELS, build_model

# Paper Table 1: (out_channels, kernel, stride, padding, output H×W) for the six convolutions.
TABLE1 = [(16, 3, 1, 0, 35), (16, 5, 2, 2, 18), (16, 3, 1, 1, 18),
          (24, 5, 2, 2, 9), (24, 3, 1, 1, 9), (24, 3, 1, 1, 9)]


def test_mokin37_layers_match_table1():
    model = build_model("mokin37", 25)
    x = torch.zeros(2, 1, 37, 37)
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    assert len(convs) == 6
    for conv, (cout, k, s, p, _hw) in zip(convs, TABLE1):
        assert conv.out_channels == cout
        assert conv.kernel_size == (k, k) and conv.stride == (s, s) and conv.padding == (p, p)
    shapes = []
    for layer in model:
        x = layer(x)
        if isinstance(layer, nn.Softsign):
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(c, hw, hw) for c, _, _, _, hw in TABLE1]
    assert tuple(x.shape) == (2, 25)
    # softsign after every convolution, none after the final linear layer
    assert sum(isinstance(m, nn.Softsign) for m in model) == 6
    assert type(model[-1]) is nn.Linear


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_backbone_maps_its_input_to_the_embedding(name):
    model = build_model(name, 16)
    s = INPUT_SIZES[name]
    assert model(torch.rand(3, 1, s, s)).shape == (3, 16)


def test_fused_softsign_matches_reference_gradients():
    from siam_workbench.model.backbones import Softsign

    x = torch.randn(4, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(Softsign(), (x,))
    y = Softsign()(x)
    assert torch.allclose(y, torch.nn.functional.softsign(x))


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown backbone"):
        build_model("resnet9000")
