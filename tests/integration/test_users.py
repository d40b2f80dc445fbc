"""Users: create, list, read, me, update (admin and self-service), soft delete
and restore, with the permission table's users.* rows, optimistic locking,
keyset pages and the last-admin rule.

Black-box HTTP against the real httpd + PostgreSQL; every caller is a real
user with a bearer token from POST /api/v1/auth/token (conftest make_user).
The database is shared by the whole suite, so list tests scope themselves
with a random marker in `q`, and the last-admin tests park the other admins
for their duration.
"""
import os
import re
import stat
import subprocess
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from conftest import (BASE_URL, ROOT, assert_problem, create_user_row, get_token, psql,
                      sql_literal, url)

USERS = url("/api/v1/users")
ME = url("/api/v1/users/me")
TOKEN_URL = url("/api/v1/auth/token")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
DOC_FIELDS = {"id", "username", "email", "full_name", "role", "is_active",
              "created_at", "updated_at", "version"}
ROLES = ["reporter", "developer", "manager", "admin"]
TIMEOUT = 30


def marker(prefix="u"):
    return prefix + uuid.uuid4().hex[:10]


def user_url(uid):
    return USERS + "/" + uid


def new_body(**fields):
    name = marker()
    body = {"username": name, "email": name + "@example.org",
            "password": "pw-" + uuid.uuid4().hex}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ...}


def create(caller, body=None, **fields):
    return requests.post(USERS, json=body if body is not None else new_body(**fields),
                         headers=caller["headers"], timeout=TIMEOUT)


def get(caller, uid, headers=None, **kw):
    return requests.get(user_url(uid), headers={**caller["headers"], **(headers or {})},
                        timeout=TIMEOUT, **kw)


def version_of(uid):
    return int(psql(f"SELECT version FROM users WHERE id = '{uid}'"))


def patch(caller, uid, body, version=None, headers=None):
    h = dict(caller["headers"])
    if version is not None:
        h["If-Match"] = '"%s"' % version
    h.update(headers or {})
    return requests.patch(user_url(uid), json=body, headers=h, timeout=TIMEOUT)


def delete(caller, uid, version=None, headers=None, **kw):
    h = dict(caller["headers"])
    if version is not None:
        h["If-Match"] = '"%s"' % version
    h.update(headers or {})
    return requests.delete(user_url(uid), headers=h, timeout=TIMEOUT, **kw)


def restore(caller, uid, headers=None):
    h = dict(caller["headers"])
    h.update(headers or {})
    return requests.post(user_url(uid) + "/restore", headers=h, timeout=TIMEOUT)


def soft_delete_row(uid):
    psql(f"UPDATE users SET is_deleted = true, deleted_at = now(), version = version + 1 "
         f"WHERE id = '{uid}'")


def error_fields(body):
    return {(e["field"], e["code"]) for e in body["errors"]}


def assert_user_doc(doc):
    assert DOC_FIELDS <= set(doc), doc
    assert set(doc) <= DOC_FIELDS | {"is_deleted", "deleted_at"}, doc
    assert TS.match(doc["created_at"]) and TS.match(doc["updated_at"])
    assert "password" not in doc and "password_hash" not in doc


def can_log_in(username, password):
    return requests.post(TOKEN_URL, auth=(username, password), timeout=TIMEOUT).status_code == 200


@contextmanager
def only_admins(*keep):
    """Deactivates every other active admin for the duration (the database is
    shared by the suite), so `keep` are the only active admins."""
    ids = "ARRAY[%s]::uuid[]" % ", ".join(sql_literal(u["id"]) for u in keep)
    parked = psql("UPDATE users SET is_active = false WHERE role = 'admin' AND is_active "
                  f"AND NOT is_deleted AND NOT id = ANY({ids}) RETURNING id").split()
    try:
        yield
    finally:
        if parked:
            psql("UPDATE users SET is_active = true WHERE id IN ("
                 + ", ".join(sql_literal(i) for i in parked) + ")")


def active_admins():
    return int(psql("SELECT count(*) FROM users WHERE role = 'admin' AND is_active "
                    "AND NOT is_deleted"))


# ---- create ------------------------------------------------------------------

def test_admin_creates_user_with_location_etag_and_defaults(admin):
    body = new_body()
    r = create(admin, body)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert_user_doc(doc)
    assert doc["username"] == body["username"]
    assert doc["email"] == body["email"]
    assert doc["full_name"] is None
    assert doc["role"] == "reporter"
    assert doc["is_active"] is True
    assert doc["version"] == 1
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == "/api/v1/users/" + doc["id"]
    again = requests.get(url(r.headers["Location"]), headers=admin["headers"])
    assert again.status_code == 200 and again.json() == doc


def test_created_password_is_bcrypt_and_works_for_basic_login(admin):
    body = new_body()
    r = create(admin, body)
    assert r.status_code == 201
    stored = psql(f"SELECT password_hash FROM users WHERE id = '{r.json()['id']}'")
    assert stored.startswith("$2y$12$"), "bcrypt at the default cost 12"
    assert body["password"] not in stored
    # apr_bcrypt_encode's hash is what mod_authn_dbd checks
    assert can_log_in(body["username"], body["password"])
    assert not can_log_in(body["username"], body["password"] + "x")


def test_create_with_every_field(admin):
    body = new_body(full_name="Zoë Example", role="developer", is_active=False)
    r = create(admin, body)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert (doc["full_name"], doc["role"], doc["is_active"]) == ("Zoë Example", "developer", False)
    # an inactive user is refused by Apache
    assert not can_log_in(body["username"], body["password"])


@pytest.mark.parametrize("role", ROLES)
def test_create_with_each_role(admin, role):
    r = create(admin, role=role)
    assert r.status_code == 201, r.text
    assert r.json()["role"] == role


