"""Shared test helpers: submitting reports and walking tasks as demo users."""

from __future__ import annotations

import itertools
from typing import Any

_keys = itertools.count(1)
_children = itertools.count(1)


class ApiClient:
    """Calls the REST API as one demo user with a real bearer token (fixtures ``as_user`` and ``api``)."""

    def __init__(self, client: Any, token: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(path, json=json, headers=self.headers, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.put(path, json=json, headers=self.headers, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.patch(path, json=json, headers=self.headers, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(path, headers=self.headers, **kw)


def token_clients(new_client: Any) -> Any:
    """``make(username)`` -> an ApiClient with a real bearer token for that demo user (fixtures ``as_user``
    and ``api``, and dataset loaders that act through the API)."""
    from app.extensions import db
    from app.org.operations import issue_token
    from app.org.queries import user_by_username

    tokens: dict[str, str] = {}

    def make(username: str) -> ApiClient:
        if username not in tokens:
            user = user_by_username(username)
            assert user is not None, username
            tokens[username] = issue_token(user, ttl_days=365)  # tests move the clock by months
            db.session.commit()
        return ApiClient(new_client(), tokens[username])

    return make


def report_payload(situation: str = "living_alone", village: str = "t01v01", **child: Any) -> dict[str, Any]:
    body = {
        "child": {
            "name": child.pop("name", "李小明"), "sex": "male", "birth_date": "2015-06-01",
            "id_number": child.pop("id_number", f"3799992015{next(_children):08d}"), "village": village,
            "tags": ["left_behind"],
            "guardians": [{"name": "李大山", "relation": "father", "phone": "13800000001", "working_away": True}],
            **child,
        },
        "report": {"reporter_type": "school", "reporter_name": "王老师", "situation": situation,
                   "description": "孩子连续三天独自在家。"},
    }
    # Each call is about another child (an ID number of its own; the same number is the same child, issue 15)
    # and a new submission, as a well-behaved client names it: without a key, the same reporter
    # reporting the same child again within minutes is held as a possible duplicate (issue 11).
    body["idempotency_key"] = f"test-report-{next(_keys):06d}"
    return body


def submit_report(api: Any, situation: str = "living_alone", village: str = "t01v01", **kw: Any) -> dict[str, Any]:
    resp = api.post("/api/v1/reports", json=report_payload(situation, village, **kw))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def open_tasks(api: Any, **query: Any) -> list[dict[str, Any]]:
    resp = api.get("/api/v1/tasks", query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]


def unit_user(kind: str, village: str) -> str:
    """The demo liaison of the unit that routing should pick for ``kind`` at ``village``."""
    township = village[:3]
    if kind == "village_committee":
        return f"village_committee_{village}"
    if kind in ("township", "police", "school", "clinic"):
        return f"{kind}_{township}"
    return f"{kind}_c01"


def claimed_step(as_user: Any, files: dict[str, str], forms: dict[str, Any], start: dict[str, Any] | None = None,
                 bpmn_id: str = "t1", liaison: str = "police_t01") -> tuple[Any, Any, str]:
    """A case reported by a school, ``files`` deployed and started on it, its ``bpmn_id`` task claimed by ``liaison``:
    (that liaison's API client, the task row, the instance's state before any completion)."""
    import sqlalchemy as sa

    from app.cases.models import Case
    from app.extensions import db
    from app.processes.models import ProcessInstance
    from app.processes.operations import deploy
    from app.tasks.models import Task
    from app.workflow import commands

    reported = db.session.get(Case, submit_report(as_user("reporter_school"))["case_id"])
    assert reported is not None
    instance = commands.start(reported, deploy(files, forms), dict(start or {}), None)
    db.session.commit()
    task = db.session.scalar(sa.select(Task).where(Task.instance_id == instance.id, Task.bpmn_id == bpmn_id))
    assert task is not None, f"{bpmn_id} did not open"
    client = as_user(liaison)
    assert client.post(f"/api/v1/tasks/{task.id}/claim").status_code == 200
    stored = db.session.get(ProcessInstance, instance.id)
    assert stored is not None
    return client, task, stored.state
