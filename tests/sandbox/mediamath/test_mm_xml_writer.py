"""The emulator writes its XML documents exactly as ElementTree's ``indent`` + ``tostring`` would.

``render._xml_doc`` has its own writer (ElementTree's general one dominated the emulator's time);
these documents cover every shape the renderer builds: nested related entities, props with child
elements, empty elements, elements with text (errors), and every character that needs escaping.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

import pytest

from reconciler.sandbox.mediamath import render


def _strategy_page() -> ET.Element:
    root = ET.Element("result", {"called_on": "2026-11-23 10:00:00.000000+00"})
    entities = ET.SubElement(root, "entities", {"count": "2", "start": "0"})
    for i, name in enumerate(['Food & Beverages <EU>', 'Quote " and \'apostrophe\'\ttab\r\nnewline']):
        entity = ET.SubElement(entities, "entity", {"name": name, "id": str(i + 1), "type": "strategy", "version": "3"})
        campaign = ET.SubElement(entity, "entity", {"name": "C > 1", "id": "9", "rel": "campaign", "type": "campaign"})
        ET.SubElement(campaign, "entity", {"name": "", "id": "7", "rel": "advertiser", "type": "advertiser"})
        budget = ET.SubElement(entity, "prop", {"name": "budget", "currency_code": "USD", "value": "10.00"})
        ET.SubElement(budget, "amount", {"currency_code": "USD", "value": "10.00"})
        start = ET.SubElement(entity, "prop", {"name": "start_date", "value": "2026-01-01T00:00:00"})
        ET.SubElement(start, "local_time", {"value": "2025-12-31T19:00:00", "zone_name": "America/New_York"})
        ET.SubElement(entity, "prop", {"name": "status", "value": "on"})
    return root


def _error() -> ET.Element:
    root = ET.Element("result", {"called_on": "x"})
    ET.SubElement(root, "error").text = "Validation errors: a < b & c > d"
    errors = ET.SubElement(root, "errors")
    ET.SubElement(errors, "field-error", {"name": "name", "error": 'must be "short"'})
    ET.SubElement(root, "status", {"code": "invalid"}).text = "Validation errors"
    return root


def _text_errors() -> ET.Element:
    root = ET.Element("result")
    ET.SubElement(root, "error").text = "Authentication error"
    ET.SubElement(root, "errors").text = "Authentication error"
    ET.SubElement(root, "status", {"code": "auth_error"}).text = "Authentication error"
    return root


def _history() -> ET.Element:
    root = ET.Element("result")
    log = ET.SubElement(root, "log_entries", {"count": "1", "start": "0"})
    entry = ET.SubElement(log, "entry", {"action": "update", "date": "2026-01-01T00:00:00", "user_id": "1", "user_name": "a&b"})
    ET.SubElement(entry, "field", {"name": "budget", "new_value": "2", "old_value": ""})
    return root


def _empty() -> ET.Element:
    return ET.Element("result", {"called_on": "x"})


@pytest.mark.parametrize("build", [_strategy_page, _error, _text_errors, _history, _empty])
@pytest.mark.parametrize("status", [True, False])
def test_the_writer_matches_elementtree_indent_and_tostring(build, status) -> None:
    ours = render._xml_doc(build(), status=status)
    theirs_root = build()
    if status:
        ET.SubElement(theirs_root, "status", {"code": "ok"})
    ET.indent(theirs_root, space="  ")
    theirs = render.XML_DECL + ET.tostring(theirs_root, encoding="unicode") + "\n"
    assert ours == theirs
    # and it reads back to the same tree
    assert ET.canonicalize(ours.split("\n", 1)[1]) == ET.canonicalize(theirs.split("\n", 1)[1])


def test_the_writer_leaves_the_tree_unchanged() -> None:
    root = _strategy_page()
    before = copy.deepcopy(root)
    render._xml_doc(root, status=False)
    assert ET.tostring(root) == ET.tostring(before)
