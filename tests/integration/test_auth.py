"""Authentication through Apache: Basic (mod_authn_dbd) on /auth/token,
bearer JWTs (mod_auth_openidc) on the rest of /api/v1. Each fact of
DESIGN.md section 6 has a test here, against the real modules."""
import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import tempfile
import time
import uuid

import pytest
import requests

from conftest import ROOT, assert_problem, create_user_row, get_token, psql, url, wait_for

TOKEN_URL = url("/api/v1/auth/token")
# An authenticated request to a path that exists for nobody: 404 proves the
# request got past authentication, 401 that it did not.
PROBE = url("/api/v1/no-such-resource")
# An existing route that needs a known, active caller.
ME = url("/api/v1/users/me")


def secret_key():
    with open(os.path.join(os.environ["IT_VAR"], "secret-key")) as f:
        return f.read().strip()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims, key=None, alg="HS256", header=None):
    """Builds a JWS like an attacker or a foreign issuer would."""
    header = header or {"alg": alg, "typ": "JWT"}
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    if alg == "none":
        return head + "."
    key = (key if key is not None else secret_key()).encode()
    return head + "." + b64(hmac.new(key, head.encode(), hashlib.sha256).digest())


def claims_for(user_id, **over):
    now = int(time.time())
    c = {"iss": "mod_issuetracker", "aud": "issuetracker", "sub": user_id,
         "iat": now, "exp": now + 300, "role": "admin"}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def bearer(token):
    return {"Authorization": "Bearer " + token}


