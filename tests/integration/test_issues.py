"""Issues: create (per-project numbers), read by id or key, PATCH with the
workflow and per-field permissions, soft delete and restore, the caller's
transitions, optimistic locking, and the timeline events every change
writes (checked in issue_events with psql).

Black-box HTTP against the real httpd + PostgreSQL; every caller is a real
user with a bearer token (conftest make_user). The database is shared by
the whole suite, so each test makes its own project (random key).
"""
import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import BASE_URL, assert_problem, psql, url

ISSUES = url("/api/v1/issues")
PROJECTS = url("/api/v1/projects")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
DOC_FIELDS = {"id", "key", "number", "project_id", "title", "description", "status",
              "priority", "type", "creator_id", "assignee_id", "resolved_at", "closed_at",
              "created_at", "updated_at", "version", "labels"}
TIMEOUT = 30
STATUSES = ["open", "in_progress", "resolved", "closed"]

# DESIGN.md section 5, written out once more: (from, to) -> name
WORKFLOW = {
    ("open", "in_progress"): "start",
    ("open", "resolved"): "resolve",
    ("open", "closed"): "close",
    ("in_progress", "open"): "stop",
    ("in_progress", "resolved"): "resolve",
    ("in_progress", "closed"): "close",
    ("resolved", "closed"): "close",
    ("resolved", "open"): "reopen",
    ("resolved", "in_progress"): "restart",
    ("closed", "open"): "reopen",
}
ALLOWED_PAIRS = sorted(WORKFLOW)
DISALLOWED_PAIRS = sorted((f, t) for f in STATUSES for t in STATUSES
                          if f != t and (f, t) not in WORKFLOW)


# ---- helpers ---------------------------------------------------------------------


def new_key():
    return ("I" + uuid.uuid4().hex[:9]).upper()


