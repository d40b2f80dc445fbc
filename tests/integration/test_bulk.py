"""Bulk updates: POST /api/v1/issues/bulk-status and POST /api/v1/issues/bulk.

All or nothing: one failing id (unknown, deleted, invalid transition,
stale version) answers a problem with one `errors` item per failing id and
leaves every row as it was (checked row by row with psql: status, version,
resolved_at, closed_at, and no new timeline events). Rows are locked in id
order, so concurrent bulks over overlapping ids in random order never
deadlock. Issues are inserted with psql (1000 of them in one statement).
"""
import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import assert_problem, psql, url

BULK_STATUS = url("/api/v1/issues/bulk-status")
BULK = url("/api/v1/issues/bulk")
PROJECTS = url("/api/v1/projects")
TIMEOUT = 60


# ---- helpers ---------------------------------------------------------------------

def make_project(owner):
    key = ("B" + uuid.uuid4().hex[:9]).upper()
    r = requests.post(PROJECTS, json={"key": key, "name": "Bulk test"},
                      headers=owner["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


def insert_issues(project_id, creator_id, n, status="open"):
    """n issues straight into the database (numbers taken from the project
    as the module does); returns their ids in number order."""
    resolved = "now()" if status in ("resolved", "closed") else "NULL"
    closed = "now()" if status == "closed" else "NULL"
    out = psql(
        "WITH p AS (UPDATE projects SET next_number = next_number + %d WHERE id = '%s'"
        " RETURNING next_number - %d AS first),"
        " ins AS (INSERT INTO issues (project_id, number, title, creator_id, status,"
        " resolved_at, closed_at)"
        " SELECT '%s', p.first + g - 1, 'Bulk ' || g, '%s', '%s', %s, %s"
        " FROM p, generate_series(1, %d) g RETURNING id, number)"
        " SELECT id FROM ins ORDER BY number"
        % (n, project_id, n, project_id, creator_id, status, resolved, closed, n))
    ids = out.split()
    assert len(ids) == n
    return ids


def arr(ids):
    return "'{%s}'::uuid[]" % ",".join(ids)


def snapshot(ids):
    """{id: (status, version, resolved_at, closed_at, updated_at)} and the
    number of timeline events of these issues."""
    rows = psql("SELECT id, status, version, COALESCE(resolved_at::text, '-'),"
                " COALESCE(closed_at::text, '-'), updated_at FROM issues WHERE id = ANY(%s)"
                % arr(ids))
    snap = {}
    for line in rows.splitlines():
        f = line.split("|")
        snap[f[0]] = tuple(f[1:])
    nevents = int(psql("SELECT count(*) FROM issue_events WHERE issue_id = ANY(%s)" % arr(ids)))
    return snap, nevents


def events(issue_id):
    out = psql("SELECT COALESCE(json_agg(json_build_object('kind', kind, 'actor_id', actor_id,"
               " 'data', data) ORDER BY created_at, seq), '[]') FROM issue_events"
               " WHERE issue_id = '%s'" % issue_id)
    return json.loads(out)


def bulk_status(user, body):
    return requests.post(BULK_STATUS, json=body, headers=user["headers"], timeout=TIMEOUT)


def bulk(user, body):
    return requests.post(BULK, json=body, headers=user["headers"], timeout=TIMEOUT)


def make_label(name=None, deleted=False):
    name = name or "bl-" + uuid.uuid4().hex[:8]
    return psql("INSERT INTO labels (name, is_deleted, deleted_at) VALUES ('%s', %s, %s)"
                " RETURNING id" % (name, "true" if deleted else "false",
                                   "now()" if deleted else "NULL"))


@pytest.fixture()
def project(manager):
    return make_project(manager)


# ---- bulk-status: success --------------------------------------------------------

def test_bulk_status_changes_every_issue_and_writes_one_event_each(manager, project):
    ids = insert_issues(project["id"], manager["id"], 5)
    r = bulk_status(manager, {"issue_ids": ids, "new_status": "resolved"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["updated"] == 5
    assert [i["id"] for i in body["items"]] == ids
    assert all(i["status"] == "resolved" and i["version"] == 2 for i in body["items"])
    snap, _ = snapshot(ids)
    for i in ids:
        status, version, resolved_at, closed_at, _ = snap[i]
        assert (status, version, closed_at) == ("resolved", "2", "-")
        assert resolved_at != "-"
        assert events(i) == [{"kind": "status_changed", "actor_id": manager["id"],
                              "data": {"from": "open", "to": "resolved"}}]


def test_bulk_status_sets_and_clears_resolved_and_closed_at_as_patch(manager, project):
    ids = insert_issues(project["id"], manager["id"], 3)
    assert bulk_status(manager, {"issue_ids": ids, "new_status": "resolved"}).status_code == 200
    resolved_before = {k: v[2] for k, v in snapshot(ids)[0].items()}
    assert bulk_status(manager, {"issue_ids": ids, "new_status": "closed"}).status_code == 200
    snap, _ = snapshot(ids)
    for i in ids:
        assert snap[i][0] == "closed"
        assert snap[i][2] == resolved_before[i]          # resolved -> closed keeps it
        assert snap[i][3] != "-"
    assert bulk_status(manager, {"issue_ids": ids, "new_status": "open"}).status_code == 200
    snap, _ = snapshot(ids)
    assert all(snap[i][0] == "open" and snap[i][2] == "-" and snap[i][3] == "-" for i in ids)


def test_issues_already_in_the_status_are_no_ops_not_counted(manager, project):
    ids = insert_issues(project["id"], manager["id"], 4)
    assert bulk_status(manager, {"issue_ids": ids[:2], "new_status": "in_progress"}).status_code == 200
    before, nevents = snapshot(ids)
    r = bulk_status(manager, {"issue_ids": ids, "new_status": "in_progress"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["updated"] == 2
    versions = {i["id"]: i["version"] for i in body["items"]}
    assert versions[ids[0]] == 2 and versions[ids[1]] == 2     # unchanged no-ops
    assert versions[ids[2]] == 2 and versions[ids[3]] == 2     # 1 -> 2
    after, nevents_after = snapshot(ids)
    assert after[ids[0]] == before[ids[0]] and after[ids[1]] == before[ids[1]]
    assert nevents_after == nevents + 2


def test_bulk_status_matching_versions_succeeds(manager, project):
    ids = insert_issues(project["id"], manager["id"], 3)
    r = bulk_status(manager, {"issue_ids": ids, "new_status": "closed",
                              "versions": {i: 1 for i in ids}})
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 3


def test_admin_may_bulk(admin, manager, project):
    ids = insert_issues(project["id"], manager["id"], 2)
    assert bulk_status(admin, {"issue_ids": ids, "new_status": "closed"}).status_code == 200


def test_uppercase_ids_are_accepted(manager, project):
    ids = insert_issues(project["id"], manager["id"], 2)
    r = bulk_status(manager, {"issue_ids": [i.upper() for i in ids], "new_status": "closed"})
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["items"]] == ids


# ---- bulk-status: all or nothing on 1000 ids -------------------------------------

@pytest.fixture()
def thousand(manager, project):
    ids = insert_issues(project["id"], manager["id"], 1000)
    return ids


def assert_nothing_changed(ids, before):
    after = snapshot(ids)
    assert after[1] == before[1], "timeline events were written"
    for i in ids:
        assert after[0][i] == before[0][i], i


def test_1000_with_one_unknown_id_is_422_and_changes_nothing(manager, thousand):
    ids = list(thousand)
    ghost = str(uuid.uuid4())
    ids[517] = ghost
    before = snapshot(thousand)
    r = bulk_status(manager, {"issue_ids": ids, "new_status": "resolved"})
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"] == [{"field": "issue_ids[517]", "code": "not_found", "id": ghost,
                               "message": "No such issue"}]
    assert_nothing_changed(thousand, before)


def test_1000_with_one_invalid_transition_is_409_and_changes_nothing(manager, thousand):
    psql("UPDATE issues SET status = 'closed', closed_at = now() WHERE id = '%s'" % thousand[999])
    before = snapshot(thousand)
    r = bulk_status(manager, {"issue_ids": thousand, "new_status": "in_progress"})
    body = assert_problem(r, 409, "bulk_conflict")
    assert len(body["errors"]) == 1
    e = body["errors"][0]
    assert (e["field"], e["code"], e["id"], e["allowed"]) == \
        ("issue_ids[999]", "invalid_transition", thousand[999], ["open"])
    assert_nothing_changed(thousand, before)


def test_1000_with_one_stale_version_is_409_and_changes_nothing(manager, thousand):
    psql("UPDATE issues SET version = 2 WHERE id = '%s'" % thousand[3])
    before = snapshot(thousand)
    r = bulk_status(manager, {"issue_ids": thousand, "new_status": "resolved",
                              "versions": {i: 1 for i in thousand}})
    body = assert_problem(r, 409, "bulk_conflict")
    assert len(body["errors"]) == 1
    e = body["errors"][0]
    assert (e["field"], e["code"], e["current_version"]) == ("issue_ids[3]", "version_mismatch", 2)
    assert_nothing_changed(thousand, before)


def test_1000_all_succeed_in_one_request(manager, thousand):
    r = bulk_status(manager, {"issue_ids": thousand, "new_status": "resolved"})
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 1000
    assert psql("SELECT count(*) FROM issues WHERE id = ANY(%s) AND status = 'resolved'"
                " AND version = 2" % arr(thousand)) == "1000"
    assert psql("SELECT count(*) FROM issue_events WHERE issue_id = ANY(%s)"
                " AND kind = 'status_changed'" % arr(thousand)) == "1000"


def test_every_failing_id_is_listed(manager, project):
    ids = insert_issues(project["id"], manager["id"], 4)
    psql("UPDATE issues SET status = 'closed', closed_at = now() WHERE id = '%s'" % ids[1])
    psql("UPDATE issues SET is_deleted = true, deleted_at = now() WHERE id = '%s'" % ids[2])
    before = snapshot(ids)
    r = bulk_status(manager, {"issue_ids": ids, "new_status": "resolved"})
    body = assert_problem(r, 422)
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("issue_ids[1]", "invalid_transition"), ("issue_ids[2]", "not_found")}
    assert_nothing_changed(ids, before)


def test_issue_of_a_deleted_project_is_409(manager, project):
    ids = insert_issues(project["id"], manager["id"], 2)
    psql("UPDATE projects SET is_deleted = true, deleted_at = now() WHERE id = '%s'"
         % project["id"])
    r = bulk_status(manager, {"issue_ids": ids, "new_status": "resolved"})
    body = assert_problem(r, 409, "bulk_conflict")
    assert {e["code"] for e in body["errors"]} == {"project_deleted"}


# ---- dry run -----------------------------------------------------------------------

def test_dry_run_answers_what_would_happen_and_writes_nothing(manager, project):
    ids = insert_issues(project["id"], manager["id"], 3)
    psql("UPDATE issues SET status = 'resolved', resolved_at = now() WHERE id = '%s'" % ids[0])
    before = snapshot(ids)
    r = bulk_status(manager, {"issue_ids": ids, "new_status": "resolved", "dry_run": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dry_run"] is True
    assert body["updated"] == 2
    assert [(i["status"], i["version"]) for i in body["items"]] == \
        [("resolved", 1), ("resolved", 2), ("resolved", 2)]
    assert_nothing_changed(ids, before)


def test_dry_run_reports_failures_too(manager, project):
    ids = insert_issues(project["id"], manager["id"], 2)
    before = snapshot(ids)
    r = bulk_status(manager, {"issue_ids": ids + [str(uuid.uuid4())], "new_status": "closed",
                              "dry_run": True})
    assert_problem(r, 422)
    assert_nothing_changed(ids, before)


# ---- concurrency -------------------------------------------------------------------

def test_concurrent_overlapping_bulks_in_random_order_never_deadlock(manager, project):
    ids = insert_issues(project["id"], manager["id"], 300)
    statuses = []

    def worker(seed):
        rnd = random.Random(seed)
        out = []
        for _ in range(5):
            chosen = rnd.sample(ids, 200)
            rnd.shuffle(chosen)
            r = bulk_status(manager, {"issue_ids": chosen,
                                      "new_status": rnd.choice(["open", "in_progress"])})
            out.append((r.status_code, r.json().get("updated") if r.status_code == 200 else r.text))
        return out

    with ThreadPoolExecutor(4) as pool:
        for result in pool.map(worker, range(4)):
            statuses.extend(result)
    assert [s for s, _ in statuses] == [200] * 20, statuses
    # every change wrote exactly one event, and versions count the changes
    updated = sum(u for _, u in statuses)
    assert int(psql("SELECT count(*) FROM issue_events WHERE issue_id = ANY(%s)"
                    % arr(ids))) == updated
    assert int(psql("SELECT sum(version - 1) FROM issues WHERE id = ANY(%s)" % arr(ids))) == updated


# ---- permissions and validation ----------------------------------------------------

@pytest.mark.parametrize("role", ["reporter", "developer"])
@pytest.mark.parametrize("path", [BULK_STATUS, BULK])
def test_reporters_and_developers_may_not_bulk(make_user, manager, project, role, path):
    user = make_user(role)
    ids = insert_issues(project["id"], manager["id"], 1)
    body = {"issue_ids": ids, "new_status": "closed"} if path == BULK_STATUS else \
        {"issue_ids": ids, "set": {"status": "closed"}}
    r = requests.post(path, json=body, headers=user["headers"], timeout=TIMEOUT)
    assert_problem(r, 403)
    assert snapshot(ids)[0][ids[0]][0] == "open"


def test_bulk_needs_authentication():
    r = requests.post(BULK_STATUS, json={"issue_ids": [str(uuid.uuid4())], "new_status": "open"},
                      timeout=TIMEOUT)
    assert_problem(r, 401)


def test_bulk_status_path_is_not_taken_for_an_issue_ref(manager):
    r = requests.get(BULK_STATUS, headers=manager["headers"], timeout=TIMEOUT)
    assert_problem(r, 405)
    assert "POST" in r.headers["Allow"]
    r = requests.get(BULK, headers=manager["headers"], timeout=TIMEOUT)
    assert_problem(r, 405)


U = str(uuid.uuid4())


@pytest.mark.parametrize("body,field,code", [
    ({"issue_ids": [], "new_status": "open"}, "issue_ids", "range"),
    ({"issue_ids": [str(uuid.uuid4()) for _ in range(1001)], "new_status": "open"},
     "issue_ids", "range"),
    ({"issue_ids": [U, U.upper()], "new_status": "open"}, "issue_ids", "duplicate"),
    ({"issue_ids": ["not-a-uuid"], "new_status": "open"}, "issue_ids", "format"),
    ({"issue_ids": [1], "new_status": "open"}, "issue_ids", "format"),
    ({"issue_ids": "x", "new_status": "open"}, "issue_ids", "type"),
    ({"issue_ids": [U], "new_status": "done"}, "new_status", "enum"),
    ({"issue_ids": [U]}, "new_status", "required"),
    ({"new_status": "open"}, "issue_ids", "required"),
    ({"issue_ids": [U], "new_status": "open", "extra": 1}, "extra", "unknown_field"),
    ({"issue_ids": [U], "new_status": "open", "dry_run": "yes"}, "dry_run", "type"),
    ({"issue_ids": [U], "new_status": "open", "versions": {str(uuid.uuid4()): 1}},
     None, "unknown_id"),
    ({"issue_ids": [U], "new_status": "open", "versions": {U: 0}}, "versions." + U, "type"),
    ({"issue_ids": [U], "new_status": "open", "versions": {U: "1"}}, "versions." + U, "type"),
])
def test_bulk_status_validation(manager, body, field, code):
    r = bulk_status(manager, body)
    problem = assert_problem(r, 422)
    got = {(e["field"], e["code"]) for e in problem["errors"]}
    if field is None:
        assert code in {c for _, c in got}, got
    else:
        assert (field, code) in got, got


def test_malformed_json_is_400(manager):
    r = requests.post(BULK_STATUS, data="{", headers=dict(manager["headers"], **{
        "Content-Type": "application/json"}), timeout=TIMEOUT)
    assert_problem(r, 400)


# ---- general bulk ------------------------------------------------------------------

def test_bulk_sets_assignee_priority_status_and_labels_with_events(manager, developer, project):
    ids = insert_issues(project["id"], manager["id"], 3)
    keep, gone = make_label(), make_label()
    psql("INSERT INTO issue_labels (issue_id, label_id) VALUES ('%s', '%s'), ('%s', '%s')"
         % (ids[0], keep, ids[0], gone))
    r = bulk(manager, {"issue_ids": ids, "set": {
        "assignee_id": developer["id"], "priority": "high", "status": "in_progress",
        "add_labels": [keep], "remove_labels": [gone]}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["updated"] == 3
    assert all(i["status"] == "in_progress" and i["version"] == 2 for i in body["items"])
    rows = psql("SELECT assignee_id, priority, status, version FROM issues WHERE id = ANY(%s)"
                % arr(ids)).splitlines()
    assert set(rows) == {"%s|high|in_progress|2" % developer["id"]}
    labels = psql("SELECT issue_id || ':' || label_id FROM issue_labels WHERE issue_id = ANY(%s)"
                  % arr(ids)).split()
    assert sorted(labels) == sorted("%s:%s" % (i, keep) for i in ids)
    ev0 = events(ids[0])
    assert [e["kind"] for e in ev0] == ["status_changed", "assigned", "field_changed", "unlabeled"]
    assert ev0[1]["data"] == {"from": None, "to": developer["id"]}
    assert ev0[2]["data"] == {"field": "priority", "from": "medium", "to": "high"}
    assert ev0[3]["data"] == {"label_id": gone}
    assert [e["kind"] for e in events(ids[1])] == ["status_changed", "assigned", "field_changed",
                                                   "labeled"]
    assert all(e["actor_id"] == manager["id"] for e in ev0)


def test_bulk_unassigns_with_null_and_noops_are_not_counted(manager, developer, project):
    ids = insert_issues(project["id"], manager["id"], 2)
    psql("UPDATE issues SET assignee_id = '%s' WHERE id = '%s'" % (developer["id"], ids[0]))
    r = bulk(manager, {"issue_ids": ids, "set": {"assignee_id": None, "priority": "medium"}})
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 1
    assert [e["kind"] for e in events(ids[0])] == ["assigned"]
    assert events(ids[1]) == []
    assert snapshot(ids)[0][ids[1]][1] == "1"


def test_bulk_dry_run_writes_nothing(manager, project):
    ids = insert_issues(project["id"], manager["id"], 2)
    label = make_label()
    before = snapshot(ids)
    r = bulk(manager, {"issue_ids": ids, "set": {"priority": "low", "add_labels": [label]},
                       "dry_run": True})
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 2 and r.json()["dry_run"] is True
    assert_nothing_changed(ids, before)
    assert psql("SELECT count(*) FROM issue_labels WHERE issue_id = ANY(%s)" % arr(ids)) == "0"


def test_bulk_with_an_invalid_transition_changes_nothing(manager, developer, project):
    ids = insert_issues(project["id"], manager["id"], 3)
    psql("UPDATE issues SET status = 'closed', closed_at = now() WHERE id = '%s'" % ids[2])
    label = make_label()
    before = snapshot(ids)
    r = bulk(manager, {"issue_ids": ids, "set": {"status": "resolved", "priority": "critical",
                                                 "assignee_id": developer["id"],
                                                 "add_labels": [label]}})
    body = assert_problem(r, 409, "bulk_conflict")
    assert [(e["field"], e["code"]) for e in body["errors"]] == \
        [("issue_ids[2]", "invalid_transition")]
    assert_nothing_changed(ids, before)
    assert psql("SELECT count(*) FROM issue_labels WHERE issue_id = ANY(%s)" % arr(ids)) == "0"


def test_bulk_unknown_or_deleted_label_and_inactive_assignee_are_422(make_user, manager, project):
    ids = insert_issues(project["id"], manager["id"], 1)
    inactive = make_user("developer", is_active=False)
    live, dead = make_label(), make_label(deleted=True)
    r = bulk(manager, {"issue_ids": ids, "set": {"assignee_id": inactive["id"],
                                                 "add_labels": [live, str(uuid.uuid4())],
                                                 "remove_labels": [dead]}})
    body = assert_problem(r, 422)
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("set.assignee_id", "not_found"), ("set.add_labels[1]", "not_found"),
        ("set.remove_labels[0]", "not_found")}
    assert snapshot(ids)[0][ids[0]][1] == "1"


@pytest.mark.parametrize("set_,field,code", [
    ({}, "set", "empty"),
    ({"priority": "urgent"}, "set.priority", "enum"),
    ({"status": "done"}, "set.status", "enum"),
    ({"assignee_id": "bob"}, "set.assignee_id", "format"),
    ({"title": "x"}, "set.title", "unknown_field"),
    ({"add_labels": ["x"]}, "set.add_labels", "format"),
    ({"add_labels": [U], "remove_labels": [U]}, "set.remove_labels[0]", "conflict"),
])
def test_bulk_validation(manager, set_, field, code):
    r = bulk(manager, {"issue_ids": [str(uuid.uuid4())], "set": set_})
    problem = assert_problem(r, 422)
    assert (field, code) in {(e["field"], e["code"]) for e in problem["errors"]}, problem


def test_bulk_needs_set(manager):
    problem = assert_problem(bulk(manager, {"issue_ids": [str(uuid.uuid4())]}), 422)
    assert ("set", "required") in {(e["field"], e["code"]) for e in problem["errors"]}
