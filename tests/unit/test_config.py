"""The config file: defaults, and errors that name the file, the field and the expectation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from firewatch.app import check_references
from firewatch.config import Intent, load_config
from firewatch.errors import ConfigError
from firewatch.runbooks.library import RunbookLibrary
from firewatch.severity import Severity


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "firewatch.yaml"
    path.write_text(text)
    return path


def test_no_file_means_defaults_with_the_seed_routing() -> None:
    config = load_config(None)
    assert config.models == []
    routes = config.notify.routes
    assert [r.intent for r in routes[Severity.SEV1]] == [Intent.PAGE, Intent.CHAT, Intent.EMAIL]
    assert routes[Severity.SEV1][1].target == "#critical-incidents"
    assert [r.target for r in routes[Severity.SEV2]] == ["#ml-incidents", "ml-lead@company.com"]
    assert [r.intent for r in routes[Severity.SEV3]] == [Intent.TICKET]


def test_example_config_is_valid() -> None:
    config = load_config(Path(__file__).parents[2] / "firewatch.example.yaml")
    assert config.models[0].probe.interval == timedelta(seconds=1)
    check_references(config, RunbookLibrary.load())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models: [", "line 1"),
        ("- just\n- a list\n", "expected a mapping"),
        (
            "models: [{name: iris, probe: {interval: soon}}]",
            "models.0.probe.interval: expected a duration such as '30s', '5m', '2h' or '1d', got 'soon'",
        ),
        ("models: [{name: iris, health_url: not-a-url}]", "models.0.health_url"),
        ("models: [{name: iris}, {name: iris}]", "'iris' is defined twice"),
        ("servr: {port: 1}", "servr: Extra inputs are not permitted"),
        ("notify: {channels_for: {page: [pager]}}", "names channel 'pager', which is not defined"),
        ("severity_policy: {levels: {SEV1: {response_time: -5}}}", "response_time"),
        ("channels: [{type: carrier-pigeon, name: x}]", "channels.0"),
    ],
)
def test_broken_config_names_file_field_and_expectation(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in info.value.message
    assert expected in info.value.message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_runbook_reference_is_caught_at_start_up(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "models: [{name: iris, runbook: rollbak}]"))
    with pytest.raises(ConfigError, match=r"models\.0\.runbook: no runbook named 'rollbak'"):
        check_references(config, RunbookLibrary.load())
