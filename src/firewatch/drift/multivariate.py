"""Multivariate drift: can a classifier tell the reference rows from the current ones?

Column-by-column tests miss a change that keeps every marginal distribution intact — two
features that were independent and now move together, a segment whose mix of values changed.
A *domain classifier* sees whole rows: reference rows are labelled 0, current rows 1, and a
gradient-boosted tree model (which can learn interactions) is cross-validated on them. Its
out-of-fold ROC-AUC is 0.5 when the two samples come from the same distribution; drift is
declared when it is significantly higher::

    AUC ≥ max(min_auc, 0.5 + z(1 − α) · σ),   σ = sqrt((n₀ + n₁ + 1) / (12 · n₀ · n₁))

σ being the standard deviation of the AUC (the Mann–Whitney U statistic over n₀·n₁) when the
scores do not depend on the label, α 0.01. ``min_auc`` (0.55) keeps big samples from flagging
a difference too small to matter. Both sides contribute the same number of rows (all of the
smaller side's, at most 2,000), drawn at random with a fixed seed: the verdict is
reproducible.

Columns: numerical ones as they are, missing (and infinite) values replaced by the reference
median; categorical ones ordinal-encoded on the reference's frequent categories, with one code
for the other (rare or unseen) categories and one for missing values. Which columns drive the
difference is reported cheaply: the impurity importance of extremely randomised trees fitted
once on all rows (sees interactions) and each column's own AUC (sees shifted marginals only).

Nothing about the data raises: too few rows or no usable column gives a result with status
``insufficient_data`` and a message.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from firewatch.drift.data import Column, DataError, Table
from firewatch.drift.profile import Profile
from firewatch.drift.sketch import category_name
from firewatch.drift.stattests.base import Kind

DEFAULT_MAX_ROWS = 2_000  # per side
MIN_ROWS = 50  # per side
MIN_AUC = 0.55
ALPHA = 0.01
FOLDS = 5
TOP_FEATURES = 5
MAX_CATEGORIES = 50  # per categorical column: the most frequent reference categories get a code
MIN_CATEGORY_COUNT = 2  # a category seen once in the reference (an id, say) is not worth a code

Rows = Table | Profile | Mapping[str, Sequence[Any]]
Status = Literal["ok", "insufficient_data"]


@dataclass(frozen=True)
class FeatureDrift:
    """One column's part in telling the samples apart."""

    name: str
    importance: float  # share of the trees' impurity importance (all columns sum to 1)
    auc: float  # the column alone: AUC of its values (≥ 0.5; 0.5 = marginal unchanged)

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.name, "importance": self.importance, "auc": self.auc}


@dataclass(frozen=True)
class MultivariateResult:
    status: Status
    drifted: bool
    auc: float | None  # out-of-fold ROC-AUC of the domain classifier
    threshold: float | None  # drift when auc ≥ threshold
    p_value: float | None  # one-sided, normal approximation of the Mann–Whitney null
    n_reference: int  # rows used (after subsampling)
    n_current: int
    top_features: tuple[FeatureDrift, ...] = ()
    columns: tuple[str, ...] = ()  # the columns the classifier saw
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why it was left out
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": "domain_classifier",
            "status": self.status,
            "drifted": self.drifted,
            "auc": self.auc,
            "threshold": self.threshold,
            "p_value": self.p_value,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "top_features": [f.to_dict() for f in self.top_features],
            "columns": list(self.columns),
            "skipped": dict(self.skipped),
            "message": self.message,
        }


def auc_sigma(n_reference: int, n_current: int) -> float:
    """Standard deviation of the AUC under the null (Mann–Whitney, no ties)."""
    return math.sqrt((n_reference + n_current + 1) / (12.0 * n_reference * n_current))


def auc_threshold(
    n_reference: int, n_current: int, *, min_auc: float = MIN_AUC, alpha: float = ALPHA
) -> float:
    """The AUC at and above which the samples differ significantly (and enough to matter)."""
    from scipy.stats import norm

    z = float(norm.ppf(1.0 - alpha))
    return max(min_auc, 0.5 + z * auc_sigma(n_reference, n_current))


