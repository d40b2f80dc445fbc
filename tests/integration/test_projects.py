"""Projects: create, list, read, update, soft delete and restore, with the
permission table's projects.* rows, optimistic locking and keyset pages.

Black-box HTTP against the real httpd + PostgreSQL; every caller is a real
user with a bearer token from POST /api/v1/auth/token (conftest make_user).
The database is shared by the whole suite, so list tests scope themselves
with owner_id (a fresh manager per test) and keys are random.
"""
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from conftest import BASE_URL, assert_problem, psql, url

PROJECTS = url("/api/v1/projects")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
DOC_FIELDS = {"id", "key", "name", "description", "owner_id", "created_at",
              "updated_at", "version"}
TIMEOUT = 30


def new_key(prefix="K"):
    return (prefix + uuid.uuid4().hex[:9]).upper()


def project_url(pid):
    return PROJECTS + "/" + pid


def create(user, **fields):
    body = {"key": new_key(), "name": "Project " + uuid.uuid4().hex[:6]}
    body.update(fields)
    return requests.post(PROJECTS, json=body, headers=user["headers"], timeout=TIMEOUT)


def make_project(user, **fields):
    r = create(user, **fields)
    assert r.status_code == 201, r.text
    return r.json()


def get(user, pid, headers=None, **kw):
    h = dict(user["headers"], **(headers or {}))
    return requests.get(project_url(pid), headers=h, timeout=TIMEOUT, **kw)


def patch(user, pid, body, version=None, headers=None):
    h = dict(user["headers"])
    if version is not None:
        h["If-Match"] = '"%s"' % version
    h.update(headers or {})
    return requests.patch(project_url(pid), json=body, headers=h, timeout=TIMEOUT)


def delete(user, pid, version=None, **kw):
    h = dict(user["headers"])
    if version is not None:
        h["If-Match"] = '"%s"' % version
    return requests.delete(project_url(pid), headers=h, timeout=TIMEOUT, **kw)


def restore(user, pid, headers=None):
    h = dict(user["headers"])
    h.update(headers or {})
    return requests.post(project_url(pid) + "/restore", headers=h, timeout=TIMEOUT)


def listing(user, **params):
    return requests.get(PROJECTS, params=params, headers=user["headers"], timeout=TIMEOUT)


def error_fields(body):
    return {(e["field"], e["code"]) for e in body.get("errors", [])}


def assert_document(doc):
    assert set(doc) == DOC_FIELDS, doc
    assert uuid.UUID(doc["id"])
    assert TS.match(doc["created_at"]) and TS.match(doc["updated_at"]), doc
    assert isinstance(doc["version"], int) and doc["version"] >= 1


# ---- POST /projects ----------------------------------------------------------------


def test_create_returns_201_with_location_etag_and_the_project(manager):
    key = new_key()
    r = create(manager, key=key, name="Apollo", description="to the moon")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert_document(doc)
    assert doc["key"] == key and doc["name"] == "Apollo"
    assert doc["description"] == "to the moon"
    assert doc["owner_id"] == manager["id"]
    assert doc["version"] == 1
    assert doc["created_at"] == doc["updated_at"]
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == "/api/v1/projects/" + doc["id"]
    assert r.headers["Content-Type"].startswith("application/json")
    again = requests.get(BASE_URL + r.headers["Location"], headers=manager["headers"])
    assert again.status_code == 200
    assert again.json() == doc


def test_create_without_description_has_null_description(manager):
    doc = make_project(manager)
    assert doc["description"] is None
    assert make_project(manager, description=None)["description"] is None


def test_create_with_trailing_slash(manager):
    r = requests.post(PROJECTS + "/", json={"key": new_key(), "name": "slash"},
                      headers=manager["headers"])
    assert r.status_code == 201, r.text


def test_create_keeps_unicode_and_multibyte_description_up_to_65536_bytes(manager):
    desc = "\u00e9" * 32768                       # 32768 characters, 65536 bytes
    doc = make_project(manager, name="Caf\u00e9 \u2603", description=desc)
    assert doc["name"] == "Caf\u00e9 \u2603"
    assert doc["description"] == desc


def test_manager_may_name_themselves_owner(manager):
    assert make_project(manager, owner_id=manager["id"])["owner_id"] == manager["id"]
    upper = make_project(manager, owner_id=manager["id"].upper())
    assert upper["owner_id"] == manager["id"]


