"""Bayesian signed-rank test with a region of practical equivalence (ROPE).

Benavoli, Corani, Demsar, Zaffalon (2017), "Time for a change: a tutorial for comparing
multiple classifiers through Bayesian analysis", JMLR 18(77), section 4.2. The distribution of
the paired differences gets a Dirichlet-process prior DP(s, delta_{z0}): a single prior
pseudo-observation z0 (default 0, inside the ROPE) of strength s (default 0.5, the paper's
choice). The posterior of the probability mass on each side is then, with weights
w ~ Dirichlet(s, 1, ..., 1) over (z0, z_1, ..., z_n),

    theta_right = sum_ij w_i w_j [z_i + z_j >  2 r]
    theta_rope  = sum_ij w_i w_j [-2 r <= z_i + z_j <= 2 r]
    theta_left  = sum_ij w_i w_j [z_i + z_j < -2 r]

(i and j over all n + 1 points, i = j included: Walsh averages). As in the paper (and its
reference code), each region's reported probability is the share of posterior draws in which
that region holds the largest theta; a tie splits the draw evenly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.stats.wilcoxon import snap

__all__ = ["BAYES_PRIOR_STRENGTH", "BAYES_SAMPLES", "BayesSignedRank", "bayes_signed_rank"]

BAYES_PRIOR_STRENGTH = 0.5
BAYES_SAMPLES = 50_000
_CHUNK = 10_000  # draws per block: bounds memory at (chunk x (n + 1)) floats


@dataclass(frozen=True)
class BayesSignedRank:
    p_right: float  # P(the differences are practically positive): variant - baseline > rope
    p_rope: float  # P(practically equivalent)
    p_left: float  # P(practically negative)
    theta_right: float  # posterior means of the three masses
    theta_rope: float
    theta_left: float
    rope: float
    prior_strength: float
    z0: float
    n_samples: int
    seed: int


def _region_matrices(z: np.ndarray, rope: float) -> tuple[np.ndarray, np.ndarray]:
    """Indicators of z_i + z_j > 2r (right) and < -2r (left), rounded against float noise."""
    walsh = snap(z[:, None] + z[None, :])
    return (walsh > 2 * rope).astype(float), (walsh < -2 * rope).astype(float)


def bayes_signed_rank(
    d: np.ndarray,
    rope: float,
    *,
    prior_strength: float = BAYES_PRIOR_STRENGTH,
    z0: float = 0.0,
    n_samples: int = BAYES_SAMPLES,
    seed: int = 0,
) -> BayesSignedRank:
    """Monte Carlo of the posterior above for differences d (variant - baseline), ROPE +-rope.

    Deterministic for a given seed. With rope = 0 the ROPE is the single point 0.
    """
    if not rope >= 0:
        raise ValueError(f"the ROPE half-width must be >= 0, not {rope!r}.")
    if prior_strength <= 0:
        raise ValueError(f"the prior strength s must be positive, not {prior_strength!r}.")
    z = np.concatenate(([float(z0)], np.asarray(d, dtype=float)))
    right, left = _region_matrices(z, float(rope))
    alpha = np.concatenate(([float(prior_strength)], np.ones(len(z) - 1)))
    rng = np.random.default_rng(seed)
    wins = np.zeros(3)
    theta_sum = np.zeros(3)
    for start in range(0, n_samples, _CHUNK):
        w = rng.dirichlet(alpha, size=min(_CHUNK, n_samples - start))
        th_r = ((w @ right) * w).sum(axis=1)  # w^T A w per draw, as a matmul
        th_l = ((w @ left) * w).sum(axis=1)
        theta = np.stack([th_r, 1.0 - th_r - th_l, th_l], axis=1)  # weights sum to 1
        best = theta >= theta.max(axis=1, keepdims=True) - 1e-12
        wins += (best / best.sum(axis=1, keepdims=True)).sum(axis=0)
        theta_sum += theta.sum(axis=0)
    p, t = wins / n_samples, theta_sum / n_samples
    return BayesSignedRank(
        float(p[0]),
        float(p[1]),
        float(p[2]),
        float(t[0]),
        float(t[1]),
        float(t[2]),
        float(rope),
        float(prior_strength),
        float(z0),
        int(n_samples),
        int(seed),
    )
