"""In-place edits of manifest values (``reconciler.manifest.edit``, behind ``drift --accept``).

Covers: only the edited values change (every other byte kept: comments, quoting, flow maps,
other documents); a scalar keeps its quoting style when it still reads back; a string with
``${`` is written as ``$${``; a flow list stays a flow list, a block list item is edited in
place and a keyed-list member is found by its key; a member added or removed replaces the
whole field as a block at its indentation; a block scalar keeps the line after it; Windows line
ends; refusals: an expression or variable, a reference, an anchor/alias, a merge key, a field
the document does not write, a value YAML cannot hold; invalid YAML names the file; each edit's document is found by its line in a multi-document file.
"""

from __future__ import annotations

import pytest

from reconciler.errors import ReconcilerError
from reconciler.manifest.edit import FieldEdit, edit_text
from reconciler.manifest.yamlsource import load_documents

KEYS = {"members": "organisation_id"}

DOC = """\
# a comment at the top
apiVersion: mediarithmics/v1
kind: CleanRoom
metadata:
  name: room   # trailing comment
spec:
  name: 'Retail insights'
  organisation_id: "1863"
  budget: 500     # agreed
  tags: [a, b]
  members:
    - organisation_id: "1863"
      purposes: [INSIGHTS, ACTIVATION]   # owner
    - organisation_id: "1752"
      purposes:
        - INSIGHTS

  # a comment after the list
  description: |
    first line
    second line
  after: 1
---
apiVersion: mediarithmics/v1
kind: CleanRoom
metadata: {name: other}
spec:
  name: Other
"""


def edit(text: str, *edits: FieldEdit) -> tuple[str, dict[int, str]]:
    return edit_text(text, "rooms.yaml", list(edits))


def test_only_the_edited_values_change() -> None:
    out, refused = edit(
        DOC,
        FieldEdit(2, "budget", 650.0, 650.0),
        FieldEdit(2, "name", "Retail ${env:X} insights", None),
        FieldEdit(2, "members[1752].purposes", ["ACTIVATION"], None, KEYS),
        FieldEdit(2, "members[1863].purposes", ["INSIGHTS"], None, KEYS),
        FieldEdit(2, "tags", ["a", "b", "c d"], None),
        FieldEdit(24, "name", "Other: renamed", None),
    )
    assert refused == {}
    assert out == (
        DOC.replace("  budget: 500     # agreed", "  budget: 650     # agreed")
        .replace("  name: 'Retail insights'", "  name: 'Retail $${env:X} insights'")
        .replace("      purposes:\n        - INSIGHTS\n", "      purposes:\n        - ACTIVATION\n")
        .replace("[INSIGHTS, ACTIVATION]   # owner", "[INSIGHTS]   # owner")
        .replace("  tags: [a, b]", "  tags: [a, b, c d]")
        .replace("  name: Other\n", '  name: "Other: renamed"\n')
    )
    docs = load_documents(out, "rooms.yaml")
    assert docs[0] is not None and docs[0].value["spec"]["name"] == "Retail $${env:X} insights"  # text, not a variable


def test_a_member_added_or_removed_replaces_the_field_as_a_block() -> None:
    whole = [{"organisation_id": "1863", "purposes": ["INSIGHTS"]}, {"organisation_id": "1581", "purposes": ["ACTIVATION"]}]
    out, refused = edit(
        DOC,
        FieldEdit(2, "members[1752]", None, whole, KEYS),
        FieldEdit(2, "members[1581]", whole[1], whole, KEYS),
    )
    assert refused == {}
    head, _, rest = DOC.partition("  members:\n")
    assert out.startswith(head + "  members:\n    - organisation_id: '1863'\n      purposes:\n      - INSIGHTS\n"
                          "    - organisation_id: '1581'\n      purposes:\n      - ACTIVATION\n\n  # a comment after")


def test_a_block_scalar_keeps_the_line_after_it_and_windows_line_ends_stay() -> None:
    crlf = DOC.replace("\n", "\r\n")
    out, _ = edit(crlf, FieldEdit(2, "description", "one line", None))
    assert out == crlf.replace("  description: |\r\n    first line\r\n    second line", '  description: "one line"')


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        ("spec:\n  bid: ${var:bid}\n", "bid", "written as an expression or variable ('${var:bid}')"),
        ("spec:\n  name: \"x-${each.key}\"\n", "name", "written as an expression or variable"),
        ("spec:\n  campaign_id: {ref: Campaign/x}\n", "campaign_id", "holds a reference"),
        ("base: &b 5\nspec:\n  bid: *b\n", "bid", "shared through a YAML anchor"),
        ("base: &b {bid: 5}\nspec:\n  <<: *b\n", "bid", "comes from a YAML merge key"),
        ("spec:\n  name: x\n", "bid", "is not written in this document"),
    ],
)
def test_refusals_say_why(text: str, path: str, reason: str) -> None:
    out, refused = edit(text, FieldEdit(1, path, 7, 7))
    assert out == text
    assert reason in refused[0]


def test_an_escaped_dollar_is_text_not_an_expression() -> None:
    out, refused = edit("spec:\n  name: \"cost $${x}\"\n", FieldEdit(1, "name", "new", None))
    assert refused == {} and out == 'spec:\n  name: "new"\n'


def test_a_value_yaml_cannot_hold_is_refused() -> None:
    out, refused = edit("spec:\n  bid: 1\n", FieldEdit(1, "bid", float("nan"), None))
    assert out == "spec:\n  bid: 1\n" and "cannot be written" in refused[0]


def test_invalid_yaml_is_an_error_naming_the_file() -> None:
    with pytest.raises(ReconcilerError, match="rooms.yaml"):
        edit("spec: [\n", FieldEdit(1, "bid", 1, 1))