def test_create_accepts_edge_lengths(admin):
    name = "a" + uuid.uuid4().hex[:8] + "._-" + "x" * 20     # 32 characters
    assert len(name) == 32
    email = "e" * 64 + "@" + uuid.uuid4().hex[:10] + "d" * 175 + ".org"
    assert len(email) == 254
    r = create(admin, new_body(username=name, email=email, full_name="n" * 200,
                               password="p" * 12))
    assert r.status_code == 201, r.text
    assert r.json()["username"] == name
    r = create(admin, new_body(username="x" + uuid.uuid4().hex[:2], password="p" * 1024))
    assert r.status_code == 201, r.text


INVALID_CREATE = [
    # (field, value or ... for missing, expected error code)
    ("username", ..., "required"),
    ("username", None, "null"),
    ("username", 123, "type"),
    ("username", ["alice"], "type"),
    ("username", "ab", "too_short"),
    ("username", "a" * 33, "too_long"),
    ("username", "Alice", "format"),
    ("username", "-alice", "format"),
    ("username", ".alice", "format"),
    ("username", "al ice", "format"),
    ("username", "alice$", "format"),
    ("username", "alicé", "format"),
    ("email", ..., "required"),
    ("email", None, "null"),
    ("email", 5, "type"),
    ("email", "not-an-email", "format"),
    ("email", "a@b", "format"),
    ("email", "a b@example.org", "format"),
    ("email", "a@@example.org", "format"),
    ("email", "@example.org", "format"),
    ("email", "x" * 243 + "@example.org", "too_long"),
    ("full_name", 5, "type"),
    ("full_name", "n" * 201, "too_long"),
    ("password", ..., "required"),
    ("password", None, "null"),
    ("password", 123456789012345, "type"),
    ("password", "p" * 11, "too_short"),
    ("password", "p" * 1025, "too_long"),
    ("role", "superuser", "enum"),
    ("role", "Admin", "enum"),
    ("role", None, "null"),
    ("role", 4, "type"),
    ("is_active", "yes", "type"),
    ("is_active", 1, "type"),
    ("is_active", None, "null"),
    ("password_hash", "$2y$04$abcdefghijklmnopqrstuv", "unknown_field"),
    ("id", str(uuid.uuid4()), "unknown_field"),
    ("version", 1, "unknown_field"),
]


@pytest.mark.parametrize("field,value,code", INVALID_CREATE,
                         ids=["%s-%s" % (f, c) for f, _, c in INVALID_CREATE])
def test_create_validation(admin, field, value, code):
    body = new_body()
    if value is ...:
        del body[field]
    else:
        body[field] = value
    r = create(admin, body)
    problem = assert_problem(r, 422, "validation_failed")
    assert (field, code) in error_fields(problem), problem
    assert psql("SELECT count(*) FROM users WHERE username = "
                + sql_literal(body.get("username", ""))) == "0"


def test_create_reports_every_invalid_field_at_once(admin):
    r = create(admin, {"username": "X", "email": "nope", "password": "short", "role": "boss",
                       "extra": 1})
    problem = assert_problem(r, 422, "validation_failed")
    assert {f for f, _ in error_fields(problem)} == {"username", "email", "password", "role",
                                                     "extra"}


def test_create_body_must_be_a_json_object(admin):
    h = dict(admin["headers"])
    assert_problem(requests.post(USERS, data="{", headers={**h, "Content-Type": "application/json"}),
                   400, "malformed_json")
    assert_problem(requests.post(USERS, data="[]", headers={**h, "Content-Type": "application/json"}),
                   422, "validation_failed")
    assert_problem(requests.post(USERS, data="username=a", headers={
        **h, "Content-Type": "application/x-www-form-urlencoded"}), 415)
    assert_problem(requests.post(USERS, data=b'{"username": "\xff"}', headers={
        **h, "Content-Type": "application/json"}), 400, "invalid_utf8")


def test_duplicate_username_in_another_case_is_409_naming_username(admin):
    # the database keeps the case it is given (scripts, SSO); the API compares
    # case-insensitively
    name = marker("dup")
    create_user_row("reporter", username=name.upper())
    r = create(admin, username=name)
    problem = assert_problem(r, 409, "conflict")
    assert problem["field"] == "username"
    assert ("username", "duplicate") in error_fields(problem)


def test_duplicate_email_in_another_case_is_409_naming_email(admin):
    email = marker("Mail") + "@Example.ORG"
    assert create(admin, email=email).status_code == 201
    problem = assert_problem(create(admin, email=email.lower()), 409, "conflict")
    assert problem["field"] == "email"
    assert ("email", "duplicate") in error_fields(problem)
    problem = assert_problem(create(admin, email=email.upper()), 409, "conflict")
    assert problem["field"] == "email"


def test_duplicate_of_a_deleted_user_is_409(admin, make_user):
    gone = make_user("reporter")
    soft_delete_row(gone["id"])
    problem = assert_problem(create(admin, username=gone["username"]), 409, "conflict")
    assert problem["field"] == "username"


def test_patch_to_a_taken_email_is_409_naming_email(admin, reporter, developer):
    problem = assert_problem(
        patch(reporter, reporter["id"], {"email": developer["email"].upper()},
              version_of(reporter["id"])), 409, "conflict")
    assert problem["field"] == "email"
    problem = assert_problem(
        patch(admin, reporter["id"], {"username": developer["username"]},
              version_of(reporter["id"])), 409, "conflict")
    assert problem["field"] == "username"


# ---- the permission matrix -----------------------------------------------------

def _create(caller, target):
    return create(caller)


def _list(caller, target):
    return requests.get(USERS, headers=caller["headers"], timeout=TIMEOUT)


def _list_deleted(caller, target):
    return requests.get(USERS, params={"include_deleted": "true"}, headers=caller["headers"],
                        timeout=TIMEOUT)


def _read(caller, target):
    return get(caller, target["id"])


def _read_deleted(caller, target):
    soft_delete_row(target["id"])
    return get(caller, target["id"], params={"include_deleted": "true"})


def _me(caller, target):
    return requests.get(ME, headers=caller["headers"], timeout=TIMEOUT)


def _update_other(caller, target):
    return patch(caller, target["id"], {"full_name": "Renamed"}, version_of(target["id"]))


def _update_self(caller, target):
    return patch(caller, caller["id"], {"full_name": "Me Myself"}, version_of(caller["id"]))


