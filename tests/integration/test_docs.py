"""The API documentation: /openapi.json, Swagger UI at /api/docs, ReDoc at /api/redoc.

Black-box over HTTP against the test httpd. The harness exports IT_BASE_URL
(http://127.0.0.1:PORT) and IT_ROOT (the repository root, whose build/docs is what the
server's Alias directives point at; scripts/docs-build makes it).
"""

import json
import os
import re
import subprocess
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import requests

BASE_URL = os.environ.get("IT_BASE_URL", "").rstrip("/")
ROOT = os.environ.get("IT_ROOT", "")

assert BASE_URL and ROOT, "IT_BASE_URL and IT_ROOT are set by scripts/test-integration"

TIMEOUT = 10

PAGES = ["/api/docs", "/api/docs/", "/api/redoc", "/api/redoc/"]

PROBLEM_RESPONSES = [
    ("BadRequest", 400),
    ("Unauthorized", 401),
    ("Forbidden", 403),
    ("NotFound", 404),
    ("MethodNotAllowed", 405),
    ("Conflict", 409),
    ("PreconditionFailed", 412),
    ("PayloadTooLarge", 413),
    ("UnsupportedMediaType", 415),
    ("ValidationError", 422),
    ("PreconditionRequired", 428),
    ("TooManyRequests", 429),
    ("ServiceUnavailable", 503),
]

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def get(path, **kw):
    return requests.get(BASE_URL + path, timeout=TIMEOUT, allow_redirects=False, **kw)


class AssetParser(HTMLParser):
    """Collects the URLs a page loads: script src, link href, img src, and any other src."""

    def __init__(self):
        super().__init__()
        self.assets = []  # (tag, url)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and a.get("href"):
            self.assets.append((tag, a["href"]))
        elif a.get("src"):
            self.assets.append((tag, a["src"]))


def page_assets(html):
    p = AssetParser()
    p.feed(html)
    p.close()
    return p.assets


@pytest.fixture(scope="module")
def served_spec():
    r = get("/openapi.json")
    assert r.status_code == 200, r.text[:500]
    return r.json()


def resolve(spec, obj):
    """Follows local $refs ('#/components/...')."""
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        assert ref.startswith("#/"), "bundled spec has a non-local $ref: %s" % ref
        obj = spec
        for part in ref[2:].split("/"):
            obj = obj[part.replace("~1", "/").replace("~0", "~")]
        seen += 1
        assert seen < 20, "$ref loop at %s" % ref
    return obj


def operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


# --- /openapi.json -------------------------------------------------------------------


def test_openapi_json_is_an_openapi_3_1_document_with_health():
    r = get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0].strip() == "application/json"
    spec = r.json()
    assert re.fullmatch(r"3\.1\.\d+", spec["openapi"]), spec["openapi"]
    assert spec["info"]["title"] == "mod_issuetracker"
    assert "/health" in spec["paths"]
    assert "get" in spec["paths"]["/health"]


def test_served_openapi_json_equals_the_built_bundle(served_spec):
    built = os.path.join(ROOT, "build", "docs", "openapi.json")
    assert os.path.isfile(built), "%s is missing: run scripts/docs-build" % built
    with open(built, encoding="utf-8") as f:
        assert json.load(f) == served_spec


