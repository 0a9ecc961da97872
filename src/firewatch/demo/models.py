"""The demo's real scikit-learn models: bundled dataset, algorithm catalog and training cache."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

DATASET_NAME = "breast_cancer"
N_FEATURES = 30
"""Number of features of one breast_cancer instance."""

MALIGNANT = 0
"""The class a cancer detector must find (scikit-learn's breast_cancer: 0 = malignant, 1 = benign)."""

SPLIT_RANDOM_STATE = 42
TEST_SIZE = 0.25
_SEED = 0


@dataclass(frozen=True)
class DatasetSplit:
    """The fixed train/test split every version is trained and evaluated on."""

    x_train: np.ndarray[Any, Any]
    x_test: np.ndarray[Any, Any]
    y_train: np.ndarray[Any, Any]
    y_test: np.ndarray[Any, Any]


@functools.cache
def load_split() -> DatasetSplit:
    """Load breast_cancer (bundled with scikit-learn, no download) and split it reproducibly."""
    features, labels = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=TEST_SIZE, random_state=SPLIT_RANDOM_STATE, stratify=labels
    )
    return DatasetSplit(x_train=x_train, x_test=x_test, y_train=y_train, y_test=y_test)


def _sanitise(name: str) -> str:
    return re.sub(r"\W+", "_", name.strip().lower()).strip("_")


@functools.cache
def feature_names() -> tuple[str, ...]:
    """The 30 feature names as identifiers, in column order: ``mean_radius``, ``radius_error``,
    ``worst_concave_points``… (scikit-learn's names with the spaces replaced)."""
    names = tuple(_sanitise(str(name)) for name in load_breast_cancer().feature_names)
    assert len(names) == N_FEATURES
    return names


@functools.cache
def size_features() -> tuple[int, ...]:
    """Indices of the size measurements (radius, perimeter and area: mean, error and worst),
    the nine columns a unit change upstream would scale (the ``input_shift`` fault)."""
    sizes = {"radius", "perimeter", "area"}
    return tuple(i for i, name in enumerate(feature_names()) if sizes & set(name.split("_")))


def _logistic_regression() -> Any:
    return Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(max_iter=1000))])


def _random_forest() -> Any:
    return RandomForestClassifier(n_estimators=50, random_state=_SEED)


def _gradient_boosting() -> Any:
    return GradientBoostingClassifier(n_estimators=50, random_state=_SEED)


ALGORITHMS: dict[str, Callable[[], Any]] = {
    "logistic_regression": _logistic_regression,
    "random_forest": _random_forest,
    "gradient_boosting": _gradient_boosting,
}
"""Algorithm name (a version's ``metadata.algorithm``) → factory of an untrained estimator."""

DEFAULT_ALGORITHM = "logistic_regression"


@dataclass(frozen=True)
class TrainedModel:
    """A fitted estimator and its test-split accuracy; read-only, so shared across threads."""

    algorithm: str
    shuffled_labels: bool
    estimator: Any
    test_accuracy: float

    def predict(self, instances: Sequence[Sequence[float]]) -> list[int]:
        """Predict the class (0 = malignant, 1 = benign) of each instance."""
        rows = np.asarray(instances, dtype=np.float64)
        return [int(label) for label in self.estimator.predict(rows)]

    def predict_with_scores(
        self, instances: Sequence[Sequence[float]]
    ) -> tuple[list[int], list[float]]:
        """The classes (as :meth:`predict`: the most probable), and the probability of malignant
        (class 0) the model gives each row: one ``predict_proba`` call for both."""
        rows = np.asarray(instances, dtype=np.float64)
        probabilities = self.estimator.predict_proba(rows)
        classes = self.estimator.classes_
        labels = [int(label) for label in classes[np.argmax(probabilities, axis=1)]]
        column = list(classes).index(MALIGNANT)
        return labels, [min(max(float(p), 0.0), 1.0) for p in probabilities[:, column]]


def train(algorithm: str, *, shuffled_labels: bool = False) -> TrainedModel:
    """Fit ``algorithm`` on the train split (shuffled labels if asked); score on the test split."""
    if algorithm not in ALGORITHMS:
        known = ", ".join(sorted(ALGORITHMS))
        raise ValueError(f"unknown algorithm {algorithm!r} (known: {known})")
    split = load_split()
    labels = split.y_train
    if shuffled_labels:
        labels = np.random.default_rng(_SEED).permutation(labels)
    estimator = ALGORITHMS[algorithm]()
    estimator.fit(split.x_train, labels)
    accuracy = float(estimator.score(split.x_test, split.y_test))
    return TrainedModel(algorithm, shuffled_labels, estimator, accuracy)


class ModelCatalog:
    """Trains each (algorithm, shuffled_labels) pair once, so switching versions is instant."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, bool], TrainedModel] = {}
        self._lock = threading.Lock()

    def get(self, algorithm: str, *, shuffled_labels: bool = False) -> TrainedModel:
        """The trained model for this pair, training it on first use (thread-safe)."""
        key = (algorithm, shuffled_labels)
        with self._lock:
            cached = self._models.get(key)
            if cached is None:
                cached = train(algorithm, shuffled_labels=shuffled_labels)
                self._models[key] = cached
            return cached


_DEFAULT_CATALOG = ModelCatalog()


def default_catalog() -> ModelCatalog:
    """The process-wide catalog shared by every demo app in this process."""
    return _DEFAULT_CATALOG