def _update_own_role(caller, target):
    return patch(caller, caller["id"], {"role": caller["role"]}, version_of(caller["id"]))


def _update_other_role(caller, target):
    return patch(caller, target["id"], {"role": "developer"}, version_of(target["id"]))


def _delete(caller, target):
    return delete(caller, target["id"], version_of(target["id"]))


def _restore(caller, target):
    soft_delete_row(target["id"])
    return restore(caller, target["id"])


ACTIONS = {
    # action: (call, expected status per role: reporter, developer, manager, admin)
    "users.create": (_create, (403, 403, 403, 201)),
    "users.list": (_list, (200, 200, 200, 200)),
    "users.list+include_deleted": (_list_deleted, (403, 403, 403, 200)),
    "users.read": (_read, (200, 200, 200, 200)),
    "users.read+include_deleted": (_read_deleted, (403, 403, 403, 200)),
    "users.me": (_me, (200, 200, 200, 200)),
    "users.update(other)": (_update_other, (403, 403, 403, 200)),
    "users.update(own full_name)": (_update_self, (200, 200, 200, 200)),
    "users.update_role(own)": (_update_own_role, (403, 403, 403, 200)),
    "users.update_role(other)": (_update_other_role, (403, 403, 403, 200)),
    "users.delete": (_delete, (403, 403, 403, 204)),
    "users.restore": (_restore, (403, 403, 403, 200)),
}
MATRIX = [(action, role, expected[i]) for action, (_, expected) in ACTIONS.items()
          for i, role in enumerate(ROLES)]


@pytest.mark.parametrize("action,role,status", MATRIX,
                         ids=["%s-%s" % (a, r) for a, r, _ in MATRIX])
def test_permission_matrix(make_user, action, role, status):
    caller = make_user(role)
    target = make_user("reporter")
    r = ACTIONS[action][0](caller, target)
    if status >= 400:
        assert_problem(r, status, "forbidden")
    else:
        assert r.status_code == status, (r.status_code, r.text)


def test_no_credentials_is_401_on_every_user_route():
    uid = str(uuid.uuid4())
    for method, path in [("GET", USERS), ("POST", USERS), ("GET", ME), ("GET", user_url(uid)),
                         ("PATCH", user_url(uid)), ("DELETE", user_url(uid)),
                         ("POST", user_url(uid) + "/restore")]:
        r = requests.request(method, path, json={}, timeout=TIMEOUT)
        assert_problem(r, 401)
        assert "WWW-Authenticate" in r.headers


# ---- read --------------------------------------------------------------------

def test_get_user_returns_document_and_etag(reporter, developer):
    r = get(reporter, developer["id"])
    assert r.status_code == 200
    doc = r.json()
    assert_user_doc(doc)
    assert doc["id"] == developer["id"] and doc["role"] == "developer"
    assert r.headers["ETag"] == '"%d"' % doc["version"]


def test_me_is_the_caller(developer):
    r = requests.get(ME, headers=developer["headers"])
    assert r.status_code == 200
    doc = r.json()
    assert_user_doc(doc)
    assert (doc["id"], doc["username"], doc["role"]) == (developer["id"], developer["username"],
                                                        "developer")
    assert r.headers["ETag"] == '"%d"' % doc["version"]


def test_me_and_list_accept_a_trailing_slash(reporter):
    assert requests.get(ME + "/", headers=reporter["headers"]).json()["id"] == reporter["id"]
    assert requests.get(USERS + "/", headers=reporter["headers"]).status_code == 200


def test_me_rejects_parameters_and_other_methods(reporter):
    assert_problem(requests.get(ME, params={"x": "1"}, headers=reporter["headers"]), 422)
    r = requests.patch(ME, json={}, headers=reporter["headers"])
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_get_rejects_unknown_parameters(reporter):
    problem = assert_problem(get(reporter, reporter["id"], params={"page": "2"}), 422)
    assert ("page", "unknown_parameter") in error_fields(problem)
    problem = assert_problem(get(reporter, reporter["id"], params={"include_deleted": "maybe"}),
                             422)
    assert ("include_deleted", "type") in error_fields(problem)


def test_unknown_and_malformed_ids_are_404(reporter, admin):
    assert_problem(get(reporter, str(uuid.uuid4())), 404, "not_found")
    assert_problem(get(reporter, "not-a-uuid"), 404, "not_found")
    assert_problem(patch(admin, str(uuid.uuid4()), {"full_name": "x"}, 1), 404)
    assert_problem(delete(admin, str(uuid.uuid4()), 1), 404)
    assert_problem(restore(admin, str(uuid.uuid4())), 404)


def test_uppercase_uuid_in_path_finds_the_user(reporter):
    r = get(reporter, reporter["id"].upper())
    assert r.status_code == 200 and r.json()["id"] == reporter["id"]


def test_if_none_match_gives_304(reporter, developer):
    r = get(reporter, developer["id"])
    etag = r.headers["ETag"]
    r304 = get(reporter, developer["id"], headers={**reporter["headers"], "If-None-Match": etag})
    assert r304.status_code == 304
    assert r304.content == b""
    assert r304.headers["ETag"] == etag
    assert get(reporter, developer["id"],
               headers={**reporter["headers"], "If-None-Match": '"999"'}).status_code == 200
    assert get(reporter, developer["id"],
               headers={**reporter["headers"], "If-None-Match": "*"}).status_code == 304
    me = requests.get(ME, headers={**reporter["headers"], "If-None-Match": get(
        reporter, reporter["id"]).headers["ETag"]})
    assert me.status_code == 304


def test_if_none_match_sees_a_change(admin, reporter):
    etag = get(reporter, reporter["id"]).headers["ETag"]
    assert patch(admin, reporter["id"], {"full_name": "Changed"}, etag.strip('"')).status_code == 200
    r = get(reporter, reporter["id"], headers={**reporter["headers"], "If-None-Match": etag})
    assert r.status_code == 200
    assert r.headers["ETag"] != etag


