"""Alert fingerprints, computed exactly as Alertmanager does so the two agree on identity.

FNV-1a 64-bit over the labels sorted by name, each written ``name 0xff value 0xff``, printed as
16 lowercase hex digits.
"""

from __future__ import annotations

from collections.abc import Mapping

_OFFSET = 0xCBF29CE484222325
_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF
_SEPARATOR = b"\xff"


def fingerprint(labels: Mapping[str, str]) -> str:
    """The label set's fingerprint; independent of the order the labels come in."""
    digest = _OFFSET
    for name in sorted(labels):
        for chunk in (name.encode(), _SEPARATOR, labels[name].encode(), _SEPARATOR):
            for byte in chunk:
                digest = ((digest ^ byte) * _PRIME) & _MASK
    return f"{digest:016x}"
