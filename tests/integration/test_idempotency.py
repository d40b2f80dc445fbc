"""Idempotency-Key on POST /api/v1/issues: a retried create returns the
first response instead of a second issue, also when the retries race; the
same key with another request is 422; keys are per user and expire after
24 hours. Checked through HTTP and, for what was stored, with psql.
"""
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import assert_problem, psql, url

ISSUES = url("/api/v1/issues")
PROJECTS = url("/api/v1/projects")
TIMEOUT = 30


def make_project(owner):
    r = requests.post(PROJECTS, json={"key": ("D" + uuid.uuid4().hex[:9]).upper(),
                                      "name": "Idempotency test"},
                      headers=owner["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture()
def project(manager):
    return make_project(manager)


def post(user, body, key, path=ISSUES, session=requests, raw=None):
    h = dict(user["headers"])
    if key is not None:
        h["Idempotency-Key"] = key
    if raw is not None:
        h["Content-Type"] = "application/json"
        return session.post(path, data=raw, headers=h, timeout=TIMEOUT)
    return session.post(path, json=body, headers=h, timeout=TIMEOUT)


def count_issues(project_id):
    return int(psql("SELECT count(*) FROM issues WHERE project_id = '%s'" % project_id))


def error_fields(body):
    return {(e["field"], e["code"]) for e in body.get("errors", [])}


def test_replay_returns_the_first_response_and_creates_nothing(reporter, project):
    key = str(uuid.uuid4())
    body = {"project_id": project["id"], "title": "once", "priority": "high"}
    first = post(reporter, body, key)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = post(reporter, body, key)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.content == first.content
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"] == '"1"'
    assert again.headers["Content-Type"].startswith("application/json")
    assert count_issues(project["id"]) == 1
    assert psql("SELECT count(*) FROM issue_events WHERE issue_id = '%s'"
                % first.json()["id"]) == "1"
    row = psql("SELECT status, resource_id, method, path FROM idempotency_keys"
               " WHERE user_id = '%s' AND key = '%s'" % (reporter["id"], key))
    assert row == "201|%s|POST|/api/v1/issues" % first.json()["id"]


def test_replay_is_the_first_result_even_after_the_issue_changed(developer, project):
    key = str(uuid.uuid4())
    body = {"project_id": project["id"], "title": "original"}
    first = post(developer, body, key)
    doc = first.json()
    r = requests.patch(url("/api/v1/issues/" + doc["id"]), json={"title": "edited"},
                       headers=dict(developer["headers"], **{"If-Match": '"1"'}))
    assert r.status_code == 200
    again = post(developer, body, key)
    assert again.status_code == 201 and again.json() == doc
    assert again.headers["Idempotent-Replayed"] == "true"


def test_trailing_slash_is_the_same_request(reporter, project):
    key = str(uuid.uuid4())
    body = {"project_id": project["id"], "title": "slash"}
    first = post(reporter, body, key)
    again = post(reporter, body, key, path=ISSUES + "/")
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"


def test_same_key_with_a_different_body_is_422(reporter, project):
    key = str(uuid.uuid4())
    assert post(reporter, {"project_id": project["id"], "title": "a"}, key).status_code == 201
    r = post(reporter, {"project_id": project["id"], "title": "b"}, key)
    body = assert_problem(r, 422, "idempotency_key_reused")
    assert "Idempotent-Replayed" not in r.headers
    # the body is compared byte for byte: other spacing is another request
    raw = json.dumps({"project_id": project["id"], "title": "a"}, indent=2)
    assert_problem(post(reporter, None, key, raw=raw), 422, "idempotency_key_reused")
    assert count_issues(project["id"]) == 1
    assert body["detail"]


def test_different_users_with_the_same_key_are_independent(make_user, project):
    a, b = make_user("reporter"), make_user("reporter")
    key = "shared-" + uuid.uuid4().hex
    body = {"project_id": project["id"], "title": "same body"}
    ra, rb = post(a, body, key), post(b, body, key)
    assert ra.status_code == rb.status_code == 201
    assert ra.json()["id"] != rb.json()["id"]
    assert "Idempotent-Replayed" not in rb.headers
    assert ra.json()["creator_id"] == a["id"] and rb.json()["creator_id"] == b["id"]
    assert post(a, body, key).json()["id"] == ra.json()["id"]
    assert post(b, body, key).json()["id"] == rb.json()["id"]
    assert count_issues(project["id"]) == 2


def test_without_a_key_every_post_creates(reporter, project):
    body = {"project_id": project["id"], "title": "twice"}
    assert post(reporter, body, None).json()["id"] != post(reporter, body, None).json()["id"]
    assert count_issues(project["id"]) == 2


def test_eight_racing_identical_requests_create_one_issue(reporter, project):
    key = str(uuid.uuid4())
    body = {"project_id": project["id"], "title": "race"}
    n = 8
    barrier = threading.Barrier(n)

    def attempt(_):
        with requests.Session() as s:
            barrier.wait()
            r = post(reporter, body, key, session=s)
            return r.status_code, r.json().get("id"), r.headers.get("Idempotent-Replayed")

    for _ in range(5):
        key = str(uuid.uuid4())
        with ThreadPoolExecutor(n) as pool:
            results = list(pool.map(attempt, range(n)))
        assert [code for code, _, _ in results] == [201] * n, results
        assert len({i for _, i, _ in results}) == 1, results
        assert sorted(str(rep) for _, _, rep in results) == ["None"] + ["true"] * (n - 1)
    assert count_issues(project["id"]) == 5
    assert [int(x) for x in psql("SELECT number FROM issues WHERE project_id = '%s'"
                                 " ORDER BY number" % project["id"]).split()] == [1, 2, 3, 4, 5]


def test_an_expired_key_creates_a_new_issue(reporter, project):
    key = str(uuid.uuid4())
    body = {"project_id": project["id"], "title": "expiring"}
    first = post(reporter, body, key).json()
    psql("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"
         " WHERE user_id = '%s' AND key = '%s'" % (reporter["id"], key))
    second = post(reporter, body, key)
    assert second.status_code == 201 and "Idempotent-Replayed" not in second.headers
    assert second.json()["id"] != first["id"]
    # the key now names the new request, for another 24 hours
    third = post(reporter, body, key)
    assert third.json()["id"] == second.json()["id"]
    assert third.headers["Idempotent-Replayed"] == "true"
    hours = float(psql("SELECT extract(epoch FROM expires_at - now()) / 3600"
                       " FROM idempotency_keys WHERE user_id = '%s' AND key = '%s'"
                       % (reporter["id"], key)))
    assert 23.9 < hours <= 24
    assert count_issues(project["id"]) == 2


def test_an_expired_key_may_be_reused_for_another_request(reporter, project):
    key = str(uuid.uuid4())
    post(reporter, {"project_id": project["id"], "title": "one"}, key)
    psql("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"
         " WHERE user_id = '%s' AND key = '%s'" % (reporter["id"], key))
    r = post(reporter, {"project_id": project["id"], "title": "two"}, key)
    assert r.status_code == 201 and r.json()["title"] == "two"


def test_a_failed_create_stores_nothing_and_may_be_retried(reporter, project):
    key = str(uuid.uuid4())
    missing = {"project_id": str(uuid.uuid4()), "title": "nowhere"}
    assert_problem(post(reporter, missing, key), 422, "validation_failed")
    assert psql("SELECT count(*) FROM idempotency_keys WHERE user_id = '%s' AND key = '%s'"
                % (reporter["id"], key)) == "0"
    r = post(reporter, {"project_id": project["id"], "title": "fixed"}, key)
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers


@pytest.mark.parametrize("value, code", [
    ("", "too_short"),
    ("k" * 256, "too_long"),
    ("has space", "format"),
    ("tab\there", "format"),
    ("caf\u00e9", "format"),
])
def test_bad_key_values_are_422_naming_the_header(reporter, project, value, code):
    h = dict(reporter["headers"], **{"Idempotency-Key": value.encode("latin-1")})
    r = requests.post(ISSUES, json={"project_id": project["id"], "title": "t"}, headers=h,
                      timeout=TIMEOUT)
    body = assert_problem(r, 422, "validation_failed")
    assert error_fields(body) == {("Idempotency-Key", code)}
    assert count_issues(project["id"]) == 0


@pytest.mark.parametrize("value", ["k" * 255, "a", "!#$%&'*+-.^_`|~:/?=@[]{}()<>\"\\,;"])
def test_visible_ascii_keys_up_to_255_are_accepted(reporter, project, value):
    body = {"project_id": project["id"], "title": "ok"}
    first = post(reporter, body, value)
    assert first.status_code == 201, first.text
    assert post(reporter, body, value).json()["id"] == first.json()["id"]
