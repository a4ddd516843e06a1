"""scipy's BCa bootstrap interval, the reference the stats tests compare dlenergy's intervals with."""

from __future__ import annotations

import numpy as np
from scipy import stats as ss


def scipy_ci(*samples, statistic, seed: int, n_resamples: int = 199) -> tuple[float, float]:
    """95 % BCa interval of ``statistic`` over ``samples`` (scipy.stats.bootstrap, ``default_rng(seed)``)."""
    res = ss.bootstrap(
        tuple(np.asarray(s, dtype=float) for s in samples),
        statistic,
        n_resamples=n_resamples,
        vectorized=True,
        axis=-1,
        confidence_level=0.95,
        method="BCa",
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