def test_manager_naming_another_owner_is_403(manager, make_user):
    other = make_user("manager")
    assert_problem(create(manager, owner_id=other["id"]), 403, "forbidden")


def test_admin_may_create_a_project_owned_by_someone_else(admin, make_user):
    other = make_user("manager")
    doc = make_project(admin, owner_id=other["id"])
    assert doc["owner_id"] == other["id"]


@pytest.mark.parametrize("state", ["missing", "inactive", "deleted"])
def test_owner_must_be_an_active_user(admin, state):
    if state == "missing":
        owner = str(uuid.uuid4())
    else:
        owner = psql(
            "INSERT INTO users (username, email, password_hash, role, is_active, is_deleted,"
            " deleted_at) VALUES ('gone-{0}', 'gone-{0}@example.org', '!', 'manager', {1}, {2},"
            " {3}) RETURNING id".format(
                uuid.uuid4().hex[:10], "false" if state == "inactive" else "true",
                "true" if state == "deleted" else "false",
                "now()" if state == "deleted" else "NULL"))
    body = assert_problem(create(admin, owner_id=owner), 422, "validation_failed")
    assert error_fields(body) == {("owner_id", "not_found")}


@pytest.mark.parametrize("change, field, code", [
    ({"key": None}, "key", "null"),
    ({"key": 42}, "key", "type"),
    ({"key": "A"}, "key", "too_short"),
    ({"key": "ABCDEFGHIJK"}, "key", "too_long"),
    ({"key": "abc"}, "key", "format"),
    ({"key": "Abc"}, "key", "format"),
    ({"key": "1AB"}, "key", "format"),
    ({"key": "AB-1"}, "key", "format"),
    ({"key": "AB C"}, "key", "format"),
    ({"key": "\u00c4BC"}, "key", "format"),
    ({"name": None}, "name", "null"),
    ({"name": 7}, "name", "type"),
    ({"name": ["x"]}, "name", "type"),
    ({"name": ""}, "name", "too_short"),
    ({"name": "   "}, "name", "format"),
    ({"name": "n" * 201}, "name", "too_long"),
    ({"description": 1}, "description", "type"),
    ({"description": {"a": 1}}, "description", "type"),
    ({"description": "d" * 65537}, "description", "too_long"),
    ({"description": "\u00e9" * 32769}, "description", "too_long"),   # 65538 bytes
    ({"owner_id": "not-a-uuid"}, "owner_id", "format"),
    ({"owner_id": 5}, "owner_id", "type"),
    ({"owner_id": None}, "owner_id", "null"),
    ({"color": "red"}, "color", "unknown_field"),
    ({"version": 1}, "version", "unknown_field"),
    ({"id": str(uuid.uuid4())}, "id", "unknown_field"),
])
def test_create_validation_errors_name_the_field(manager, change, field, code):
    body = assert_problem(create(manager, **change), 422, "validation_failed")
    assert (field, code) in error_fields(body), body
    assert len(body["errors"]) == 1, body


@pytest.mark.parametrize("missing", ["key", "name"])
def test_create_missing_required_field_is_422(manager, missing):
    body = {"key": new_key(), "name": "n"}
    del body[missing]
    r = requests.post(PROJECTS, json=body, headers=manager["headers"])
    assert error_fields(assert_problem(r, 422, "validation_failed")) == {(missing, "required")}


def test_create_reports_every_invalid_field_at_once(manager):
    r = requests.post(PROJECTS, json={"key": "bad", "name": "", "extra": 1},
                      headers=manager["headers"])
    body = assert_problem(r, 422, "validation_failed")
    assert error_fields(body) == {("key", "format"), ("name", "too_short"),
                                  ("extra", "unknown_field")}


def test_create_body_that_is_not_an_object_is_422(manager):
    r = requests.post(PROJECTS, json=["key"], headers=manager["headers"])
    assert_problem(r, 422, "validation_failed")


def test_create_malformed_json_is_400(manager):
    h = dict(manager["headers"], **{"Content-Type": "application/json"})
    assert_problem(requests.post(PROJECTS, data='{"key": ', headers=h), 400, "malformed_json")


