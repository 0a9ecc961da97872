"""Model quality from predictions joined with their late labels, in bounded space per bucket.

Classification: a confusion table of (true, predicted) counts (at most ``MAX_PAIRS`` pairs; the
rest are counted as wrong) gives precision, recall and F1 — for the positive class when the
labels are binary (``0``/``1``, ``false``/``true``, or ``events.positive_label``), macro-averaged
over the classes otherwise, as scikit-learn's defaults do — and a histogram of the events'
``score`` (the probability given to the positive class, in ``SCORE_BINS`` bins) gives ROC-AUC:
exact up to pairs of scores that share a bin, which count half (at most one bin's share of pairs).
Regression (numeric predictions and labels, ``events.task: regression`` or detected): MAE, RMSE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

MAX_PAIRS = 10_000
SCORE_BINS = 1000
BINARY = ({"0", "1"}, {"false", "true"})


def label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


@dataclass(slots=True)
class LabelStats:
    pairs: dict[tuple[str, str], int] = field(default_factory=dict)
    overflow: int = 0  # joined pairs beyond MAX_PAIRS distinct ones (counted, not classified)
    numeric: int = 0
    fractional: bool = False  # some value was not a whole number: a regression
    abs_error: float = 0.0
    squared_error: float = 0.0
    scores: dict[bool, dict[int, int]] = field(default_factory=lambda: {True: {}, False: {}})

    def add(self, prediction: Any, truth: Any, score: float | None, positive: str | None) -> None:
        p, t = _number(prediction), _number(truth)
        if p is not None and t is not None:
            self.numeric += 1
            self.fractional = self.fractional or not (p.is_integer() and t.is_integer())
            error = p - t
            self.abs_error += abs(error)
            self.squared_error += error * error
        key = (label_text(truth), label_text(prediction))
        if key in self.pairs or len(self.pairs) < MAX_PAIRS:
            self.pairs[key] = self.pairs.get(key, 0) + 1
        else:
            self.overflow += 1
        if score is not None and 0 <= score <= 1:
            is_positive = key[0] == (positive or "1") or (positive is None and key[0] == "true")
            bins = self.scores[is_positive]
            slot = min(int(score * SCORE_BINS), SCORE_BINS - 1)
            bins[slot] = bins.get(slot, 0) + 1

    def merge(self, other: LabelStats) -> None:
        for key, n in other.pairs.items():
            self.pairs[key] = self.pairs.get(key, 0) + n
        self.overflow += other.overflow
        self.numeric += other.numeric
        self.fractional = self.fractional or other.fractional
        self.abs_error += other.abs_error
        self.squared_error += other.squared_error
        for side in (True, False):
            into = self.scores[side]
            for slot, n in other.scores[side].items():
                into[slot] = into.get(slot, 0) + n

    @property
    def joined(self) -> int:
        return sum(self.pairs.values()) + self.overflow

    def metrics(self, task: str, positive: str | None) -> dict[str, float]:
        """The metrics this window supports (empty when it has no joined labels)."""
        n = self.joined
        if n == 0:
            return {}
        regression = task == "regression" or (
            task == "auto" and self.numeric == n and self.fractional
        )
        if regression:
            if self.numeric == 0:
                return {}
            return {
                "mae": self.abs_error / self.numeric,
                "rmse": math.sqrt(self.squared_error / self.numeric),
            }
        out = self._classification(positive)
        auc = self._auc()
        if auc is not None:
            out["roc_auc"] = auc
        return out

    def _classification(self, positive: str | None) -> dict[str, float]:
        classes = {t for t, _ in self.pairs} | {p for _, p in self.pairs}
        binary = positive is not None or any(classes <= pair for pair in BINARY)
        if binary:
            target = positive or ("true" if "true" in classes or "false" in classes else "1")
            return dict(zip(("precision", "recall", "f1"), self._prf(target), strict=True))
        scores = [self._prf(c) for c in sorted(classes)]
        return {
            name: sum(s[i] for s in scores) / len(scores)
            for i, name in enumerate(("precision", "recall", "f1"))
        }

    def _prf(self, label: str) -> tuple[float, float, float]:
        tp = self.pairs.get((label, label), 0)
        predicted = sum(n for (_, p), n in self.pairs.items() if p == label)
        actual = sum(n for (t, _), n in self.pairs.items() if t == label)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    def _auc(self) -> float | None:
        """Mann–Whitney over the binned scores: P(score of a positive > score of a negative),
        pairs within one bin counting half."""
        positives, negatives = self.scores[True], self.scores[False]
        n_pos, n_neg = sum(positives.values()), sum(negatives.values())
        if n_pos == 0 or n_neg == 0:
            return None
        below = 0  # negatives in lower bins
        wins = 0.0
        for slot in sorted(set(positives) | set(negatives)):
            pos, neg = positives.get(slot, 0), negatives.get(slot, 0)
            wins += pos * (below + neg / 2)
            below += neg
        return wins / (n_pos * n_neg)
