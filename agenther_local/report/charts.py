"""The report's charts: matplotlib figures drawn with the Agg canvas, returned as PNG data URIs.

No pyplot: each chart is a `Figure` on its own `FigureCanvasAgg`, so nothing global (the
backend, the current figure) changes in the calling process, and a chart with no data says so
in its own axes instead of disappearing (the report always has the same images).
PNG metadata is dropped so the same journal gives byte-identical images.
"""
from __future__ import annotations

import base64
import io
from typing import Any, Sequence

import numpy as np

from ..errors import AgentherError

ORIGINAL, HINDSIGHT = "#4C72B0", "#DD8452"       # the two colours of every original/hindsight pair
GREY, GREEN, RED = "#8C8C8C", "#55A868", "#C44E52"
STAGE_COLOURS = ("#B0B0B0", "#8172B3", "#4C72B0", "#64B5CD", "#55A868")


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError as e:
        raise AgentherError("report.html needs matplotlib; install it with "
                            "`pip install 'agenther-local[report]'`") from e
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", color=GREY, fontsize=11, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)


def _tidy(ax) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)


def funnel_chart(stages: Sequence[str], overall: Sequence[int], by_type: dict[str, Sequence[int]]) -> str:
    """Left: the overall funnel as horizontal bars. Right: per failure type, one bar per stage."""
    fig = _figure(10, 3.6)
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.4))
    y = np.arange(len(stages))[::-1]
    left.barh(y, overall, color=STAGE_COLOURS[:len(stages)])
    left.set_yticks(y, stages)
    top = max(overall) if max(overall, default=0) else 1
    for yy, v in zip(y, overall):
        left.text(v + top * 0.01, yy, str(v), va="center", fontsize=9)
    left.set_xlim(0, top * 1.15)
    left.set_title("all records", fontsize=10)
    _tidy(left)
    if not by_type:
        _no_data(right, "no failed record")
    else:
        names = sorted(by_type, key=lambda t: -by_type[t][0])
        sub = stages[1:]
        x = np.arange(len(names))
        width = 0.8 / len(sub)
        for i, stage in enumerate(sub):
            right.bar(x + (i - (len(sub) - 1) / 2) * width, [by_type[n][i] for n in names], width,
                      label=stage, color=STAGE_COLOURS[i + 1])
        right.set_xticks(x, names, rotation=20, ha="right", fontsize=8)
        right.legend(fontsize=8, frameon=False)
        right.set_title("failed records, by failure type", fontsize=10)
        _tidy(right)
    return _data_uri(fig)


def histogram_chart(bins: np.ndarray, series: dict[str, np.ndarray], colours: Sequence[str], title: str,
                    xlabel: str, ylabel: str, stacked: bool, marks: Sequence[tuple[float, str]] = ()) -> str:
    """Counts already binned over `bins`; `marks` are labelled vertical lines (δ, θ)."""
    fig = _figure(5.2, 3.2)
    ax = fig.subplots()
    ax.set_title(title, fontsize=10)
    if not any(int(c.sum()) for c in series.values()):
        _no_data(ax, "no values in this run")
        return _data_uri(fig)
    width = np.diff(bins)
    bottom = np.zeros(len(width))
    side = width / len(series)        # side by side when not stacked: no colour hides another
    for i, ((name, counts), colour) in enumerate(zip(series.items(), colours)):
        label = f"{name} ({int(counts.sum())})"
        if stacked:
            ax.bar(bins[:-1], counts, width, bottom=bottom, align="edge", color=colour, edgecolor="white",
                   linewidth=0.5, label=label)
            bottom = bottom + counts
        else:
            ax.bar(bins[:-1] + i * side, counts, side, align="edge", color=colour, label=label)
    for x, label in marks:
        ax.axvline(x, color=RED, linestyle="--", linewidth=1)
        ax.text(x, 1.0, f" {label}", color=RED, fontsize=8, va="top", transform=ax.get_xaxis_transform())
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    _tidy(ax)
    return _data_uri(fig)


def juror_chart(rows: Sequence[dict[str, Any]]) -> str:
    """Share of yes votes and mean P(yes) per juror, with the juror's threshold."""
    fig = _figure(7, 1.2 + 0.45 * max(2, len(rows)))
    ax = fig.subplots()
    ax.set_title("jurors: share of yes votes and mean P(yes)", fontsize=10)
    if not rows:
        _no_data(ax, "no jury vote in this run")
        return _data_uri(fig)
    y = np.arange(len(rows))[::-1]
    ax.barh(y + 0.2, [r["yes_rate"] for r in rows], 0.38, color=GREEN, label="share of yes votes")
    ax.barh(y - 0.2, [r["mean_p"] for r in rows], 0.38, color=ORIGINAL, label="mean P(yes)")
    for yy, r in zip(y, rows):
        if r["threshold"] is not None:
            ax.plot([r["threshold"]] * 2, [yy - 0.45, yy + 0.45], color=RED, linewidth=1.5)
    ax.plot([], [], color=RED, label="threshold θ")
    ax.set_yticks(y, [f"{r['juror']} (n={r['votes']})" for r in rows], fontsize=8)
    ax.set_xlim(0, 1)
    fig.legend(fontsize=8, frameon=False, loc="outside lower center", ncols=3)
    _tidy(ax)
    return _data_uri(fig)


def rejection_chart(counts: Sequence[tuple[str, int]]) -> str:
    """Rejected and error records by the gate or stage that decided."""
    fig = _figure(7, 0.9 + 0.35 * max(2, len(counts)))
    ax = fig.subplots()
    ax.set_title("rejected and error records, by gate or stage", fontsize=10)
    if not counts:
        _no_data(ax, "no record was rejected")
        return _data_uri(fig)
    y = np.arange(len(counts))[::-1]
    ax.barh(y, [c for _, c in counts], color=[RED if k == "error" else GREY for k, _ in counts])
    ax.set_yticks(y, [k for k, _ in counts], fontsize=8)
    top = max(c for _, c in counts)
    for yy, (_, c) in zip(y, counts):
        ax.text(c + top * 0.01, yy, str(c), va="center", fontsize=8)
    ax.set_xlim(0, top * 1.15)
    _tidy(ax)
    return _data_uri(fig)


def diversity_chart(xy: np.ndarray, n_original: int, labels: np.ndarray, explained: Sequence[float],
                    embedder: str) -> str:
    """The 2-D PCA projection: originals and hindsight goals in two colours, pairs joined."""
    fig = _figure(6.4, 4.6)
    ax = fig.subplots()
    orig, hind = xy[:n_original], xy[n_original:]
    for a, b in zip(orig, hind):      # the i-th hindsight goal relabels the i-th original's run
        ax.plot([a[0], b[0]], [a[1], b[1]], color="#DDDDDD", linewidth=0.7, zorder=1)
    ax.scatter(orig[:, 0], orig[:, 1], s=28, color=ORIGINAL, label=f"original goals ({len(orig)})", zorder=2)
    ax.scatter(hind[:, 0], hind[:, 1], s=28, color=HINDSIGHT, marker="^", label=f"hindsight goals ({len(hind)})", zorder=3)
    for k in sorted(set(labels.tolist())):
        c = xy[labels == k].mean(axis=0)
        ax.annotate(f"C{k}", c, fontsize=8, color=GREY, ha="center", va="center")
    ev = list(explained) + [0.0, 0.0]
    ax.set_xlabel(f"PC1 ({ev[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({ev[1]:.0%} of variance)")
    ax.set_title(f"goal embeddings ({embedder}), PCA projection", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    _tidy(ax)
    return _data_uri(fig)
