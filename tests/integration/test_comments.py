"""Comments: threaded comments on issues (create, reply, thread order and
depth, flat and tree lists paged by thread), edit with preconditions, soft
delete that keeps the thread, permissions, and the timeline events every
write records (checked in issue_events with psql).

Black-box HTTP against the real httpd + PostgreSQL; every caller is a real
user with a bearer token (conftest make_user).
"""
import json
import re
import uuid

import pytest
import requests

from conftest import assert_problem, psql, url

ISSUES = url("/api/v1/issues")
PROJECTS = url("/api/v1/projects")
COMMENTS = url("/api/v1/comments")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
DOC_FIELDS = {"id", "issue_id", "parent_id", "depth", "author_id", "body", "is_deleted",
              "edited_at", "created_at", "updated_at", "version"}
TIMEOUT = 30


# ---- helpers ---------------------------------------------------------------------


def make_project(owner):
    key = ("C" + uuid.uuid4().hex[:9]).upper()
    r = requests.post(PROJECTS, json={"key": key, "name": "Comments test"},
                      headers=owner["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


def make_issue(user, pid):
    r = requests.post(ISSUES, json={"project_id": pid, "title": "Commented"},
                      headers=user["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


def comments_url(ref):
    return ISSUES + "/" + ref + "/comments"


def post(user, ref, body="A comment", parent_id=None, headers=None, **extra):
    doc = {"body": body}
    if parent_id is not None:
        doc["parent_id"] = parent_id
    doc.update(extra)
    h = dict(user["headers"], **(headers or {}))
    return requests.post(comments_url(ref), json=doc, headers=h, timeout=TIMEOUT)


def comment(user, ref, body="A comment", parent_id=None):
    r = post(user, ref, body, parent_id)
    assert r.status_code == 201, r.text
    return r.json()


def listing(user, ref, **params):
    return requests.get(comments_url(ref), params=params, headers=user["headers"],
                        timeout=TIMEOUT)


def items(user, ref, **params):
    r = listing(user, ref, **params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def patch(user, cid, body, version=None, headers=None):
    h = dict(user["headers"])
    if version is not None:
        h["If-Match"] = '"%s"' % version
    h.update(headers or {})
    return requests.patch(COMMENTS + "/" + cid, json=body, headers=h, timeout=TIMEOUT)


def delete(user, cid, version=None):
    h = dict(user["headers"])
    if version is not None:
        h["If-Match"] = '"%s"' % version
    return requests.delete(COMMENTS + "/" + cid, headers=h, timeout=TIMEOUT)


def get(user, cid, **params):
    return requests.get(COMMENTS + "/" + cid, params=params, headers=user["headers"],
                        timeout=TIMEOUT)


def events(issue_id):
    out = psql("SELECT COALESCE(json_agg(json_build_object('kind', kind, 'actor_id', actor_id,"
               " 'data', data) ORDER BY created_at, seq), '[]') FROM issue_events"
               " WHERE issue_id = '%s'" % issue_id)
    return json.loads(out)


def issue_version(user, ref):
    r = requests.get(ISSUES + "/" + ref, headers=user["headers"], timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()["version"]


@pytest.fixture()
def project(manager):
    return make_project(manager)


@pytest.fixture()
def issue(reporter, project):
    return make_issue(reporter, project["id"])


# ---- POST /issues/{ref}/comments -------------------------------------------------


def test_create_returns_201_location_etag_and_document(reporter, issue):
    r = post(reporter, issue["id"], "First!")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert set(doc) == DOC_FIELDS, doc
    assert doc["body"] == "First!" and doc["issue_id"] == issue["id"]
    assert doc["parent_id"] is None and doc["depth"] == 0
    assert doc["author_id"] == reporter["id"] and doc["is_deleted"] is False
    assert doc["edited_at"] is None and doc["version"] == 1
    assert TS.match(doc["created_at"]) and TS.match(doc["updated_at"])
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"].endswith("/api/v1/comments/" + doc["id"])
    assert get(reporter, doc["id"]).json() == doc


def test_create_by_issue_key(reporter, issue):
    doc = comment(reporter, issue["key"], "by key")
    assert doc["issue_id"] == issue["id"]


def test_create_writes_commented_event_and_keeps_issue_version(reporter, issue):
    doc = comment(reporter, issue["id"])
    ev = events(issue["id"])
    assert ev[-1]["kind"] == "commented"
    assert ev[-1]["data"] == {"comment_id": doc["id"]}
    assert ev[-1]["actor_id"] == reporter["id"]
    assert issue_version(reporter, issue["id"]) == issue["version"]


def test_comment_does_not_make_an_issue_edit_fail(reporter, issue):
    comment(reporter, issue["id"])
    r = requests.patch(ISSUES + "/" + issue["id"], json={"title": "Still works"},
                       headers=dict(reporter["headers"], **{"If-Match": '"%d"' % issue["version"]}),
                       timeout=TIMEOUT)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("body, field, code", [
    ({}, "body", None),
    ({"body": ""}, "body", None),
    ({"body": "   "}, "body", None),
    ({"body": "x" * 65537}, "body", None),
    ({"body": 5}, "body", None),
    ({"body": "ok", "parent_id": "nope"}, "parent_id", None),
    ({"body": "ok", "extra": 1}, "extra", None),
])
def test_create_validation_is_422_naming_the_field(reporter, issue, body, field, code):
    r = requests.post(comments_url(issue["id"]), json=body, headers=reporter["headers"],
                      timeout=TIMEOUT)
    doc = assert_problem(r, 422)
    assert field in {e["field"] for e in doc["errors"]}, doc


def test_create_accepts_65536_characters(reporter, issue):
    doc = comment(reporter, issue["id"], "é" * 65536)
    assert len(doc["body"]) == 65536


def test_create_malformed_json_is_400_and_other_type_415(reporter, issue):
    h = dict(reporter["headers"], **{"Content-Type": "application/json"})
    assert_problem(requests.post(comments_url(issue["id"]), data="{", headers=h,
                                 timeout=TIMEOUT), 400)
    h = dict(reporter["headers"], **{"Content-Type": "text/plain"})
    assert_problem(requests.post(comments_url(issue["id"]), data="hi", headers=h,
                                 timeout=TIMEOUT), 415)


def test_comments_of_unknown_or_deleted_issue_are_404(reporter, manager, issue):
    assert_problem(post(reporter, str(uuid.uuid4())), 404)
    assert_problem(post(reporter, "NOPE-1"), 404)
    assert_problem(listing(reporter, str(uuid.uuid4())), 404)
    c = comment(reporter, issue["id"])
    r = requests.delete(ISSUES + "/" + issue["id"],
                        headers=dict(manager["headers"], **{"If-Match": '"%d"' % issue["version"]}),
                        timeout=TIMEOUT)
    assert r.status_code == 204, r.text
    assert_problem(post(reporter, issue["id"]), 404)
    assert_problem(listing(reporter, issue["id"]), 404)
    assert_problem(get(reporter, c["id"]), 404)
    assert_problem(patch(reporter, c["id"], {"body": "x"}, 1), 404)
    assert_problem(delete(reporter, c["id"], 1), 404)


def test_create_on_issue_of_deleted_project_is_409(reporter, manager, project, issue):
    r = requests.delete(PROJECTS + "/" + project["id"],
                        headers=dict(manager["headers"], **{"If-Match": '"%d"' % project["version"]}),
                        timeout=TIMEOUT)
    assert r.status_code == 204, r.text
    assert_problem(post(reporter, issue["id"]), 409, "project_deleted")


def test_create_without_credentials_is_401(issue):
    r = requests.post(comments_url(issue["id"]), json={"body": "x"}, timeout=TIMEOUT)
    assert r.status_code == 401


def test_idempotency_key_replays_the_first_comment(reporter, issue):
    h = {"Idempotency-Key": "c-" + uuid.uuid4().hex}
    r1 = post(reporter, issue["id"], "once", headers=h)
    r2 = post(reporter, issue["id"], "once", headers=h)
    assert r1.status_code == r2.status_code == 201
    assert r1.json()["id"] == r2.json()["id"]
    assert r2.headers.get("Idempotent-Replayed") == "true"
    assert len(items(reporter, issue["id"])) == 1


# ---- replies, thread order, depth -------------------------------------------------


def test_reply_to_comment_of_another_issue_is_422(reporter, project, issue):
    other = make_issue(reporter, project["id"])
    foreign = comment(reporter, other["id"])
    doc = assert_problem(post(reporter, issue["id"], "reply", foreign["id"]), 422)
    assert ("parent_id", "not_found") in {(e["field"], e["code"]) for e in doc["errors"]}


def test_reply_to_unknown_or_deleted_comment_is_422(reporter, issue):
    assert_problem(post(reporter, issue["id"], "reply", str(uuid.uuid4())), 422)
    c = comment(reporter, issue["id"])
    assert delete(reporter, c["id"], 1).status_code == 204
    assert_problem(post(reporter, issue["id"], "reply", c["id"]), 422)


def test_depth_20_is_allowed_and_21_is_422(reporter, issue):
    parent = comment(reporter, issue["id"], "depth 0")
    for depth in range(1, 21):
        parent = comment(reporter, issue["id"], "depth %d" % depth, parent["id"])
        assert parent["depth"] == depth
    doc = assert_problem(post(reporter, issue["id"], "depth 21", parent["id"]), 422)
    assert ("parent_id", "too_deep") in {(e["field"], e["code"]) for e in doc["errors"]}
    flat = items(reporter, issue["id"])
    assert [c["depth"] for c in flat] == list(range(21))


def build_tree(user, ref):
    """a                 (thread 1)
         a1
            a1x
         a2
       b                 (thread 2)
       c                 (thread 3)
         c1
    Replies are created out of order, so thread order is not creation order."""
    a = comment(user, ref, "a")
    b = comment(user, ref, "b")
    a1 = comment(user, ref, "a1", a["id"])
    c = comment(user, ref, "c")
    a2 = comment(user, ref, "a2", a["id"])
    c1 = comment(user, ref, "c1", c["id"])
    a1x = comment(user, ref, "a1x", a1["id"])
    return {d["body"]: d for d in (a, b, a1, c, a2, c1, a1x)}


def test_flat_list_is_in_thread_order_with_parent_and_depth(reporter, issue):
    t = build_tree(reporter, issue["id"])
    flat = items(reporter, issue["id"])
    assert [c["body"] for c in flat] == ["a", "a1", "a1x", "a2", "b", "c", "c1"]
    assert [c["depth"] for c in flat] == [0, 1, 2, 1, 0, 0, 1]
    assert [c["parent_id"] for c in flat] == [
        None, t["a"]["id"], t["a1"]["id"], t["a"]["id"], None, None, t["c"]["id"]]
    assert all(set(c) == DOC_FIELDS for c in flat)
    assert items(reporter, issue["id"], format="flat") == flat


def test_tree_format_nests_replies(reporter, issue):
    build_tree(reporter, issue["id"])
    tree = items(reporter, issue["id"], format="tree")

    def shape(node):
        return (node["body"], [shape(r) for r in node["replies"]])
    assert [shape(n) for n in tree] == [
        ("a", [("a1", [("a1x", [])]), ("a2", [])]),
        ("b", []),
        ("c", [("c1", [])]),
    ]


def test_pages_are_made_of_threads(reporter, issue):
    build_tree(reporter, issue["id"])
    r = listing(reporter, issue["id"], size=2)
    assert r.status_code == 200, r.text
    page1 = r.json()
    assert [c["body"] for c in page1["items"]] == ["a", "a1", "a1x", "a2", "b"]
    assert page1["has_more"] is True and page1["next_cursor"]
    assert 'rel="next"' in r.headers["Link"]
    page2 = listing(reporter, issue["id"], size=2, cursor=page1["next_cursor"]).json()
    assert [c["body"] for c in page2["items"]] == ["c", "c1"]
    assert page2["has_more"] is False and page2["next_cursor"] is None
    by_page = listing(reporter, issue["id"], size=2, page=2).json()
    assert [c["body"] for c in by_page["items"]] == ["c", "c1"]
    tree = listing(reporter, issue["id"], size=1, format="tree").json()
    assert [n["body"] for n in tree["items"]] == ["a"] and tree["has_more"]


def test_newest_thread_first(reporter, issue):
    build_tree(reporter, issue["id"])
    flat = items(reporter, issue["id"], sort="-thread")
    assert [c["body"] for c in flat] == ["c", "c1", "b", "a", "a1", "a1x", "a2"]
    r = listing(reporter, issue["id"], sort="-thread", size=1)
    page2 = listing(reporter, issue["id"], sort="-thread", size=1,
                    cursor=r.json()["next_cursor"]).json()
    assert [c["body"] for c in page2["items"]] == ["b"]


def test_empty_list(reporter, issue):
    r = listing(reporter, issue["id"])
    assert r.status_code == 200
    assert r.json()["items"] == [] and r.json()["has_more"] is False


@pytest.mark.parametrize("params, field", [
    ({"format": "xml"}, "format"),
    ({"sort": "created_at"}, "sort"),
    ({"size": "0"}, "size"),
    ({"size": "101"}, "size"),
    ({"page": "0"}, "page"),
    ({"bogus": "1"}, "bogus"),
])
def test_list_bad_query_is_422(reporter, issue, params, field):
    doc = assert_problem(listing(reporter, issue["id"], **params), 422)
    assert field in {e["field"] for e in doc["errors"]}


def test_list_bad_cursor_is_400(reporter, issue):
    assert_problem(listing(reporter, issue["id"], cursor="garbage"), 400, "invalid_cursor")


def test_list_include_deleted_is_for_admins(reporter, admin, issue):
    c = comment(reporter, issue["id"], "gone")
    assert delete(reporter, c["id"], 1).status_code == 204
    assert_problem(listing(reporter, issue["id"], include_deleted="true"), 403)
    assert items(reporter, issue["id"]) == []
    shown = items(admin, issue["id"], include_deleted="true")
    assert [(x["id"], x["is_deleted"], x["body"]) for x in shown] == [(c["id"], True, None)]


# ---- deletes keep the thread ------------------------------------------------------


def test_deleted_comment_with_replies_stays_without_body(reporter, issue):
    t = build_tree(reporter, issue["id"])
    r = delete(reporter, t["a1"]["id"], 1)
    assert r.status_code == 204, r.text
    flat = items(reporter, issue["id"])
    assert [c["body"] for c in flat] == ["a", None, "a1x", "a2", "b", "c", "c1"]
    gone = flat[1]
    assert gone["id"] == t["a1"]["id"] and gone["is_deleted"] is True
    assert gone["version"] == 2
    tree = items(reporter, issue["id"], format="tree")
    assert tree[0]["replies"][0]["body"] is None
    assert tree[0]["replies"][0]["replies"][0]["body"] == "a1x"
    assert_problem(get(reporter, t["a1"]["id"]), 404)


def test_deleted_comment_without_replies_is_omitted(reporter, issue):
    t = build_tree(reporter, issue["id"])
    assert delete(reporter, t["b"]["id"], 1).status_code == 204
    assert delete(reporter, t["c1"]["id"], 1).status_code == 204
    assert [c["body"] for c in items(reporter, issue["id"])] == ["a", "a1", "a1x", "a2", "c"]


def test_deleted_thread_root_disappears_when_its_last_reply_goes(reporter, issue):
    t = build_tree(reporter, issue["id"])
    assert delete(reporter, t["c"]["id"], 1).status_code == 204
    assert [c["body"] for c in items(reporter, issue["id"])][-2:] == [None, "c1"]
    assert delete(reporter, t["c1"]["id"], 1).status_code == 204
    assert [c["body"] for c in items(reporter, issue["id"])] == ["a", "a1", "a1x", "a2", "b"]


def test_delete_writes_comment_deleted_and_keeps_issue_version(reporter, issue):
    c = comment(reporter, issue["id"])
    assert delete(reporter, c["id"], 1).status_code == 204
    ev = events(issue["id"])
    assert ev[-1]["kind"] == "comment_deleted" and ev[-1]["data"] == {"comment_id": c["id"]}
    assert issue_version(reporter, issue["id"]) == issue["version"]
    assert_problem(delete(reporter, c["id"], 2), 404)


def test_delete_preconditions(reporter, issue):
    c = comment(reporter, issue["id"])
    assert_problem(delete(reporter, c["id"]), 428)
    doc = assert_problem(delete(reporter, c["id"], 7), 412)
    assert doc["current_version"] == 1
    h = dict(reporter["headers"])
    r = requests.delete(COMMENTS + "/" + c["id"], json={"version": 3}, headers=h,
                        timeout=TIMEOUT)
    assert_problem(r, 409)
    r = requests.delete(COMMENTS + "/" + c["id"], json={"version": 1}, headers=h,
                        timeout=TIMEOUT)
    assert r.status_code == 204, r.text


# ---- GET / PATCH /comments/{id} ---------------------------------------------------


def test_get_unknown_malformed_and_head(reporter, issue):
    assert_problem(get(reporter, str(uuid.uuid4())), 404)
    assert_problem(get(reporter, "not-a-uuid"), 404)
    c = comment(reporter, issue["id"])
    r = requests.head(COMMENTS + "/" + c["id"], headers=reporter["headers"], timeout=TIMEOUT)
    assert r.status_code == 200 and r.headers["ETag"] == '"1"'
    r = requests.get(COMMENTS + "/" + c["id"],
                     headers=dict(reporter["headers"], **{"If-None-Match": '"1"'}),
                     timeout=TIMEOUT)
    assert r.status_code == 304
    assert_problem(get(reporter, c["id"], bogus="1"), 422)


def test_edit_sets_edited_at_bumps_version_and_writes_event(reporter, issue):
    c = comment(reporter, issue["id"], "typo")
    r = patch(reporter, c["id"], {"body": "fixed"}, 1)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["body"] == "fixed" and doc["version"] == 2
    assert TS.match(doc["edited_at"]) and r.headers["ETag"] == '"2"'
    ev = events(issue["id"])
    assert ev[-1]["kind"] == "comment_edited" and ev[-1]["data"] == {"comment_id": c["id"]}
    assert issue_version(reporter, issue["id"]) == issue["version"]
    # the same body again: a no-op
    r = patch(reporter, c["id"], {"body": "fixed"}, 2)
    assert r.status_code == 200 and r.json() == doc
    assert events(issue["id"])[-1] == ev[-1] and len(events(issue["id"])) == len(ev)


def test_edit_with_body_version(reporter, issue):
    c = comment(reporter, issue["id"])
    r = patch(reporter, c["id"], {"body": "v", "version": 1})
    assert r.status_code == 200, r.text
    doc = assert_problem(patch(reporter, c["id"], {"body": "w", "version": 1}), 409)
    assert doc["current_version"] == 2


def test_edit_preconditions_and_validation(reporter, issue):
    c = comment(reporter, issue["id"])
    assert_problem(patch(reporter, c["id"], {"body": "x"}), 428)
    doc = assert_problem(patch(reporter, c["id"], {"body": "x"}, 5), 412)
    assert doc["current_version"] == 1
    assert_problem(patch(reporter, c["id"], {"body": ""}, 1), 422)
    assert_problem(patch(reporter, c["id"], {"parent_id": None, "body": "x"}, 1), 422)
    assert_problem(patch(reporter, str(uuid.uuid4()), {"body": "x"}, 1), 404)


def test_edit_of_deleted_comment_is_404(reporter, issue):
    c = comment(reporter, issue["id"])
    assert delete(reporter, c["id"], 1).status_code == 204
    assert_problem(patch(reporter, c["id"], {"body": "x"}, 2), 404)


# ---- permissions ------------------------------------------------------------------

# it_permissions: comments.update own for everyone, any for admin;
# comments.delete own for everyone, any for manager and admin.
MATRIX = [
    # role, own, may edit, may delete
    ("reporter", True, True, True),
    ("reporter", False, False, False),
    ("developer", True, True, True),
    ("developer", False, False, False),
    ("manager", True, True, True),
    ("manager", False, False, True),
    ("admin", True, True, True),
    ("admin", False, True, True),
]


@pytest.mark.parametrize("role, own, may_edit, may_delete", MATRIX)
def test_permission_matrix(make_user, project, role, own, may_edit, may_delete):
    caller = make_user(role)
    author = caller if own else make_user("reporter")
    issue = make_issue(author, project["id"])
    c = comment(author, issue["id"])
    r = patch(caller, c["id"], {"body": "edited by " + role}, 1)
    if may_edit:
        assert r.status_code == 200, r.text
    else:
        assert_problem(r, 403)
    version = 2 if may_edit else 1
    r = delete(caller, c["id"], version)
    if may_delete:
        assert r.status_code == 204, r.text
    else:
        assert_problem(r, 403)


@pytest.mark.parametrize("role", ["reporter", "developer", "manager", "admin"])
def test_every_role_may_comment_and_read(make_user, project, role):
    user = make_user(role)
    issue = make_issue(make_user("reporter"), project["id"])
    c = comment(user, issue["id"], "from " + role)
    assert get(user, c["id"]).status_code == 200
    assert [x["id"] for x in items(user, issue["id"])] == [c["id"]]


def test_forbidden_wins_over_missing_precondition(reporter, make_user, issue):
    c = comment(reporter, issue["id"])
    other = make_user("developer")
    assert_problem(patch(other, c["id"], {"body": "x"}), 403)
    assert_problem(delete(other, c["id"]), 403)
