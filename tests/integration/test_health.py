"""GET /health: the load balancer's view."""
from conftest import url


def test_health_ok(http):
    r = http.get(url("/health"))
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["version"]


def test_health_needs_no_credentials(http):
    r = http.get(url("/health"), headers={"Authorization": "Bearer garbage"})
    assert r.status_code == 200