def test_create_non_json_body_is_415(manager):
    h = dict(manager["headers"], **{"Content-Type": "text/plain"})
    assert_problem(requests.post(PROJECTS, data="key=ABC", headers=h), 415)


def test_duplicate_key_is_409_naming_key(manager, make_user):
    key = new_key()
    make_project(manager, key=key)
    other = make_user("manager")
    body = assert_problem(create(other, key=key), 409, "conflict")
    assert body["field"] == "key"
    assert error_fields(body) == {("key", "duplicate")}
    assert key in body["detail"]


def test_key_of_a_deleted_project_stays_taken(manager):
    doc = make_project(manager)
    assert delete(manager, doc["id"], 1).status_code == 204
    assert_problem(create(manager, key=doc["key"]), 409, "conflict")


def test_concurrent_creates_with_one_key_make_one_project(manager):
    key = new_key()
    barrier = threading.Barrier(8)

    def attempt(_):
        barrier.wait()
        return create(manager, key=key).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(attempt, range(8)))
    assert codes == [201] + [409] * 7


def test_without_credentials_is_401():
    r = requests.get(PROJECTS)
    assert_problem(r, 401)
    assert "WWW-Authenticate" in r.headers


# ---- permission matrix -------------------------------------------------------------

ROLES = ["reporter", "developer", "other_manager", "owner", "admin"]

# action -> expected status per caller; "owner" is the manager owning the project
MATRIX = {
    "create":  {"reporter": 403, "developer": 403, "other_manager": 201, "owner": 201, "admin": 201},
    "list":    {"reporter": 200, "developer": 200, "other_manager": 200, "owner": 200, "admin": 200},
    "read":    {"reporter": 200, "developer": 200, "other_manager": 200, "owner": 200, "admin": 200},
    "update":  {"reporter": 403, "developer": 403, "other_manager": 403, "owner": 200, "admin": 200},
    "delete":  {"reporter": 403, "developer": 403, "other_manager": 403, "owner": 204, "admin": 204},
    "restore": {"reporter": 403, "developer": 403, "other_manager": 403, "owner": 403, "admin": 200},
}


@pytest.fixture()
def cast(make_user):
    owner = make_user("manager")
    return {"reporter": make_user("reporter"), "developer": make_user("developer"),
            "other_manager": make_user("manager"), "owner": owner,
            "admin": make_user("admin")}


def perform(action, caller, project):
    pid = project["id"]
    if action == "create":
        return create(caller)
    if action == "list":
        return listing(caller)
    if action == "read":
        return get(caller, pid)
    if action == "update":
        return patch(caller, pid, {"name": "renamed"}, project["version"])
    if action == "delete":
        return delete(caller, pid, project["version"])
    if action == "restore":
        return restore(caller, pid)
    raise AssertionError(action)


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("action", sorted(MATRIX))
def test_permission_matrix(cast, action, who):
    project = make_project(cast["owner"])
    if action == "restore":
        assert delete(cast["owner"], project["id"], 1).status_code == 204
    r = perform(action, cast[who], project)
    expected = MATRIX[action][who]
    if expected == 403:
        assert_problem(r, 403, "forbidden")
    else:
        assert r.status_code == expected, r.text
    # a refused write changed nothing
    after = get(cast["admin"], project["id"], params={"include_deleted": "true"}).json()
    if expected == 403 and action != "create":
        assert after["version"] == (2 if action == "restore" else 1)


def test_admin_may_update_and_delete_any_project(admin, manager):
    doc = make_project(manager)
    r = patch(admin, doc["id"], {"description": "by admin"}, 1)
    assert r.status_code == 200 and r.json()["owner_id"] == manager["id"]
    assert delete(admin, doc["id"], 2).status_code == 204


# ---- GET /projects/{id} -------------------------------------------------------------


def test_read_returns_project_with_etag(reporter, manager):
    doc = make_project(manager)
    r = get(reporter, doc["id"])
    assert r.status_code == 200
    assert r.json() == doc
    assert r.headers["ETag"] == '"1"'


def test_read_head_has_etag_and_no_body(reporter, manager):
    doc = make_project(manager)
    r = requests.head(project_url(doc["id"]), headers=reporter["headers"])
    assert r.status_code == 200
    assert r.headers["ETag"] == '"1"'
    assert r.content == b""


