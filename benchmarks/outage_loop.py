"""Fault → incident → mitigated → resolved, measured on real processes with 1 s probes.

Starts `firewatch serve` and `firewatch demo-model` (SQLite, loopback), makes v1 and v2 healthy,
then deploys a broken v3 ROUNDS times (each round rolls back to v2 and resolves before the next)
and prints the times against the foundation's targets (incident < 5 s, resolved < 30 s).

    .venv/bin/python benchmarks/outage_loop.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.processes import deploy_and_wait_healthy, running_stack, wait_until
from support.receiver import Receiver
from support.servers import serve_in_thread

QUIET = 5.0


def one_round(client: httpx.Client, receiver: Receiver) -> dict[str, float]:
    pages_before = len(receiver.bodies())
    fault = time.monotonic()
    client.post("/api/v1/models/iris/deploy", json={"version": "v3"}).raise_for_status()

    def open_incident() -> str | None:
        items = client.get(
            "/api/v1/incidents", params={"status": "triggered,acknowledged,investigating,mitigated"}
        ).json()["items"]
        return items[0]["id"] if items else None

    ref = wait_until(open_incident, 30, "an incident")
    opened = time.monotonic() - fault
    wait_until(lambda: len(receiver.bodies()) > pages_before, 30, "a webhook")
    notified = time.monotonic() - fault
    mitigated = None
    while True:
        incident = client.get(f"/api/v1/incidents/{ref}").json()
        if mitigated is None and incident["mitigated_at"]:
            mitigated = time.monotonic() - fault
        if incident["status"] == "resolved":
            break
        time.sleep(0.05)
    resolved = time.monotonic() - fault
    # Make v2 the production "last good" again for the next round (the rollback made it live).
    wait_until(
        lambda: client.get("/api/v1/models/iris").json()["production"]["first_healthy_at"],
        30,
        "v2 healthy",
    )
    return {
        "incident": opened,
        "notified": notified,
        "mitigated": mitigated or resolved,
        "resolved": resolved,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    receiver = Receiver()
    versions = [
        ("v1", ["algorithm=logistic_regression"]),
        ("v2", ["algorithm=random_forest"]),
        ("v3", ["algorithm=random_forest", "broken=crash"]),
    ]
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve_in_thread(receiver.app()) as receiver_url,
        running_stack(Path(tmp), receiver_url, versions, quiet=f"{QUIET:g}s") as stack,
        stack.client() as client,
    ):
        wait_until(
            lambda: client.get("/api/v1/models/iris").json()["production"]["first_healthy_at"],
            30,
            "v1 healthy",
        )
        deploy_and_wait_healthy(client, "iris", "v2")
        for n in range(args.rounds):
            rows.append(one_round(client, receiver))
            print(
                f"round {n + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in rows[-1].items()),
                flush=True,
            )
    targets = {"incident": 5.0, "notified": None, "mitigated": None, "resolved": 30.0}
    print(
        f"\nOutage loop, {args.rounds} rounds, 1 s probes (failure threshold 2, recovery 2), quiet period {QUIET:g} s"
    )
    print(f"{'fault →':<12}{'median':>9}{'max':>9}{'target':>9}")
    for key, target in targets.items():
        values = [r[key] for r in rows]
        shown = f"< {target:g} s" if target else "—"
        print(f"{key:<12}{statistics.median(values):>8.2f}s{max(values):>8.2f}s{shown:>9}")


if __name__ == "__main__":
    main()
