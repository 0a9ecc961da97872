"""The demo model's drift reference: what its inputs, predictions and true labels look like when
all is well — a CSV that ``models[].drift.reference`` points at (``firewatch demo up`` writes it
to ``.firewatch/demo-reference.csv`` before starting Firewatch).

The rows are the held-out test split — the rows the traffic generator replays — with the
production version's predictions on them and the true labels, not the training split:

* the traffic replays those 143 rows over and over, so against the training split every window
  of a few hundred requests looks drifted (the Kolmogorov–Smirnov test takes the replayed rows
  for that many independent ones: 12–13 of the 30 features "drift" at 600 rows with no fault),
  and a few test values lie outside the training range (a data quality finding, hence a
  ``DataQuality`` incident, with no fault injected);
* a model's predictions on its own training rows are its fit (the random forest gets them all
  right), not what it does on new data: the held-out accuracy (about 96%) is the baseline that
  the accuracy-drop severity bands need.

Against this reference, normal traffic matches and the ``input_shift`` fault stands out.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from firewatch.demo.models import feature_names, load_split, train
from firewatch.store.db import DEFAULT_DATA_DIR

DEMO_REFERENCE = DEFAULT_DATA_DIR / "demo-reference.csv"
"""Where ``firewatch demo up`` writes the reference (relative to the working directory, as the
example config's ``drift.reference`` is)."""

PRODUCTION_ALGORITHM = "random_forest"
"""The algorithm of the version the demo deploys to production (v2)."""

PREDICTION_COLUMN = "prediction"
LABEL_COLUMN = "label"


def write_reference(path: Path = DEMO_REFERENCE, *, algorithm: str = PRODUCTION_ALGORITHM) -> Path:
    """Write the reference CSV to ``path`` (its folder created) and return the path.

    Columns: the 30 features under their identifier names (``mean_radius``…), ``prediction``
    (``algorithm`` trained on the training split, as the demo versions are) and ``label``. The
    file is replaced atomically, so a Firewatch starting meanwhile reads the old or the new one.
    """
    split = load_split()
    predictions = train(algorithm).predict(split.x_test.tolist())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with partial.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow([*feature_names(), PREDICTION_COLUMN, LABEL_COLUMN])
            for row, prediction, label in zip(
                split.x_test.tolist(), predictions, split.y_test.tolist(), strict=True
            ):
                writer.writerow([*row, prediction, int(label)])
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path
