"""Reports: GET /api/v1/reports/top-assignees, /latency, /velocity.

Each test inserts issues with fixed durations and dates (relative to the
database's now(), so the windows are predictable) into its own project and
checks the report, filtered by that project, against numbers computed here
independently. Percentiles are computed as PostgreSQL's percentile_cont
does: linear interpolation at position p * (n - 1) of the sorted values.
Days and buckets are UTC dates.
"""
import datetime
import math
import uuid

import pytest
import requests

from conftest import assert_problem, psql, url

REPORTS = url("/api/v1/reports")
PROJECTS = url("/api/v1/projects")
TIMEOUT = 30


def make_project(owner):
    key = ("R" + uuid.uuid4().hex[:9]).upper()
    r = requests.post(PROJECTS, json={"key": key, "name": "Reports test"},
                      headers=owner["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


def insert(project_id, creator_id, status="open", priority="medium", assignee=None,
           created="now()", resolved="NULL", closed="NULL", deleted=False):
    """One issue with SQL expressions for its timestamps."""
    return psql(
        "WITH p AS (UPDATE projects SET next_number = next_number + 1 WHERE id = '%s'"
        " RETURNING next_number - 1 AS n)"
        " INSERT INTO issues (project_id, number, title, creator_id, status, priority,"
        " assignee_id, created_at, resolved_at, closed_at, is_deleted, deleted_at)"
        " SELECT '%s', p.n, 'Report issue', '%s', '%s', '%s', %s, %s, %s, %s, %s, %s FROM p"
        " RETURNING id"
        % (project_id, project_id, creator_id, status, priority,
           "'%s'" % assignee if assignee else "NULL", created, resolved, closed,
           "true" if deleted else "false", "now()" if deleted else "NULL"))


def report(user, name, **params):
    return requests.get(REPORTS + "/" + name, params=params, headers=user["headers"],
                        timeout=TIMEOUT)


def percentile_cont(values, p):
    v = sorted(values)
    pos = p * (len(v) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (pos - lo) * (v[hi] - v[lo])


def close(a, b):
    return a is not None and abs(a - b) <= 0.0051


@pytest.fixture()
def project(manager):
    return make_project(manager)


# ---- latency -----------------------------------------------------------------------

LATENCY = {"high": [1, 2, 3, 4, 10], "low": [5.5, 7.25], "critical": [100]}


def test_latency_matches_independent_percentiles(manager, project):
    pid, me = project["id"], manager["id"]
    for prio, hours in LATENCY.items():
        for h in hours:
            insert(pid, me, "resolved", prio,
                   created="now() - interval '2 days' - interval '%s hours'" % h,
                   resolved="now() - interval '2 days'")
    # not counted: resolved before the window, deleted, still open, closed unresolved
    insert(pid, me, "resolved", "high", created="now() - interval '41 days'",
           resolved="now() - interval '40 days'")
    insert(pid, me, "resolved", "high", created="now() - interval '3 days'",
           resolved="now() - interval '1 day'", deleted=True)
    insert(pid, me, "open", "low", created="now() - interval '3 days'")
    insert(pid, me, "closed", "low", created="now() - interval '3 days'",
           closed="now() - interval '1 day'")
    r = report(manager, "latency", days=30, project_id=pid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["days"] == 30 and body["project_id"] == pid
    everything = [h for hs in LATENCY.values() for h in hs]

    def check(doc, values):
        assert doc["count"] == len(values)
        assert close(doc["mean_hours"], sum(values) / len(values)), doc
        for p, key in ((0.5, "p50_hours"), (0.9, "p90_hours"), (0.99, "p99_hours")):
            assert close(doc[key], percentile_cont(values, p)), (key, doc)

    check(body["overall"], everything)
    assert list(body["by_priority"]) == ["low", "medium", "high", "critical"]
    for prio, hours in LATENCY.items():
        check(body["by_priority"][prio], hours)
    assert body["by_priority"]["medium"] == {"count": 0, "mean_hours": None, "p50_hours": None,
                                             "p90_hours": None, "p99_hours": None}
    # hours keep two decimals as JSON numbers
    for doc in [body["overall"]] + [body["by_priority"][p] for p in LATENCY]:
        for key in ("mean_hours", "p50_hours", "p90_hours", "p99_hours"):
            assert isinstance(doc[key], (int, float)) and round(doc[key], 2) == doc[key]


def test_latency_window_excludes_older_resolutions(manager, project):
    insert(project["id"], manager["id"], "resolved", "high",
           created="now() - interval '5 days'", resolved="now() - interval '2 days'")
    body = report(manager, "latency", days=1, project_id=project["id"]).json()
    assert body["overall"]["count"] == 0 and body["overall"]["mean_hours"] is None
    body = report(manager, "latency", days=3, project_id=project["id"]).json()
    assert body["overall"]["count"] == 1 and close(body["overall"]["p50_hours"], 72)


def test_latency_defaults_to_30_days(manager):
    r = report(manager, "latency")
    assert r.status_code == 200, r.text
    assert r.json()["days"] == 30 and r.json()["project_id"] is None


# ---- top assignees -----------------------------------------------------------------

def test_top_assignees_counts_resolved_and_open(make_user, manager, project):
    pid, me = project["id"], manager["id"]
    a, b, c = (make_user("developer") for _ in range(3))
    recent = "now() - interval '2 days'"
    for _ in range(3):
        insert(pid, me, "resolved", assignee=a["id"], created="now() - interval '5 days'",
               resolved=recent)
    insert(pid, me, "closed", assignee=a["id"], created="now() - interval '30 days'",
           resolved="now() - interval '20 days'", closed="now() - interval '19 days'")
    insert(pid, me, "open", assignee=a["id"])
    insert(pid, me, "in_progress", assignee=a["id"])
    for _ in range(2):
        insert(pid, me, "resolved", assignee=b["id"], created="now() - interval '5 days'",
               resolved=recent)
    insert(pid, me, "closed", assignee=b["id"], closed=recent)          # never resolved
    insert(pid, me, "resolved", assignee=b["id"], resolved=recent, deleted=True)
    for _ in range(5):
        insert(pid, me, "resolved", assignee=c["id"], created="now() - interval '200 days'",
               resolved="now() - interval '100 days'")
    insert(pid, me, "open", assignee=c["id"])
    insert(pid, me, "resolved", resolved=recent)                          # unassigned
    # another project: counted only without the filter
    other = make_project(manager)
    insert(other["id"], me, "open", assignee=a["id"])

    def rows(**params):
        r = report(manager, "top-assignees", project_id=pid, **params)
        assert r.status_code == 200, r.text
        return [(i["assignee_id"], i["username"], i["resolved"], i["open"])
                for i in r.json()["items"]]

    assert rows() == [(c["id"], c["username"], 5, 1), (a["id"], a["username"], 4, 2),
                      (b["id"], b["username"], 2, 0)]
    assert rows(limit=2) == rows()[:2]
    assert rows(days=10) == [(a["id"], a["username"], 3, 2), (b["id"], b["username"], 2, 0)]
    assert rows(days=1) == []
    everywhere = report(manager, "top-assignees", limit=100).json()["items"]
    mine = {i["assignee_id"]: i for i in everywhere}
    assert mine[a["id"]]["open"] == 3 and mine[a["id"]]["resolved"] == 4


def test_top_assignees_document(manager, project):
    r = report(manager, "top-assignees", project_id=project["id"])
    assert r.status_code == 200, r.text
    assert r.json() == {"days": None, "project_id": project["id"], "items": []}


# ---- velocity ----------------------------------------------------------------------

def db_today():
    return datetime.date.fromisoformat(psql("SELECT (now() AT TIME ZONE 'UTC')::date"))


def at_day(k):
    """00:00:01 UTC of the day k days before today (never in the future)."""
    return ("(((now() AT TIME ZONE 'UTC')::date - %d)::timestamp + interval '1 second')"
            " AT TIME ZONE 'UTC'" % k)


CREATED_AGO = [0, 1, 1, 3, 6, 9, 20]
RESOLVED_AGO = {3: 1, 6: 2, 20: 13}         # created k days ago -> resolved j days ago


@pytest.fixture()
def velocity_data(manager, project):
    for k in CREATED_AGO:
        if k in RESOLVED_AGO:
            insert(project["id"], manager["id"], "resolved", created=at_day(k),
                   resolved=at_day(RESOLVED_AGO[k]))
        else:
            insert(project["id"], manager["id"], created=at_day(k))
    insert(project["id"], manager["id"], created=at_day(1), deleted=True)
    return project


def expected_buckets(today, days, length):
    first = today - datetime.timedelta(days=days - 1)
    if length == 7:
        first -= datetime.timedelta(days=first.weekday())            # its Monday
    n = (today - first).days // length + 1
    buckets = [[first + datetime.timedelta(days=i * length), 0, 0] for i in range(n)]
    for k in CREATED_AGO:
        d = today - datetime.timedelta(days=k)
        if d >= first:
            buckets[(d - first).days // length][1] += 1
    for j in RESOLVED_AGO.values():
        d = today - datetime.timedelta(days=j)
        if d >= first:
            buckets[(d - first).days // length][2] += 1
    return first, [{"start": s.isoformat(), "created": c, "resolved": r} for s, c, r in buckets]


@pytest.mark.parametrize("days,bucket,length", [(7, "day", 1), (30, "day", 1),
                                                (14, "week", 7), (1, "day", 1),
                                                (60, "week", 7)])
def test_velocity_zero_filled_buckets(manager, velocity_data, days, bucket, length):
    today = db_today()
    r = report(manager, "velocity", days=days, bucket=bucket, project_id=velocity_data["id"])
    assert r.status_code == 200, r.text
    body = r.json()
    first, items = expected_buckets(today, days, length)
    assert body["bucket"] == bucket and body["days"] == days
    assert body["from"] == first.isoformat() and body["to"] == today.isoformat()
    assert body["items"] == items
    if bucket == "day":
        assert len(items) == days


def test_velocity_defaults_to_30_days_by_day(manager, velocity_data):
    body = report(manager, "velocity", project_id=velocity_data["id"]).json()
    assert body["days"] == 30 and body["bucket"] == "day" and len(body["items"]) == 30
    assert sum(i["created"] for i in body["items"]) == 7
    assert sum(i["resolved"] for i in body["items"]) == 3


def test_velocity_of_an_empty_project_is_all_zeros(manager, project):
    body = report(manager, "velocity", days=5, project_id=project["id"]).json()
    assert [(i["created"], i["resolved"]) for i in body["items"]] == [(0, 0)] * 5


# ---- permissions and parameters ----------------------------------------------------

NAMES = ["top-assignees", "latency", "velocity"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("role", ["reporter", "developer"])
def test_reports_are_for_managers_and_admins(make_user, name, role):
    assert_problem(report(make_user(role), name), 403)


@pytest.mark.parametrize("name", NAMES)
def test_admin_may_read_reports(admin, name):
    r = report(admin, name)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("name", NAMES)
def test_reports_need_authentication(name):
    assert_problem(requests.get(REPORTS + "/" + name, timeout=TIMEOUT), 401)


@pytest.mark.parametrize("name,params,field", [
    ("top-assignees", {"limit": 0}, "limit"),
    ("top-assignees", {"limit": 101}, "limit"),
    ("top-assignees", {"limit": "ten"}, "limit"),
    ("top-assignees", {"days": 0}, "days"),
    ("top-assignees", {"days": 3651}, "days"),
    ("top-assignees", {"project_id": "nope"}, "project_id"),
    ("top-assignees", {"bucket": "day"}, "bucket"),
    ("latency", {"days": 0}, "days"),
    ("latency", {"days": 3651}, "days"),
    ("latency", {"days": "1.5"}, "days"),
    ("latency", {"limit": 5}, "limit"),
    ("latency", {"project_id": "1"}, "project_id"),
    ("velocity", {"bucket": "month"}, "bucket"),
    ("velocity", {"days": -1}, "days"),
    ("velocity", {"days": 4000}, "days"),
    ("velocity", {"page": 1}, "page"),
    ("velocity", {"foo": "bar"}, "foo"),
])
def test_report_parameters_are_validated(manager, name, params, field):
    problem = assert_problem(report(manager, name, **params), 422)
    assert field in {e["field"] for e in problem["errors"]}, problem


@pytest.mark.parametrize("name,params", [
    ("top-assignees", {"limit": 1}), ("top-assignees", {"limit": 100, "days": 3650}),
    ("latency", {"days": 1}), ("latency", {"days": 3650}),
    ("velocity", {"days": 3650, "bucket": "week"}), ("velocity", {"days": 3650}),
])
def test_report_parameter_bounds_are_accepted(manager, name, params):
    assert report(manager, name, **params).status_code == 200


def test_reports_are_not_writable(manager):
    r = requests.post(REPORTS + "/latency", headers=manager["headers"], timeout=TIMEOUT)
    assert_problem(r, 405)
