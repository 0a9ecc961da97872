"""Pydantic shapes of a person, for the config file, the API and the CLI."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HANDLE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class PersonIn(BaseModel):
    """A person as declared in the config file or posted to the API."""

    model_config = ConfigDict(extra="forbid")

    handle: str = Field(description="Short unique name, e.g. 'john_doe' (lowercase).")
    name: str = Field("", max_length=200, description="Display name; defaults to the handle.")
    email: str | None = Field(None, max_length=320, description="Email address.")
    contacts: dict[str, str] = Field(
        default_factory=dict, description="Other contact methods, e.g. {'slack': '@john'}."
    )

    @field_validator("handle")
    @classmethod
    def _valid_handle(cls, value: str) -> str:
        if not _HANDLE.match(value):
            raise ValueError(
                "a handle is 1-64 characters: lowercase letters, digits, '.', '_' or '-'"
            )
        return value


class PersonOut(BaseModel):
    handle: str
    name: str
    email: str | None = None
    contacts: dict[str, str] = Field(default_factory=dict)