def test_read_with_current_if_none_match_is_304(reporter, manager):
    doc = make_project(manager)
    r = get(reporter, doc["id"], headers={"If-None-Match": '"1"'})
    assert r.status_code == 304
    assert r.headers["ETag"] == '"1"'
    assert r.content == b""
    r = get(reporter, doc["id"], headers={"If-None-Match": '"7"'})
    assert r.status_code == 200


def test_read_unknown_project_is_404(reporter):
    assert_problem(get(reporter, str(uuid.uuid4())), 404, "not_found")


@pytest.mark.parametrize("bad", ["not-a-uuid", "PROJ-1", "123"])
def test_read_malformed_id_is_404(reporter, bad):
    assert_problem(get(reporter, bad), 404, "not_found")


def test_read_unknown_query_parameter_is_422(reporter, manager):
    doc = make_project(manager)
    body = assert_problem(get(reporter, doc["id"], params={"fields": "name"}), 422)
    assert error_fields(body) == {("fields", "unknown_parameter")}


def test_read_include_deleted_must_be_boolean(admin, manager):
    doc = make_project(manager)
    body = assert_problem(get(admin, doc["id"], params={"include_deleted": "yes"}), 422)
    assert error_fields(body) == {("include_deleted", "type")}


# ---- PATCH /projects/{id} -----------------------------------------------------------


def test_patch_changes_fields_and_bumps_version(manager):
    doc = make_project(manager, description="old")
    r = patch(manager, doc["id"], {"name": "New name", "description": "new"}, 1)
    assert r.status_code == 200, r.text
    new = r.json()
    assert_document(new)
    assert new["name"] == "New name" and new["description"] == "new"
    assert new["version"] == 2
    assert r.headers["ETag"] == '"2"'
    assert new["updated_at"] > doc["updated_at"]
    assert new["created_at"] == doc["created_at"] and new["key"] == doc["key"]
    assert get(manager, doc["id"]).json() == new


def test_patch_description_null_clears_it(manager):
    doc = make_project(manager, description="something")
    r = patch(manager, doc["id"], {"description": None}, 1)
    assert r.status_code == 200
    assert r.json()["description"] is None and r.json()["version"] == 2


def test_patch_with_current_values_is_a_noop(manager):
    doc = make_project(manager, description="same")
    r = patch(manager, doc["id"], {"name": doc["name"], "description": "same",
                                   "key": doc["key"], "owner_id": manager["id"]}, 1)
    assert r.status_code == 200, r.text
    assert r.json() == doc
    assert r.headers["ETag"] == '"1"'
    r = patch(manager, doc["id"], {}, 1)
    assert r.status_code == 200 and r.json() == doc


def test_patch_with_body_version(manager):
    doc = make_project(manager)
    r = requests.patch(project_url(doc["id"]), json={"name": "b", "version": 1},
                       headers=manager["headers"])
    assert r.status_code == 200 and r.json()["version"] == 2


def test_patch_with_if_match_star(manager):
    doc = make_project(manager)
    r = patch(manager, doc["id"], {"name": "star"}, headers={"If-Match": "*"})
    assert r.status_code == 200 and r.json()["version"] == 2


def test_patch_without_precondition_is_428(manager):
    doc = make_project(manager)
    assert_problem(patch(manager, doc["id"], {"name": "x"}), 428, "precondition_required")
    assert get(manager, doc["id"]).json()["version"] == 1


def test_patch_with_stale_if_match_is_412_with_current_version(manager):
    doc = make_project(manager)
    assert patch(manager, doc["id"], {"name": "first"}, 1).status_code == 200
    r = patch(manager, doc["id"], {"name": "second"}, 1)
    body = assert_problem(r, 412, "precondition_failed")
    assert body["current_version"] == 2
    assert r.headers["ETag"] == '"2"'
    assert get(manager, doc["id"]).json()["name"] == "first"


def test_patch_with_stale_body_version_is_409_with_current_version(manager):
    doc = make_project(manager)
    assert patch(manager, doc["id"], {"name": "first"}, 1).status_code == 200
    r = requests.patch(project_url(doc["id"]), json={"name": "x", "version": 1},
                       headers=manager["headers"])
    body = assert_problem(r, 409, "version_conflict")
    assert body["current_version"] == 2