def check_multivariate(
    reference: Rows,
    current: Rows,
    *,
    columns: Sequence[str] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    min_rows: int = MIN_ROWS,
    min_auc: float = MIN_AUC,
    alpha: float = ALPHA,
    folds: int = FOLDS,
    top: int = TOP_FEATURES,
    seed: int = 0,
    threads: int = 1,
) -> MultivariateResult:
    """Domain-classifier drift between reference and current rows.

    ``reference`` and ``current`` are Tables, ``{column: list}`` rows (as in
    ``Profile.sample``) or a Profile (its sample is used). ``columns`` restricts the columns
    looked at (default: those of the reference). The same number of rows is used from each
    side — all of the smaller one's, at most ``max_rows`` — drawn at random; the result is
    the same for the same ``seed``. ``threads`` caps the OpenMP threads of the gradient
    boosting (1 by default: inside a busy service, more threads than free cores make it many
    times slower, not faster).
    """
    if max_rows < 1 or min_rows < 1 or folds < 2 or not 0 < alpha < 1:
        raise ValueError("max_rows and min_rows must be ≥ 1, folds ≥ 2 and alpha in (0, 1)")
    ref_table, problem = _as_table(reference, "reference")
    cur_table, cur_problem = _as_table(current, "current")
    problem = problem or cur_problem
    if problem or ref_table is None or cur_table is None:
        return _insufficient(0, 0, problem or "no rows")
    if ref_table.rows < min_rows or cur_table.rows < min_rows:
        return _insufficient(
            ref_table.rows,
            cur_table.rows,
            f"too few rows to train a classifier: {ref_table.rows:,} reference and "
            f"{cur_table.rows:,} current (at least {min_rows:,} each needed)",
        )
    per_side = min(ref_table.rows, cur_table.rows, max_rows)  # balanced classes
    rng = np.random.default_rng(seed)
    ref_rows = _subsample(ref_table.rows, per_side, rng)
    cur_rows = _subsample(cur_table.rows, per_side, rng)
    n0 = n1 = per_side

    names = list(columns) if columns is not None else list(ref_table.columns)
    skipped: dict[str, str] = {}
    features: list[npt.NDArray[np.float64]] = []
    categorical: list[bool] = []
    used: list[str] = []
    for name in names:
        ref_column = ref_table.columns.get(name)
        cur_column = cur_table.columns.get(name)
        if ref_column is None or cur_column is None:
            skipped[name] = f"not in the {'reference' if ref_column is None else 'current'} rows"
            continue
        encoded = _encode(ref_column, cur_column, ref_rows, cur_rows)
        if isinstance(encoded, str):
            skipped[name] = encoded
            continue
        values, is_categorical = encoded
        features.append(values)
        categorical.append(is_categorical)
        used.append(name)
    if not used:
        return _insufficient(n0, n1, "no column usable by the classifier", skipped)

    x = np.column_stack(features)
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])
    mask = np.asarray(categorical, dtype=bool)
    from scipy.stats import norm
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    splits = StratifiedKFold(n_splits=min(folds, n0, n1), shuffle=True, random_state=seed)
    with threadpool_limits(limits=max(threads, 1)):
        scores = cross_val_predict(
            _classifier(mask, seed), x, y, cv=splits, method="predict_proba"
        )[:, 1]
        ranked = _importances(x, y, used, mask, seed)[: max(top, 0)]
    auc = float(roc_auc_score(y, scores))
    threshold = auc_threshold(n0, n1, min_auc=min_auc, alpha=alpha)
    p_value = float(norm.sf((auc - 0.5) / auc_sigma(n0, n1)))
    drifted = auc >= threshold
    verdict = "drift" if drifted else "no drift"
    message = (
        f"{verdict}: a classifier tells current from reference rows with AUC {auc:.3f} "
        f"(threshold {threshold:.3f}, {n0:,} reference and {n1:,} current rows)"
    )
    if drifted and ranked:
        message += "; most telling columns: " + ", ".join(f.name for f in ranked[:3])
    return MultivariateResult(
        status="ok",
        drifted=drifted,
        auc=auc,
        threshold=threshold,
        p_value=p_value,
        n_reference=n0,
        n_current=n1,
        top_features=tuple(ranked),
        columns=tuple(used),
        skipped=skipped,
        message=message,
    )


def _insufficient(
    n0: int, n1: int, message: str, skipped: dict[str, str] | None = None
) -> MultivariateResult:
    return MultivariateResult(
        status="insufficient_data",
        drifted=False,
        auc=None,
        threshold=None,
        p_value=None,
        n_reference=n0,
        n_current=n1,
        skipped=skipped or {},
        message=message,
    )


