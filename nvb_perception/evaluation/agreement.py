"""Agreement statistics between two raters' scores (e.g. RULA from mocap vs from lifted 3D)."""
import numpy as np


def weighted_kappa(a, b, weights: str = 'quadratic') -> float:
    """Cohen's kappa between two raters' integer scores with linear or quadratic disagreement weights.

    kappa = 1 - sum(w * observed) / sum(w * expected), w_ij = |i - j| (linear) or (i - j)^2 (quadratic), the
    expected table being the product of the two marginals. The weights use the score values themselves, so
    categories nobody used change nothing (the usual 1/(k-1)^2 normalisation cancels). 1 = perfect agreement,
    0 = chance, < 0 worse than chance; 1.0 when both raters agree on every item even if they always say the same
    value (the textbook formula is 0/0 there); a rater who always says the same value gets 0 against any other
    (no variance: agreement is what chance gives), so short, uniform sets can show 0 with high % agreement;
    NaN for no items.
    """
    a, b = np.asarray(a, np.int64).ravel(), np.asarray(b, np.int64).ravel()
    if a.shape != b.shape:
        raise ValueError(f'a and b must have the same length, got {a.shape} and {b.shape}')
    if weights not in ('linear', 'quadratic'):
        raise ValueError(f"weights must be 'linear' or 'quadratic', got {weights!r}")
    if a.size == 0:
        return float('nan')
    cats = np.union1d(a, b)
    ia, ib = np.searchsorted(cats, a), np.searchsorted(cats, b)
    k = len(cats)
    observed = np.zeros((k, k))
    np.add.at(observed, (ia, ib), 1.0)
    observed /= a.size
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    diff = np.abs(cats[:, None] - cats[None, :]).astype(np.float64)
    w = diff ** 2 if weights == 'quadratic' else diff
    num, den = float((w * observed).sum()), float((w * expected).sum())
    if num == 0.0:
        return 1.0
    return round(1.0 - num / den, 12) + 0.0      # + 0.0: no '-0.0' for a rounded tiny negative


def agreement(truth_scores, lifted_scores, truth_levels, lifted_levels) -> dict:
    """Kappa (quadratic, grand score), level / exact / within-one agreement in %, n and the mean scores."""
    t, p = np.asarray(truth_scores), np.asarray(lifted_scores)
    n = int(t.size)
    pct = (lambda m: 100.0 * float(np.mean(m))) if n else (lambda m: float('nan'))
    return {'n': n, 'kappa': weighted_kappa(t, p), 'level_agreement': pct(np.asarray(truth_levels) ==
                                                                          np.asarray(lifted_levels)),
            'exact_agreement': pct(t == p), 'within_one': pct(np.abs(t - p) <= 1),
            'mean_truth': float(t.mean()) if n else float('nan'),
            'mean_lifted': float(p.mean()) if n else float('nan')}


def kappa_ci(truth, lifted, groups, resamples: int = 200, seed: int = 0) -> list[float]:
    """95 % bootstrap interval of weighted_kappa, resampling whole groups (views: frames of one view correlate)."""
    truth, lifted, groups = np.asarray(truth), np.asarray(lifted), np.asarray(groups)
    ids = np.unique(groups)
    if len(ids) < 2:
        return [float('nan'), float('nan')]
    members = [np.flatnonzero(groups == g) for g in ids]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        idx = np.concatenate([members[i] for i in rng.integers(len(ids), size=len(ids))])
        values.append(weighted_kappa(truth[idx], lifted[idx]))
    return [float(np.nanpercentile(values, 2.5)), float(np.nanpercentile(values, 97.5))]
