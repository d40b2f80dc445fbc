"""Routing and error model: 404 / 405 + Allow as problem+json, request ids."""
import http.client
import json
import urllib.parse

import pytest
import requests

from conftest import assert_problem, make_user_now, url


@pytest.fixture(scope="module")
def authed():
    """A session with a reporter's bearer token: unknown paths under /api/v1
    are answered only to authenticated callers (Apache authenticates first)."""
    with requests.Session() as s:
        s.headers.update(make_user_now("reporter")["headers"])
        yield s


@pytest.mark.parametrize("path", [
    "/api/v1/nothing-here",
    "/api/v1/",
    "/api/v1/health",
    "/api/v1/issues/not-a-uuid/extra/segments",
    "/health/extra",
])
def test_unknown_path_is_404_problem(authed, path):
    body = assert_problem(authed.get(url(path)), 404, "not_found")
    assert body["type"].endswith("not_found")
    assert body["title"] == "Not Found"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_wrong_method_is_405_with_allow(http, method):
    r = http.request(method, url("/health"), json={})
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert method in r.json()["detail"]


def test_options_lists_allowed_methods(http):
    r = http.options(url("/health"))
    assert r.status_code == 204
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert r.content == b""


def test_options_on_unknown_path_is_404(authed):
    assert_problem(authed.options(url("/api/v1/unknown")), 404)


def test_unknown_path_without_credentials_is_401(http):
    r = http.get(url("/api/v1/unknown"))
    assert_problem(r, 401, "unauthorized")


def test_trailing_slash_is_optional(http):
    a = http.get(url("/health"))
    b = http.get(url("/health/"))
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()


def test_head_has_headers_and_no_body(http):
    r = http.head(url("/health"))
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.content == b""


def test_every_response_has_a_request_id(authed):
    ids = set()
    for path in ("/health", "/api/v1/none", "/api/v1/_problem"):
        r = authed.get(url(path))
        rid = r.headers.get("X-Request-Id")
        assert rid, (path, r.headers)
        ids.add(rid)
    assert len(ids) == 3, "request ids must be unique per request"


def test_problem_request_id_equals_header(authed):
    r = authed.get(url("/api/v1/missing"))
    body = assert_problem(r, 404)
    assert body["request_id"] == r.headers["X-Request-Id"]
    assert body["instance"] == "/api/v1/missing"


def test_problem_target_is_not_reachable_directly(http):
    # Without an internal redirect the ErrorDocument target is forbidden by
    # Apache (Require env REDIRECT_STATUS), and that 403 is itself rendered
    # as a problem through the ErrorDocument chain.
    r = http.get(url("/api/v1/_problem"))
    body = assert_problem(r, 403, "forbidden")
    assert "REDIRECT_STATUS" not in r.text


def raw_get(target):
    """GET with the request target sent exactly as given (requests would
    re-encode invalid percent escapes)."""
    u = urllib.parse.urlsplit(url("/"))
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize("target", ["/health?x=%zz", "/health?q=%ff%fe", "/health?a=%"])
def test_undecodable_query_is_400_problem(target):
    status, headers, body = raw_get(target)
    assert status == 400
    assert headers["Content-Type"] == "application/problem+json"
    doc = json.loads(body)
    assert doc["code"] == "invalid_query"
    assert doc["request_id"] == headers["X-Request-Id"]