def test_head_has_etag_and_no_body(reporter):
    r = requests.head(user_url(reporter["id"]), headers=reporter["headers"])
    assert r.status_code == 200
    assert r.headers["ETag"].startswith('"')
    assert r.content == b""


# ---- update: admin -----------------------------------------------------------

def test_admin_changes_every_field(admin, make_user):
    u = make_user("reporter", full_name="Old Name")
    new_name = marker("ren")
    body = {"username": new_name, "email": new_name + "@example.net", "full_name": "New Name",
            "role": "manager", "is_active": False}
    r = patch(admin, u["id"], body, version_of(u["id"]))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert_user_doc(doc)
    for k, v in body.items():
        assert doc[k] == v, k
    assert doc["version"] == 2
    assert r.headers["ETag"] == '"2"'
    assert get(admin, u["id"]).json() == doc


def test_full_name_can_be_cleared_with_null(admin, make_user):
    u = make_user("reporter", full_name="Someone")
    r = patch(admin, u["id"], {"full_name": None}, version_of(u["id"]))
    assert r.status_code == 200 and r.json()["full_name"] is None


def test_admin_resets_another_users_password_without_current_password(admin, reporter):
    r = patch(admin, reporter["id"], {"password": "a-brand-new-password"},
              version_of(reporter["id"]))
    assert r.status_code == 200, r.text
    assert can_log_in(reporter["username"], "a-brand-new-password")
    assert not can_log_in(reporter["username"], reporter["password"])


def test_admin_changing_own_password_needs_current_password(admin):
    v = version_of(admin["id"])
    problem = assert_problem(patch(admin, admin["id"], {"password": "another-password!"}, v), 422)
    assert ("current_password", "required") in error_fields(problem)
    r = patch(admin, admin["id"], {"password": "another-password!",
                                   "current_password": admin["password"]}, v)
    assert r.status_code == 200, r.text
    assert can_log_in(admin["username"], "another-password!")


INVALID_PATCH = [
    ("username", None, "null"),
    ("username", 5, "type"),
    ("username", "ab", "too_short"),
    ("username", "a" * 33, "too_long"),
    ("username", "UPPER", "format"),
    ("email", None, "null"),
    ("email", "nope", "format"),
    ("email", "x" * 243 + "@example.org", "too_long"),
    ("full_name", 1, "type"),
    ("full_name", "n" * 201, "too_long"),
    ("password", None, "null"),
    ("password", "p" * 11, "too_short"),
    ("password", "p" * 1025, "too_long"),
    ("password", 123456789012345, "type"),
    ("role", "root", "enum"),
    ("role", None, "null"),
    ("is_active", "false", "type"),
    ("is_active", None, "null"),
    ("current_password", 5, "type"),
    ("current_password", "", "too_short"),
    ("version", "1", "type"),
    ("version", 0, "range"),
    ("password_hash", "x", "unknown_field"),
    ("created_at", "2026-01-01T00:00:00Z", "unknown_field"),
    ("is_deleted", False, "unknown_field"),
]


@pytest.mark.parametrize("field,value,code", INVALID_PATCH,
                         ids=["%s-%s" % (f, c) for f, _, c in INVALID_PATCH])
def test_patch_validation(admin, reporter, field, value, code):
    v = version_of(reporter["id"])
    problem = assert_problem(patch(admin, reporter["id"], {field: value}, v), 422,
                             "validation_failed")
    assert (field, code) in error_fields(problem), problem
    assert version_of(reporter["id"]) == v


# ---- update: self-service ------------------------------------------------------

@pytest.mark.parametrize("role", ["reporter", "developer", "manager"])
def test_user_changes_own_name_and_email(make_user, role):
    u = make_user(role)
    new_email = marker("self") + "@example.com"
    r = patch(u, u["id"], {"full_name": "My Name", "email": new_email}, version_of(u["id"]))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["full_name"], doc["email"], doc["role"]) == ("My Name", new_email, role)


def test_user_changes_own_password_with_current_password(reporter):
    r = patch(reporter, reporter["id"], {"password": "my-new-secret-pw",
                                         "current_password": reporter["password"]},
              version_of(reporter["id"]))
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    assert can_log_in(reporter["username"], "my-new-secret-pw")
    assert not can_log_in(reporter["username"], reporter["password"])


def test_own_password_change_without_current_password_is_422(reporter):
    problem = assert_problem(patch(reporter, reporter["id"], {"password": "my-new-secret-pw"},
                                   version_of(reporter["id"])), 422, "validation_failed")
    assert error_fields(problem) == {("current_password", "required")}
    assert can_log_in(reporter["username"], reporter["password"])


def test_own_password_change_with_wrong_current_password_is_422(reporter):
    v = version_of(reporter["id"])
    problem = assert_problem(patch(reporter, reporter["id"], {
        "password": "my-new-secret-pw", "current_password": "not-my-password"}, v),
        422, "validation_failed")
    assert error_fields(problem) == {("current_password", "mismatch")}
    assert version_of(reporter["id"]) == v
    assert can_log_in(reporter["username"], reporter["password"])


def test_current_password_without_password_is_422(reporter):
    problem = assert_problem(patch(reporter, reporter["id"], {
        "current_password": reporter["password"]}, version_of(reporter["id"])), 422)
    assert error_fields(problem) == {("current_password", "unexpected")}


@pytest.mark.parametrize("field,value", [("role", "admin"), ("role", "reporter"),
                                         ("is_active", False), ("is_active", True),
                                         ("username", "new-name-x")])
@pytest.mark.parametrize("role", ["reporter", "developer", "manager"])
def test_non_admin_cannot_change_admin_fields_even_on_self(make_user, role, field, value):
    u = make_user(role)
    v = version_of(u["id"])
    problem = assert_problem(patch(u, u["id"], {field: value}, v), 403, "forbidden")
    assert field in problem["detail"]
    # authorisation comes before the precondition
    assert_problem(patch(u, u["id"], {field: value}), 403, "forbidden")
    assert version_of(u["id"]) == v