def test_built_bundle_is_up_to_date_with_openapi_yaml(served_spec, tmp_path):
    redocly = os.path.join(ROOT, "node_modules", ".bin", "redocly")
    assert os.access(redocly, os.X_OK), "node_modules is not installed (scripts/docs-build installs it)"
    out = tmp_path / "openapi.json"
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true",
               REDOCLY_SUPPRESS_NOTIFICATIONS="true")
    proc = subprocess.run(
        [redocly, "bundle", "docs/openapi.yaml", "--ext", "json", "-o", str(out)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout.decode(errors="replace")[-2000:]
    assert json.loads(out.read_text(encoding="utf-8")) == served_spec, (
        "the served /openapi.json is stale: rebuild with scripts/docs-build"
    )


def test_openapi_json_and_docs_need_no_credentials():
    # Served by Apache aliases next to the API: no Authorization header needed.
    for path in ["/openapi.json", "/api/docs", "/api/redoc"]:
        assert get(path).status_code == 200, path


# --- the spec's shared components and invariants --------------------------------------


@pytest.mark.parametrize("name,status", PROBLEM_RESPONSES)
def test_problem_response_components_use_problem_json(served_spec, name, status):
    resp = served_spec["components"]["responses"][name]
    assert list(resp["content"]) == ["application/problem+json"], name
    schema = resp["content"]["application/problem+json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Problem"}, name
    assert "X-Request-Id" in resp["headers"], name
    example = resp["content"]["application/problem+json"].get("example")
    if example is None:
        example = next(iter(resp["content"]["application/problem+json"]["examples"].values()))["value"]
    assert example["status"] == status, name


@pytest.mark.parametrize("name,header", [
    ("Unauthorized", "WWW-Authenticate"),
    ("MethodNotAllowed", "Allow"),
    ("TooManyRequests", "Retry-After"),
    ("ServiceUnavailable", "Retry-After"),
])
def test_problem_responses_carry_their_headers(served_spec, name, header):
    assert header in served_spec["components"]["responses"][name]["headers"]


def test_problem_schema_has_the_rfc9457_members(served_spec):
    problem = served_spec["components"]["schemas"]["Problem"]
    props = problem["properties"]
    for member in ["type", "title", "status", "detail", "code", "request_id", "instance",
                   "errors", "current_version", "allowed"]:
        assert member in props, member
    item = resolve(served_spec, props["errors"]["items"])
    assert {"field", "code", "message"} <= set(item["required"])


def test_every_error_response_in_the_spec_is_problem_json(served_spec):
    for path, method, op in operations(served_spec):
        for status, resp in op["responses"].items():
            if not status[0] in "45":
                continue
            resp = resolve(served_spec, resp)
            assert list(resp.get("content", {})) == ["application/problem+json"], (
                "%s %s %s" % (method.upper(), path, status))


def test_every_operation_has_id_summary_tags_and_x_request_id(served_spec):
    ids = []
    tags = {t["name"] for t in served_spec["tags"]}
    for path, method, op in operations(served_spec):
        where = "%s %s" % (method.upper(), path)
        assert op.get("operationId"), where
        assert op.get("summary"), where
        assert op.get("tags") and set(op["tags"]) <= tags, where
        ids.append(op["operationId"])
        for status, resp in op["responses"].items():
            assert "X-Request-Id" in resolve(served_spec, resp).get("headers", {}), (
                "%s %s" % (where, status))
    assert len(ids) == len(set(ids)), "duplicate operationId"


def test_security_schemes_and_public_health(served_spec):
    schemes = served_spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["basicAuth"]["type"] == "http"
    assert schemes["basicAuth"]["scheme"] == "basic"
    assert served_spec["security"] == [{"bearerAuth": []}]
    health = served_spec["paths"]["/health"]["get"]
    assert health["security"] == []
    assert set(health["responses"]) >= {"200", "503"}
    unavailable = resolve(served_spec, health["responses"]["503"])
    assert list(unavailable["content"]) == ["application/problem+json"]
    assert "Retry-After" in unavailable["headers"]


def test_shared_parameters_exist(served_spec):
    params = served_spec["components"]["parameters"]
    expected = {
        "IdPath": ("path", "id"), "Page": ("query", "page"), "Size": ("query", "size"),
        "Cursor": ("query", "cursor"), "IncludeTotal": ("query", "include_total"),
        "Sort": ("query", "sort"), "IfMatch": ("header", "If-Match"),
        "IfNoneMatch": ("header", "If-None-Match"),
        "IdempotencyKey": ("header", "Idempotency-Key"),
    }
    for name, (where, pname) in expected.items():
        assert (params[name]["in"], params[name]["name"]) == (where, pname), name
    assert params["Size"]["schema"]["maximum"] == 100
    assert params["Size"]["schema"]["default"] == 20
    assert params["Page"]["schema"]["minimum"] == 1


# --- the HTML pages -------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_docs_page_is_html_with_only_same_origin_assets(path):
    r = get(path)
    assert r.status_code == 200, path
    assert r.headers["Content-Type"].startswith("text/html"), r.headers["Content-Type"]
    html = r.text
    assert "http://" not in html and "https://" not in html, "absolute URL in %s" % path
    assets = page_assets(html)
    assert any(tag == "script" for tag, _ in assets), path
    for tag, url in assets:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, "%s loads %s" % (path, url)
        assert url.startswith("/"), "%s: %s is relative; pages are served at two URLs" % (path, url)
        a = requests.get(urljoin(BASE_URL + path, url), timeout=TIMEOUT, allow_redirects=False)
        assert a.status_code == 200, "%s -> %s: %d" % (path, url, a.status_code)
        assert a.content, url
        if parts.path.endswith(".js"):
            assert "javascript" in a.headers["Content-Type"], url
        elif parts.path.endswith(".css"):
            assert a.headers["Content-Type"].startswith("text/css"), url


def asset_paths(path):
    return {urlsplit(u).path for _, u in page_assets(get(path).text)}


def test_swagger_ui_page_loads_local_swagger_ui():
    paths = asset_paths("/api/docs")
    assert {"/api/docs/swagger-ui.css", "/api/docs/swagger-ui-bundle.js"} <= paths
    inits = [p for p in paths if p.endswith(".js") and "swagger-ui" not in p]
    assert inits, "no init script on /api/docs"
    init = "".join(get(p).text for p in inits)
    assert '"/openapi.json"' in init
    assert re.search(r"persistAuthorization\s*:\s*true", init)
    assert re.search(r"validatorUrl\s*:\s*null", init), "Swagger UI must not call validator.swagger.io"


def test_redoc_page_loads_local_redoc_without_fonts_or_cdn():
    paths = asset_paths("/api/redoc")
    assert "/api/redoc/redoc.standalone.js" in paths
    inits = [p for p in paths if p.endswith(".js") and "redoc.standalone" not in p]
    init = "".join(get(p).text for p in inits)
    assert '"/openapi.json"' in init
    bundle = get("/api/redoc/redoc.standalone.js").text
    for outside in ["cdn.redoc.ly", "fonts.googleapis.com", "fonts.gstatic.com"]:
        assert outside not in bundle, outside
    # The sidebar logo that the bundle shows is served locally.
    assert get("/api/redoc/logo-mini.svg").status_code == 200


def test_swagger_ui_assets_are_served_under_api_docs():
    for name in ["swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css",
                 "favicon-16x16.png", "favicon-32x32.png"]:
        assert get("/api/docs/" + name).status_code == 200, name
