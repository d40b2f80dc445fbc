"""GET /api/v1/issues/{ref}/timeline: an issue's events in order, paged by
cursor, by id or by key (PROJ-42), readable by every role, 404 for unknown
and deleted issues (admins may ask for a deleted issue's timeline).

The issues and their events are written straight into the database (psql),
so these tests do not depend on the endpoints that write events.
"""
import datetime as dt
import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from conftest import BASE_URL, assert_problem, make_user_now, psql, sql_literal, url

TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
EVENT_FIELDS = {"id", "issue_id", "kind", "actor_id", "created_at", "data"}
KINDS = ["created", "status_changed", "assigned", "field_changed", "commented",
         "comment_edited", "comment_deleted", "labeled", "unlabeled", "attachment_added",
         "attachment_removed", "deleted", "restored"]
T0 = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)
TIMEOUT = 30


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_issue(owner, creator, deleted=False):
    key = "T" + uuid.uuid4().hex[:8].upper()
    pid = psql("INSERT INTO projects (key, name, owner_id, next_number) VALUES (%s, 'Timeline', %s, 8)"
               " RETURNING id" % (sql_literal(key), sql_literal(owner["id"])))
    iid = psql("INSERT INTO issues (project_id, number, title, creator_id, is_deleted, deleted_at)"
               " VALUES (%s, 7, 'Timeline issue', %s, %s, %s) RETURNING id"
               % (sql_literal(pid), sql_literal(creator["id"]), "true" if deleted else "false",
                  "now()" if deleted else "NULL"))
    return {"id": iid, "key": "%s-7" % key, "project_id": pid}


def add_events(issue, events):
    """events: (kind, actor_id or None, created_at, data) in insertion order;
    one statement, so seq follows the list. Returns the events with ids."""
    values = ", ".join("(%s, %s, %s::uuid, %s::timestamptz, %s::jsonb)" % (
        sql_literal(issue["id"]), sql_literal(kind), sql_literal(actor),
        sql_literal(iso(at)), sql_literal(json.dumps(data))) for kind, actor, at, data in events)
    out = psql("INSERT INTO issue_events (issue_id, kind, actor_id, created_at, data) VALUES "
               + values + " RETURNING id, seq")
    rows = [line.split("|") for line in out.splitlines()]
    rows.sort(key=lambda r: int(r[1]))
    return [{"id": r[0], "seq": int(r[1]), "kind": e[0], "actor_id": e[1],
             "created_at": iso(e[2]), "data": e[3]} for r, e in zip(rows, events)]


def in_order(events):
    return [e["id"] for e in sorted(events, key=lambda e: (e["created_at"], e["seq"]))]


@pytest.fixture(scope="module")
def people():
    return {"owner": make_user_now("manager"), "creator": make_user_now("reporter"),
            "dev": make_user_now("developer"), "reporter": make_user_now("reporter")}


@pytest.fixture(scope="module")
def story(people):
    """An issue with a history: created, assigned, moved, commented, labeled;
    two events share a timestamp (one transaction) and the insertion order
    differs from the time order."""
    issue = make_issue(people["owner"], people["creator"])
    c, d = people["creator"]["id"], people["dev"]["id"]
    comment, label = str(uuid.uuid4()), str(uuid.uuid4())
    events = add_events(issue, [
        ("created", c, T0, {}),
        ("status_changed", d, T0 + dt.timedelta(minutes=5), {"from": "open", "to": "in_progress"}),
        ("assigned", d, T0 + dt.timedelta(minutes=1), {"from": None, "to": d}),
        ("commented", c, T0 + dt.timedelta(minutes=3), {"comment_id": comment}),
        ("field_changed", d, T0 + dt.timedelta(minutes=3),
         {"field": "priority", "from": "medium", "to": "high"}),
        ("labeled", None, T0 + dt.timedelta(minutes=3), {"label_id": label}),
        ("status_changed", d, T0 + dt.timedelta(minutes=9), {"from": "in_progress", "to": "resolved"}),
    ])
    return {"issue": issue, "events": events}


def timeline(user, ref, **params):
    return requests.get(url("/api/v1/issues/%s/timeline" % ref), params=params,
                        headers=user["headers"], timeout=TIMEOUT)