def test_noop_patch_with_stale_version_is_still_412(manager):
    doc = make_project(manager)
    assert patch(manager, doc["id"], {"name": "first"}, 1).status_code == 200
    assert_problem(patch(manager, doc["id"], {}, 1), 412, "precondition_failed")


def test_patch_if_match_and_body_version_must_agree(manager):
    doc = make_project(manager)
    assert_problem(patch(manager, doc["id"], {"version": 2}, 1), 400, "version_mismatch")


def test_patch_malformed_if_match_is_400(manager):
    doc = make_project(manager)
    assert_problem(patch(manager, doc["id"], {}, headers={"If-Match": "1"}), 400,
                   "invalid_if_match")


def test_patch_key_is_immutable(manager):
    doc = make_project(manager)
    body = assert_problem(patch(manager, doc["id"], {"key": new_key()}, 1), 422)
    assert error_fields(body) == {("key", "immutable")}
    assert get(manager, doc["id"]).json() == doc


@pytest.mark.parametrize("change, field, code", [
    ({"name": ""}, "name", "too_short"),
    ({"name": "  "}, "name", "format"),
    ({"name": "n" * 201}, "name", "too_long"),
    ({"name": None}, "name", "null"),
    ({"name": 1}, "name", "type"),
    ({"description": 5}, "description", "type"),
    ({"description": "d" * 65537}, "description", "too_long"),
    ({"description": "\u00e9" * 32769}, "description", "too_long"),
    ({"owner_id": "x"}, "owner_id", "format"),
    ({"owner_id": None}, "owner_id", "null"),
    ({"key": 3}, "key", "type"),
    ({"version": 0}, "version", "range"),
    ({"version": "1"}, "version", "type"),
    ({"is_deleted": True}, "is_deleted", "unknown_field"),
    ({"created_at": "2020-01-01T00:00:00Z"}, "created_at", "unknown_field"),
])
def test_patch_validation_errors_name_the_field(manager, change, field, code):
    doc = make_project(manager)
    body = assert_problem(patch(manager, doc["id"], change, 1), 422, "validation_failed")
    assert error_fields(body) == {(field, code)}, body


def test_patch_unknown_project_is_404(manager):
    assert_problem(patch(manager, str(uuid.uuid4()), {"name": "x"}, 1), 404, "not_found")
    assert_problem(patch(manager, "nope", {"name": "x"}, 1), 404, "not_found")


def test_owner_may_hand_over_to_another_manager(manager, make_user):
    successor = make_user("manager")
    doc = make_project(manager)
    r = patch(manager, doc["id"], {"owner_id": successor["id"]}, 1)
    assert r.status_code == 200, r.text
    assert r.json()["owner_id"] == successor["id"] and r.json()["version"] == 2
    # the previous owner has no rights left; the new one has them
    assert_problem(patch(manager, doc["id"], {"name": "mine"}, 2), 403, "forbidden")
    assert patch(successor, doc["id"], {"name": "mine"}, 2).status_code == 200


@pytest.mark.parametrize("role", ["reporter", "developer"])
def test_owner_may_not_hand_over_to_someone_who_cannot_manage(manager, make_user, role):
    target = make_user(role)
    doc = make_project(manager)
    body = assert_problem(patch(manager, doc["id"], {"owner_id": target["id"]}, 1), 422)
    assert error_fields(body) == {("owner_id", "role")}


def test_admin_may_make_any_active_user_owner(admin, manager, make_user):
    target = make_user("reporter")
    doc = make_project(manager)
    r = patch(admin, doc["id"], {"owner_id": target["id"]}, 1)
    assert r.status_code == 200 and r.json()["owner_id"] == target["id"]


def test_new_owner_must_be_an_active_user(admin, manager, make_user):
    doc = make_project(manager)
    inactive = make_user("manager", is_active=False)
    for owner in (str(uuid.uuid4()), inactive["id"]):
        body = assert_problem(patch(admin, doc["id"], {"owner_id": owner}, 1), 422)
        assert error_fields(body) == {("owner_id", "not_found")}


