"""Open311 responses in JSON or XML. JSON follows the spec's Spark convention (a container
of repeated elements is an array); XML is the same tree, schemaless, without namespace."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree

from fastapi import Response

FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# The element each list's members are written as in XML.
ITEM_TAGS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
# Characters XML 1.0 cannot carry at all; dropped rather than breaking the document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ElementTree.SubElement(element, key), child)
    elif isinstance(value, list):
        tag = ITEM_TAGS.get(element.tag, "item")
        for child in value:
            _fill(ElementTree.SubElement(element, tag), child)
    elif value is not None:  # None is an empty element, as in the spec's examples
        element.text = _text(value)


def to_xml(root: str, data: Any) -> bytes:
    """The document with its XML declaration (UTF-8, as the spec requires)."""
    element = ElementTree.Element(root)
    _fill(element, data)
    return ElementTree.tostring(element, encoding="utf-8", xml_declaration=True)


def render(fmt: str, root: str, data: Any, status_code: int = 200) -> Response:
    """`data` as JSON or as XML under `root`."""
    body = json.dumps(data, ensure_ascii=False).encode() if fmt == "json" else to_xml(root, data)
    return Response(body, status_code=status_code, media_type=FORMATS[fmt])