def ok(r):
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def walk(user, ref, size, **params):
    items, pages = [], 0
    params = dict(params, size=size)
    while True:
        body = ok(timeline(user, ref, **params))
        pages += 1
        assert body["page"] == 1 and body["size"] == size
        items += body["items"]
        if not body["has_more"]:
            assert body["next_cursor"] is None
            return items, pages
        params = {"size": size, "cursor": body["next_cursor"]}


def ids(items):
    return [i["id"] for i in items]


# ---- order and shape ------------------------------------------------------------------

def test_events_in_time_order_with_ties_in_insertion_order(story, people):
    body = ok(timeline(people["reporter"], story["issue"]["id"]))
    assert set(body) == {"items", "page", "size", "has_more", "next_cursor"}
    assert body["has_more"] is False and body["next_cursor"] is None
    assert ids(body["items"]) == in_order(story["events"])
    assert [i["kind"] for i in body["items"]] == [
        "created", "assigned", "commented", "field_changed", "labeled", "status_changed",
        "status_changed"]


def test_event_document(story, people):
    by_id = {e["id"]: e for e in story["events"]}
    for item in ok(timeline(people["reporter"], story["issue"]["id"]))["items"]:
        assert set(item) == EVENT_FIELDS, item
        want = by_id[item["id"]]
        assert item["issue_id"] == story["issue"]["id"]
        assert item["kind"] == want["kind"] and item["kind"] in KINDS
        assert item["actor_id"] == want["actor_id"]
        assert TS.match(item["created_at"]) and item["created_at"] == want["created_at"]
        assert item["data"] == want["data"] and isinstance(item["data"], dict)


def test_newest_first(story, people):
    got = ok(timeline(people["reporter"], story["issue"]["id"], sort="-created_at"))["items"]
    assert ids(got) == in_order(story["events"])[::-1]


def test_by_key(story, people):
    by_key = ok(timeline(people["reporter"], story["issue"]["key"]))
    by_id = ok(timeline(people["reporter"], story["issue"]["id"]))
    assert by_key == by_id


def test_by_uppercase_uuid(story, people):
    got = ok(timeline(people["reporter"], story["issue"]["id"].upper()))["items"]
    assert ids(got) == in_order(story["events"])


def test_trailing_slash(story, people):
    r = requests.get(url("/api/v1/issues/%s/timeline/" % story["issue"]["key"]),
                     headers=people["reporter"]["headers"], timeout=TIMEOUT)
    assert ids(ok(r)["items"]) == in_order(story["events"])


def test_issue_without_events_has_an_empty_timeline(people):
    issue = make_issue(people["owner"], people["creator"])
    body = ok(timeline(people["reporter"], issue["id"], include_total="true"))
    assert body["items"] == [] and body["has_more"] is False and body["total"] == 0


def test_every_kind_round_trips(people):
    issue = make_issue(people["owner"], people["creator"])
    events = add_events(issue, [(k, people["dev"]["id"], T0 + dt.timedelta(seconds=n), {"n": n})
                                for n, k in enumerate(KINDS)])
    got = ok(timeline(people["reporter"], issue["key"]))["items"]
    assert [i["kind"] for i in got] == KINDS
    assert ids(got) == ids(events)


def test_events_of_other_issues_are_not_shown(story, people):
    other = make_issue(people["owner"], people["creator"])
    add_events(other, [("created", None, T0 + dt.timedelta(minutes=4), {})])
    got = ok(timeline(people["reporter"], story["issue"]["id"]))["items"]
    assert {i["issue_id"] for i in got} == {story["issue"]["id"]}