def test_sixteen_concurrent_patches_with_one_if_match_one_wins(manager):
    doc = make_project(manager)
    n = 16
    barrier = threading.Barrier(n)

    def attempt(i):
        with requests.Session() as s:
            barrier.wait()
            r = s.patch(project_url(doc["id"]), json={"name": "writer %d" % i},
                        headers=dict(manager["headers"], **{"If-Match": '"1"'}),
                        timeout=TIMEOUT)
            return r.status_code, r.json()

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(attempt, range(n)))
    codes = sorted(code for code, _ in results)
    assert codes == [200] + [412] * (n - 1), codes
    winner = next(body for code, body in results if code == 200)
    assert winner["version"] == 2
    for code, body in results:
        if code == 412:
            assert body["current_version"] == 2
    assert get(manager, doc["id"]).json() == winner


# ---- DELETE and restore ------------------------------------------------------------


def test_soft_delete_then_404_then_restore(manager, admin):
    doc = make_project(manager)
    r = delete(manager, doc["id"], 1)
    assert r.status_code == 204 and r.content == b""
    assert_problem(get(manager, doc["id"]), 404, "not_found")
    assert_problem(patch(manager, doc["id"], {"name": "x"}, 2), 404, "not_found")
    assert_problem(delete(manager, doc["id"], 2), 404, "not_found")
    assert doc["id"] not in {p["id"] for p in listing(manager, owner_id=manager["id"]).json()["items"]}

    seen = get(admin, doc["id"], params={"include_deleted": "true"})
    assert seen.status_code == 200
    deleted = seen.json()
    assert deleted["is_deleted"] is True and TS.match(deleted["deleted_at"])
    assert deleted["version"] == 2
    assert_problem(get(admin, doc["id"]), 404, "not_found")

    r = restore(admin, doc["id"])
    assert r.status_code == 200, r.text
    back = r.json()
    assert_document(back)
    assert back["version"] == 3 and r.headers["ETag"] == '"3"'
    assert back["key"] == doc["key"] and back["owner_id"] == manager["id"]
    assert get(manager, doc["id"]).json() == back


def test_delete_without_precondition_is_428(manager):
    doc = make_project(manager)
    assert_problem(delete(manager, doc["id"]), 428, "precondition_required")
    assert get(manager, doc["id"]).status_code == 200


def test_delete_with_stale_if_match_is_412(manager):
    doc = make_project(manager)
    patch(manager, doc["id"], {"name": "v2"}, 1)
    body = assert_problem(delete(manager, doc["id"], 1), 412, "precondition_failed")
    assert body["current_version"] == 2
    assert get(manager, doc["id"]).status_code == 200


def test_delete_with_body_version(manager):
    doc = make_project(manager)
    patch(manager, doc["id"], {"name": "v2"}, 1)
    body = assert_problem(delete(manager, doc["id"], json={"version": 1}), 409, "version_conflict")
    assert body["current_version"] == 2
    assert delete(manager, doc["id"], json={"version": 2}).status_code == 204


def test_delete_body_with_unknown_field_is_422(manager):
    doc = make_project(manager)
    body = assert_problem(delete(manager, doc["id"], 1, json={"force": True}), 422)
    assert error_fields(body) == {("force", "unknown_field")}


def test_delete_unknown_project_is_404(manager):
    assert_problem(delete(manager, str(uuid.uuid4()), 1), 404, "not_found")


def test_restore_live_project_is_409_not_deleted(admin, manager):
    doc = make_project(manager)
    assert_problem(restore(admin, doc["id"]), 409, "not_deleted")


def test_restore_unknown_project_is_404(admin):
    assert_problem(restore(admin, str(uuid.uuid4())), 404, "not_found")


def test_restore_honours_if_match(admin, manager):
    doc = make_project(manager)
    delete(manager, doc["id"], 1)
    body = assert_problem(restore(admin, doc["id"], {"If-Match": '"1"'}), 412,
                          "precondition_failed")
    assert body["current_version"] == 2
    assert restore(admin, doc["id"], {"If-Match": '"2"'}).status_code == 200


@pytest.mark.parametrize("role", ["reporter", "developer", "manager"])
def test_include_deleted_is_for_admins(make_user, role):
    user = make_user(role)
    assert_problem(listing(user, include_deleted="true"), 403, "forbidden")
    doc = make_project(make_user("manager"))
    assert_problem(get(user, doc["id"], params={"include_deleted": "true"}), 403, "forbidden")
    # false is simply the default
    assert listing(user, include_deleted="false").status_code == 200


# ---- GET /projects -----------------------------------------------------------------


def owned(user, n, **fields):
    return [make_project(user, name="Proj%02d%s" % (i, uuid.uuid4().hex[:4]), **fields)
            for i in range(n)]