@pytest.mark.parametrize("role", ["reporter", "developer", "manager"])
def test_non_admin_cannot_change_another_user(make_user, role):
    u = make_user(role)
    other = make_user("reporter")
    for body in ({"full_name": "x"}, {"email": marker() + "@example.org"},
                 {"password": "some-password-1", "current_password": other["password"]}):
        assert_problem(patch(u, other["id"], body, version_of(other["id"])), 403, "forbidden")


def test_password_never_appears_in_any_response(admin, make_user):
    secret = "pw-secret-" + uuid.uuid4().hex
    body = new_body(password=secret)
    texts = []
    r = create(admin, body)
    texts.append(r.text)
    uid = r.json()["id"]
    token = get_token(body["username"], secret)
    me = {"id": uid, "headers": {"Authorization": "Bearer " + token}}
    texts.append(get(admin, uid).text)
    texts.append(requests.get(ME, headers=me["headers"]).text)
    texts.append(requests.get(USERS, params={"q": body["username"]}, headers=admin["headers"]).text)
    new_secret = secret + "-2"
    r = patch(me, uid, {"password": new_secret, "current_password": secret}, version_of(uid))
    texts.append(r.text)
    r = patch(me, uid, {"password": "another-long-one", "current_password": "wrong-" + secret},
              version_of(uid))
    texts.append(r.text)
    texts.append(create(admin, new_body(username=body["username"], password=secret)).text)
    texts.append(create(admin, new_body(password="short")).text)
    hashed = psql(f"SELECT password_hash FROM users WHERE id = '{uid}'")
    for t in texts:
        for s in (secret, new_secret, hashed, "password_hash", "$2y$"):
            assert s not in t, (s, t)


# ---- optimistic locking --------------------------------------------------------

def test_patch_without_precondition_is_428(admin, reporter):
    assert_problem(patch(admin, reporter["id"], {"full_name": "x"}), 428, "precondition_required")
    assert_problem(patch(reporter, reporter["id"], {"full_name": "x"}), 428)
    assert version_of(reporter["id"]) == 1


def test_delete_without_precondition_is_428(admin, reporter):
    assert_problem(delete(admin, reporter["id"]), 428, "precondition_required")
    assert get(admin, reporter["id"]).status_code == 200


def test_stale_if_match_is_412_with_current_version(admin, reporter):
    assert patch(admin, reporter["id"], {"full_name": "v2"}, 1).status_code == 200
    problem = assert_problem(patch(admin, reporter["id"], {"full_name": "v3"}, 1), 412,
                             "precondition_failed")
    assert problem["current_version"] == 2
    problem = assert_problem(delete(admin, reporter["id"], 1), 412, "precondition_failed")
    assert problem["current_version"] == 2


def test_stale_body_version_is_409_with_current_version(admin, reporter):
    assert patch(admin, reporter["id"], {"full_name": "v2", "version": 1}).status_code == 200
    problem = assert_problem(patch(admin, reporter["id"], {"full_name": "v3", "version": 1}),
                             409, "version_conflict")
    assert problem["current_version"] == 2
    problem = assert_problem(delete(admin, reporter["id"], json={"version": 1}), 409,
                             "version_conflict")
    assert problem["current_version"] == 2


def test_matching_body_version_and_if_match_star(admin, reporter):
    r = patch(admin, reporter["id"], {"full_name": "by body", "version": 1})
    assert r.status_code == 200 and r.json()["version"] == 2
    r = patch(admin, reporter["id"], {"full_name": "by star"}, headers={"If-Match": "*"})
    assert r.status_code == 200 and r.json()["version"] == 3


def test_if_match_and_body_version_must_agree(admin, reporter):
    assert_problem(patch(admin, reporter["id"], {"full_name": "x", "version": 2}, 1), 400,
                   "version_mismatch")


def test_malformed_if_match_is_400(admin, reporter):
    assert_problem(patch(admin, reporter["id"], {"full_name": "x"},
                         headers={"If-Match": "3"}), 400, "invalid_if_match")


def test_noop_patch_keeps_the_version(admin, make_user):
    u = make_user("developer", full_name="Same Name")
    before = get(admin, u["id"]).json()
    same = {"full_name": "Same Name", "email": u["email"], "username": u["username"],
            "role": "developer", "is_active": True}
    r = patch(admin, u["id"], same, before["version"])
    assert r.status_code == 200, r.text
    assert r.json() == before
    assert r.headers["ETag"] == '"%d"' % before["version"]
    r = patch(u, u["id"], {}, before["version"])
    assert r.status_code == 200 and r.json() == before
    # a no-op still checks the precondition
    assert_problem(patch(admin, u["id"], same, before["version"] + 5), 412)
    r = patch(admin, u["id"], {"full_name": "Other Name"}, before["version"])
    assert r.json()["version"] == before["version"] + 1