def _as_table(rows: Rows, side: str) -> tuple[Table | None, str]:
    if isinstance(rows, Table):
        return rows, ""
    data = rows.sample if isinstance(rows, Profile) else rows
    try:
        return Table.from_mapping(data), ""
    except (DataError, TypeError, ValueError) as exc:
        return None, f"{side} rows unusable: {exc}"


def _subsample(rows: int, limit: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    if rows <= limit:
        return np.arange(rows, dtype=np.int64)
    return np.sort(rng.choice(rows, limit, replace=False)).astype(np.int64)


def _encode(
    reference: Column,
    current: Column,
    ref_rows: npt.NDArray[np.int64],
    cur_rows: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.float64], bool] | str:
    """One feature for both sides (reference rows first), whether it is categorical, or why
    the column cannot be used."""
    if reference.kind is Kind.NUMERICAL:
        if current.kind is not Kind.NUMERICAL:
            return "type changed: numerical in the reference, categorical now"
        ref = np.asarray(reference.values, dtype=np.float64)[ref_rows]
        cur = np.asarray(current.values, dtype=np.float64)[cur_rows]
        ref_finite = ref[np.isfinite(ref)]
        if len(ref_finite) == 0:
            return "every reference value is missing"
        both = np.concatenate([ref, cur])
        return np.where(np.isfinite(both), both, float(np.median(ref_finite))), False
    ref_values = [reference.values[i] for i in ref_rows]
    if current.kind is Kind.NUMERICAL:  # a low-cardinality number column read as categories
        cur_values = [
            None if not math.isfinite(v) else category_name(v)
            for v in np.asarray(current.values, dtype=np.float64)[cur_rows].tolist()
        ]
    else:
        cur_values = [current.values[i] for i in cur_rows]
    tally = Counter(v for v in ref_values if v is not None)
    if not tally:
        return "every reference value is missing"
    frequent = [c for c, n in tally.most_common(MAX_CATEGORIES) if n >= MIN_CATEGORY_COUNT]
    codes = {c: float(i) for i, c in enumerate(frequent)}
    other, missing = float(len(frequent)), float(len(frequent) + 1)
    encoded = [missing if v is None else codes.get(v, other) for v in (*ref_values, *cur_values)]
    return np.asarray(encoded, dtype=np.float64), True


def _classifier(categorical: npt.NDArray[np.bool_], seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        learning_rate=0.1,
        max_iter=50,
        max_leaf_nodes=8,
        min_samples_leaf=40,
        early_stopping=False,
        categorical_features=categorical if categorical.any() else None,
        random_state=seed,
    )


def _importances(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.int64],
    names: list[str],
    categorical: npt.NDArray[np.bool_],
    seed: int,
) -> list[FeatureDrift]:
    """Columns by how much they tell the samples apart, most telling first."""
    from sklearn.ensemble import ExtraTreesClassifier

    forest = ExtraTreesClassifier(
        n_estimators=50,
        max_depth=8,
        min_samples_leaf=10,
        max_features=0.5,
        n_jobs=1,
        random_state=seed,
    )
    forest.fit(x, y)
    shares = np.asarray(forest.feature_importances_, dtype=np.float64)
    total = float(shares.sum())
    if total > 0:
        shares = shares / total
    found = [
        FeatureDrift(name, float(share), _single_auc(x[:, i], y, bool(categorical[i])))
        for i, (name, share) in enumerate(zip(names, shares, strict=True))
    ]
    return sorted(found, key=lambda f: (-f.importance, -f.auc, f.name))


def _single_auc(
    values: npt.NDArray[np.float64], y: npt.NDArray[np.int64], categorical: bool
) -> float:
    """How well one column alone separates the samples (direction-free, in-sample)."""
    from sklearn.metrics import roc_auc_score

    if categorical:  # score each category by its share of current rows
        codes, inverse = np.unique(values, return_inverse=True)
        current_share = np.bincount(inverse, weights=y.astype(np.float64)) / np.bincount(inverse)
        values = current_share[inverse] if len(codes) > 1 else np.zeros(len(values))
    auc = float(roc_auc_score(y, values))
    return max(auc, 1.0 - auc)
