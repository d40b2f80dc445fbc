"""Shared fixtures for the integration suite.

scripts/test-integration starts a real PostgreSQL and a real httpd with the
module and exports where they are; nothing here mocks either of them.
"""
import json
import os
import subprocess
import time

import pytest
import requests

BASE_URL = os.environ.get("IT_BASE_URL", "http://127.0.0.1:8080")
ROOT = os.environ.get("IT_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PROBLEM_CTYPE = "application/problem+json"


def url(path):
    return BASE_URL + path


@pytest.fixture(scope="session")
def base_url():
    return BASE_URL


@pytest.fixture()
def http():
    with requests.Session() as s:
        yield s


def assert_problem(resp, status, code=None):
    """The response is an RFC 9457 problem with the given status (and code)."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers.get("Content-Type", "").startswith(PROBLEM_CTYPE), resp.headers
    body = resp.json()
    for member in ("type", "title", "status", "detail", "code", "request_id"):
        assert member in body, (member, body)
    assert body["status"] == status
    assert body["request_id"] == resp.headers.get("X-Request-Id")
    if code is not None:
        assert body["code"] == code, body
    return body


def psql(sql, dburl=None, check=True):
    """Runs SQL through psql against the test database; returns stdout."""
    dburl = dburl or os.environ["IT_DATABASE_URL"]
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", dburl, "-c", sql],
                         capture_output=True, text=True, check=False)
    if check and out.returncode != 0:
        raise AssertionError(out.stderr)
    return out.stdout.strip()


def devenv(*args):
    """Runs scripts/devenv (stop/start PostgreSQL for fault tests)."""
    return subprocess.run([os.path.join(ROOT, "scripts", "devenv"), *args],
                          capture_output=True, text=True, check=True)


def wait_for(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def error_log():
    path = os.environ.get("IT_ERROR_LOG")
    if not path or not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return f.read()
