"""The Jira channel: one Jira Cloud issue per incident, later messages as its comments.

Jira Cloud REST API v3 with basic auth (account email + API token). The first message about an
incident creates an issue (``POST /rest/api/3/issue``: project, summary ≤ 255 characters, issue
type, labels, priority by severity, description in Atlassian Document Format) labelled
``firewatch-INC-…``. Every message first looks that label up (``GET /rest/api/3/search/jql``):
a later message (update, resolution) becomes a comment (``POST …/issue/{key}/comment``), and a
create retried after a lost answer finds its issue instead of opening a second one.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson

from firewatch.notify.channels import adf
from firewatch.notify.channels.base import Notification, one_line, require_env, truncate
from firewatch.notify.channels.http import Request, endpoint
from firewatch.notify.channels.settings import JiraChannel
from firewatch.severity import Severity
from firewatch.store.runner import GiveUp

SUMMARY_LIMIT = 255
TEXT_LIMIT = 30_000  # Jira's text fields hold 32 767 characters


def incident_label(notification: Notification) -> str:
    return f"firewatch-{notification.incident_ref}"


def description(notification: Notification) -> dict[str, Any]:
    """The ADF document for an issue's description or a comment."""
    content: list[adf.Node] = []
    if notification.headline:
        content.append(adf.paragraph(adf.text(notification.headline, strong=True)))
    content.extend(adf.text_to_adf(truncate(notification.text.strip(), TEXT_LIMIT)))
    content.append(
        adf.paragraph(
            adf.text(
                f"Sent by Firewatch for incident {notification.incident_ref} "
                f"(notification {notification.id})."
            )
        )
    )
    return adf.doc(content)


def issue_fields(notification: Notification, config: JiraChannel) -> dict[str, Any]:
    """The ``fields`` of the create-issue request."""
    summary = f"{notification.severity} {notification.incident_ref}: {notification.title}"
    labels = [*config.labels, incident_label(notification), notification.severity.lower()]
    fields: dict[str, Any] = {
        "project": {"key": project_key(notification, config)},
        "summary": truncate(one_line(summary), SUMMARY_LIMIT),
        "issuetype": {"name": config.issue_type},
        "description": description(notification),
        "labels": list(dict.fromkeys(labels)),
    }
    try:
        priority = config.priorities.get(Severity(notification.severity))
    except ValueError:
        priority = None
    if priority:
        fields["priority"] = {"name": priority}
    return fields


def project_key(notification: Notification, config: JiraChannel) -> str:
    return config.project or notification.target


def _jql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class JiraSender:
    def __init__(self, config: JiraChannel, *, client: httpx.AsyncClient) -> None:
        self.name = config.name
        self.config = config
        self.base = str(config.base_url).rstrip("/")
        self.client = client

    def _request(self) -> tuple[Request, dict[str, str]]:
        token = require_env(self.config.api_token_env, "Jira API token")
        basic = base64.b64encode(f"{self.config.user_email}:{token}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}", "Accept": "application/json"}
        request = Request(
            self.client,
            timeout=self.config.timeout.total_seconds(),
            secrets=[*self.config.secret_values(), token, basic],
        )
        return request, headers

    def _label(self, path: str) -> str:
        return endpoint(self.base + path, secret=False)

    async def find_issue(
        self, request: Request, headers: dict[str, str], notification: Notification
    ) -> str | None:
        """The key of the issue already open for this incident, if any."""
        jql = (
            f"project = {_jql_string(project_key(notification, self.config))} "
            f"AND labels = {_jql_string(incident_label(notification))} ORDER BY created ASC"
        )
        path = "/rest/api/3/search/jql"
        response = await request.send(
            "GET",
            self.base + path,
            label=self._label(path),
            headers=headers,
            params={"jql": jql, "fields": "summary", "maxResults": "1"},
        )
        issues = _json(response).get("issues") or []
        if not issues or not isinstance(issues[0], dict):
            return None
        found = issues[0].get("key") or issues[0].get("id")
        return str(found) if found else None

    async def send(self, notification: Notification) -> str:
        request, headers = self._request()
        headers = {**headers, "Content-Type": "application/json"}
        existing = await self.find_issue(request, headers, notification)
        if existing is None:
            path = "/rest/api/3/issue"
            body = {"fields": issue_fields(notification, self.config)}
            response = await request.send(
                "POST",
                self.base + path,
                label=self._label(path),
                content=orjson.dumps(body),
                headers=headers,
            )
            key = _json(response, strict=False).get("key") or "an issue"
            return f"created {key}: POST {self._label(path)} → {response.status_code}"
        path = f"/rest/api/3/issue/{existing}/comment"
        response = await request.send(
            "POST",
            self.base + path,
            label=self._label(path),
            content=orjson.dumps({"body": description(notification)}),
            headers=headers,
        )
        return f"commented on {existing}: POST {self._label(path)} → {response.status_code}"


def _json(response: httpx.Response, *, strict: bool = True) -> dict[str, Any]:
    """The JSON object answered; a search answered with no JSON is a wrong ``base_url``."""
    try:
        data = response.json()
    except ValueError:
        if not strict:
            return {}
        raise GiveUp(
            f"Jira answered {response.status_code} with something that is not JSON "
            "(is base_url the Jira Cloud site?)"
        ) from None
    return data if isinstance(data, dict) else {}