def test_list_envelope(reporter, manager):
    owned(manager, 2)
    r = listing(reporter, owner_id=manager["id"])
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"items", "page", "size", "has_more", "next_cursor"}
    assert body["page"] == 1 and body["size"] == 20
    assert body["has_more"] is False and body["next_cursor"] is None
    assert len(body["items"]) == 2
    for item in body["items"]:
        assert_document(item)
    assert "Link" not in r.headers


def test_list_with_trailing_slash(reporter):
    r = requests.get(PROJECTS + "/", headers=reporter["headers"])
    assert r.status_code == 200 and "items" in r.json()


def test_list_filters_by_owner(manager, make_user, reporter):
    other = make_user("manager")
    mine = {p["id"] for p in owned(manager, 3)}
    owned(other, 2)
    got = {p["id"] for p in listing(reporter, owner_id=manager["id"]).json()["items"]}
    assert got == mine


def test_list_q_matches_key_and_name_case_insensitively(manager, reporter):
    token = uuid.uuid4().hex[:8]
    by_name = make_project(manager, name="Alpha %s Beta" % token.upper())
    by_key = make_project(manager, key=("Q" + token).upper()[:10])
    make_project(manager, name="unrelated")
    got = {p["id"] for p in listing(reporter, owner_id=manager["id"], q=token).json()["items"]}
    assert got == {by_name["id"], by_key["id"]}


@pytest.mark.parametrize("q, expected", [
    ("%", {"percent"}),
    ("_", {"underscore"}),
    ("\\", {"backslash"}),
    ("50%", {"percent"}),
    ("a_b", {"underscore"}),
])
def test_list_q_is_text_not_a_pattern(manager, reporter, q, expected):
    names = {"percent": "Done 50% now", "underscore": "a_b c", "backslash": "x\\y",
             "plain": "axb 50 now"}
    ids = {make_project(manager, name=name)["id"]: tag for tag, name in names.items()}
    got = listing(reporter, owner_id=manager["id"], q=q).json()["items"]
    assert {ids[p["id"]] for p in got} == expected


def test_list_empty_q_filters_nothing(manager, reporter):
    owned(manager, 2)
    assert len(listing(reporter, owner_id=manager["id"], q="").json()["items"]) == 2


SORTS = ["key", "name", "created_at", "updated_at"]


@pytest.mark.parametrize("desc", [False, True])
@pytest.mark.parametrize("field", SORTS)
def test_list_sorts(manager, reporter, field, desc):
    projects = owned(manager, 5)
    # make updated_at differ from created order
    for p in projects[::2]:
        patch(manager, p["id"], {"description": "touched"}, 1)
    items = listing(reporter, owner_id=manager["id"],
                    sort=("-" if desc else "") + field).json()["items"]
    want = sorted(items, key=lambda p: (p[field], p["id"]), reverse=desc)
    assert [p["id"] for p in items] == [p["id"] for p in want]
    assert len(items) == 5


def test_list_default_sort_is_created_at(manager, reporter):
    projects = owned(manager, 4)
    items = listing(reporter, owner_id=manager["id"]).json()["items"]
    assert [p["id"] for p in items] == [p["id"] for p in projects]


def test_list_page_and_size(manager, reporter):
    projects = owned(manager, 5)
    ids = [p["id"] for p in projects]
    seen = []
    for page in (1, 2, 3):
        r = listing(reporter, owner_id=manager["id"], size=2, page=page)
        body = r.json()
        assert body["page"] == page and body["size"] == 2
        assert body["has_more"] is (page < 3)
        seen += [p["id"] for p in body["items"]]
        if page < 3:
            assert 'rel="next"' in r.headers["Link"]
    assert seen == ids


def test_list_include_total(manager, reporter):
    owned(manager, 5)
    body = listing(reporter, owner_id=manager["id"], size=2, include_total="true").json()
    assert body["total"] == 5 and body["pages"] == 3


@pytest.mark.parametrize("sort", ["created_at", "-name", "key", "-updated_at"])
def test_cursor_walk_returns_every_project_exactly_once(manager, reporter, sort):
    projects = owned(manager, 7)
    seen = []
    params = {"owner_id": manager["id"], "size": 2, "sort": sort}
    pages = 0
    while True:
        body = listing(reporter, **params).json()
        seen += [p["id"] for p in body["items"]]
        pages += 1
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        params = {"owner_id": manager["id"], "size": 2, "cursor": body["next_cursor"]}
    assert pages == 4
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == {p["id"] for p in projects}


