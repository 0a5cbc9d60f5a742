"""Named ablations: the paper's tables as sweeps, runnable by name with `ablation=NAME`.

Each entry holds the swept keys (first value = baseline) and fixed settings; anything given on
the command line overrides them (e.g. `ablation=paper-attention dataset=cifar100 seeds=10`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AblationPreset:
    name: str
    sweeps: dict[str, list]
    fixed: dict[str, object] = field(default_factory=dict)
    source: str = ""


ABLATIONS: dict[str, AblationPreset] = {
    p.name: p
    for p in [
        AblationPreset(
            "paper-attention",
            {
                "attention": [
                    "ssa",
                    "vsa",
                    "vsa_float_v",
                    "identity_map",
                    "relu_map",
                    "leakyrelu_map",
                ]
            },
            {"dataset": "cifar10", "preset": "paper"},
            "Spikformer Table 5 (attention map; CIFAR10/100 4-384 T=4, CIFAR10-DVS 2-256)",
        ),
        AblationPreset(
            "paper-timesteps",
            {"T": [4, 1, 2, 6]},
            {"dataset": "cifar10", "preset": "paper"},
            "Spikformer Table 6 (time steps; CIFAR10/100 4-384, SSA)",
        ),
        AblationPreset(
            "paper-neuron",
            {"neuron": ["lif", "if"]},
            {"dataset": "cifar10", "preset": "paper"},
            "Spikformer IF vs LIF (CIFAR10/100 4-384, T=4)",
        ),
        AblationPreset(
            "successors",
            {"attention": ["ssa", "sdsa", "qk_token"], "residual": ["sew", "ms"]},
            {},
            "SSA vs its successors (Spike-driven Transformer, QKFormer) x residual style",
        ),
    ]
}
