"""What `firewatch demo up` prepares: the drift reference the example config points at, and the
tokens of the three processes (an ingest token for the events and labels)."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from firewatch.auth import service as auth_service
from firewatch.auth.service import Scope
from firewatch.config import DriftConfig, load_config
from firewatch.demo.models import default_catalog, feature_names, load_split, size_features, train
from firewatch.demo.reference import DEMO_REFERENCE, write_reference
from firewatch.demo.stack import seed
from firewatch.detect.drift import DriftVerdict, ModelDrift
from firewatch.store.db import Database

EXAMPLE_CONFIG = Path(__file__).parents[3] / "firewatch.example.yaml"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reference(tmp_path_factory.mktemp("demo") / "state" / "reference.csv")


def test_the_reference_is_the_held_out_split_with_predictions_and_labels(
    reference: Path,
) -> None:
    split = load_split()
    with reference.open(newline="") as source:
        rows = list(csv.reader(source))
    assert rows[0] == [*feature_names(), "prediction", "label"]
    assert len(rows) - 1 == len(split.x_test)
    model = train("random_forest")
    assert [int(r[-2]) for r in rows[1:]] == model.predict(split.x_test.tolist())
    assert [int(r[-1]) for r in rows[1:]] == split.y_test.tolist()
    assert [float(v) for v in rows[1][:-2]] == split.x_test[0].tolist()  # exact, as reported
    assert [p.name for p in reference.parent.iterdir()] == ["reference.csv"]  # no temp file left


def _window(reference: Path, shift: float, rows: int = 400) -> tuple[ModelDrift, DriftVerdict]:
    """Firewatch's drift window fed the way the demo feeds it: replayed test rows."""
    config = DriftConfig.model_validate(
        {"reference": str(reference), "window": "1m", "min_rows": 100, "drift_share": 0.25}
    )
    drift = ModelDrift("cancer-detector", config)
    split, model = load_split(), default_catalog().get("random_forest")
    rng = random.Random(3)
    picks = [rng.randrange(len(split.x_test)) for _ in range(rows)]
    instances = [
        [v * shift if i in size_features() else v for i, v in enumerate(split.x_test[k])]
        for k in picks
    ]
    now = datetime.now(UTC)
    events = [
        (now, "v2", {**dict(zip(feature_names(), row, strict=True)), "prediction": prediction})
        for row, prediction in zip(instances, model.predict(instances), strict=True)
    ]
    drift.add_events(events, now)
    drift.add_labels([int(split.y_test[k]) for k in picks], now + timedelta(seconds=1))
    verdict = drift.evaluate(now + timedelta(seconds=1))
    assert verdict is not None
    assert verdict.prediction is not None and verdict.label is not None
    return drift, verdict


def test_normal_traffic_matches_the_reference_and_the_shift_stands_out(reference: Path) -> None:
    drift, normal = _window(reference, 1.0)
    assert normal.features.drifted == []
    assert normal.quality.findings == []
    assert normal.prediction is not None and not normal.prediction.drifted
    assert normal.label is not None and not normal.label.drifted
    assert drift.reference_accuracy() == pytest.approx(train("random_forest").test_accuracy)

    _, shifted = _window(reference, 1.3)
    assert {c.name for c in shifted.features.drifted} == {
        feature_names()[i] for i in size_features()
    }
    assert shifted.features.dataset_drift
    assert shifted.prediction is not None and shifted.prediction.drifted  # more look malignant
    assert shifted.label is not None and not shifted.label.drifted  # the truth did not change


def test_the_example_config_reads_once_the_reference_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # DEMO_REFERENCE is relative, as the config's path is
    write_reference()
    model = load_config(EXAMPLE_CONFIG).models[0]
    assert model.drift is not None
    assert model.drift.reference == DEMO_REFERENCE
    assert (tmp_path / DEMO_REFERENCE).is_file()
    assert model.events.positive_label == "0"  # the score the demo reports is P(malignant)


def test_the_reference_command_writes_it_where_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from firewatch.cli.main import app

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    default = runner.invoke(app, ["demo", "reference"])
    chosen = runner.invoke(app, ["demo", "reference", "-o", "elsewhere/ref.csv"])
    assert (default.exit_code, chosen.exit_code) == (0, 0)
    assert "drift reference written to .firewatch/demo-reference.csv" in default.stdout
    assert (tmp_path / DEMO_REFERENCE).read_text() == (tmp_path / "elsewhere/ref.csv").read_text()


def test_seed_gives_the_processes_an_ingest_token(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/firewatch.db")
    try:
        tokens = seed(db, "cancer-detector")
        scopes = {}
        with db.write_session() as session:
            for name, token in vars(tokens).items():
                info = auth_service.verify_token(session, token=token)
                assert info is not None
                scopes[name] = info.scope
    finally:
        db.dispose()
    assert scopes == {"service": Scope.READ, "user": Scope.ADMIN, "ingest": Scope.INGEST}
