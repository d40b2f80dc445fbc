"""Shared fixtures for the integration suite.

scripts/test-integration starts a real PostgreSQL and a real httpd with the
module and exports where they are; nothing here mocks either of them.
"""
import json
import os
import subprocess
import time
import uuid

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


# ---- identity ----------------------------------------------------------------

def bcrypt_hash(password, cost=4):
    """A bcrypt hash as Apache makes them (htpasswd -B); cost 4 keeps the
    Basic logins of the suite fast."""
    out = subprocess.run(["htpasswd", "-niB", "-C", str(cost), "u"], input=password,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().split(":", 1)[1]


def sql_literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "'" + str(value).replace("'", "''") + "'"


def get_token(username, password, **kwargs):
    r = requests.post(url("/api/v1/auth/token"), auth=(username, password), **kwargs)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()["access_token"]


def create_user_row(role="reporter", username=None, email=None, password=None,
                    full_name=None, is_active=True):
    """Inserts a user straight into the database; returns its fields."""
    suffix = uuid.uuid4().hex[:10]
    username = username or f"{role[:3]}-{suffix}"
    email = email or f"{username}@example.org"
    password = password or "pw-" + uuid.uuid4().hex
    user_id = psql(
        "INSERT INTO users (username, email, full_name, password_hash, role, is_active) VALUES ("
        + ", ".join(sql_literal(v) for v in (username, email, full_name, bcrypt_hash(password),
                                              role, is_active))
        + ") RETURNING id")
    return {"id": user_id, "username": username, "email": email, "password": password,
            "role": role, "full_name": full_name}


def make_user_now(role="reporter", **fields):
    user = create_user_row(role, **fields)
    if fields.get("is_active", True):
        user["token"] = get_token(user["username"], user["password"])
        user["headers"] = {"Authorization": "Bearer " + user["token"]}
    return user


@pytest.fixture()
def make_user():
    """make_user(role="reporter", **fields) -> {id, username, email, password,
    role, token, headers}: a user in the database with a real bearer token
    obtained through POST /api/v1/auth/token (Basic, mod_authn_dbd)."""
    return make_user_now


@pytest.fixture()
def admin():
    return make_user_now("admin")


@pytest.fixture()
def manager():
    return make_user_now("manager")


@pytest.fixture()
def developer():
    return make_user_now("developer")


@pytest.fixture()
def reporter():
    return make_user_now("reporter")