# ---- paging ------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 2, 3, 7, 100])
def test_cursor_walk(story, people, size):
    got, pages = walk(people["reporter"], story["issue"]["id"], size)
    assert ids(got) == in_order(story["events"])
    assert pages == max(1, -(-7 // size))


@pytest.mark.parametrize("size", [1, 3])
def test_cursor_walk_newest_first(story, people, size):
    got, _ = walk(people["reporter"], story["issue"]["key"], size, sort="-created_at")
    assert ids(got) == in_order(story["events"])[::-1]


def test_cursor_walk_sees_events_added_meanwhile_once(people):
    issue = make_issue(people["owner"], people["creator"])
    first = add_events(issue, [("created", None, T0 + dt.timedelta(seconds=n), {"n": n})
                               for n in range(5)])
    body = ok(timeline(people["reporter"], issue["id"], size=2))
    # before the cursor's position; at it (same created_at, later seq); after
    later = add_events(issue, [
        ("commented", None, T0 + dt.timedelta(microseconds=500000), {"late": 0}),
        ("commented", None, T0 + dt.timedelta(seconds=1), {"late": 1}),
        ("commented", None, T0 + dt.timedelta(seconds=9), {"late": 2})])
    seen = ids(body["items"])
    params = {"size": 2, "cursor": body["next_cursor"]}
    while True:
        body = ok(timeline(people["reporter"], issue["id"], **params))
        seen += ids(body["items"])
        if not body["has_more"]:
            break
        params = {"size": 2, "cursor": body["next_cursor"]}
    assert len(seen) == len(set(seen))
    assert set(ids(first)) <= set(seen)
    # those after the position of the cursor are seen, the one before is not
    assert later[1]["id"] in seen and later[2]["id"] in seen and later[0]["id"] not in seen
    assert seen == [e for e in in_order(first + later) if e != later[0]["id"]]


def test_page_and_size(story, people):
    want = in_order(story["events"])
    got = []
    for page in (1, 2, 3):
        r = timeline(people["reporter"], story["issue"]["id"], size=3, page=page)
        body = ok(r)
        assert body["page"] == page and body["has_more"] is (page < 3)
        got += ids(body["items"])
    assert got == want


def test_link_header(story, people):
    seen, next_url = [], url("/api/v1/issues/%s/timeline?size=3" % story["issue"]["key"])
    while next_url:
        r = requests.get(next_url, headers=people["reporter"]["headers"], timeout=TIMEOUT)
        seen += ids(ok(r)["items"])
        link = r.headers.get("Link")
        next_url = None
        if link:
            m = re.match(r'^<([^>]+)>; rel="next"$', link)
            assert m and m.group(1).startswith("/api/v1/issues/%s/timeline?" % story["issue"]["key"])
            q = parse_qs(urlsplit(m.group(1)).query)
            assert q["size"] == ["3"] and "cursor" in q
            next_url = BASE_URL + m.group(1)
    assert seen == in_order(story["events"])


def test_include_total(story, people):
    body = ok(timeline(people["reporter"], story["issue"]["id"], size=2, include_total="true"))
    assert body["total"] == 7 and body["pages"] == 4
    assert "total" not in ok(timeline(people["reporter"], story["issue"]["id"]))


def test_cursor_of_another_issue_only_moves_the_position(story, people):
    """A cursor names an event; used on another issue it is a position in
    time like any other (never an error, never another issue's events)."""
    other = make_issue(people["owner"], people["creator"])
    mine = add_events(other, [("created", None, T0 - dt.timedelta(days=1), {}),
                              ("commented", None, T0 + dt.timedelta(days=1), {})])
    cursor = ok(timeline(people["reporter"], story["issue"]["id"], size=3))["next_cursor"]
    got = ok(timeline(people["reporter"], other["id"], cursor=cursor))["items"]
    assert ids(got) == [mine[1]["id"]]


# ---- 404, deleted issues, permissions ----------------------------------------------------

@pytest.mark.parametrize("ref", [
    "00000000-0000-0000-0000-000000000000", "NOPE-1", "ZZZZZZZZZZ-999999999",
])
def test_unknown_issue_is_404(people, ref):
    assert_problem(timeline(people["reporter"], ref), 404, "not_found")


def test_unknown_number_in_a_known_project_is_404(story, people):
    key = story["issue"]["key"].rsplit("-", 1)[0]
    assert_problem(timeline(people["reporter"], key + "-8"), 404, "not_found")


@pytest.mark.parametrize("ref", ["abc", "PROJ-0", "proj-1", "P-1", "PROJ-01", "1234", "PROJ--1",
                                 "3f0b7c2e-6a0d-4c1e-9a57-2b8f0d6c4e1"])
def test_malformed_ref_is_404(people, ref):
    assert_problem(timeline(people["reporter"], ref), 404, "not_found")


def test_deleted_issue_is_404_but_admins_may_ask(people):
    issue = make_issue(people["owner"], people["creator"], deleted=True)
    events = add_events(issue, [("created", None, T0, {}), ("deleted", None, T0 + dt.timedelta(1), {})])
    admin = make_user_now("admin")
    for user in (people["reporter"], people["dev"], people["owner"], admin):
        assert_problem(timeline(user, issue["id"]), 404, "not_found")
        assert_problem(timeline(user, issue["key"]), 404, "not_found")
    for ref in (issue["id"], issue["key"]):
        body = ok(timeline(admin, ref, include_deleted="true", include_total="true"))
        assert ids(body["items"]) == ids(events) and body["total"] == 2
    assert_problem(timeline(admin, issue["id"], include_deleted="false"), 404, "not_found")


@pytest.mark.parametrize("role", ["reporter", "developer", "manager"])
def test_include_deleted_is_403_for_non_admins(story, role):
    user = make_user_now(role)
    assert_problem(timeline(user, story["issue"]["id"], include_deleted="true"), 403, "forbidden")


def test_include_deleted_on_a_live_issue_is_fine_for_admins(story):
    admin = make_user_now("admin")
    got = ok(timeline(admin, story["issue"]["id"], include_deleted="true"))["items"]
    assert ids(got) == in_order(story["events"])


@pytest.mark.parametrize("role", ["reporter", "developer", "manager", "admin"])
def test_every_role_may_read_any_issues_timeline(story, role):
    user = make_user_now(role)
    assert ids(ok(timeline(user, story["issue"]["key"]))["items"]) == in_order(story["events"])


def test_issue_of_a_deleted_project_keeps_its_timeline(people):
    issue = make_issue(people["owner"], people["creator"])
    events = add_events(issue, [("created", None, T0, {})])
    psql("UPDATE projects SET is_deleted = true, deleted_at = now() WHERE id = %s"
         % sql_literal(issue["project_id"]))
    assert ids(ok(timeline(people["reporter"], issue["key"]))["items"]) == ids(events)


def test_without_credentials_is_401(story):
    r = requests.get(url("/api/v1/issues/%s/timeline" % story["issue"]["id"]), timeout=TIMEOUT)
    assert_problem(r, 401)


def test_other_methods_are_405(story, people):
    r = requests.post(url("/api/v1/issues/%s/timeline" % story["issue"]["id"]),
                      headers=people["reporter"]["headers"], json={}, timeout=TIMEOUT)
    assert_problem(r, 405)
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"


# ---- validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("params, field, code", [
    ({"size": "0"}, "size", "range"),
    ({"size": "101"}, "size", "range"),
    ({"size": "x"}, "size", "type"),
    ({"page": "0"}, "page", "range"),
    ({"sort": "seq"}, "sort", "enum"),
    ({"sort": "kind"}, "sort", "enum"),
    ({"include_total": "yes"}, "include_total", "type"),
    ({"include_deleted": "no"}, "include_deleted", "type"),
    ({"kind": "created"}, "kind", "unknown_parameter"),
    ({"status": "open"}, "status", "unknown_parameter"),
])
def test_invalid_parameter_is_422_naming_it(story, people, params, field, code):
    body = assert_problem(timeline(people["reporter"], story["issue"]["id"], **params), 422,
                          "validation_failed")
    assert {(e["field"], e["code"]) for e in body["errors"]} == {(field, code)}


@pytest.mark.parametrize("cursor", ["garbage", "AAAA", "!!", "x" * 3000])
def test_bad_cursor_is_400(story, people, cursor):
    assert_problem(timeline(people["reporter"], story["issue"]["id"], cursor=cursor), 400,
                   "invalid_cursor")


def test_cursor_of_the_issue_list_is_400(story, people):
    r = requests.get(url("/api/v1/issues"), params={"size": 1, "sort": "title"},
                     headers=people["reporter"]["headers"], timeout=TIMEOUT)
    cursor = ok(r)["next_cursor"]
    assert cursor
    assert_problem(timeline(people["reporter"], story["issue"]["id"], cursor=cursor), 400,
                   "invalid_cursor")


def test_cursor_of_the_other_direction_is_400(story, people):
    cursor = ok(timeline(people["reporter"], story["issue"]["id"], size=2))["next_cursor"]
    assert_problem(timeline(people["reporter"], story["issue"]["id"], cursor=cursor,
                            sort="-created_at"), 400, "invalid_cursor")
