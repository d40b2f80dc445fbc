"""Labels: the label resource (create, list, read, edit, delete with
preconditions, case-insensitive unique names) and an issue's label set
(replace, add, remove), which is part of the issue: it takes the issue's
If-Match, bumps the issue's version and writes labeled / unlabeled events
(checked in issue_events with psql). Deleting a label takes it off its
issues, with their events and version bumps.

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
LABELS = url("/api/v1/labels")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
DOC_FIELDS = {"id", "name", "color", "description", "created_at", "updated_at", "version"}
TIMEOUT = 30


# ---- helpers ---------------------------------------------------------------------


def uniq(prefix="lbl"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def create(user, **fields):
    body = {"name": uniq()}
    body.update(fields)
    return requests.post(LABELS, json=body, headers=user["headers"], timeout=TIMEOUT)


def make_label(user, **fields):
    r = create(user, **fields)
    assert r.status_code == 201, r.text
    return r.json()


def label_url(lid):
    return LABELS + "/" + lid


def patch(user, lid, body, version=None):
    h = dict(user["headers"])
    if version is not None:
        h["If-Match"] = '"%s"' % version
    return requests.patch(label_url(lid), json=body, headers=h, timeout=TIMEOUT)


def delete(user, lid, version=None):
    h = dict(user["headers"])
    if version is not None:
        h["If-Match"] = '"%s"' % version
    return requests.delete(label_url(lid), headers=h, timeout=TIMEOUT)


def make_project(owner):
    key = ("L" + uuid.uuid4().hex[:9]).upper()
    r = requests.post(PROJECTS, json={"key": key, "name": "Labels test"},
                      headers=owner["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


def make_issue(user, pid):
    r = requests.post(ISSUES, json={"project_id": pid, "title": "Labelled"},
                      headers=user["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


def issue_labels_url(ref):
    return ISSUES + "/" + ref + "/labels"


def put_labels(user, ref, ids, version=None, **extra):
    h = dict(user["headers"])
    if version is not None:
        h["If-Match"] = '"%s"' % version
    body = {"label_ids": ids}
    body.update(extra)
    return requests.put(issue_labels_url(ref), json=body, headers=h, timeout=TIMEOUT)


def add_label(user, ref, lid, version=None):
    h = dict(user["headers"])
    if version is not None:
        h["If-Match"] = '"%s"' % version
    return requests.post(issue_labels_url(ref), json={"label_id": lid}, headers=h,
                         timeout=TIMEOUT)


def remove_label(user, ref, lid, version=None):
    h = dict(user["headers"])
    if version is not None:
        h["If-Match"] = '"%s"' % version
    return requests.delete(issue_labels_url(ref) + "/" + lid, headers=h, timeout=TIMEOUT)


def label_set(user, ref):
    r = requests.get(issue_labels_url(ref), headers=user["headers"], timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def names(doc):
    return [lab["name"] for lab in doc["labels"]]


def issue_version(user, ref):
    r = requests.get(ISSUES + "/" + ref, headers=user["headers"], timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()["version"]


def events(issue_id):
    out = psql("SELECT COALESCE(json_agg(json_build_object('kind', kind, 'actor_id', actor_id,"
               " 'data', data) ORDER BY created_at, seq), '[]') FROM issue_events"
               " WHERE issue_id = '%s' AND kind IN ('labeled', 'unlabeled')" % issue_id)
    return json.loads(out)


@pytest.fixture()
def project(manager):
    return make_project(manager)


@pytest.fixture()
def issue(developer, project):
    return make_issue(developer, project["id"])


# ---- POST /labels -----------------------------------------------------------------


def test_create_returns_201_location_etag_and_document(manager):
    name = uniq("Bug")
    r = create(manager, name=name, color="#D73A4A", description="Something is broken")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert set(doc) == DOC_FIELDS, doc
    assert doc["name"] == name and doc["color"] == "#D73A4A"
    assert doc["description"] == "Something is broken" and doc["version"] == 1
    assert TS.match(doc["created_at"]) and TS.match(doc["updated_at"])
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"].endswith("/api/v1/labels/" + doc["id"])


def test_create_defaults(manager):
    doc = make_label(manager)
    assert doc["color"] == "#808080" and doc["description"] is None


def test_duplicate_name_in_other_case_is_409_naming_name(manager):
    name = uniq("Dup")
    make_label(manager, name=name)
    doc = assert_problem(create(manager, name=name.upper()), 409)
    assert doc["field"] == "name"
    assert ("name", "duplicate") in {(e["field"], e["code"]) for e in doc["errors"]}


def test_name_of_a_deleted_label_can_be_reused(manager):
    lab = make_label(manager)
    assert delete(manager, lab["id"], 1).status_code == 204
    assert create(manager, name=lab["name"]).status_code == 201


@pytest.mark.parametrize("fields, field", [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 51}, "name"),
    ({"name": 3}, "name"),
    ({"color": "red"}, "color"),
    ({"color": "#12345"}, "color"),
    ({"color": "#12345G"}, "color"),
    ({"description": "d" * 1001}, "description"),
    ({"extra": True}, "extra"),
])
def test_create_validation_is_422_naming_the_field(manager, fields, field):
    doc = assert_problem(create(manager, **fields), 422)
    assert field in {e["field"] for e in doc["errors"]}, doc


def test_create_limits_are_inclusive(manager):
    doc = make_label(manager, name="n" * 40 + uuid.uuid4().hex[:10],
                     description="d" * 1000, color="#abcdef")
    assert len(doc["name"]) == 50 and len(doc["description"]) == 1000


@pytest.mark.parametrize("role, status", [("reporter", 403), ("developer", 403),
                                          ("manager", 201), ("admin", 201)])
def test_create_permission(make_user, role, status):
    r = create(make_user(role))
    if status == 201:
        assert r.status_code == 201, r.text
    else:
        assert_problem(r, status)


# ---- GET /labels ------------------------------------------------------------------


def test_list_search_sort_and_pages(manager, reporter):
    tag = uuid.uuid4().hex[:8]
    made = [make_label(manager, name="%s-%s" % (n, tag)) for n in ("cherry", "Apple", "banana")]
    r = requests.get(LABELS, params={"q": tag}, headers=reporter["headers"], timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert [x["name"].split("-")[0] for x in r.json()["items"]] == ["Apple", "banana", "cherry"]
    r = requests.get(LABELS, params={"q": tag, "sort": "-created_at"},
                     headers=reporter["headers"], timeout=TIMEOUT)
    assert [x["id"] for x in r.json()["items"]] == [m["id"] for m in reversed(made)]
    r = requests.get(LABELS, params={"q": tag, "size": 2, "include_total": "true"},
                     headers=reporter["headers"], timeout=TIMEOUT)
    page = r.json()
    assert len(page["items"]) == 2 and page["has_more"] and page["total"] == 3
    r = requests.get(LABELS, params={"q": tag, "size": 2, "cursor": page["next_cursor"]},
                     headers=reporter["headers"], timeout=TIMEOUT)
    assert [x["name"].split("-")[0] for x in r.json()["items"]] == ["cherry"]


def test_list_hides_deleted_except_for_admins(manager, admin, reporter):
    tag = uuid.uuid4().hex[:8]
    lab = make_label(manager, name="gone-" + tag)
    assert delete(manager, lab["id"], 1).status_code == 204
    r = requests.get(LABELS, params={"q": tag}, headers=reporter["headers"], timeout=TIMEOUT)
    assert r.json()["items"] == []
    assert_problem(requests.get(LABELS, params={"include_deleted": "true"},
                                headers=reporter["headers"], timeout=TIMEOUT), 403)
    r = requests.get(LABELS, params={"q": tag, "include_deleted": "true"},
                     headers=admin["headers"], timeout=TIMEOUT)
    assert [(x["id"], x["is_deleted"]) for x in r.json()["items"]] == [(lab["id"], True)]


@pytest.mark.parametrize("params, field", [({"sort": "color"}, "sort"), ({"size": "0"}, "size"),
                                           ({"bogus": "1"}, "bogus"), ({"q": "q" * 201}, "q")])
def test_list_bad_query_is_422(reporter, params, field):
    doc = assert_problem(requests.get(LABELS, params=params, headers=reporter["headers"],
                                      timeout=TIMEOUT), 422)
    assert field in {e["field"] for e in doc["errors"]}


# ---- GET / PATCH / DELETE /labels/{id} --------------------------------------------


def test_read_and_not_found(manager, reporter):
    lab = make_label(manager)
    r = requests.get(label_url(lab["id"]), headers=reporter["headers"], timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == lab and r.headers["ETag"] == '"1"'
    r = requests.get(label_url(lab["id"]),
                     headers=dict(reporter["headers"], **{"If-None-Match": '"1"'}),
                     timeout=TIMEOUT)
    assert r.status_code == 304
    assert_problem(requests.get(label_url(str(uuid.uuid4())), headers=reporter["headers"],
                                timeout=TIMEOUT), 404)
    assert_problem(requests.get(label_url("zzz"), headers=reporter["headers"],
                                timeout=TIMEOUT), 404)


def test_patch_changes_bumps_and_noop_keeps_version(manager):
    lab = make_label(manager)
    r = patch(manager, lab["id"], {"color": "#00ff00", "description": "green"}, 1)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["color"] == "#00ff00" and doc["description"] == "green" and doc["version"] == 2
    assert r.headers["ETag"] == '"2"'
    r = patch(manager, lab["id"], {"color": "#00ff00"}, 2)
    assert r.status_code == 200 and r.json()["version"] == 2
    r = patch(manager, lab["id"], {"description": None}, 2)
    assert r.json()["description"] is None and r.json()["version"] == 3


def test_patch_preconditions(manager):
    lab = make_label(manager)
    assert_problem(patch(manager, lab["id"], {"color": "#000000"}), 428)
    doc = assert_problem(patch(manager, lab["id"], {"color": "#000000"}, 9), 412)
    assert doc["current_version"] == 1
    doc = assert_problem(patch(manager, lab["id"], {"color": "#000000", "version": 9}), 409)
    assert doc["current_version"] == 1
    assert_problem(patch(manager, str(uuid.uuid4()), {"color": "#000000"}, 1), 404)


def test_patch_rename_to_taken_name_in_other_case_is_409(manager):
    a = make_label(manager)
    b = make_label(manager)
    doc = assert_problem(patch(manager, b["id"], {"name": a["name"].upper()}, 1), 409)
    assert doc["field"] == "name"
    r = patch(manager, a["id"], {"name": a["name"].upper()}, 1)
    assert r.status_code == 200 and r.json()["name"] == a["name"].upper()


def test_patch_validation(manager):
    lab = make_label(manager)
    assert_problem(patch(manager, lab["id"], {"color": "blue"}, 1), 422)
    assert_problem(patch(manager, lab["id"], {"name": ""}, 1), 422)


def test_delete_preconditions_and_404_after(manager):
    lab = make_label(manager)
    assert_problem(delete(manager, lab["id"]), 428)
    assert_problem(delete(manager, lab["id"], 3), 412)
    assert delete(manager, lab["id"], 1).status_code == 204
    assert_problem(requests.get(label_url(lab["id"]), headers=manager["headers"],
                                timeout=TIMEOUT), 404)
    assert_problem(delete(manager, lab["id"], 2), 404)


@pytest.mark.parametrize("role, allowed", [("reporter", False), ("developer", False),
                                           ("manager", True), ("admin", True)])
def test_update_and_delete_permission(make_user, manager, role, allowed):
    lab = make_label(manager)
    user = make_user(role)
    r1 = patch(user, lab["id"], {"color": "#111111"}, 1)
    r2 = delete(user, lab["id"], 2 if allowed else 1)
    if allowed:
        assert r1.status_code == 200, r1.text
        assert r2.status_code == 204, r2.text
    else:
        assert_problem(r1, 403)
        assert_problem(r2, 403)


# ---- an issue's labels ------------------------------------------------------------


def test_put_replaces_the_set_bumps_version_and_writes_events(developer, manager, issue):
    a = make_label(manager, name=uniq("a"))
    b = make_label(manager, name=uniq("b"))
    c = make_label(manager, name=uniq("c"))
    r = put_labels(developer, issue["id"], [b["id"], a["id"]])
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["issue_id"] == issue["id"]
    assert names(doc) == [a["name"], b["name"]]
    assert set(doc["labels"][0]) == {"id", "name", "color"}
    assert doc["version"] == issue["version"] + 1
    assert r.headers["ETag"] == '"%d"' % doc["version"]
    assert issue_version(developer, issue["id"]) == doc["version"]
    ev = events(issue["id"])
    assert [(e["kind"], e["data"]["name"]) for e in ev] == [("labeled", a["name"]),
                                                           ("labeled", b["name"])]
    assert ev[0]["data"] == {"label_id": a["id"], "name": a["name"]}
    assert ev[0]["actor_id"] == developer["id"]
    r = put_labels(developer, issue["id"], [c["id"], b["id"]], doc["version"])
    assert r.status_code == 200, r.text
    assert names(r.json()) == [b["name"], c["name"]]
    assert r.json()["version"] == doc["version"] + 1
    assert [(e["kind"], e["data"]["label_id"]) for e in events(issue["id"])[2:]] == [
        ("unlabeled", a["id"]), ("labeled", c["id"])]


def test_put_same_set_is_a_noop(developer, manager, issue):
    a = make_label(manager)
    v = put_labels(developer, issue["id"], [a["id"]]).json()["version"]
    r = put_labels(developer, issue["id"], [a["id"]])
    assert r.status_code == 200 and r.json()["version"] == v
    assert len(events(issue["id"])) == 1


def test_put_empty_removes_all(developer, manager, issue):
    a = make_label(manager)
    put_labels(developer, issue["id"], [a["id"]])
    r = put_labels(developer, issue["id"], [])
    assert r.status_code == 200 and r.json()["labels"] == []
    assert [e["kind"] for e in events(issue["id"])] == ["labeled", "unlabeled"]


def test_put_with_one_bad_id_changes_nothing(developer, manager, issue):
    a = make_label(manager)
    b = make_label(manager)
    dead = make_label(manager)
    assert delete(manager, dead["id"], 1).status_code == 204
    before = put_labels(developer, issue["id"], [a["id"]]).json()
    for bad in (str(uuid.uuid4()), dead["id"]):
        doc = assert_problem(put_labels(developer, issue["id"], [b["id"], bad]), 422)
        assert [(e["field"], e["code"]) for e in doc["errors"]] == [("label_ids", "not_found")]
        assert bad in doc["errors"][0]["message"]
    assert label_set(developer, issue["id"]) == before
    assert len(events(issue["id"])) == 1


@pytest.mark.parametrize("body, field", [
    ({}, "label_ids"),
    ({"label_ids": "x"}, "label_ids"),
    ({"label_ids": ["not-a-uuid"]}, "label_ids"),
    ({"label_ids": [], "extra": 1}, "extra"),
])
def test_put_validation(developer, issue, body, field):
    r = requests.put(issue_labels_url(issue["id"]), json=body, headers=developer["headers"],
                     timeout=TIMEOUT)
    doc = assert_problem(r, 422)
    assert field in {e["field"] for e in doc["errors"]}


def test_stale_if_match_is_412_for_every_label_change(developer, manager, issue):
    a = make_label(manager)
    stale = issue["version"] + 5
    doc = assert_problem(put_labels(developer, issue["id"], [a["id"]], stale), 412)
    assert doc["current_version"] == issue["version"]
    assert_problem(add_label(developer, issue["id"], a["id"], stale), 412)
    assert_problem(remove_label(developer, issue["id"], a["id"], stale), 412)
    assert label_set(developer, issue["id"])["labels"] == []
    # the current one is fine; a body version that is stale is 409
    assert add_label(developer, issue["id"], a["id"], issue["version"]).status_code == 200
    r = requests.put(issue_labels_url(issue["id"]), json={"label_ids": [], "version": 1},
                     headers=developer["headers"], timeout=TIMEOUT)
    assert assert_problem(r, 409)["current_version"] == issue["version"] + 1


def test_label_change_makes_an_old_issue_if_match_stale(developer, manager, issue):
    a = make_label(manager)
    assert add_label(developer, issue["id"], a["id"]).status_code == 200
    r = requests.patch(ISSUES + "/" + issue["id"], json={"title": "x"},
                       headers=dict(developer["headers"],
                                    **{"If-Match": '"%d"' % issue["version"]}),
                       timeout=TIMEOUT)
    assert_problem(r, 412)


def test_post_adds_one_and_already_present_is_a_noop(developer, manager, issue):
    a = make_label(manager)
    r = add_label(developer, issue["key"], a["id"])
    assert r.status_code == 200, r.text
    v = r.json()["version"]
    assert v == issue["version"] + 1 and names(r.json()) == [a["name"]]
    r = add_label(developer, issue["id"], a["id"])
    assert r.status_code == 200 and r.json()["version"] == v
    assert [e["kind"] for e in events(issue["id"])] == ["labeled"]


def test_post_unknown_or_deleted_label_is_422(developer, manager, issue):
    assert_problem(add_label(developer, issue["id"], str(uuid.uuid4())), 422)
    dead = make_label(manager)
    assert delete(manager, dead["id"], 1).status_code == 204
    doc = assert_problem(add_label(developer, issue["id"], dead["id"]), 422)
    assert doc["errors"][0]["field"] == "label_id"
    assert_problem(add_label(developer, issue["id"], "nope"), 422)


def test_delete_removes_one_and_absent_is_a_noop(developer, manager, issue):
    a = make_label(manager)
    b = make_label(manager)
    v = put_labels(developer, issue["id"], [a["id"], b["id"]]).json()["version"]
    r = remove_label(developer, issue["id"], a["id"], v)
    assert r.status_code == 200, r.text
    assert names(r.json()) == [b["name"]] and r.json()["version"] == v + 1
    r = remove_label(developer, issue["id"], a["id"])
    assert r.status_code == 200 and r.json()["version"] == v + 1
    assert [e["kind"] for e in events(issue["id"])] == ["labeled", "labeled", "unlabeled"]
    assert events(issue["id"])[-1]["data"] == {"label_id": a["id"], "name": a["name"]}
    assert_problem(remove_label(developer, issue["id"], str(uuid.uuid4())), 404)


def test_issue_labels_of_unknown_deleted_or_read_only_issue(developer, manager, admin, project):
    a = make_label(manager)
    assert_problem(put_labels(developer, str(uuid.uuid4()), [a["id"]]), 404)
    assert_problem(add_label(developer, "NOPE-1", a["id"]), 404)
    issue = make_issue(developer, project["id"])
    r = requests.delete(PROJECTS + "/" + project["id"],
                        headers=dict(manager["headers"], **{"If-Match": '"%d"' % project["version"]}),
                        timeout=TIMEOUT)
    assert r.status_code == 204
    assert_problem(add_label(developer, issue["id"], a["id"]), 409, "project_deleted")
    other = make_issue(developer, make_project(manager)["id"])
    r = requests.delete(ISSUES + "/" + other["id"],
                        headers=dict(manager["headers"], **{"If-Match": '"%d"' % other["version"]}),
                        timeout=TIMEOUT)
    assert r.status_code == 204
    assert_problem(add_label(developer, other["id"], a["id"]), 404)
    assert_problem(requests.get(issue_labels_url(other["id"]), headers=developer["headers"],
                                timeout=TIMEOUT), 404)


@pytest.mark.parametrize("role, allowed", [("reporter", False), ("developer", True),
                                           ("manager", True), ("admin", True)])
def test_issue_label_permission(make_user, manager, project, role, allowed):
    user = make_user(role)
    issue = make_issue(user, project["id"])         # even on one's own issue
    a = make_label(manager)
    results = [put_labels(user, issue["id"], [a["id"]]),
               add_label(user, issue["id"], a["id"]),
               remove_label(user, issue["id"], a["id"])]
    for r in results:
        if allowed:
            assert r.status_code == 200, r.text
        else:
            assert_problem(r, 403)
    assert requests.get(issue_labels_url(issue["id"]), headers=user["headers"],
                        timeout=TIMEOUT).status_code == 200


def test_deleting_a_label_takes_it_off_its_issues(developer, manager, project):
    a = make_label(manager)
    keep = make_label(manager)
    i1 = make_issue(developer, project["id"])
    i2 = make_issue(developer, project["id"])
    untouched = make_issue(developer, project["id"])
    v1 = put_labels(developer, i1["id"], [a["id"], keep["id"]]).json()["version"]
    v2 = put_labels(developer, i2["id"], [a["id"]]).json()["version"]
    v3 = put_labels(developer, untouched["id"], [keep["id"]]).json()["version"]
    assert delete(manager, a["id"], 1).status_code == 204
    assert names(label_set(developer, i1["id"])) == [keep["name"]]
    assert label_set(developer, i2["id"])["labels"] == []
    assert issue_version(developer, i1["id"]) == v1 + 1
    assert issue_version(developer, i2["id"]) == v2 + 1
    assert issue_version(developer, untouched["id"]) == v3
    for iss in (i1, i2):
        last = events(iss["id"])[-1]
        assert last["kind"] == "unlabeled" and last["actor_id"] == manager["id"]
        assert last["data"] == {"label_id": a["id"], "name": a["name"]}
    assert psql("SELECT count(*) FROM issue_labels WHERE label_id = '%s'" % a["id"]) == "0"


def test_label_changes_leave_comments_alone_and_comments_leave_the_version(developer,
                                                                         manager, issue):
    a = make_label(manager)
    v = add_label(developer, issue["id"], a["id"]).json()["version"]
    r = requests.post(ISSUES + "/" + issue["id"] + "/comments", json={"body": "hi"},
                      headers=developer["headers"], timeout=TIMEOUT)
    assert r.status_code == 201
    assert issue_version(developer, issue["id"]) == v


# ---- label_ids on issue create / PATCH --------------------------------------------


def test_create_issue_with_label_ids(developer, manager, project):
    a = make_label(manager, name=uniq("a"))
    b = make_label(manager, name=uniq("b"))
    r = requests.post(ISSUES, json={"project_id": project["id"], "title": "with labels",
                                    "label_ids": [b["id"], a["id"]]},
                      headers=developer["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    issue = r.json()
    assert issue["version"] == 1
    assert names(label_set(developer, issue["id"])) == [a["name"], b["name"]]
    assert [e["data"]["label_id"] for e in events(issue["id"])] == [a["id"], b["id"]]


def test_create_issue_with_a_bad_label_id_creates_nothing(developer, manager, project):
    a = make_label(manager)
    title = uniq("nothing")
    r = requests.post(ISSUES, json={"project_id": project["id"], "title": title,
                                    "label_ids": [a["id"], str(uuid.uuid4())]},
                      headers=developer["headers"], timeout=TIMEOUT)
    doc = assert_problem(r, 422)
    assert doc["errors"][0]["field"] == "label_ids"
    assert psql("SELECT count(*) FROM issues WHERE title = '%s'" % title) == "0"


def test_reporter_may_not_label_on_create_but_may_send_no_labels(reporter, manager, project):
    a = make_label(manager)
    r = requests.post(ISSUES, json={"project_id": project["id"], "title": "x",
                                    "label_ids": [a["id"]]},
                      headers=reporter["headers"], timeout=TIMEOUT)
    assert_problem(r, 403)
    r = requests.post(ISSUES, json={"project_id": project["id"], "title": "x", "label_ids": []},
                      headers=reporter["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text


def test_patch_issue_label_ids_with_other_fields_bumps_once(developer, manager, issue):
    a = make_label(manager)
    b = make_label(manager)
    put_labels(developer, issue["id"], [a["id"]])
    v = issue_version(developer, issue["id"])
    h = dict(developer["headers"], **{"If-Match": '"%d"' % v})
    r = requests.patch(ISSUES + "/" + issue["id"], json={"title": "relabelled",
                                                          "label_ids": [b["id"]]},
                       headers=h, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == v + 1 and r.json()["title"] == "relabelled"
    assert names(label_set(developer, issue["id"])) == [b["name"]]
    assert [e["kind"] for e in events(issue["id"])] == ["labeled", "unlabeled", "labeled"]
    # the same set again: a no-op
    h = dict(developer["headers"], **{"If-Match": '"%d"' % (v + 1)})
    r = requests.patch(ISSUES + "/" + issue["id"], json={"label_ids": [b["id"]]},
                       headers=h, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["version"] == v + 1


def test_patch_issue_bad_label_id_changes_nothing(developer, manager, issue):
    a = make_label(manager)
    h = dict(developer["headers"], **{"If-Match": '"%d"' % issue["version"]})
    r = requests.patch(ISSUES + "/" + issue["id"], json={"title": "no",
                                                          "label_ids": [a["id"], str(uuid.uuid4())]},
                       headers=h, timeout=TIMEOUT)
    assert_problem(r, 422)
    assert issue_version(developer, issue["id"]) == issue["version"]
    assert label_set(developer, issue["id"])["labels"] == []


def test_reporter_patch_with_label_change_is_403(reporter, manager, project):
    a = make_label(manager)
    issue = make_issue(reporter, project["id"])
    h = dict(reporter["headers"], **{"If-Match": '"%d"' % issue["version"]})
    r = requests.patch(ISSUES + "/" + issue["id"], json={"label_ids": [a["id"]]},
                       headers=h, timeout=TIMEOUT)
    assert_problem(r, 403)
    r = requests.patch(ISSUES + "/" + issue["id"], json={"label_ids": [], "title": "mine"},
                       headers=h, timeout=TIMEOUT)
    assert r.status_code == 200, r.text


def test_concurrent_label_changes_with_one_if_match_one_wins(developer, manager, issue):
    from concurrent.futures import ThreadPoolExecutor
    labs = [make_label(manager) for _ in range(8)]
    v = issue["version"]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda lab: add_label(developer, issue["id"], lab["id"], v),
                                labs))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [412] * 7, [r.text for r in results]
    assert len(label_set(developer, issue["id"])["labels"]) == 1
    assert issue_version(developer, issue["id"]) == v + 1


def test_label_delete_racing_label_puts_leaves_no_dead_label_on_an_issue(developer, manager,
                                                                        project):
    from concurrent.futures import ThreadPoolExecutor
    lab = make_label(manager)
    issues = [make_issue(developer, project["id"]) for _ in range(6)]

    def put(i):
        return put_labels(developer, i["id"], [lab["id"]]).status_code

    with ThreadPoolExecutor(7) as pool:
        futures = [pool.submit(put, i) for i in issues]
        dead = pool.submit(delete, manager, lab["id"], 1)
        codes = [f.result() for f in futures]
    assert dead.result().status_code == 204
    assert set(codes) <= {200, 422}, codes
    assert psql("SELECT count(*) FROM issue_labels WHERE label_id = '%s'" % lab["id"]) == "0"


def test_issue_documents_show_their_labels_by_name(developer, manager, project):
    z = make_label(manager, name=uniq("zeta"), color="#00AA00")
    a = make_label(manager, name=uniq("Alpha"))
    r = requests.post(ISSUES, json={"project_id": project["id"], "title": "shown labels",
                                    "label_ids": [z["id"], a["id"]]},
                      headers=developer["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    created = r.json()
    want = [{"id": a["id"], "name": a["name"], "color": a["color"]},
            {"id": z["id"], "name": z["name"], "color": "#00AA00"}]
    assert created["labels"] == want
    got = requests.get(ISSUES + "/" + created["id"], headers=developer["headers"],
                       timeout=TIMEOUT).json()
    assert got["labels"] == want
    listed = requests.get(ISSUES, params={"project_id": project["id"], "size": 100},
                          headers=developer["headers"], timeout=TIMEOUT).json()["items"]
    assert [i["labels"] for i in listed if i["id"] == created["id"]] == [want]
    # a deleted label disappears from the document
    cur = requests.get(label_url(z["id"]), headers=manager["headers"], timeout=TIMEOUT).json()
    assert delete(manager, z["id"], version=cur["version"]).status_code == 204
    got = requests.get(ISSUES + "/" + created["id"], headers=developer["headers"],
                       timeout=TIMEOUT).json()
    assert got["labels"] == want[:1]


def test_issue_without_labels_has_an_empty_list(developer, project):
    r = requests.post(ISSUES, json={"project_id": project["id"], "title": "no labels"},
                      headers=developer["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    assert r.json()["labels"] == []
