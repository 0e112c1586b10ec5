"""The numbers of the report that need more than counting: jury agreement and goal diversity.

- `fleiss_kappa` and `pairwise_agreement`: how much the jurors agree beyond chance;
- `goal_diversity`: AgentHER's appendix E analysis. Original and hindsight goals are embedded
  together, clustered with k-means, and each side is described by how many clusters it
  covers and by the normalised entropy of its cluster distribution (1 = spread evenly over
  all k clusters, 0 = all in one). A 2-D PCA projection is returned for the plot.
What this does not do: choose k from the data (k = min(max_k, n // 2), as the brief fixes it),
or test whether a difference between the two sides is significant.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Mapping, Sequence

import numpy as np


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa of an items x categories matrix of vote counts (same raters per item).

    counts[i, j] is how many raters put item i in category j. Returns NaN when it is
    undefined: no items, fewer than two raters, or every vote in one category (chance
    agreement is then 1).

    Two raters, three items: agree on yes, agree on no, disagree.
    >>> round(fleiss_kappa(np.array([[2, 0], [0, 2], [1, 1]])), 3)
    0.333
    >>> fleiss_kappa(np.array([[3, 0], [3, 0]]))      # everyone always says yes
    nan
    """
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2 or counts.shape[0] == 0:
        return float("nan")
    raters = counts.sum(axis=1)
    n = raters[0]
    if n < 2 or not np.allclose(raters, n):
        return float("nan")
    p_item = ((counts ** 2).sum(axis=1) - n) / (n * (n - 1))     # agreement within each item
    p_cat = counts.sum(axis=0) / counts.sum()                   # share of each category
    p_bar, p_e = float(p_item.mean()), float((p_cat ** 2).sum())
    if np.isclose(p_e, 1.0):
        return float("nan")
    return (p_bar - p_e) / (1.0 - p_e)


def pairwise_agreement(patterns: Mapping[tuple[tuple[str, bool], ...], int]) -> dict[tuple[str, str], tuple[float, int]]:
    """Share of equal votes for each pair of jurors, over the verdicts where both voted.

    `patterns` maps the votes of one verdict, as sorted (juror, vote) pairs, to how many
    verdicts had exactly those votes (memory stays flat in the number of verdicts).

    >>> pairwise_agreement({(("a", True), ("b", True)): 1, (("a", True), ("b", False)): 1, (("a", False),): 5})
    {('a', 'b'): (0.5, 2)}
    """
    jurors = sorted({j for p in patterns for j, _ in p})
    out = {}
    for a, b in combinations(jurors, 2):
        agree = n = 0
        for p, count in patterns.items():
            votes = dict(p)
            if a in votes and b in votes:
                n += count
                agree += count * (votes[a] == votes[b])
        if n:
            out[(a, b)] = (agree / n, n)
    return out


def normalised_entropy(labels: Sequence[int], k: int) -> float:
    """Entropy of the cluster distribution of `labels`, divided by log(k); 0 when k < 2.

    >>> normalised_entropy([0, 1, 2, 3], 4), normalised_entropy([0, 0, 0], 4)
    (1.0, 0.0)
    """
    if k < 2 or len(labels) == 0:
        return 0.0
    p = np.bincount(np.asarray(labels, dtype=int), minlength=k) / len(labels)
    p = p[p > 0]
    h = float((p * np.log(1.0 / p)).sum() / np.log(k))
    return round(h, 12)      # subtle: rounding makes an even spread exactly 1.0, not 0.9999999999999998


@dataclass(frozen=True)
class Diversity:
    k: int
    n_original: int
    n_hindsight: int
    covered_original: int           # clusters holding at least one original goal
    covered_hindsight: int
    entropy_original: float         # normalised, in [0, 1]
    entropy_hindsight: float
    labels: np.ndarray              # cluster of every goal, originals first
    xy: np.ndarray                  # 2-D PCA projection, originals first
    explained: tuple[float, ...]    # variance ratio of the two PCA components


def goal_diversity(original: np.ndarray, hindsight: np.ndarray, max_k: int, n_init: int) -> Diversity:
    """Cluster both sets of goal embeddings together and compare how they spread.

    k = min(max_k, n // 2) for n goals in all, lowered to the number of distinct embeddings
    (k-means cannot find more clusters than points), and at least 1.
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    x = np.vstack([original, hindsight]).astype(np.float64)
    n, n_orig = len(x), len(original)
    distinct = len(np.unique(np.round(x, 6), axis=0))
    k = max(1, min(max_k, n // 2, distinct))
    if k == 1:
        labels = np.zeros(n, dtype=int)
    else:
        labels = KMeans(n_clusters=k, n_init=n_init, random_state=0).fit_predict(x)
    if n >= 2 and distinct >= 2:
        pca = PCA(n_components=min(2, n, x.shape[1]), random_state=0)
        xy = pca.fit_transform(x)
        explained = tuple(float(r) for r in pca.explained_variance_ratio_)
    else:
        xy, explained = np.zeros((n, 2)), (0.0, 0.0)
    if xy.shape[1] == 1:      # one component: put the points on a line
        xy = np.hstack([xy, np.zeros((n, 1))])
    lo, hi = labels[:n_orig], labels[n_orig:]
    return Diversity(k, n_orig, n - n_orig, len(set(lo.tolist())), len(set(hi.tolist())),
                     normalised_entropy(lo, k), normalised_entropy(hi, k), labels, xy, explained)
