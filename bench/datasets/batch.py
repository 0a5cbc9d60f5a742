"""Batch-level augmentation, called by the training loop once per step.

    batch_aug = bundle.batch_augment(mixup=0.5, smoothing=0.1, off_epoch=200)
    x, target = batch_aug(x, y, epoch=epoch, step=step, seed=cfg.seed)

Order "authors" (the reference code): the loader yields uint8 images; mixup / cutmix mixes them
and rounds to whole values (its fast collate writes uint8), then the batch is normalised, then
random erasing runs on the mixed batch. Order "timm": the loader has already normalised and
erased each sample; only mixup / cutmix runs here. The mixing itself is timm's `Mixup` (batch
mode: sample i with sample B-1-i, one lambda per batch).

Every draw comes from RNGs seeded by (seed, epoch, step) and restored afterwards, so two variants
of one seed get identical draws whatever their models do; `hash` digests every draw made since
construction (pairing evidence a run record can keep).
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import numpy as np
import torch

from bench.datasets.sampling import batch_seed, seeded_rngs
from bench.datasets.transforms import AUGMENT_ORDERS, Normalizer, check_choice

__all__ = ["BatchAugment"]


class BatchAugment:
    """Mixup / cutmix (and, in the authors' order, normalisation and random erasing) per batch.

    Returns (x float32, target): target is the int64 labels when nothing mixes this step (mixup
    off, after `off_epoch`, or an odd batch, which timm's pairing cannot mix), else soft targets
    [B, num_classes] that already carry the label smoothing.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        order: str = "timm",
        normalize: Normalizer | None = None,
        erase_prob: float = 0.0,
        erase_mode: str = "const",
        mixup: float = 0.0,
        cutmix: float = 0.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        off_epoch: int | None = None,
        smoothing: float = 0.0,
    ) -> None:
        from timm.data import Mixup

        check_choice("augment_order", order, AUGMENT_ORDERS)
        if order == "timm" and (normalize is not None or erase_prob > 0):
            raise ValueError(
                'augment_order="timm" normalises and erases per sample in the loader; pass '
                'normalize and erase_prob only with order="authors".'
            )
        self.num_classes, self.order, self.normalize = num_classes, order, normalize
        self.erase_prob, self.erase_mode = erase_prob, erase_mode
        self.settings = dict(
            mixup=mixup,
            cutmix=cutmix,
            prob=prob,
            switch_prob=switch_prob,
            off_epoch=off_epoch,
            smoothing=smoothing,
        )
        self.mixer = None
        if mixup > 0 or cutmix > 0:
            self.mixer = Mixup(
                mixup_alpha=mixup,
                cutmix_alpha=cutmix,
                prob=prob,
                switch_prob=switch_prob,
                label_smoothing=smoothing,
                num_classes=num_classes,
            )
        self._erasers: dict[str, Any] = {}
        self._digest = hashlib.sha1()
        self.steps = 0

    def mixing(self, epoch: int) -> bool:
        """Whether mixup / cutmix is on in this epoch."""
        off = self.settings["off_epoch"]
        return self.mixer is not None and (off is None or epoch < off)

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor, *, epoch: int, step: int, seed: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.float() if self.order == "authors" else x
        target = y
        with seeded_rngs(batch_seed(seed, epoch, step), x.device):
            if self.mixing(epoch) and len(x) % 2 == 0:
                # timm's cutmix indexes [B, C, H, W]; event clips [B, T, C, H, W] mix as
                # [B, T*C, H, W] (a view, so the clip itself is mixed).
                flat = x if x.dim() == 4 else x.view(len(x), -1, *x.shape[-2:])
                _, target = self.mixer(flat, y)  # type: ignore[misc]
                if self.order == "authors":
                    x.round_()  # the reference collate stores the mixed batch as uint8
            if self.normalize is not None:
                x = self.normalize(x)
            if self.erase_prob > 0:
                x = self._eraser(x.device)(x)
            self._record(epoch, step, len(x))
        return x, target

    def _eraser(self, device: torch.device) -> Any:
        from timm.data.random_erasing import RandomErasing

        key = str(device)
        if key not in self._erasers:
            self._erasers[key] = RandomErasing(self.erase_prob, mode=self.erase_mode, device=key)
        return self._erasers[key]

    def _record(self, epoch: int, step: int, batch: int) -> None:
        """Digest the RNG states after this step's draws: equal states, equal draws."""
        _, keys, pos, *_ = np.random.get_state()
        self._digest.update(f"{epoch},{step},{batch},{pos};".encode())
        self._digest.update(np.asarray(keys).tobytes())
        self._digest.update(repr(random.getstate()).encode())
        self._digest.update(torch.random.get_rng_state().numpy().tobytes())
        self.steps += 1

    @property
    def hash(self) -> str:
        """sha1 over every step's draws since construction or `reset()`."""
        return self._digest.hexdigest()

    def reset(self) -> None:
        self._digest, self.steps = hashlib.sha1(), 0

    def describe(self) -> dict[str, Any]:
        return {
            "order": self.order,
            **self.settings,
            "normalize": self.normalize.describe() if self.normalize else None,
            "erase_prob": self.erase_prob,
            "erase_mode": self.erase_mode,
        }
