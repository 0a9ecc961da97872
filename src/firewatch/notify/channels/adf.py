"""Plain-text messages as Atlassian Document Format (ADF) documents, for Jira descriptions.

The seed's messages are short blocks separated by blank lines: ``Label:`` lines become bold
paragraphs, runs of ``- item`` lines bullet lists, other lines paragraphs (lines of one block
joined by hard breaks). Text nodes are never empty, as ADF requires.
"""

from __future__ import annotations

from typing import Any

Node = dict[str, Any]


def text(value: str, *, strong: bool = False) -> Node:
    node: Node = {"type": "text", "text": value}
    if strong:
        node["marks"] = [{"type": "strong"}]
    return node


def paragraph(*content: Node) -> Node:
    return {"type": "paragraph", "content": list(content)}


def heading(value: str, level: int = 3) -> Node:
    return {"type": "heading", "attrs": {"level": level}, "content": [text(value)]}


def bullet_list(items: list[str]) -> Node:
    return {
        "type": "bulletList",
        "content": [{"type": "listItem", "content": [paragraph(text(i))]} for i in items],
    }


def doc(content: list[Node]) -> Node:
    return {"type": "doc", "version": 1, "content": content}


def _lines_paragraph(lines: list[str]) -> Node:
    nodes: list[Node] = []
    for line in lines:
        if nodes:
            nodes.append({"type": "hardBreak"})
        nodes.append(text(line))
    return paragraph(*nodes)


def _block(lines: list[str]) -> list[Node]:
    nodes: list[Node] = []
    plain: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if plain:
            nodes.append(_lines_paragraph(plain))
            plain.clear()
        if items:
            nodes.append(bullet_list(items[:]))
            items.clear()

    for line in lines:
        if line.startswith(("- ", "• ", "* ")) and line[2:].strip():
            if plain:
                flush()
            items.append(line[2:].strip())
        elif line.endswith(":") and len(line) <= 60:
            flush()
            nodes.append(paragraph(text(line, strong=True)))
        else:
            if items:
                flush()
            plain.append(line)
    flush()
    return nodes


def text_to_adf(message: str) -> list[Node]:
    """The block nodes for a plain-text message (blank lines separate blocks)."""
    nodes: list[Node] = []
    block: list[str] = []
    for raw in [*message.splitlines(), ""]:
        line = raw.rstrip()
        if line.strip():
            block.append(line.strip())
        elif block:
            nodes.extend(_block(block))
            block = []
    return nodes
