"""Weight initialisation of each family of the authors' code: the model setting `init=`.

    trunc_normal     every nn.Linear (token projections q/k/v/proj/fc1/fc2 and the head) gets
                     trunc-normal std 0.02 and zero bias: the authors' CIFAR code, whose
                     projections are nn.Linear (cifar10/model.py:212-216). The suite's default.
    pytorch_default  the token projections keep PyTorch's default init, as the Conv1d / Conv2d
                     projections of the authors' CIFAR10-DVS and ImageNet code do (their
                     `_init_weights` touches nn.Linear only, i.e. the head: cifar10dvs/model.py:
                     223-227, imagenet/model.py:219-223); the head still gets trunc-normal 0.02.

Our projections are nn.Linear (TokenLinear inside LinearBN) standing for the authors'
Conv1d(k=1) / Conv2d(k=1). PyTorch initialises all three the same way: kaiming-uniform with
a = sqrt(5) on fan_in = in_features (x 1 for a 1-wide kernel), i.e. weights U(-b, b) with
b = 1/sqrt(fan_in) (std 1/sqrt(3 fan_in): 0.036 at D = 256, 0.018 for fc2 with fan_in 4D) and
biases U(-b, b). Our fused q/k/v Linear(D, 3D) has fan_in D like each of the authors' three
Conv1d(D, D), so it draws from the same distribution. Convolutions (stem, position embedding)
and BatchNorm keep PyTorch's default under both schemes, as in all of the authors' code.
"""

from __future__ import annotations

from torch import nn

from components.registry import Registry

__all__ = ["INIT", "init_weights"]

INIT = Registry("init")


def _trunc_normal(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


@INIT.register("trunc_normal", source="cifar10/model.py:212-216")
def trunc_normal(model: nn.Module) -> None:
    """Trunc-normal std 0.02, bias 0, on every nn.Linear (in `apply` order, so a seed gives
    the weights it always gave)."""
    model.apply(_trunc_normal)


@INIT.register("pytorch_default", source="cifar10dvs/model.py:223-227, imagenet/model.py:219-223")
def pytorch_default(model: nn.Module) -> None:
    """PyTorch's default (re-drawn) on every nn.Linear but the classifier `head`, which gets
    trunc-normal std 0.02 as in the authors' DVS and ImageNet code."""
    head = getattr(model, "head", None)
    for m in model.modules():
        if isinstance(m, nn.Linear) and m is not head:
            m.reset_parameters()
    if head is not None:
        head.apply(_trunc_normal)


def init_weights(model: nn.Module, scheme: str) -> None:
    """Initialise `model`'s weight layers in place with the registered `scheme`."""
    INIT.get(scheme)(model)