def test_sixteen_concurrent_patches_with_one_if_match_one_wins(admin, reporter):
    v = version_of(reporter["id"])
    barrier = threading.Barrier(16)

    def attempt(i):
        with requests.Session() as s:
            barrier.wait()
            return s.patch(user_url(reporter["id"]), json={"full_name": "writer %d" % i},
                           headers={**admin["headers"], "If-Match": '"%d"' % v},
                           timeout=TIMEOUT)

    with ThreadPoolExecutor(16) as ex:
        results = list(ex.map(attempt, range(16)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [412] * 15, statuses
    for r in results:
        if r.status_code == 412:
            assert r.json()["current_version"] == v + 1
    winner = next(r for r in results if r.status_code == 200).json()
    assert get(admin, reporter["id"]).json()["full_name"] == winner["full_name"]
    assert version_of(reporter["id"]) == v + 1


# ---- delete and restore --------------------------------------------------------

def test_soft_delete_then_404_then_restore(admin, make_user):
    u = make_user("developer")
    assert delete(admin, u["id"], 1).status_code == 204
    assert_problem(get(admin, u["id"]), 404, "not_found")
    assert_problem(patch(admin, u["id"], {"full_name": "x"}, 2), 404)
    assert_problem(delete(admin, u["id"], 2), 404)
    assert psql(f"SELECT is_deleted, deleted_at IS NOT NULL, version FROM users "
                f"WHERE id = '{u['id']}'") == "t|t|2"
    # the deleted user's token stops working, and Basic refuses them
    assert_problem(requests.get(ME, headers=u["headers"]), 403, "inactive_user")
    assert not can_log_in(u["username"], u["password"])
    # admins see it on request
    r = get(admin, u["id"], params={"include_deleted": "true"})
    assert r.status_code == 200
    doc = r.json()
    assert_user_doc(doc)
    assert doc["is_deleted"] is True and TS.match(doc["deleted_at"])
    listed = requests.get(USERS, params={"q": u["username"]}, headers=admin["headers"]).json()
    assert listed["items"] == []
    listed = requests.get(USERS, params={"q": u["username"], "include_deleted": "true"},
                          headers=admin["headers"]).json()
    assert [i["id"] for i in listed["items"]] == [u["id"]]
    # restore
    r = restore(admin, u["id"])
    assert r.status_code == 200, r.text
    doc = r.json()
    assert_user_doc(doc)
    assert "is_deleted" not in doc and "deleted_at" not in doc
    assert doc["version"] == 3
    assert r.headers["ETag"] == '"3"'
    assert get(admin, u["id"]).json() == doc
    assert requests.get(ME, headers=u["headers"]).status_code == 200


def test_delete_with_body_version(admin, reporter):
    assert delete(admin, reporter["id"], json={"version": 1}).status_code == 204


def test_delete_with_content_type_but_no_body(admin, reporter):
    r = delete(admin, reporter["id"], 1, headers={"Content-Type": "application/json"})
    assert r.status_code == 204, r.text


def test_delete_body_is_validated(admin, reporter):
    problem = assert_problem(delete(admin, reporter["id"], json={"version": 1, "force": True}),
                             422)
    assert ("force", "unknown_field") in error_fields(problem)


def test_restoring_a_live_user_is_409(admin, reporter):
    assert_problem(restore(admin, reporter["id"]), 409, "not_deleted")


def test_restore_honours_a_given_if_match(admin, reporter):
    soft_delete_row(reporter["id"])
    problem = assert_problem(restore(admin, reporter["id"], headers={"If-Match": '"1"'}), 412)
    assert problem["current_version"] == 2
    r = restore(admin, reporter["id"], headers={"If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["version"] == 3


def test_include_deleted_needs_admin(make_user):
    for role in ("reporter", "developer", "manager"):
        u = make_user(role)
        assert_problem(requests.get(USERS, params={"include_deleted": "true"},
                                    headers=u["headers"]), 403, "forbidden")
        assert_problem(get(u, u["id"], params={"include_deleted": "true"}), 403, "forbidden")
        # asking for live users only is fine
        assert requests.get(USERS, params={"include_deleted": "false"},
                            headers=u["headers"]).status_code == 200


def test_deleted_user_is_404_for_non_admins(reporter, make_user):
    gone = make_user("developer")
    soft_delete_row(gone["id"])
    assert_problem(get(reporter, gone["id"]), 404)


def test_cannot_delete_self(admin):
    assert_problem(delete(admin, admin["id"], version_of(admin["id"])), 409,
                   "cannot_delete_self")
    assert_problem(delete(admin, admin["id"].upper(), version_of(admin["id"])), 409,
                   "cannot_delete_self")
    assert requests.get(ME, headers=admin["headers"]).status_code == 200


# ---- the last active admin -----------------------------------------------------

def test_last_admin_cannot_demote_or_deactivate_themselves(admin):
    with only_admins(admin):
        v = version_of(admin["id"])
        assert_problem(patch(admin, admin["id"], {"role": "manager"}, v), 409, "last_admin")
        assert_problem(patch(admin, admin["id"], {"is_active": False}, v), 409, "last_admin")
        assert version_of(admin["id"]) == v
        # a no-op on the last admin is fine
        assert patch(admin, admin["id"], {"role": "admin", "is_active": True}, v).status_code == 200
        assert active_admins() == 1


def test_deactivated_admins_do_not_count(admin, make_user):
    other = make_user("admin")
    with only_admins(admin, other):
        psql(f"UPDATE users SET is_active = false WHERE id = '{other['id']}'")
        assert_problem(patch(admin, admin["id"], {"role": "developer"},
                             version_of(admin["id"])), 409, "last_admin")


def test_an_admin_can_step_down_when_another_remains(admin, make_user):
    other = make_user("admin")
    with only_admins(admin, other):
        r = patch(admin, admin["id"], {"role": "manager"}, version_of(admin["id"]))
        assert r.status_code == 200 and r.json()["role"] == "manager"
        # now `other` is the last one: admin's own token lost the right
        assert_problem(patch(admin, other["id"], {"role": "manager"}, version_of(other["id"])),
                       403)
        assert_problem(patch(other, other["id"], {"role": "manager"}, version_of(other["id"])),
                       409, "last_admin")
        assert active_admins() == 1


def test_admins_demoting_each_other_concurrently_keep_one(make_user):
    for _ in range(3):
        a, b = make_user("admin"), make_user("admin")
        with only_admins(a, b):
            barrier = threading.Barrier(2)

            def demote(pair):
                caller, target = pair
                barrier.wait()
                return patch(caller, target["id"], {"role": "developer"}, 1)

            with ThreadPoolExecutor(2) as ex:
                results = list(ex.map(demote, [(a, b), (b, a)]))
            statuses = sorted(r.status_code for r in results)
            assert active_admins() == 1, statuses
            # the loser either saw the last-admin rule or had lost its role already
            assert statuses[0] == 200 and statuses[1] in (403, 409), statuses
            if statuses[1] == 409:
                assert any(r.status_code == 409 and r.json()["code"] == "last_admin"
                           for r in results)
        psql("UPDATE users SET role = 'developer' WHERE id IN (%s, %s)"
             % (sql_literal(a["id"]), sql_literal(b["id"])))


def test_admins_deleting_each_other_concurrently_keep_one(make_user):
    for _ in range(3):
        a, b = make_user("admin"), make_user("admin")
        with only_admins(a, b):
            barrier = threading.Barrier(2)

            def remove(pair):
                caller, target = pair
                barrier.wait()
                return delete(caller, target["id"], 1)

            with ThreadPoolExecutor(2) as ex:
                results = list(ex.map(remove, [(a, b), (b, a)]))
            statuses = sorted(r.status_code for r in results)
            assert active_admins() == 1, statuses
            assert statuses[0] == 204 and statuses[1] in (403, 409), statuses
        psql("UPDATE users SET role = 'developer' WHERE id IN (%s, %s)"
             % (sql_literal(a["id"]), sql_literal(b["id"])))


# ---- lists -------------------------------------------------------------------

@pytest.fixture()
def cohort():
    """Seven users sharing a random marker (the list tests filter on it)."""
    tag = marker("pg")
    users = []
    for i in range(7):
        users.append(create_user_row(
            ["reporter", "developer", "manager"][i % 3],
            username=f"{tag}-{i}", email=f"{chr(ord('G') - i)}{tag}-{i}@Example.org",
            full_name=f"Member {i}", is_active=(i != 3)))
    return tag, users


def list_users(caller, **params):
    r = requests.get(USERS, params=params, headers=caller["headers"], timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r


def test_list_envelope_and_default_order(reporter, cohort):
    tag, users = cohort
    r = list_users(reporter, q=tag)
    body = r.json()
    assert set(body) == {"items", "page", "size", "has_more", "next_cursor"}
    assert (body["page"], body["size"], body["has_more"], body["next_cursor"]) == (1, 20, False,
                                                                                  None)
    assert [u["id"] for u in body["items"]] == [u["id"] for u in users]  # created_at
    for doc in body["items"]:
        assert_user_doc(doc)
    assert "Link" not in r.headers


def test_cursor_walk_sees_every_user_exactly_once(reporter, cohort):
    tag, users = cohort
    for sort in ("created_at", "-created_at", "username", "-email", "updated_at"):
        seen, cursor, pages = [], None, 0
        while True:
            params = {"q": tag, "size": 3, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            r = list_users(reporter, **params)
            body = r.json()
            seen += [u["id"] for u in body["items"]]
            pages += 1
            if not body["has_more"]:
                assert body["next_cursor"] is None and "Link" not in r.headers
                break
            cursor = body["next_cursor"]
            link = r.headers["Link"]
            assert link.endswith('>; rel="next"')
            qs = parse_qs(urlsplit(link[1:link.index(">")]).query)
            assert qs["cursor"] == [cursor] and qs["q"] == [tag] and qs["size"] == ["3"]
        assert sorted(seen) == sorted(u["id"] for u in users), sort
        assert len(seen) == len(set(seen)) == 7
        assert pages == 3


def test_sort_orders(reporter, cohort):
    tag, users = cohort
    by = lambda **p: [u["username"] for u in list_users(reporter, q=tag, **p).json()["items"]]
    names = [u["username"] for u in users]
    assert by(sort="username") == sorted(names)
    assert by(sort="-username") == sorted(names, reverse=True)
    # email sorts case-insensitively: G..., F..., ... A... -> reversed creation order
    assert by(sort="email") == list(reversed(names))
    assert by(sort="-created_at") == list(reversed(names))


def test_page_and_size(reporter, cohort):
    tag, users = cohort
    body = list_users(reporter, q=tag, size=3, page=2).json()
    assert [u["id"] for u in body["items"]] == [u["id"] for u in users[3:6]]
    assert (body["page"], body["size"], body["has_more"]) == (2, 3, True)
    body = list_users(reporter, q=tag, size=3, page=3).json()
    assert len(body["items"]) == 1 and body["has_more"] is False
    assert list_users(reporter, q=tag, page=9).json()["items"] == []


def test_include_total(reporter, cohort):
    tag, _ = cohort
    body = list_users(reporter, q=tag, size=3, include_total="true").json()
    assert (body["total"], body["pages"]) == (7, 3)
    body = list_users(reporter, q=tag, role="developer", include_total="true").json()
    assert body["total"] == 2


def test_filters(reporter, cohort):
    tag, users = cohort
    ids = lambda **p: {u["id"] for u in list_users(reporter, q=tag, **p).json()["items"]}
    assert ids(role="manager") == {u["id"] for u in users if u["role"] == "manager"}
    assert ids(is_active="false") == {users[3]["id"]}
    assert ids(is_active="true") == {u["id"] for u in users} - {users[3]["id"]}
    assert ids(role="developer", is_active="false") == set()
    # q: username, email, full_name, case-insensitive substring
    assert {u["id"] for u in list_users(reporter, q=tag.upper()).json()["items"]} == \
        {u["id"] for u in users}
    assert {u["id"] for u in list_users(reporter, q=f"{tag}-4").json()["items"]} == \
        {users[4]["id"]}
    assert {u["id"] for u in list_users(reporter, q=f"d{tag}-3@example").json()["items"]} == \
        {users[3]["id"]}


def test_q_matches_full_name_and_treats_wildcards_literally(reporter):
    tag = marker("wc")
    pct = create_user_row("reporter", full_name=f"{tag} 100% done")
    und = create_user_row("reporter", full_name=f"{tag} a_b")
    back = create_user_row("reporter", full_name=f"{tag} back\\slash")
    plain = create_user_row("reporter", full_name=f"{tag} 100x and axb")
    found = lambda q: {u["id"] for u in list_users(reporter, q=q).json()["items"]}
    assert found(tag) == {pct["id"], und["id"], back["id"], plain["id"]}
    assert found(f"{tag} 100%") == {pct["id"]}
    assert found(f"{tag} a_b") == {und["id"]}
    assert found(f"{tag} back\\s") == {back["id"]}
    assert found(tag.upper() + " A_B") == {und["id"]}


@pytest.mark.parametrize("params,field,code", [
    ({"size": "101"}, "size", "range"),
    ({"size": "0"}, "size", "range"),
    ({"size": "ten"}, "size", "type"),
    ({"page": "0"}, "page", "range"),
    ({"page": "-1"}, "page", "range"),
    ({"sort": "password_hash"}, "sort", "enum"),
    ({"sort": "full_name"}, "sort", "enum"),
    ({"role": "superuser"}, "role", "enum"),
    ({"is_active": "maybe"}, "is_active", "type"),
    ({"include_total": "yes"}, "include_total", "type"),
    ({"q": "x" * 201}, "q", "too_long"),
    ({"username": "admin"}, "username", "unknown_parameter"),
    ({"limit": "5"}, "limit", "unknown_parameter"),
])
def test_list_parameter_validation(reporter, params, field, code):
    r = requests.get(USERS, params=params, headers=reporter["headers"])
    problem = assert_problem(r, 422, "validation_failed")
    assert (field, code) in error_fields(problem), problem


def test_repeated_parameter_is_422(reporter):
    r = requests.get(USERS + "?role=admin&role=reporter", headers=reporter["headers"])
    assert ("role", "duplicate") in error_fields(assert_problem(r, 422))


@pytest.mark.parametrize("cursor", ["garbage", "AAAA", "YzEKY3JlYXRlZF9hdAphCg"])
def test_bad_cursor_is_400(reporter, cursor):
    assert_problem(requests.get(USERS, params={"cursor": cursor}, headers=reporter["headers"]),
                   400, "invalid_cursor")


def test_tampered_or_foreign_sort_cursor_is_400(reporter, cohort):
    tag, _ = cohort
    cursor = list_users(reporter, q=tag, size=2).json()["next_cursor"]
    assert cursor
    flipped = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    assert_problem(requests.get(USERS, params={"q": tag, "cursor": flipped},
                                headers=reporter["headers"]), 400, "invalid_cursor")
    assert_problem(requests.get(USERS, params={"q": tag, "cursor": cursor, "sort": "username"},
                                headers=reporter["headers"]), 400, "invalid_cursor")


# ---- scripts/user and scripts/first-admin ----------------------------------------

def run_script(name, *args, **env):
    e = dict(os.environ, DATABASE_URL=os.environ["IT_DATABASE_URL"], IT_BCRYPT_COST="4")
    e.update(env)
    return subprocess.run([os.path.join(ROOT, "scripts", name), *args], env=e,
                          capture_output=True, text=True, timeout=120)


def printed_password(out):
    return next(line.split("password:", 1)[1].split()[0] for line in out.splitlines()
                if "password:" in line)


def test_user_script_creates_and_resets_a_user():
    name = marker("sh")
    p = run_script("user", name, "--role", "developer", "--email", name + "@example.com")
    assert p.returncode == 0, p.stderr
    assert "created" in p.stdout
    pw = printed_password(p.stdout)       # a new user without a password gets a random one
    assert len(pw) >= 20
    token = get_token(name, pw)
    me = requests.get(ME, headers={"Authorization": "Bearer " + token}).json()
    assert (me["username"], me["email"], me["role"]) == (name, name + "@example.com", "developer")
    # reset: reactivates, undeletes, new role and password
    psql(f"UPDATE users SET is_active = false, is_deleted = true, deleted_at = now() "
         f"WHERE username = '{name}'")
    p = run_script("user", name, "--role", "manager", "--password", "a-shell-password")
    assert p.returncode == 0, p.stderr
    assert "updated" in p.stdout and "a-shell-password" not in p.stdout
    assert psql(f"SELECT role, is_active, is_deleted, deleted_at IS NULL, "
                f"password_hash LIKE '$2y$04$%' FROM users WHERE username = '{name}'") \
        == "manager|t|f|t|t"
    assert can_log_in(name, "a-shell-password") and not can_log_in(name, pw)
    # without a password option an existing user keeps its password
    p = run_script("user", name, "--role", "reporter")
    assert p.returncode == 0 and "password:" not in p.stdout
    assert can_log_in(name, "a-shell-password")


@pytest.mark.parametrize("args", [
    ["Upper", "--role", "admin"],
    ["ok-name", "--role", "boss"],
    ["ok-name"],
    ["ok-name", "--role", "admin", "--password", "short"],
    ["ok-name", "--role", "admin", "--email", "nope"],
    ["ok-name", "--role", "admin", "--password", "long-enough-pw", "--random-password"],
    ["ok-name", "--role", "admin", "--what"],
])
def test_user_script_rejects_bad_arguments(args):
    p = run_script("user", *args)
    assert p.returncode != 0
    assert psql("SELECT count(*) FROM users WHERE username = 'ok-name'") == "0"


def test_first_admin_creates_an_admin_only_when_none_exists(tmp_path):
    port = BASE_URL.rsplit(":", 1)[1]
    env = {"IT_VAR": str(tmp_path), "PORT": port}
    pwfile = tmp_path / "admin-password"
    try:
        with only_admins():
            assert active_admins() == 0
            p = run_script("first-admin", **env)
            assert p.returncode == 0, p.stderr
            pw = printed_password(p.stdout)
            assert len(pw) >= 20
            assert pwfile.read_text().strip() == pw
            assert stat.S_IMODE(pwfile.stat().st_mode) == 0o600
            assert f"curl -s -u admin:{pw} -X POST {BASE_URL}/api/v1/auth/token" in p.stdout
            assert f"{BASE_URL}/api/v1/users/me" in p.stdout
            token = get_token("admin", pw)
            me = requests.get(ME, headers={"Authorization": "Bearer " + token}).json()
            assert (me["username"], me["role"], me["is_active"]) == ("admin", "admin", True)
            assert active_admins() == 1
            # idempotent: an admin exists, nothing changes
            before = psql("SELECT version, password_hash FROM users WHERE username = 'admin'")
            p = run_script("first-admin", **env)
            assert p.returncode == 0, p.stderr
            assert str(pwfile) in p.stdout and "password:" not in p.stdout
            assert psql("SELECT version, password_hash FROM users WHERE username = 'admin'") \
                == before
            assert pwfile.read_text().strip() == pw
    finally:
        # leave no user called admin behind for the rest of the suite
        tag = marker("fa")
        psql(f"UPDATE users SET username = '{tag}', email = '{tag}@example.org', "
             "is_active = false WHERE username = 'admin'")