def test_link_header_walk(manager, reporter):
    projects = owned(manager, 5)
    seen = []
    next_url = PROJECTS + "?owner_id=%s&size=2&sort=-key" % manager["id"]
    while next_url:
        r = requests.get(next_url, headers=reporter["headers"])
        assert r.status_code == 200, r.text
        seen += [p["id"] for p in r.json()["items"]]
        link = r.headers.get("Link")
        next_url = BASE_URL + re.match(r"<([^>]+)>; rel=\"next\"", link).group(1) if link else None
        if next_url:
            q = parse_qs(urlsplit(next_url).query)
            assert q["owner_id"] == [manager["id"]] and q["size"] == ["2"]
    assert sorted(seen) == sorted(p["id"] for p in projects)
    assert len(seen) == 5


def test_cursor_survives_concurrent_inserts(manager, reporter):
    owned(manager, 4)
    first = listing(reporter, owner_id=manager["id"], size=2, sort="created_at").json()
    ids = [p["id"] for p in first["items"]]
    later = make_project(manager)
    rest = listing(reporter, owner_id=manager["id"], size=10,
                   cursor=first["next_cursor"]).json()
    ids += [p["id"] for p in rest["items"]]
    assert len(ids) == len(set(ids)) == 5 and ids[-1] == later["id"]


@pytest.mark.parametrize("cursor", ["garbage", "AAAA", "Yzg=", "!!!"])
def test_bad_cursor_is_400(reporter, cursor):
    assert_problem(listing(reporter, cursor=cursor), 400, "invalid_cursor")


def test_tampered_cursor_is_400(manager, reporter):
    owned(manager, 3)
    cursor = listing(reporter, owner_id=manager["id"], size=1).json()["next_cursor"]
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    assert_problem(listing(reporter, cursor=flipped), 400, "invalid_cursor")


def test_cursor_of_another_sort_is_400(manager, reporter):
    owned(manager, 3)
    cursor = listing(reporter, owner_id=manager["id"], size=1, sort="key").json()["next_cursor"]
    assert_problem(listing(reporter, cursor=cursor, sort="name"), 400, "invalid_cursor")


@pytest.mark.parametrize("params, field, code", [
    ({"size": "101"}, "size", "range"),
    ({"size": "0"}, "size", "range"),
    ({"size": "ten"}, "size", "type"),
    ({"page": "0"}, "page", "range"),
    ({"sort": "owner_id"}, "sort", "enum"),
    ({"sort": "-description"}, "sort", "enum"),
    ({"owner_id": "nope"}, "owner_id", "format"),
    ({"include_total": "maybe"}, "include_total", "type"),
    ({"include_deleted": "2"}, "include_deleted", "type"),
    ({"q": "x" * 201}, "q", "too_long"),
    ({"status": "open"}, "status", "unknown_parameter"),
])
def test_list_invalid_parameters_are_422(reporter, params, field, code):
    body = assert_problem(listing(reporter, **params), 422, "validation_failed")
    assert error_fields(body) == {(field, code)}, body


def test_list_repeated_parameter_is_422(reporter):
    r = requests.get(PROJECTS + "?size=2&size=3", headers=reporter["headers"])
    assert ("size", "duplicate") in error_fields(assert_problem(r, 422))


def test_list_size_at_max_is_fine(reporter):
    assert listing(reporter, size=100).json()["size"] == 100


def test_admin_list_include_deleted_shows_deleted_projects(admin, manager):
    live, gone = owned(manager, 2)
    delete(manager, gone["id"], 1)
    plain = listing(admin, owner_id=manager["id"]).json()["items"]
    assert [p["id"] for p in plain] == [live["id"]]
    items = listing(admin, owner_id=manager["id"], include_deleted="true",
                    include_total="true").json()
    assert items["total"] == 2
    by_id = {p["id"]: p for p in items["items"]}
    assert "is_deleted" not in by_id[live["id"]]
    assert by_id[gone["id"]]["is_deleted"] is True
    assert TS.match(by_id[gone["id"]]["deleted_at"])
