"""The designer API's draft answers, pinned key by key (``DraftOut`` dumps the draft itself)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.dataset("four_in_one")

P = "/api/v1/processes"
KEYS = {"id", "process_key", "title", "revision", "valid", "messages", "based_on", "deployed_spec_id", "files",
        "forms", "updated_at", "updated_by_id"}


def test_a_draft_with_and_without_its_content(as_user: Any) -> None:
    designer = as_user("designer")
    made = designer.post(f"{P}/drafts", json={"process_key": "four_in_one"}).get_json()
    assert set(made) == KEYS
    version = designer.get(f"{P}/four_in_one/versions").get_json()["items"][0]
    assert made["based_on"] == {"id": version["id"], "version": version["version"]}
    assert made["process_key"] == "four_in_one" and made["revision"] == 2 and made["deployed_spec_id"] is None
    assert made["valid"] is True and made["messages"] == [] and made["title"].startswith("四位一体")
    assert sorted(made["files"]) == version["files"] and sorted(made["forms"]) == version["forms"]
    assert all(isinstance(xml, str) and xml.lstrip().startswith("<") for xml in made["files"].values())
    assert all(isinstance(form, dict) for form in made["forms"].values())

    names_only = designer.get(f"{P}/drafts/{made['id']}").get_json()
    assert names_only == {**made, "files": dict.fromkeys(version["files"]), "forms": dict.fromkeys(version["forms"])}
    assert designer.get(f"{P}/drafts/{made['id']}", query_string={"content": "1"}).get_json() == made
    listed = designer.get(f"{P}/drafts").get_json()
    assert listed == {"items": [names_only]}