def make_project(owner):
    r = requests.post(PROJECTS, json={"key": new_key(), "name": "Issues test"},
                      headers=owner["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


def issue_url(ref):
    return ISSUES + "/" + ref


def create(user, pid, headers=None, **fields):
    body = {"project_id": pid, "title": "Issue " + uuid.uuid4().hex[:6]}
    body.update(fields)
    h = dict(user["headers"], **(headers or {}))
    return requests.post(ISSUES, json=body, headers=h, timeout=TIMEOUT)


def make_issue(user, pid, **fields):
    r = create(user, pid, **fields)
    assert r.status_code == 201, r.text
    return r.json()


def get(user, ref, headers=None, **kw):
    h = dict(user["headers"], **(headers or {}))
    return requests.get(issue_url(ref), headers=h, timeout=TIMEOUT, **kw)


def patch(user, ref, body, version=None, headers=None):
    h = dict(user["headers"])
    if version is not None:
        h["If-Match"] = '"%s"' % version
    h.update(headers or {})
    return requests.patch(issue_url(ref), json=body, headers=h, timeout=TIMEOUT)


def delete(user, ref, version=None, **kw):
    h = dict(user["headers"])
    if version is not None:
        h["If-Match"] = '"%s"' % version
    return requests.delete(issue_url(ref), headers=h, timeout=TIMEOUT, **kw)


def restore(user, ref, headers=None):
    h = dict(user["headers"], **(headers or {}))
    return requests.post(issue_url(ref) + "/restore", headers=h, timeout=TIMEOUT)


def transitions(user, ref):
    return requests.get(issue_url(ref) + "/transitions", headers=user["headers"],
                        timeout=TIMEOUT)


def error_fields(body):
    return {(e["field"], e["code"]) for e in body.get("errors", [])}


def events(issue_id):
    """The issue's timeline rows, in order: [{kind, actor_id, data}]."""
    out = psql("SELECT COALESCE(json_agg(json_build_object('kind', kind, 'actor_id', actor_id,"
               " 'data', data) ORDER BY created_at, seq), '[]') FROM issue_events"
               " WHERE issue_id = '%s'" % issue_id)
    return json.loads(out)


def kinds(issue_id):
    return [e["kind"] for e in events(issue_id)]


def assert_document(doc):
    assert set(doc) == DOC_FIELDS, doc
    assert uuid.UUID(doc["id"])
    assert TS.match(doc["created_at"]) and TS.match(doc["updated_at"]), doc
    assert isinstance(doc["version"], int) and doc["version"] >= 1
    assert doc["status"] in STATUSES


def move(user, doc, status):
    """Moves an open issue to `status` through the API; returns the doc."""
    if status == doc["status"]:
        return doc
    r = patch(user, doc["id"], {"status": status}, doc["version"])
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture()
def project(manager):
    return make_project(manager)


# ---- POST /issues ------------------------------------------------------------------


def test_reference_create_call_returns_201_with_location_etag_and_issue(reporter, project):
    # the reference README's call, plus a bearer token
    body = {"title": "Login broken", "description": "500 after the SSO redirect",
            "project_id": project["id"], "creator_id": reporter["id"], "priority": "high"}
    r = requests.post(ISSUES + "/", json=body, headers=reporter["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert_document(doc)
    assert doc["title"] == "Login broken"
    assert doc["description"] == "500 after the SSO redirect"
    assert doc["project_id"] == project["id"] and doc["creator_id"] == reporter["id"]
    assert doc["priority"] == "high" and doc["type"] == "task" and doc["status"] == "open"
    assert doc["number"] == 1 and doc["key"] == project["key"] + "-1"
    assert doc["assignee_id"] is None
    assert doc["resolved_at"] is None and doc["closed_at"] is None
    assert doc["version"] == 1 and doc["created_at"] == doc["updated_at"]
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == "/api/v1/issues/" + doc["id"]
    assert r.headers["Content-Type"].startswith("application/json")
    assert "Idempotent-Replayed" not in r.headers
    again = requests.get(BASE_URL + r.headers["Location"], headers=reporter["headers"])
    assert again.status_code == 200 and again.json() == doc


def test_create_defaults(reporter, project):
    doc = make_issue(reporter, project["id"])
    assert doc["description"] == "" and doc["priority"] == "medium"
    assert doc["type"] == "task" and doc["creator_id"] == reporter["id"]
    assert make_issue(reporter, project["id"], description=None)["description"] == ""


def test_create_numbers_count_up_per_project(reporter, manager):
    a, b = make_project(manager), make_project(manager)
    numbers_a = [make_issue(reporter, a["id"])["number"] for _ in range(3)]
    numbers_b = [make_issue(reporter, b["id"])["number"] for _ in range(2)]
    assert numbers_a == [1, 2, 3] and numbers_b == [1, 2]


def test_create_keeps_unicode_and_a_65536_byte_description(reporter, project):
    desc = "\u00e9" * 32768
    doc = make_issue(reporter, project["id"], title="Caf\u00e9 \u2603" + "x" * 194,
                     description=desc, type="bug", priority="critical")
    assert doc["title"] == "Caf\u00e9 \u2603" + "x" * 194 and len(doc["title"]) == 200
    assert doc["description"] == desc
    assert doc["type"] == "bug" and doc["priority"] == "critical"


@pytest.mark.parametrize("change, field, code", [
    ({"project_id": None}, "project_id", "null"),
    ({"project_id": 5}, "project_id", "type"),
    ({"project_id": "not-a-uuid"}, "project_id", "format"),
    ({"title": None}, "title", "null"),
    ({"title": 7}, "title", "type"),
    ({"title": ["t"]}, "title", "type"),
    ({"title": ""}, "title", "too_short"),
    ({"title": "  \t "}, "title", "format"),
    ({"title": "t" * 201}, "title", "too_long"),
    ({"description": 1}, "description", "type"),
    ({"description": {"a": 1}}, "description", "type"),
    ({"description": "d" * 65537}, "description", "too_long"),
    ({"description": "\u00e9" * 32769}, "description", "too_long"),   # 65538 bytes
    ({"priority": "urgent"}, "priority", "enum"),
    ({"priority": "HIGH"}, "priority", "enum"),
    ({"priority": None}, "priority", "null"),
    ({"priority": 3}, "priority", "type"),
    ({"type": "story"}, "type", "enum"),
    ({"type": None}, "type", "null"),
    ({"assignee_id": "nobody"}, "assignee_id", "format"),
    ({"assignee_id": 1}, "assignee_id", "type"),
    ({"creator_id": "me"}, "creator_id", "format"),
    ({"creator_id": True}, "creator_id", "type"),
    ({"status": "open"}, "status", "unknown_field"),
    ({"version": 1}, "version", "unknown_field"),
    ({"id": str(uuid.uuid4())}, "id", "unknown_field"),
    ({"number": 4}, "number", "unknown_field"),
    ({"labels": []}, "labels", "unknown_field"),
])
def test_create_validation_errors_name_the_field(reporter, project, change, field, code):
    body = assert_problem(create(reporter, project["id"], **change), 422, "validation_failed")
    assert error_fields(body) == {(field, code)}, body


@pytest.mark.parametrize("missing", ["project_id", "title"])
def test_create_missing_required_field_is_422(reporter, project, missing):
    body = {"project_id": project["id"], "title": "t"}
    del body[missing]
    r = requests.post(ISSUES, json=body, headers=reporter["headers"], timeout=TIMEOUT)
    assert error_fields(assert_problem(r, 422, "validation_failed")) == {(missing, "required")}


def test_create_reports_every_invalid_field_at_once(reporter):
    r = requests.post(ISSUES, json={"project_id": "x", "title": "", "priority": "p",
                                    "extra": 1}, headers=reporter["headers"])
    body = assert_problem(r, 422, "validation_failed")
    assert error_fields(body) == {("project_id", "format"), ("title", "too_short"),
                                  ("priority", "enum"), ("extra", "unknown_field")}


def test_create_malformed_and_non_json_bodies(reporter):
    h = dict(reporter["headers"], **{"Content-Type": "application/json"})
    assert_problem(requests.post(ISSUES, data='{"title": ', headers=h), 400, "malformed_json")
    assert_problem(requests.post(ISSUES, data=b'{"title": "\xff"}', headers=h), 400,
                   "invalid_utf8")
    assert_problem(requests.post(ISSUES, json=["x"], headers=reporter["headers"]), 422)
    h["Content-Type"] = "text/plain"
    assert_problem(requests.post(ISSUES, data="title=x", headers=h), 415)


def test_create_in_a_nonexistent_project_is_422(reporter):
    body = assert_problem(create(reporter, str(uuid.uuid4())), 422, "validation_failed")
    assert error_fields(body) == {("project_id", "not_found")}


def test_create_in_a_deleted_project_is_422(reporter, manager):
    p = make_project(manager)
    r = requests.delete(PROJECTS + "/" + p["id"], headers=dict(manager["headers"],
                        **{"If-Match": '"1"'}))
    assert r.status_code == 204
    body = assert_problem(create(reporter, p["id"]), 422, "validation_failed")
    assert error_fields(body) == {("project_id", "not_found")}


def test_failed_create_leaves_no_number_gap(developer, project):
    assert make_issue(developer, project["id"])["number"] == 1
    assert_problem(create(developer, project["id"], assignee_id=str(uuid.uuid4())), 422)
    assert make_issue(developer, project["id"])["number"] == 2


@pytest.mark.parametrize("state", ["missing", "inactive", "deleted"])
def test_create_assignee_must_be_an_active_user(developer, project, make_user, state):
    if state == "missing":
        assignee = str(uuid.uuid4())
    else:
        assignee = make_user("developer")["id"]
        psql("UPDATE users SET %s WHERE id = '%s'" % (
            "is_active = false" if state == "inactive"
            else "is_deleted = true, deleted_at = now()", assignee))
    body = assert_problem(create(developer, project["id"], assignee_id=assignee), 422)
    assert error_fields(body) == {("assignee_id", "not_found")}


def test_create_with_assignee_by_a_developer(developer, project, make_user):
    dev2 = make_user("developer")
    doc = make_issue(developer, project["id"], assignee_id=dev2["id"].upper())
    assert doc["assignee_id"] == dev2["id"]
    assert events(doc["id"]) == [
        {"kind": "created", "actor_id": developer["id"], "data": {}},
        {"kind": "assigned", "actor_id": developer["id"],
         "data": {"from": None, "to": dev2["id"]}}]


def test_reporter_may_not_assign_on_create(reporter, developer, project):
    assert_problem(create(reporter, project["id"], assignee_id=developer["id"]), 403,
                   "forbidden")
    # null is "unassigned", not an assignment
    assert make_issue(reporter, project["id"], assignee_id=None)["assignee_id"] is None


def test_creator_id_may_be_the_caller(reporter, project):
    assert make_issue(reporter, project["id"], creator_id=reporter["id"])["creator_id"] \
        == reporter["id"]
    assert make_issue(reporter, project["id"], creator_id=reporter["id"].upper())[
        "creator_id"] == reporter["id"]
    assert make_issue(reporter, project["id"], creator_id=None)["creator_id"] == reporter["id"]


@pytest.mark.parametrize("role", ["reporter", "developer", "manager"])
def test_creator_id_of_someone_else_is_403_unless_admin(make_user, project, role):
    caller, other = make_user(role), make_user("reporter")
    body = assert_problem(create(caller, project["id"], creator_id=other["id"]), 403,
                          "creator_mismatch")
    assert "admin" in body["detail"]


def test_admin_may_create_on_behalf_of_an_active_user(admin, reporter, project):
    doc = make_issue(admin, project["id"], creator_id=reporter["id"])
    assert doc["creator_id"] == reporter["id"]
    # the timeline says who really did it
    assert events(doc["id"]) == [{"kind": "created", "actor_id": admin["id"], "data": {}}]
    # and the reporter now owns it
    assert patch(reporter, doc["id"], {"title": "mine"}, 1).status_code == 200


def test_admin_on_behalf_of_an_inactive_user_is_422(admin, make_user, project):
    gone = make_user("reporter", is_active=False)
    body = assert_problem(create(admin, project["id"], creator_id=gone["id"]), 422)
    assert error_fields(body) == {("creator_id", "not_found")}


def test_create_without_credentials_is_401(project):
    assert_problem(requests.post(ISSUES, json={"project_id": project["id"], "title": "t"}),
                   401)


def test_eight_concurrent_creators_get_gap_free_numbers(make_user, manager):
    p = make_project(manager)
    creators = [make_user("reporter") for _ in range(8)]
    per_thread = 10
    barrier = threading.Barrier(len(creators))

    def run(user):
        with requests.Session() as s:
            barrier.wait()
            out = []
            for _ in range(per_thread):
                r = s.post(ISSUES, json={"project_id": p["id"], "title": "race"},
                           headers=user["headers"], timeout=TIMEOUT)
                assert r.status_code == 201, r.text
                out.append(r.json()["number"])
            return out

    with ThreadPoolExecutor(len(creators)) as pool:
        numbers = [n for chunk in pool.map(run, creators) for n in chunk]
    total = len(creators) * per_thread
    assert sorted(numbers) == list(range(1, total + 1))
    assert psql("SELECT next_number FROM projects WHERE id = '%s'" % p["id"]) == str(total + 1)
    assert psql("SELECT count(DISTINCT number) FROM issues WHERE project_id = '%s'"
                % p["id"]) == str(total)


# ---- GET /issues/{ref} -------------------------------------------------------------


def test_read_by_id_and_by_key(reporter, developer, project):
    doc = make_issue(developer, project["id"])
    for ref in (doc["id"], doc["id"].upper(), doc["key"]):
        r = get(reporter, ref)
        assert r.status_code == 200, (ref, r.text)
        assert r.json() == doc and r.headers["ETag"] == '"1"'
    r = requests.get(issue_url(doc["key"]) + "/", headers=reporter["headers"])
    assert r.status_code == 200 and r.json() == doc


def test_read_head_has_etag_and_no_body(reporter, project):
    doc = make_issue(reporter, project["id"])
    r = requests.head(issue_url(doc["key"]), headers=reporter["headers"])
    assert r.status_code == 200 and r.headers["ETag"] == '"1"' and r.content == b""


def test_read_with_current_if_none_match_is_304(reporter, project):
    doc = make_issue(reporter, project["id"])
    r = get(reporter, doc["id"], headers={"If-None-Match": '"1"'})
    assert r.status_code == 304 and r.headers["ETag"] == '"1"' and r.content == b""
    assert get(reporter, doc["key"], headers={"If-None-Match": 'W/"1"'}).status_code == 304
    assert get(reporter, doc["id"], headers={"If-None-Match": '"2"'}).status_code == 200
    patch(reporter, doc["id"], {"title": "changed"}, 1)
    r = get(reporter, doc["id"], headers={"If-None-Match": '"1"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'


@pytest.mark.parametrize("ref", [str(uuid.uuid4()), "NOPE-1", "ZZZZZZZZZ-999999999"])
def test_read_unknown_issue_is_404(reporter, ref):
    assert_problem(get(reporter, ref), 404, "not_found")


def test_read_key_of_an_unknown_number_is_404(reporter, project):
    make_issue(reporter, project["id"])
    assert_problem(get(reporter, project["key"] + "-2"), 404, "not_found")


@pytest.mark.parametrize("bad", ["not-a-uuid", "proj-1", "PROJ-0", "PROJ-01", "P-1", "PROJ-",
                                 "PROJ-1-2", "123"])
def test_read_malformed_ref_is_404(reporter, bad):
    assert_problem(get(reporter, bad), 404, "not_found")


def test_read_unknown_query_parameter_is_422(reporter, project):
    doc = make_issue(reporter, project["id"])
    body = assert_problem(get(reporter, doc["id"], params={"expand": "all"}), 422)
    assert error_fields(body) == {("expand", "unknown_parameter")}
    body = assert_problem(get(reporter, doc["id"], params={"include_deleted": "yes"}), 422)
    assert error_fields(body) == {("include_deleted", "type")}


# ---- PATCH /issues/{ref}: fields ---------------------------------------------------


def test_patch_changes_fields_and_bumps_version_once(developer, project):
    doc = make_issue(developer, project["id"], description="old")
    r = patch(developer, doc["id"], {"title": "New", "description": "new",
                                     "priority": "low", "type": "feature"}, 1)
    assert r.status_code == 200, r.text
    new = r.json()
    assert_document(new)
    assert (new["title"], new["description"], new["priority"], new["type"]) == \
        ("New", "new", "low", "feature")
    assert new["version"] == 2 and r.headers["ETag"] == '"2"'
    assert new["updated_at"] > doc["updated_at"] and new["created_at"] == doc["created_at"]
    assert get(developer, doc["id"]).json() == new


def test_patch_by_key(developer, project):
    doc = make_issue(developer, project["id"])
    r = patch(developer, doc["key"], {"priority": "high"}, 1)
    assert r.status_code == 200 and r.json()["id"] == doc["id"]


def test_patch_description_null_means_empty(developer, project):
    doc = make_issue(developer, project["id"], description="text")
    r = patch(developer, doc["id"], {"description": None}, 1)
    assert r.status_code == 200 and r.json()["description"] == "" and r.json()["version"] == 2


@pytest.mark.parametrize("change, field, code", [
    ({"title": None}, "title", "null"),
    ({"title": ""}, "title", "too_short"),
    ({"title": " "}, "title", "format"),
    ({"title": "t" * 201}, "title", "too_long"),
    ({"description": "d" * 65537}, "description", "too_long"),
    ({"priority": "p0"}, "priority", "enum"),
    ({"type": "epic"}, "type", "enum"),
    ({"status": "done"}, "status", "enum"),
    ({"status": None}, "status", "null"),
    ({"assignee_id": "x"}, "assignee_id", "format"),
    ({"project_id": str(uuid.uuid4())}, "project_id", "unknown_field"),
    ({"creator_id": str(uuid.uuid4())}, "creator_id", "unknown_field"),
    ({"number": 3}, "number", "unknown_field"),
    ({"version": "1"}, "version", "type"),
    ({"version": 0}, "version", "range"),
])
def test_patch_validation_errors_name_the_field(developer, project, change, field, code):
    doc = make_issue(developer, project["id"])
    body = assert_problem(patch(developer, doc["id"], change, 1), 422, "validation_failed")
    assert error_fields(body) == {(field, code)}, body
    assert get(developer, doc["id"]).json()["version"] == 1


def test_patch_assign_and_unassign(developer, make_user, project):
    dev2 = make_user("developer")
    doc = make_issue(developer, project["id"])
    r = patch(developer, doc["id"], {"assignee_id": dev2["id"].upper()}, 1)
    assert r.status_code == 200 and r.json()["assignee_id"] == dev2["id"]
    r = patch(developer, doc["id"], {"assignee_id": None}, 2)
    assert r.status_code == 200 and r.json()["assignee_id"] is None
    assert [e["data"] for e in events(doc["id"]) if e["kind"] == "assigned"] == [
        {"from": None, "to": dev2["id"]}, {"from": dev2["id"], "to": None}]


@pytest.mark.parametrize("state", ["missing", "inactive", "deleted"])
def test_patch_assignee_must_be_an_active_user(developer, make_user, project, state):
    if state == "missing":
        assignee = str(uuid.uuid4())
    else:
        assignee = make_user("developer")["id"]
        psql("UPDATE users SET %s WHERE id = '%s'" % (
            "is_active = false" if state == "inactive"
            else "is_deleted = true, deleted_at = now()", assignee))
    doc = make_issue(developer, project["id"])
    body = assert_problem(patch(developer, doc["id"], {"assignee_id": assignee}, 1), 422)
    assert error_fields(body) == {("assignee_id", "not_found")}
    assert kinds(doc["id"]) == ["created"]


# ---- no-ops ------------------------------------------------------------------------


def test_patch_with_current_values_is_a_noop_without_event(developer, make_user, project):
    dev2 = make_user("developer")
    doc = make_issue(developer, project["id"], description="same", assignee_id=dev2["id"])
    before = events(doc["id"])
    same = {k: doc[k] for k in ("title", "description", "priority", "type", "status",
                                "assignee_id")}
    r = patch(developer, doc["id"], same, 1)
    assert r.status_code == 200, r.text
    assert r.json() == doc and r.headers["ETag"] == '"1"'
    r = patch(developer, doc["id"], {}, 1)
    assert r.status_code == 200 and r.json() == doc
    r = patch(developer, doc["id"], {"status": "open"}, 1)
    assert r.status_code == 200 and r.json()["version"] == 1
    assert events(doc["id"]) == before


def test_partial_noop_records_only_the_real_change(developer, project):
    doc = make_issue(developer, project["id"], priority="high")
    r = patch(developer, doc["id"], {"title": doc["title"], "priority": "low"}, 1)
    assert r.status_code == 200 and r.json()["version"] == 2
    assert events(doc["id"])[1:] == [{"kind": "field_changed", "actor_id": developer["id"],
                                      "data": {"field": "priority", "from": "high",
                                               "to": "low"}}]


def test_reporter_may_send_back_someone_elses_document_unchanged(reporter, developer, project):
    doc = make_issue(developer, project["id"])
    body = {k: v for k, v in doc.items() if k in ("title", "description", "priority", "type",
                                                  "status", "assignee_id")}
    r = patch(reporter, doc["id"], body, 1)
    assert r.status_code == 200 and r.json() == doc
    body["title"] = "hijacked"
    assert_problem(patch(reporter, doc["id"], body, 1), 403, "forbidden")


# ---- workflow ----------------------------------------------------------------------


@pytest.mark.parametrize("frm, to", ALLOWED_PAIRS)
def test_every_allowed_transition(developer, project, frm, to):
    doc = move(developer, make_issue(developer, project["id"]), frm)
    r = patch(developer, doc["id"], {"status": to}, doc["version"])
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["status"] == to and new["version"] == doc["version"] + 1
    last = events(doc["id"])[-1]
    assert last == {"kind": "status_changed", "actor_id": developer["id"],
                    "data": {"from": frm, "to": to}}


@pytest.mark.parametrize("frm, to", DISALLOWED_PAIRS)
def test_every_disallowed_transition_is_409_with_allowed(developer, project, frm, to):
    doc = move(developer, make_issue(developer, project["id"]), frm)
    n = len(events(doc["id"]))
    body = assert_problem(patch(developer, doc["id"], {"status": to}, doc["version"]), 409,
                          "invalid_transition")
    assert body["allowed"] == [t for (f, t) in WORKFLOW if f == frm]
    assert frm in body["detail"] and to in body["detail"]
    cur = get(developer, doc["id"]).json()
    assert cur["status"] == frm and cur["version"] == doc["version"]
    assert len(events(doc["id"])) == n


def test_the_workflow_has_ten_moves_and_two_refusals():
    assert len(ALLOWED_PAIRS) == 10
    assert DISALLOWED_PAIRS == [("closed", "in_progress"), ("closed", "resolved")]


@pytest.mark.parametrize("status", STATUSES)
def test_same_status_is_a_noop_not_a_transition(developer, project, status):
    doc = move(developer, make_issue(developer, project["id"]), status)
    n = len(events(doc["id"]))
    r = patch(developer, doc["id"], {"status": status}, doc["version"])
    assert r.status_code == 200 and r.json() == doc
    assert len(events(doc["id"])) == n


def test_invalid_transition_with_other_changes_changes_nothing(developer, project):
    doc = move(developer, make_issue(developer, project["id"]), "closed")
    body = assert_problem(patch(developer, doc["id"], {"status": "resolved",
                                                       "title": "x"}, doc["version"]), 409)
    assert body["allowed"] == ["open"]
    assert get(developer, doc["id"]).json() == doc


def test_resolved_at_and_closed_at_follow_the_status(developer, project):
    doc = make_issue(developer, project["id"])
    doc = move(developer, doc, "resolved")
    assert TS.match(doc["resolved_at"]) and doc["closed_at"] is None
    resolved_at = doc["resolved_at"]
    doc = move(developer, doc, "closed")
    assert doc["resolved_at"] == resolved_at and TS.match(doc["closed_at"])
    assert doc["closed_at"] >= resolved_at
    doc = move(developer, doc, "open")                    # reopen clears both
    assert doc["resolved_at"] is None and doc["closed_at"] is None
    doc = move(developer, doc, "in_progress")
    assert doc["resolved_at"] is None and doc["closed_at"] is None
    doc = move(developer, doc, "resolved")
    assert TS.match(doc["resolved_at"]) and doc["resolved_at"] > resolved_at
    doc = move(developer, doc, "in_progress")             # back to work clears it
    assert doc["resolved_at"] is None
    doc = move(developer, doc, "closed")                  # closed without resolving
    assert doc["resolved_at"] is None and TS.match(doc["closed_at"])
    doc = move(developer, doc, "open")
    assert doc["resolved_at"] is None and doc["closed_at"] is None
    doc = move(developer, doc, "resolved")
    doc = move(developer, doc, "open")                    # reopen from resolved
    assert doc["resolved_at"] is None and doc["closed_at"] is None


# ---- GET /issues/{ref}/transitions -------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
def test_transitions_list_the_table_for_a_developer(developer, project, status):
    doc = move(developer, make_issue(developer, project["id"]), status)
    r = transitions(developer, doc["key"])
    assert r.status_code == 200, r.text
    assert r.json() == {"status": status, "transitions": [
        {"to": t, "name": n} for (f, t), n in WORKFLOW.items() if f == status]}


def test_transitions_of_a_reporter_own_and_others(reporter, developer, project):
    own = make_issue(reporter, project["id"])
    other = make_issue(developer, project["id"])
    assert [t["to"] for t in transitions(reporter, own["id"]).json()["transitions"]] == \
        ["in_progress", "resolved", "closed"]
    assert transitions(reporter, other["id"]).json() == {"status": "open", "transitions": []}


def test_transitions_unknown_deleted_and_bad_query(manager, project):
    assert_problem(transitions(manager, str(uuid.uuid4())), 404)
    doc = make_issue(manager, project["id"])
    r = requests.get(issue_url(doc["id"]) + "/transitions", params={"x": "1"},
                     headers=manager["headers"])
    assert error_fields(assert_problem(r, 422)) == {("x", "unknown_parameter")}
    assert delete(manager, doc["id"], 1).status_code == 204
    assert_problem(transitions(manager, doc["id"]), 404)


# ---- permissions -------------------------------------------------------------------

# op -> expected status for (role, whether the caller created the issue)
PERMISSIONS = {
    "edit":       {("reporter", True): 200, ("reporter", False): 403,
                   ("developer", False): 200, ("manager", False): 200, ("admin", False): 200},
    "transition": {("reporter", True): 200, ("reporter", False): 403,
                   ("developer", False): 200, ("manager", False): 200, ("admin", False): 200},
    "assign":     {("reporter", True): 403, ("reporter", False): 403,
                   ("developer", False): 200, ("manager", False): 200, ("admin", False): 200},
    "delete":     {("reporter", True): 403, ("reporter", False): 403,
                   ("developer", False): 403, ("manager", False): 204, ("admin", False): 204},
    "restore":    {("reporter", True): 403, ("reporter", False): 403,
                   ("developer", False): 403, ("manager", False): 403, ("admin", False): 200},
    "read":       {("reporter", True): 200, ("reporter", False): 200,
                   ("developer", False): 200, ("manager", False): 200, ("admin", False): 200},
}
CELLS = [(op, role, own) for op, row in sorted(PERMISSIONS.items()) for (role, own) in row]


@pytest.mark.parametrize("op, role, own", CELLS)
def test_permission_matrix(make_user, manager, op, role, own):
    p = make_project(manager)
    caller = make_user(role)
    creator = caller if own else make_user("reporter")
    doc = make_issue(creator, p["id"])
    assignee = make_user("developer")
    if op == "restore":
        assert delete(manager, doc["id"], 1).status_code == 204
    if op == "edit":
        r = patch(caller, doc["id"], {"title": "edited", "priority": "high"}, 1)
    elif op == "transition":
        r = patch(caller, doc["id"], {"status": "in_progress"}, 1)
    elif op == "assign":
        r = patch(caller, doc["id"], {"assignee_id": assignee["id"]}, 1)
    elif op == "delete":
        r = delete(caller, doc["id"], 1)
    elif op == "restore":
        r = restore(caller, doc["id"])
    else:
        r = get(caller, doc["id"])
    expected = PERMISSIONS[op][(role, own)]
    if expected == 403:
        assert_problem(r, 403, "forbidden")
        # a refused write changed nothing and wrote no event
        after = psql("SELECT version FROM issues WHERE id = '%s'" % doc["id"])
        assert after == ("2" if op == "restore" else "1")
        assert kinds(doc["id"]) == (["created", "deleted"] if op == "restore" else ["created"])
    else:
        assert r.status_code == expected, r.text


def test_reporter_gets_403_before_428_on_someone_elses_issue(reporter, developer, project):
    doc = make_issue(developer, project["id"])
    assert_problem(patch(reporter, doc["id"], {"title": "x"}), 403, "forbidden")


def test_reporter_mixing_allowed_and_forbidden_fields_is_403(reporter, developer, project):
    doc = make_issue(reporter, project["id"])
    assert_problem(patch(reporter, doc["id"], {"title": "ok", "assignee_id": developer["id"]},
                         1), 403, "forbidden")
    assert get(reporter, doc["id"]).json() == doc


# ---- optimistic locking ------------------------------------------------------------


def test_patch_without_precondition_is_428(developer, project):
    doc = make_issue(developer, project["id"])
    assert_problem(patch(developer, doc["id"], {"title": "x"}), 428, "precondition_required")
    assert_problem(patch(developer, doc["id"], {}), 428)
    assert get(developer, doc["id"]).json() == doc


def test_delete_without_precondition_is_428(manager, project):
    doc = make_issue(manager, project["id"])
    assert_problem(delete(manager, doc["id"]), 428, "precondition_required")
    assert get(manager, doc["id"]).status_code == 200


def test_stale_if_match_is_412_with_current_version(developer, project):
    doc = make_issue(developer, project["id"])
    assert patch(developer, doc["id"], {"title": "v2"}, 1).status_code == 200
    r = patch(developer, doc["id"], {"title": "v3"}, 1)
    body = assert_problem(r, 412, "precondition_failed")
    assert body["current_version"] == 2 and r.headers["ETag"] == '"2"'
    body = assert_problem(patch(developer, doc["id"], {"status": "closed"}, 7), 412)
    assert body["current_version"] == 2


def test_stale_body_version_is_409_with_current_version(developer, project):
    doc = make_issue(developer, project["id"])
    assert patch(developer, doc["id"], {"title": "v2", "version": 1}).status_code == 200
    body = assert_problem(patch(developer, doc["id"], {"title": "v3", "version": 1}), 409,
                          "version_conflict")
    assert body["current_version"] == 2
    assert get(developer, doc["id"]).json()["title"] == "v2"


def test_stale_delete_is_412(manager, project):
    doc = make_issue(manager, project["id"])
    patch(manager, doc["id"], {"title": "v2"}, 1)
    body = assert_problem(delete(manager, doc["id"], 1), 412, "precondition_failed")
    assert body["current_version"] == 2
    r = requests.delete(issue_url(doc["id"]), json={"version": 1}, headers=manager["headers"])
    assert assert_problem(r, 409, "version_conflict")["current_version"] == 2
    r = requests.delete(issue_url(doc["id"]), json={"version": 2}, headers=manager["headers"])
    assert r.status_code == 204


def test_if_match_star_and_matching_body_version(developer, project):
    doc = make_issue(developer, project["id"])
    r = patch(developer, doc["id"], {"title": "star"}, headers={"If-Match": "*"})
    assert r.status_code == 200 and r.json()["version"] == 2
    r = patch(developer, doc["id"], {"title": "both", "version": 2}, 2)
    assert r.status_code == 200 and r.json()["version"] == 3
    assert_problem(patch(developer, doc["id"], {"title": "x", "version": 3}, 2), 400,
                   "version_mismatch")


def test_not_found_wins_over_precondition(developer):
    assert_problem(patch(developer, str(uuid.uuid4()), {"title": "x"}), 404, "not_found")
    assert_problem(patch(developer, "NOPE-1", {"title": "x"}, 1), 404, "not_found")


def test_thirty_two_concurrent_patches_with_one_if_match_one_wins_fifty_times(developer,
                                                                             project):
    doc = make_issue(developer, project["id"])
    nthreads, rounds = 32, 50
    start = threading.Barrier(nthreads + 1)
    done = threading.Barrier(nthreads + 1)
    state = {"version": 1, "round": 0}
    results = [[None] * nthreads for _ in range(rounds)]
    target = issue_url(doc["id"])

    def worker(i):
        with requests.Session() as s:
            for rnd in range(rounds):
                start.wait()
                h = dict(developer["headers"], **{"If-Match": '"%d"' % state["version"]})
                try:
                    r = s.patch(target, json={"title": "r%d w%d" % (rnd, i)}, headers=h,
                                timeout=TIMEOUT)
                    results[rnd][i] = (r.status_code, r.json().get("current_version"),
                                       r.json().get("version"))
                except Exception as e:          # reported by the main thread
                    results[rnd][i] = (repr(e), None, None)
                done.wait()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
    for t in threads:
        t.start()
    try:
        for rnd in range(rounds):
            start.wait(timeout=60)
            done.wait(timeout=60)
            codes = [code for code, _, _ in results[rnd]]
            assert codes.count(200) == 1 and codes.count(412) == nthreads - 1, (rnd, codes)
            assert {cv for code, cv, _ in results[rnd] if code == 412} == \
                {state["version"] + 1}
            state["version"] += 1
    except BaseException:
        start.abort()
        done.abort()
        raise
    finally:
        for t in threads:
            t.join()
    final = get(developer, doc["id"]).json()
    assert final["version"] == rounds + 1
    assert kinds(doc["id"]) == ["created"] + ["field_changed"] * rounds


# ---- soft delete and restore -------------------------------------------------------


def test_delete_then_404_then_admin_restore(manager, admin, reporter, project):
    doc = make_issue(reporter, project["id"])
    r = delete(manager, doc["key"], 1)
    assert r.status_code == 204 and r.content == b""
    for ref in (doc["id"], doc["key"]):
        assert_problem(get(reporter, ref), 404, "not_found")
        assert_problem(get(admin, ref), 404, "not_found")
    assert_problem(patch(manager, doc["id"], {"title": "x"}, 2), 404)
    assert_problem(delete(manager, doc["id"], 2), 404)
    # admins see it with include_deleted
    r = get(admin, doc["id"], params={"include_deleted": "true"})
    assert r.status_code == 200, r.text
    seen = r.json()
    assert seen["is_deleted"] is True and TS.match(seen["deleted_at"])
    assert seen["version"] == 2 and r.headers["ETag"] == '"2"'
    assert set(seen) == DOC_FIELDS | {"is_deleted", "deleted_at"}
    assert_problem(get(reporter, doc["id"], params={"include_deleted": "true"}), 403)
    # the number stays taken
    assert make_issue(reporter, project["id"])["number"] == 2
    r = restore(admin, doc["key"])
    assert r.status_code == 200, r.text
    back = r.json()
    assert_document(back)
    assert back["version"] == 3 and r.headers["ETag"] == '"3"'
    assert back["title"] == doc["title"]
    assert get(reporter, doc["id"]).json() == back
    assert kinds(doc["id"]) == ["created", "deleted", "restored"]


def test_restore_of_a_live_issue_is_409(admin, project):
    doc = make_issue(admin, project["id"])
    assert_problem(restore(admin, doc["id"]), 409, "not_deleted")
    assert_problem(restore(admin, str(uuid.uuid4())), 404)


def test_restore_honours_if_match(admin, manager, project):
    doc = make_issue(manager, project["id"])
    assert delete(manager, doc["id"], 1).status_code == 204
    body = assert_problem(restore(admin, doc["id"], headers={"If-Match": '"1"'}), 412)
    assert body["current_version"] == 2
    assert restore(admin, doc["id"], headers={"If-Match": '"2"'}).status_code == 200


# ---- issues of a deleted project are read-only -------------------------------------


def test_issues_of_a_deleted_project_are_read_only(manager, admin, developer):
    p = make_project(manager)
    doc = make_issue(developer, p["id"])
    gone = make_issue(developer, p["id"])
    assert delete(manager, gone["id"], 1).status_code == 204
    r = requests.delete(PROJECTS + "/" + p["id"], headers=dict(manager["headers"],
                        **{"If-Match": '"1"'}))
    assert r.status_code == 204
    assert get(developer, doc["id"]).json() == doc
    assert get(developer, doc["key"]).status_code == 200
    assert_problem(patch(developer, doc["id"], {"title": "x"}, 1), 409, "project_deleted")
    assert_problem(patch(developer, doc["id"], {"status": "closed"}, 1), 409, "project_deleted")
    assert_problem(delete(manager, doc["id"], 1), 409, "project_deleted")
    assert_problem(restore(admin, gone["id"]), 409, "project_deleted")
    assert transitions(developer, doc["id"]).json() == {"status": "open", "transitions": []}
    assert_problem(create(developer, p["id"]), 422)
    assert kinds(doc["id"]) == ["created"]
    # an admin restores the project: writable again
    assert requests.post(PROJECTS + "/" + p["id"] + "/restore",
                         headers=admin["headers"]).status_code == 200
    assert patch(developer, doc["id"], {"title": "x"}, 1).status_code == 200
    assert make_issue(developer, p["id"])["number"] == 3


# ---- timeline events ---------------------------------------------------------------


def test_every_change_writes_its_events(developer, manager, admin, make_user, project):
    dev2 = make_user("developer")
    doc = make_issue(developer, project["id"], title="T1", priority="low", type="bug",
                     description="first text")
    assert events(doc["id"]) == [{"kind": "created", "actor_id": developer["id"], "data": {}}]
    r = patch(developer, doc["id"], {"status": "in_progress", "assignee_id": dev2["id"],
                                     "title": "T2", "description": "second text",
                                     "priority": "high", "type": "feature"}, 1)
    assert r.status_code == 200 and r.json()["version"] == 2
    assert delete(manager, doc["id"], 2).status_code == 204
    assert restore(admin, doc["id"]).status_code == 200
    got = events(doc["id"])
    assert got == [
        {"kind": "created", "actor_id": developer["id"], "data": {}},
        {"kind": "status_changed", "actor_id": developer["id"],
         "data": {"from": "open", "to": "in_progress"}},
        {"kind": "assigned", "actor_id": developer["id"],
         "data": {"from": None, "to": dev2["id"]}},
        {"kind": "field_changed", "actor_id": developer["id"],
         "data": {"field": "title", "from": "T1", "to": "T2"}},
        {"kind": "field_changed", "actor_id": developer["id"],
         "data": {"field": "description"}},
        {"kind": "field_changed", "actor_id": developer["id"],
         "data": {"field": "priority", "from": "low", "to": "high"}},
        {"kind": "field_changed", "actor_id": developer["id"],
         "data": {"field": "type", "from": "bug", "to": "feature"}},
        {"kind": "deleted", "actor_id": manager["id"], "data": {}},
        {"kind": "restored", "actor_id": admin["id"], "data": {}},
    ]
    # the events of one change share its transaction's time, in order
    times = psql("SELECT string_agg(it_ts(created_at), ',' ORDER BY seq) FROM issue_events"
                 " WHERE issue_id = '%s'" % doc["id"]).split(",")
    assert times == sorted(times)
    assert "second text" not in psql("SELECT string_agg(data::text, '') FROM issue_events"
                                     " WHERE issue_id = '%s'" % doc["id"])


def test_a_failed_patch_writes_no_event(developer, project):
    doc = make_issue(developer, project["id"])
    patch(developer, doc["id"], {"title": "x"}, 5)
    patch(developer, doc["id"], {"title": "x"})
    assert kinds(doc["id"]) == ["created"]
