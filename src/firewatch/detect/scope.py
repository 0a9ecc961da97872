"""Where the failures are: a breakdown of failures by dimension (model version, segment, true
label, error type) for the seed's "all users or a specific segment? all features or a specific
type?" — attached to error-rate and accuracy alerts as their ``scope`` annotation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MAX_VALUES_SHOWN = 5

Counts = Mapping[str, Sequence[float]]  # value -> (total, failed)


def describe(dimensions: Mapping[str, Counts], *, failure: str = "failed") -> str:
    """One line per dimension that has more than one value, the most concentrated first.

    ``by version: v3 12.1% failed of 990, v2 0.2% failed of 1,020 — concentrated in v3``
    """
    lines: list[tuple[float, str]] = []
    for name, counts in dimensions.items():
        seen = {value: c for value, c in counts.items() if c[0] > 0}
        if len(seen) < 2:
            continue
        ordered = sorted(seen.items(), key=lambda item: -_rate(item[1]))
        shown = [
            f"{value or 'unset'} {_rate(c) * 100:.1f}% {failure} of {c[0]:,.0f}"
            for value, c in ordered[:MAX_VALUES_SHOWN]
        ]
        if len(ordered) > MAX_VALUES_SHOWN:
            shown.append(f"{len(ordered) - MAX_VALUES_SHOWN} more")
        line = f"by {name}: " + ", ".join(shown)
        worst, share = concentration(seen)
        if worst is not None:
            line += f" — concentrated in {name} {worst or 'unset'}"
        lines.append((share, line))
    return "\n".join(line for _, line in sorted(lines, key=lambda item: -item[0]))


def concentration(counts: Counts) -> tuple[str | None, float]:
    """The value where failures concentrate — at least half of them, at a rate at least twice
    the rest's — and its share of the failures; (None, share) when they are spread out."""
    failed = sum(c[1] for c in counts.values())
    if failed <= 0:
        return None, 0.0
    value, (total, bad) = max(counts.items(), key=lambda item: _rate(item[1]))
    rest_total = sum(c[0] for c in counts.values()) - total
    rest_bad = failed - bad
    rest_rate = rest_bad / rest_total if rest_total > 0 else 0.0
    share = bad / failed
    if share >= 0.5 and _rate((total, bad)) >= 2 * rest_rate:
        return value, share
    return None, share


def _rate(counts: Sequence[float]) -> float:
    total, failed = counts
    return failed / total if total > 0 else 0.0
