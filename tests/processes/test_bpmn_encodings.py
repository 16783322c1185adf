"""BPMN saved by Chinese modelling tools (GBK, GB18030, Big5) or as UTF-16 is accepted; an unknown or
non-text encoding is refused with 422 naming it, never a 500 (issue 10 part 5)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from app.engine import BundleInvalid, decode_xml

pytestmark = pytest.mark.dataset("four_in_one")
"""The demo county with only the four-in-one process: these tests are about it, not other bundles."""

DATA = Path(__file__).resolve().parent.parent / "data"
MINI = (DATA / "mini.bpmn").read_text(encoding="utf-8")
P = "/api/v1/processes"
FORM = {"type": "object", "properties": {"ok": {"type": "boolean", "title": "到场"}}, "required": ["ok"]}


def _declared(encoding: str) -> str:
    text = MINI.replace('encoding="UTF-8"', f'encoding="{encoding}"')
    return text.replace("评估", "評估") if encoding.lower() == "big5" else text


def _draft(api: Any) -> int:
    resp = api.post(f"{P}/drafts", json={"files": {"mini.bpmn": MINI}, "forms": {"mini/t1.json": FORM}})
    assert resp.status_code == 201, resp.get_json()
    return int(resp.get_json()["id"])


def _upload(api: Any, draft_id: int, raw: bytes) -> Any:
    return api.client.post(f"{P}/drafts/{draft_id}/files", headers=api.headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(raw), "mini.bpmn")})


@pytest.mark.parametrize("encoding", ["GBK", "GB18030", "Big5", "UTF-16", "gb2312"])
def test_declared_chinese_and_utf16_encodings_are_read_and_stored_as_utf8(as_user: Any, encoding: str) -> None:
    api = as_user("designer")
    draft_id = _draft(api)
    text = _declared(encoding)
    resp = _upload(api, draft_id, text.encode(encoding))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.get_json()["valid"] is True, resp.get_json()["messages"]
    stored = api.get(f"{P}/drafts/{draft_id}?content=1").get_json()["files"]["mini.bpmn"]
    assert stored.startswith('<?xml version="1.0" encoding="UTF-8"?>') and "出警" in stored
    resp = api.client.put(f"{P}/drafts/{draft_id}", headers=api.headers, json={"files": {"mini.bpmn": text}})
    assert resp.status_code == 200 and resp.get_json()["valid"] is True, resp.get_data(as_text=True)[:300]
    assert resp.get_json()["files"]["mini.bpmn"].startswith('<?xml version="1.0" encoding="UTF-8"?>')


@pytest.mark.parametrize("encoding,words", [("x-nonsense", "unknown encoding 'x-nonsense'"),
                                            ("rot13", "'rot13' is not a text encoding")])
def test_unknown_or_non_text_encodings_are_refused_naming_them(as_user: Any, encoding: str, words: str) -> None:
    api = as_user("designer")
    draft_id = _draft(api)
    for resp in (_upload(api, draft_id, _declared(encoding).encode("utf-8")),
                 api.client.put(f"{P}/drafts/{draft_id}", headers=api.headers,
                                json={"files": {"mini.bpmn": _declared(encoding)}}),
                 api.post(f"{P}/drafts", json={"files": {"mini.bpmn": _declared(encoding)}})):
        assert resp.status_code == 422, resp.get_data(as_text=True)[:300]
        assert words in resp.get_json()["message"]
    assert "UTF-8" in api.get(f"{P}/drafts/{draft_id}?content=1").get_json()["files"]["mini.bpmn"][:60]


def test_bytes_that_are_not_valid_in_the_declared_encoding_are_refused(as_user: Any) -> None:
    api = as_user("designer")
    resp = _upload(api, _draft(api), _declared("UTF-8").encode("gbk"))
    assert resp.status_code == 422 and "not valid utf-8 text" in resp.get_json()["message"].lower()


def test_the_designer_page_upload_reads_gbk(page: Any, as_user: Any) -> None:
    designer = page("designer")
    resp = designer.post("/designer/drafts/new", data={"files": (io.BytesIO(_declared("GBK").encode("gbk")), "mini.bpmn")},
                         content_type="multipart/form-data")
    assert resp.status_code == 302, resp.status_code
    draft_id = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    stored = as_user("designer").get(f"{P}/drafts/{draft_id}?content=1").get_json()["files"]["mini.bpmn"]
    assert "出警" in stored
    bad = designer.post("/designer/drafts/new", data={"files": (io.BytesIO(_declared("x-nonsense").encode()), "m.bpmn")},
                        content_type="multipart/form-data")
    assert bad.status_code == 422


def test_byte_order_marks_win_over_a_missing_declaration() -> None:
    body = MINI.split("\n", 1)[1]
    assert "出警" in decode_xml(body.encode("utf-16"), "x.bpmn")
    assert "出警" in decode_xml(body.encode("utf-8-sig"), "x.bpmn")
    with pytest.raises(BundleInvalid, match="not valid"):
        decode_xml(body.encode("gbk"), "x.bpmn")