def decode(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# ---- Basic on /auth/token --------------------------------------------------

def test_token_is_minted_for_basic_credentials(reporter):
    r = requests.post(TOKEN_URL, auth=(reporter["username"], reporter["password"]))
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["user_id"] == reporter["id"]
    c = decode(body["access_token"])
    assert c["sub"] == reporter["id"]
    assert c["iss"] == "mod_issuetracker" and c["aud"] == "issuetracker"
    assert c["exp"] - c["iat"] == 3600
    assert c["role"] == "reporter"


def test_token_lifetime_can_be_shortened(reporter):
    r = requests.post(TOKEN_URL, auth=(reporter["username"], reporter["password"]),
                      json={"expires_in": 120})
    assert r.status_code == 200
    c = decode(r.json()["access_token"])
    assert c["exp"] - c["iat"] == 120


@pytest.mark.parametrize("body,status,code", [
    ({"expires_in": 7200}, 422, "validation_failed"),
    ({"expires_in": 10}, 422, "validation_failed"),
    ({"expires_in": "60"}, 422, "validation_failed"),
    ({"scope": "all"}, 422, "validation_failed"),
])
def test_token_request_body_is_validated(reporter, body, status, code):
    r = requests.post(TOKEN_URL, auth=(reporter["username"], reporter["password"]), json=body)
    assert_problem(r, status, code)


def test_token_request_with_non_json_body_is_415(reporter):
    r = requests.post(TOKEN_URL, auth=(reporter["username"], reporter["password"]),
                      data="expires_in=60", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(r, 415)


def test_wrong_password_is_401_problem_with_basic_challenge(reporter):
    r = requests.post(TOKEN_URL, auth=(reporter["username"], "not-the-password"))
    body = assert_problem(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    # the ErrorDocument renders the original request, once, as JSON
    assert body["instance"] == "/api/v1/auth/token"
    assert r.headers["WWW-Authenticate"].count("Basic") == 1


def test_unknown_user_looks_like_wrong_password():
    r1 = requests.post(TOKEN_URL, auth=("nobody-" + uuid.uuid4().hex[:8], "whatever-password"))
    b1 = assert_problem(r1, 401, "unauthorized")
    assert r1.headers["WWW-Authenticate"].startswith("Basic")
    b1.pop("request_id")
    assert b1["detail"]


def test_authn_query_always_returns_one_row():
    # apr_dbd_pgsql sleeps 100 ms on an empty result: the configured query
    # must return the dummy hash for unknown users (same cost as real ones).
    with open(os.path.join(ROOT, "conf", "auth-bearer.conf")) as f:
        line = next(l for l in f if "AuthDBDUserPWQuery" in l)
    query = line.split('"', 1)[1].rsplit('"', 1)[0].replace("%s", "'no-such-user'")
    out = psql(query)
    assert out.startswith("$2y$12$"), out


def test_inactive_user_cannot_log_in_with_basic():
    u = create_user_row("developer", is_active=False)
    assert_problem(requests.post(TOKEN_URL, auth=(u["username"], u["password"])), 401)


def test_deleted_user_cannot_log_in_with_basic():
    u = create_user_row("developer")
    psql(f"UPDATE users SET is_deleted = true, deleted_at = now() WHERE id = '{u['id']}'")
    assert_problem(requests.post(TOKEN_URL, auth=(u["username"], u["password"])), 401)


def test_username_is_case_insensitive_for_basic(reporter):
    r = requests.post(TOKEN_URL, auth=(reporter["username"].upper(), reporter["password"]))
    assert r.status_code == 200
    assert decode(r.json()["access_token"])["sub"] == reporter["id"]


def test_token_endpoint_does_not_take_a_bearer_token(reporter):
    # a token must not renew itself: /auth/token is Basic only
    r = requests.post(TOKEN_URL, headers=reporter["headers"])
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Basic")


# ---- bearer on /api/v1 -----------------------------------------------------

def test_valid_token_passes_authentication(reporter):
    assert_problem(requests.get(PROBE, headers=reporter["headers"]), 404)


def test_no_credentials_is_401_with_bearer_challenge():
    r = requests.get(PROBE)
    assert_problem(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("mutate", ["signature", "payload", "garbage", "empty"])
def test_tampered_token_is_401(reporter, mutate):
    tok = reporter["token"]
    head, payload, sig = tok.split(".")
    if mutate == "signature":
        tok = head + "." + payload + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    elif mutate == "payload":
        c = decode(tok)
        c["sub"] = str(uuid.uuid4())
        tok = head + "." + b64(json.dumps(c).encode()) + "." + sig
    elif mutate == "garbage":
        tok = "not.a.jwt"
    else:
        tok = ""
    r = requests.get(PROBE, headers=bearer(tok))
    assert_problem(r, 401)
    assert "Bearer" in r.headers["WWW-Authenticate"]


def test_token_signed_with_another_key_is_401(reporter):
    tok = sign(claims_for(reporter["id"]), key="another-secret-of-sufficient-length-123")
    assert_problem(requests.get(PROBE, headers=bearer(tok)), 401)


def test_alg_none_token_is_401(reporter):
    tok = sign(claims_for(reporter["id"]), alg="none")
    assert_problem(requests.get(PROBE, headers=bearer(tok)), 401)


def test_expired_token_is_401(reporter):
    now = int(time.time())
    tok = sign(claims_for(reporter["id"], iat=now - 7200, exp=now - 3600))
    assert_problem(requests.get(PROBE, headers=bearer(tok)), 401)


def test_token_without_exp_is_refused(reporter):
    # mod_auth_openidc checks exp only when present; the Require expr on
    # OIDC_CLAIM_exp closes that gap.
    tok = sign(claims_for(reporter["id"], exp=None))
    assert_problem(requests.get(PROBE, headers=bearer(tok)), 401)


@pytest.mark.parametrize("claim,value", [("iss", "https://evil.example"), ("iss", None),
                                         ("aud", "someone-else"), ("aud", None)])
def test_token_with_wrong_issuer_or_audience_is_refused(reporter, claim, value):
    tok = sign(claims_for(reporter["id"], **{claim: value}))
    assert_problem(requests.get(PROBE, headers=bearer(tok)), 401)


def test_correctly_signed_token_is_accepted(reporter):
    # proves OIDCOAuthVerifySharedKeys "plain##<secret>" uses the whole
    # secret as the key (a single '#' would make "plain" a kid)
    tok = sign(claims_for(reporter["id"]))
    assert_problem(requests.get(PROBE, headers=bearer(tok)), 404)


def test_token_for_unknown_user_is_403():
    tok = sign(claims_for(str(uuid.uuid4())))
    assert_problem(requests.get(ME, headers=bearer(tok)), 403, "unknown_user")


def test_token_with_non_uuid_subject_is_403():
    tok = sign(claims_for("admin"))
    assert_problem(requests.get(ME, headers=bearer(tok)), 403, "unknown_user")


def test_deactivated_user_with_valid_token_is_403(make_user):
    u = make_user("developer")
    assert requests.get(ME, headers=u["headers"]).status_code == 200
    psql(f"UPDATE users SET is_active = false WHERE id = '{u['id']}'")
    assert_problem(requests.get(ME, headers=u["headers"]), 403, "inactive_user")


def test_deleted_user_with_valid_token_is_403(make_user):
    u = make_user("developer")
    psql(f"UPDATE users SET is_deleted = true, deleted_at = now() WHERE id = '{u['id']}'")
    assert_problem(requests.get(ME, headers=u["headers"]), 403, "inactive_user")


def test_role_comes_from_the_database_not_the_token(make_user):
    u = make_user("reporter")
    # a token that claims admin, correctly signed, for a reporter
    tok = sign(claims_for(u["id"], role="admin"))
    r = requests.post(TOKEN_URL, auth=(u["username"], u["password"]))
    assert decode(r.json()["access_token"])["role"] == "reporter"
    # the role claim is ignored for our own tokens: the caller stays a reporter
    # (checked through the permission table by the resource tests)
    assert_problem(requests.get(PROBE, headers=bearer(tok)), 404)


FORGED_HEADERS = [
    {"X-Remote-User": "admin"},
    {"X-User-Id": str(uuid.uuid4())},
    {"Remote-User": "admin"},
    {"REMOTE_USER": "admin"},
    {"X-Forwarded-User": "admin"},
    {"OIDC_CLAIM_sub": str(uuid.uuid4())},
    {"OIDC-CLAIM-iss": "mod_issuetracker"},
]


@pytest.mark.parametrize("headers", FORGED_HEADERS)
def test_identity_headers_without_credentials_are_ignored(headers):
    assert_problem(requests.get(PROBE, headers=headers), 401)


@pytest.mark.parametrize("headers", FORGED_HEADERS)
def test_identity_headers_do_not_change_the_token_user(reporter, admin, headers):
    forged = {k: (admin["id"] if "Id" in k or "sub" in k else admin["username"])
              for k in headers}
    r = requests.post(TOKEN_URL, auth=(reporter["username"], reporter["password"]),
                      headers=forged)
    assert r.status_code == 200
    c = decode(r.json()["access_token"])
    assert c["sub"] == reporter["id"] and c["role"] == "reporter"


def test_options_preflight_passes_without_token():
    # mod_auth_openidc lets OPTIONS through with an empty user (CORS
    # preflight); the module answers with Allow only and reveals nothing.
    r = requests.options(url("/api/v1/users"))
    assert r.status_code == 204
    assert set(r.headers["Allow"].split(", ")) >= {"GET", "POST", "OPTIONS"}
    assert r.content == b""


def test_options_is_not_a_way_to_read_data():
    r = requests.options(ME)
    assert r.status_code == 204
    assert r.content == b""


def test_problem_target_cannot_be_used_to_skip_authentication():
    r = requests.get(url("/api/v1/_problem"), headers={"REDIRECT_STATUS": "200"})
    assert_problem(r, 403)


# ---- the Basic-everywhere configuration ----------------------------------------

@pytest.fixture(scope="module")
def basic_httpd():
    """A second httpd on the same database with conf/auth-basic.conf."""
    var = tempfile.mkdtemp(prefix="it-basic-")
    os.chmod(var, 0o755)
    for d in ("run", "logs", "www", "uploads"):
        os.makedirs(os.path.join(var, d))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    conf = os.path.join(var, "run", "httpd.conf")
    defines = {
        "IT_ROOT": ROOT, "IT_VAR": var, "PORT": str(port), "IT_AUTH": "basic",
        "MODULE": os.path.join(ROOT, "mod_issuetracker", ".libs", "mod_issuetracker.so"),
        "DATABASE_URL": os.environ["IT_DATABASE_URL"], "UPLOAD_DIR": os.path.join(var, "uploads"),
        "SECRET_KEY": secret_key(), "IT_DOCS_DIR": os.path.join(ROOT, "build", "docs"),
    }
    with open(conf, "w") as f:
        for k, v in defines.items():
            f.write(f'Define {k} "{v}"\n')
        f.write(f'Include "{ROOT}/conf/httpd-dev.conf"\n')
    subprocess.run(["/usr/sbin/apache2", "-f", conf, "-k", "start"], check=True)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _ok(base + "/health"), timeout=10)
        yield base
    finally:
        subprocess.run(["/usr/sbin/apache2", "-f", conf, "-k", "stop"], check=False)
        pid = os.path.join(var, "run", "httpd.pid")
        wait_for(lambda: not os.path.exists(pid), timeout=10)
        with open(os.path.join(var, "logs", "error.log"), errors="replace") as f:
            log = f.read()
        subprocess.run(["rm", "-rf", var], check=False)
        assert "Segmentation fault" not in log and "exit signal" not in log


def _ok(u):
    try:
        return requests.get(u, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_basic_config_accepts_password_on_every_path(basic_httpd, reporter):
    r = requests.get(basic_httpd + "/api/v1/no-such-resource",
                     auth=(reporter["username"], reporter["password"]))
    assert_problem(r, 404)


def test_basic_config_refuses_bad_password_as_problem(basic_httpd, reporter):
    r = requests.get(basic_httpd + "/api/v1/no-such-resource",
                     auth=(reporter["username"], "wrong-password"))
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_basic_config_refuses_bearer_tokens(basic_httpd, reporter):
    r = requests.get(basic_httpd + "/api/v1/no-such-resource", headers=reporter["headers"])
    assert_problem(r, 401)
