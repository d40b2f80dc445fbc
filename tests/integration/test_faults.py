"""The database goes away and comes back: 503 + Retry-After, never a 500,
never a crash, and recovery without restarting httpd."""
import threading
import time

from conftest import assert_problem, devenv, error_log, psql, url, wait_for

import requests


def health_status():
    try:
        return requests.get(url("/health"), timeout=5).status_code
    except requests.RequestException:
        return None


def test_postgres_stop_gives_503_then_recovers(http, reporter):
    assert http.get(url("/health")).status_code == 200
    devenv("pg-stop")
    try:
        r = http.get(url("/health"))
        body = assert_problem(r, 503, "database_unavailable")
        assert body["database"] == "unreachable"
        assert int(r.headers["Retry-After"]) >= 1
        # routes that need no database keep working
        assert_problem(http.get(url("/api/v1/nope"), headers=reporter["headers"]), 404)
        # a route that needs the caller's row answers 503, not 500
        r = http.get(url("/api/v1/users/me"), headers=reporter["headers"])
        assert_problem(r, 503, "database_unavailable")
        assert "Retry-After" in r.headers
    finally:
        devenv("pg-start")
    started = time.monotonic()
    assert wait_for(lambda: health_status() == 200, timeout=3), "no recovery within 3 s"
    assert time.monotonic() - started <= 3


def test_terminated_backends_recover_by_themselves(http):
    # warm the pool in both httpd children
    for _ in range(20):
        assert http.get(url("/health")).status_code == 200
    killed = psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                  "WHERE application_name = 'mod_issuetracker'",
                  dburl=__import__("os").environ["IT_ADMIN_DATABASE_URL"])
    assert int(killed) >= 1
    started = time.monotonic()
    assert wait_for(lambda: health_status() == 200, timeout=3)
    assert time.monotonic() - started <= 3
    # every pooled connection, not just the first one, is usable again
    statuses = [health_status() for _ in range(40)]
    assert statuses == [200] * 40, statuses


def test_restart_under_load_never_gives_500():
    seen = []
    stop = threading.Event()

    def hammer():
        with requests.Session() as s:
            while not stop.is_set():
                try:
                    r = s.get(url("/health"), timeout=5)
                    seen.append(r.status_code)
                    if r.status_code == 503:
                        assert "Retry-After" in r.headers
                except requests.RequestException:
                    seen.append(None)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        devenv("pg-stop")
        time.sleep(0.5)
        devenv("pg-start")
        assert wait_for(lambda: health_status() == 200, timeout=3)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert seen, "no requests were made"
    assert set(seen) <= {200, 503}, sorted(set(map(str, seen)))
    assert 503 in seen and 200 in seen
    log = error_log()
    assert "Segmentation fault" not in log and "exit signal" not in log
