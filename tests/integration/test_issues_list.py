"""GET /api/v1/issues: filters, sorts, page/size, keyset cursors, totals,
deleted issues and the validation of every query parameter.

Black-box HTTP against the real httpd + PostgreSQL. The issues are written
straight into the database (psql), so these tests do not depend on the
create endpoint; each test makes its own project, users and words, and
computes the expected result from the rows it wrote. The database is shared
by the whole suite: a filter tested alone is checked on every item it
returns (and that the test's own matching rows are all there), a combined
one (scoped by project_id) for exact equality.
"""
import base64
import datetime as dt
import random
import re
import threading
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from conftest import BASE_URL, assert_problem, make_user_now, psql, sql_literal, url

ISSUES = url("/api/v1/issues")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
ISSUE_FIELDS = {"id", "key", "number", "project_id", "title", "description", "status",
                "priority", "type", "creator_id", "assignee_id", "resolved_at",
                "closed_at", "created_at", "updated_at", "version", "labels"}
PRIORITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
TIMEOUT = 30


# ---- data written straight into the database ---------------------------------------

def make_project(owner):
    key = "L" + uuid.uuid4().hex[:8].upper()
    pid = psql("INSERT INTO projects (key, name, owner_id) VALUES (%s, %s, %s) RETURNING id"
               % (sql_literal(key), sql_literal("List " + key), sql_literal(owner["id"])))
    return {"id": pid, "key": key}


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def insert_issues(project, rows):
    """Inserts rows (dicts: title, creator_id and optional status, priority,
    type, assignee_id, description, created_at, updated_at (datetimes),
    deleted) into the project with numbers from next_number, as the create
    endpoint does; returns the rows completed with id, number and key, their
    timestamps as the API writes them (fixed width: strings sort in time
    order)."""
    cols = ("project_id", "number", "title", "description", "status", "priority", "type",
            "creator_id", "assignee_id", "created_at", "updated_at", "is_deleted",
            "deleted_at")
    first = int(psql("UPDATE projects SET next_number = next_number + %d WHERE id = %s "
                     "RETURNING next_number - %d" % (len(rows), sql_literal(project["id"]),
                                                     len(rows))))
    values = []
    for n, r in enumerate(rows):
        r.setdefault("status", "open")
        r.setdefault("priority", "medium")
        r.setdefault("type", "task")
        r.setdefault("assignee_id", None)
        r.setdefault("description", "")
        r.setdefault("deleted", False)
        r["number"] = first + n
        r["project_id"] = project["id"]
        r["key"] = "%s-%d" % (project["key"], r["number"])
        created = r.get("created_at")
        updated = r.get("updated_at") or created
        values.append("(" + ", ".join([
            sql_literal(project["id"]), str(r["number"]), sql_literal(r["title"]),
            sql_literal(r["description"]), sql_literal(r["status"]),
            sql_literal(r["priority"]), sql_literal(r["type"]), sql_literal(r["creator_id"]),
            sql_literal(r["assignee_id"]) + "::uuid",
            (sql_literal(iso(created)) + "::timestamptz") if created else "now()",
            (sql_literal(iso(updated)) + "::timestamptz") if updated else "now()",
            "true" if r["deleted"] else "false",
            "now()" if r["deleted"] else "NULL"]) + ")")
    out = psql("INSERT INTO issues (%s) VALUES %s RETURNING id, number, it_ts(created_at), "
               "it_ts(updated_at)" % (", ".join(cols), ", ".join(values)))
    by_number = {int(line.split("|")[1]): line.split("|") for line in out.splitlines()}
    for r in rows:
        r["id"], _, r["created_at"], r["updated_at"] = by_number[r["number"]]
    return rows


def random_base():
    """A per-test moment (some day 2000-2019 at 05:06:07.123456): tests that
    filter by time without a project cannot see each other's rows."""
    day = dt.datetime(2000, 1, 1) + dt.timedelta(days=random.randrange(7300))
    return day.replace(hour=5, minute=6, second=7, microsecond=123456)


def at(world, minutes):
    return iso(world["base"] + dt.timedelta(minutes=minutes))


def dataset(project, users, word, base):
    """Fourteen live issues and one deleted one, with every status, priority
    and type, three assignees (one: none), two creators, a created_at tie, a
    title tie and updated_at in another order than created_at."""
    a, b, c1, c2 = users
    spec = [
        # title,         status,        prio,       type,      assignee, creator, +created, +updated
        ("Apple crash",  "open",        "high",     "bug",     a,    c1, 0,  50),
        ("banana",       "in_progress", "low",      "feature", b,    c1, 1,  10),
        ("Cherry " + word, "open",      "critical", "task",    None, c2, 2,  40),
        ("apple pie",    "resolved",    "medium",   "bug",     a,    c2, 3,  3),
        ("Date",         "closed",      "medium",   "feature", None, c1, 4,  70),
        ("elder " + word, "open",       "low",      "bug",     b,    c2, 5,  5),
        ("Fig",          "in_progress", "critical", "task",    a,    c1, 6,  60),
        ("grape",        "open",        "medium",   "task",    None, c2, 6,  20),   # created tie
        ("Honeydew",     "resolved",    "high",     "feature", b,    c1, 8,  30),
        ("kiwi " + word, "closed",      "low",      "task",    a,    c2, 9,  90),
        ("Lemon",        "open",        "high",     "bug",     a,    c1, 10, 80),
        ("Lemon",        "open",        "medium",   "task",    b,    c2, 11, 11),   # title tie
        ("mango",        "in_progress", "medium",   "bug",     None, c1, 12, 12),
        ("Nectarine",    "open",        "critical", "feature", a,    c1, 13, 100),
    ]
    rows = []
    for title, status, prio, typ, assignee, creator, c, u in spec:
        rows.append({"title": title, "status": status, "priority": prio, "type": typ,
                     "assignee_id": assignee and assignee["id"], "creator_id": creator["id"],
                     "created_at": base + dt.timedelta(minutes=c),
                     "updated_at": base + dt.timedelta(minutes=u),
                     "description": "about " + title.lower()})
    rows.append({"title": "Zombie " + word, "status": "open", "priority": "high", "type": "bug",
                 "assignee_id": a["id"], "creator_id": c1["id"], "deleted": True,
                 "created_at": base + dt.timedelta(minutes=7),
                 "updated_at": base + dt.timedelta(minutes=7)})
    return insert_issues(project, rows)


def build_world():
    owner = make_user_now("manager")
    users = [make_user_now("developer"), make_user_now("developer"), make_user_now("reporter"),
             make_user_now("reporter")]
    project = make_project(owner)
    word = "w" + uuid.uuid4().hex[:10]
    base = random_base()
    rows = dataset(project, users, word, base)
    return {"project": project, "users": users, "word": word, "rows": rows, "base": base,
            "live": [r for r in rows if not r["deleted"]],
            "deleted": [r for r in rows if r["deleted"]], "owner": owner}


@pytest.fixture(scope="module")
def world():
    """A project with the dataset above, its users and the word in some of
    its titles; shared by the tests that only read it."""
    return build_world()


@pytest.fixture()
def fresh_world():
    """The same, for a test that adds issues to the project."""
    return build_world()


@pytest.fixture(scope="module")
def reporter():
    return make_user_now("reporter")


# ---- HTTP helpers ----------------------------------------------------------------------

def listing(user, path=ISSUES, **params):
    return requests.get(path, params=params, headers=user["headers"], timeout=TIMEOUT)


def ok(r):
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def walk(user, size=100, **params):
    """Every item of a list, following next_cursor; checks the envelope."""
    items, params = [], dict(params, size=size)
    for _ in range(1000):
        body = ok(listing(user, **params))
        items += body["items"]
        if not body["has_more"]:
            assert body["next_cursor"] is None
            return items
        params = dict(params, cursor=body["next_cursor"])
        params.pop("page", None)
    raise AssertionError("cursor walk did not end")


def ids(items):
    return [i["id"] for i in items]


def error_fields(body):
    return {(e["field"], e["code"]) for e in body.get("errors", [])}


def sort_key(field):
    if field == "priority":
        return lambda r: (PRIORITY_RANK[r["priority"]], r["id"])
    return lambda r: (r[field], r["id"])


def expect(rows, pred=lambda r: True, sort="created_at"):
    desc = sort.startswith("-")
    return [r["id"] for r in sorted((r for r in rows if pred(r)), key=sort_key(sort.lstrip("-")),
                                    reverse=desc)]


# ---- the document and the envelope ------------------------------------------------------

def test_list_items_are_issue_documents(world, reporter):
    body = ok(listing(reporter, project_id=world["project"]["id"]))
    assert set(body) == {"items", "page", "size", "has_more", "next_cursor"}
    assert body["page"] == 1 and body["size"] == 20 and body["has_more"] is False
    by_id = {r["id"]: r for r in world["live"]}
    assert len(body["items"]) == len(by_id)
    for item in body["items"]:
        assert set(item) == ISSUE_FIELDS, item
        row = by_id[item["id"]]
        assert item["key"] == row["key"] and item["number"] == row["number"]
        assert item["project_id"] == world["project"]["id"]
        for f in ("title", "description", "status", "priority", "type", "creator_id",
                  "assignee_id"):
            assert item[f] == row[f], f
        assert item["created_at"] == row["created_at"]
        assert item["updated_at"] == row["updated_at"]
        assert TS.match(item["created_at"]) and item["version"] == 1
        assert item["resolved_at"] is None and item["closed_at"] is None
    assert "Link" not in listing(reporter, project_id=world["project"]["id"]).headers


def test_every_role_may_list(world, make_user):
    for role in ("reporter", "developer", "manager", "admin"):
        user = make_user(role)
        assert len(ok(listing(user, project_id=world["project"]["id"]))["items"]) == 14


def test_list_without_credentials_is_401():
    r = requests.get(ISSUES, timeout=TIMEOUT)
    assert_problem(r, 401)


def test_deleted_issues_are_hidden(world, reporter):
    got = ids(walk(reporter, project_id=world["project"]["id"]))
    assert world["deleted"][0]["id"] not in got
    assert sorted(got) == sorted(r["id"] for r in world["live"])
    assert ok(listing(reporter, q=world["word"]))["items"]
    assert world["deleted"][0]["id"] not in ids(walk(reporter, q=world["word"]))


# ---- each filter alone -------------------------------------------------------------------

def check_alone(user, world, params, pred):
    """The filter alone over the whole (shared) table: every item returned
    satisfies pred; of the test's own rows exactly the live ones satisfying
    it are returned, in the default order."""
    got = walk(user, **params)
    assert len(ids(got)) == len(set(ids(got)))
    for item in got:
        assert pred(item), (params, item)
    mine = {r["id"] for r in world["rows"]}
    want = expect(world["live"], pred)
    assert [i for i in ids(got) if i in mine] == want
    assert want, "the dataset must exercise the filter"
    return got


@pytest.mark.parametrize("value, wanted", [
    ("open", {"open"}),
    ("closed", {"closed"}),
    ("open,in_progress", {"open", "in_progress"}),
    ("resolved,closed,resolved", {"resolved", "closed"}),
    ("open,in_progress,resolved,closed", {"open", "in_progress", "resolved", "closed"}),
])
def test_filter_status_alone(world, reporter, value, wanted):
    check_alone(reporter, world, {"status": value}, lambda r: r["status"] in wanted)


@pytest.mark.parametrize("value, wanted", [
    ("critical", {"critical"}),
    ("low,high", {"low", "high"}),
])
def test_filter_priority_alone(world, reporter, value, wanted):
    check_alone(reporter, world, {"priority": value}, lambda r: r["priority"] in wanted)


@pytest.mark.parametrize("value, wanted", [("bug", {"bug"}), ("feature,task", {"feature", "task"})])
def test_filter_type_alone(world, reporter, value, wanted):
    check_alone(reporter, world, {"type": value}, lambda r: r["type"] in wanted)


def test_filter_assignee_alone(world, reporter):
    a = world["users"][0]["id"]
    got = ok(listing(reporter, assignee_id=a))["items"]
    assert ids(got) == expect(world["live"], lambda r: r["assignee_id"] == a)


def test_filter_assignee_accepts_uppercase_uuid(world, reporter):
    a = world["users"][0]["id"]
    got = ok(listing(reporter, assignee_id=a.upper()))["items"]
    assert ids(got) == expect(world["live"], lambda r: r["assignee_id"] == a)


def test_filter_assignee_none_alone(world, reporter):
    check_alone(reporter, world, {"assignee_id": "none"}, lambda r: r["assignee_id"] is None)


def test_filter_creator_alone(world, reporter):
    c = world["users"][3]["id"]
    got = ok(listing(reporter, creator_id=c))["items"]
    assert ids(got) == expect(world["live"], lambda r: r["creator_id"] == c)


def test_filter_project_alone(world, reporter):
    got = ok(listing(reporter, project_id=world["project"]["id"]))["items"]
    assert ids(got) == expect(world["live"])


def test_filter_unknown_ids_match_nothing(reporter):
    for name in ("assignee_id", "creator_id", "project_id"):
        body = ok(listing(reporter, **{name: str(uuid.uuid4())}))
        assert body["items"] == [] and body["has_more"] is False


def test_filter_q_alone(world, reporter):
    got = ok(listing(reporter, q=world["word"]))["items"]
    assert ids(got) == expect(world["live"], lambda r: world["word"] in r["title"])
    assert len(got) == 3


def test_filter_q_matches_description_and_is_case_insensitive(world, reporter):
    got = ok(listing(reporter, q="ABOUT " + world["word"].upper()))["items"]
    assert ids(got) == expect(world["live"], lambda r: world["word"] in r["title"])


def test_filter_q_websearch_syntax(world, reporter):
    w, pid = world["word"], world["project"]["id"]
    # -word excludes, a quoted phrase must be adjacent, "or" is an alternative
    got = ok(listing(reporter, q=w + " -kiwi", project_id=pid))["items"]
    assert {i["title"] for i in got} == {"Cherry " + w, "elder " + w}
    got = ok(listing(reporter, q='"cherry %s"' % w))["items"]
    assert [i["title"] for i in got] == ["Cherry " + w]
    assert ok(listing(reporter, q='"%s cherry"' % w))["items"] == []
    got = ok(listing(reporter, q="apple or banana", project_id=pid))["items"]
    assert {i["title"] for i in got} == {"Apple crash", "apple pie", "banana"}


def test_filter_q_is_text_not_sql(world, reporter):
    for q in ("'; DROP TABLE issues; --", "a & b | !c", "\\", "(", "<->", ":*", "%_"):
        assert ok(listing(reporter, q=q, project_id=world["project"]["id"]))["items"] == []
    assert int(psql("SELECT count(*) FROM issues WHERE project_id = %s"
                    % sql_literal(world["project"]["id"]))) == 15


@pytest.mark.parametrize("q", ["!!!", "-", '""', "&|", "- -"])
def test_filter_q_without_words_matches_nothing(world, reporter, q):
    body = ok(listing(reporter, q=q, include_total="true"))
    assert body["items"] == [] and body["total"] == 0 and body["has_more"] is False


@pytest.mark.parametrize("q", ["", " ", "+", "%20%09"])
def test_empty_q_filters_nothing(world, reporter, q):
    r = requests.get(ISSUES + "?q=%s&project_id=%s" % (q, world["project"]["id"]),
                     headers=reporter["headers"], timeout=TIMEOUT)
    assert len(ok(r)["items"]) == 14


def test_filter_q_unicode(fresh_world, reporter):
    world = fresh_world
    word = "caf\u00e9" + uuid.uuid4().hex[:6]
    insert_issues(world["project"], [{"title": "Mot " + word, "creator_id": world["users"][2]["id"]}])
    got = ok(listing(reporter, q=word.upper()))["items"]
    assert [i["title"] for i in got] == ["Mot " + word]


def test_filter_q_at_200_characters_is_fine(world, reporter):
    q = (world["word"] + " ") * (200 // (len(world["word"]) + 1))
    q = q + "x" * (200 - len(q))
    assert len(q) == 200
    assert ok(listing(reporter, q=q))["items"] == []
    assert ok(listing(reporter, q="\u00e9" * 200))["items"] == []   # characters, not bytes


def test_filter_created_window(world, reporter):
    after, before = at(world, 4), at(world, 9)
    got = ok(listing(reporter, created_after=after, created_before=before))["items"]
    # inclusive bounds (on or after, on or before), as GitLab's
    assert ids(got) == expect(world["live"], lambda r: after <= r["created_at"] <= before)
    assert len(got) == 6


def test_filter_created_after_alone(world, reporter):
    after = at(world, 12)
    check_alone(reporter, world, {"created_after": after}, lambda r: r["created_at"] >= after)


def test_filter_created_before_alone(world, reporter):
    before = at(world, 1)
    check_alone(reporter, world, {"created_before": before}, lambda r: r["created_at"] <= before)


def test_filter_updated_after_alone(world, reporter):
    after = at(world, 60)
    check_alone(reporter, world, {"updated_after": after}, lambda r: r["updated_at"] >= after)


@pytest.mark.parametrize("hours, suffix", [
    (0, "+00:00"), (2, "+02:00"), (-5, "-05:00"), (0, "z"), (5, "+05:30"),
])
def test_filter_timestamps_with_offsets(world, reporter, hours, suffix):
    minutes = 4 + (30 if suffix == "+05:30" else 0)
    local = world["base"] + dt.timedelta(minutes=minutes, hours=hours)
    value = local.strftime("%Y-%m-%dt%H:%M:%S.%f" if suffix == "z" else "%Y-%m-%dT%H:%M:%S.%f") + suffix
    got = ok(listing(reporter, project_id=world["project"]["id"], created_after=value))["items"]
    assert ids(got) == expect(world["live"], lambda r: r["created_at"] >= at(world, 4))


def test_filter_timestamps_without_fraction(world, reporter):
    value = (world["base"] + dt.timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    got = ok(listing(reporter, project_id=world["project"]["id"], created_before=value))["items"]
    assert ids(got) == expect(world["live"], lambda r: r["created_at"] < at(world, 4))


def test_filter_date_means_midnight_utc(world, reporter):
    day = world["base"].strftime("%Y-%m-%d")
    pid = world["project"]["id"]
    assert ok(listing(reporter, project_id=pid, created_before=day))["items"] == []
    assert len(ok(listing(reporter, project_id=pid, created_after=day))["items"]) == 14


def test_filter_label_by_name_and_id(world, reporter):
    name = "Lbl-" + uuid.uuid4().hex[:8]
    label = psql("INSERT INTO labels (name) VALUES (%s) RETURNING id" % sql_literal(name))
    other = psql("INSERT INTO labels (name) VALUES (%s) RETURNING id"
                 % sql_literal("other-" + uuid.uuid4().hex[:8]))
    tagged = [world["live"][1], world["live"][4], world["live"][9], world["deleted"][0]]
    psql("INSERT INTO issue_labels (issue_id, label_id) VALUES "
         + ", ".join("(%s, %s)" % (sql_literal(r["id"]), sql_literal(label)) for r in tagged)
         + ", (%s, %s)" % (sql_literal(world["live"][2]["id"]), sql_literal(other)))
    live = [r for r in tagged if not r["deleted"]]
    assert ids(ok(listing(reporter, label=name))["items"]) == expect(live)
    assert ids(ok(listing(reporter, label=name.upper()))["items"]) == expect(live)
    assert ids(ok(listing(reporter, label=label))["items"]) == expect(live)
    assert ids(ok(listing(reporter, label=label.upper()))["items"]) == expect(live)
    assert ids(walk(reporter, size=1, label=name, sort="-title")) == expect(live, sort="-title")
    assert ids(ok(listing(reporter, label=name, status="closed"))["items"]) == \
        expect(live, lambda r: r["status"] == "closed")
    assert ids(ok(listing(reporter, label=name, assignee_id=world["users"][0]["id"]))["items"]) \
        == expect(live, lambda r: r["assignee_id"] == world["users"][0]["id"])
    assert ok(listing(reporter, label=name, include_total="true"))["total"] == 3
    # a deleted label matches nothing; an unknown one neither
    psql("UPDATE labels SET is_deleted = true, deleted_at = now() WHERE id = %s"
         % sql_literal(label))
    assert ok(listing(reporter, label=name))["items"] == []
    assert ok(listing(reporter, label="no-such-" + uuid.uuid4().hex[:8]))["items"] == []


# ---- combined filters (exact, scoped by project_id) --------------------------------------

def combos(world):
    a, b, c1, c2 = world["users"]
    w = world["word"]
    t6, t30 = at(world, 6), at(world, 30)
    return [
        ({"status": "open", "assignee_id": a["id"]},
         lambda r: r["status"] == "open" and r["assignee_id"] == a["id"]),
        ({"status": "open,in_progress", "priority": "critical,high"},
         lambda r: r["status"] in ("open", "in_progress") and r["priority"] in ("critical", "high")),
        ({"assignee_id": "none", "type": "task"},
         lambda r: r["assignee_id"] is None and r["type"] == "task"),
        ({"creator_id": c1["id"], "type": "bug,feature", "status": "open,resolved,closed"},
         lambda r: r["creator_id"] == c1["id"] and r["type"] in ("bug", "feature")
         and r["status"] in ("open", "resolved", "closed")),
        ({"q": w, "status": "open"}, lambda r: w in r["title"] and r["status"] == "open"),
        ({"q": w, "assignee_id": a["id"]}, lambda r: w in r["title"] and r["assignee_id"] == a["id"]),
        ({"created_after": t6, "assignee_id": b["id"]},
         lambda r: r["created_at"] >= t6 and r["assignee_id"] == b["id"]),
        ({"updated_after": t30, "priority": "medium,low"},
         lambda r: r["updated_at"] >= t30 and r["priority"] in ("medium", "low")),
        ({"created_before": t6, "creator_id": c2["id"], "status": "open"},
         lambda r: r["created_at"] <= t6 and r["creator_id"] == c2["id"] and r["status"] == "open"),
        ({"assignee_id": a["id"], "creator_id": c1["id"], "priority": "high"},
         lambda r: r["assignee_id"] == a["id"] and r["creator_id"] == c1["id"]
         and r["priority"] == "high"),
        ({"status": "closed", "priority": "critical"}, lambda r: False),
    ]


@pytest.mark.parametrize("sort", ["created_at", "-updated_at", "priority", "-number", "title"])
@pytest.mark.parametrize("combo", range(11))
def test_combined_filters(world, reporter, combo, sort):
    params, pred = combos(world)[combo]
    got = ok(listing(reporter, project_id=world["project"]["id"], sort=sort, **params))["items"]
    assert ids(got) == expect(world["live"], pred, sort)


# ---- sorts ------------------------------------------------------------------------------

SORTS = ["created_at", "updated_at", "priority", "number", "title"]


@pytest.mark.parametrize("desc", [False, True])
@pytest.mark.parametrize("field", SORTS)
def test_sort(world, reporter, field, desc):
    sort = ("-" if desc else "") + field
    got = ok(listing(reporter, project_id=world["project"]["id"], sort=sort))["items"]
    assert ids(got) == expect(world["live"], sort=sort)
    assert len(got) == 14


@pytest.mark.parametrize("field", SORTS)
def test_sort_with_plus_prefix_is_ascending(world, reporter, field):
    got = ok(listing(reporter, project_id=world["project"]["id"], sort="+" + field))["items"]
    assert ids(got) == expect(world["live"], sort=field)


def test_default_sort_is_created_at_then_id(world, reporter):
    got = ok(listing(reporter, project_id=world["project"]["id"]))["items"]
    assert ids(got) == expect(world["live"])
    tie = [i for i in got if i["created_at"] == at(world, 6)]
    assert len(tie) == 2 and tie[0]["id"] < tie[1]["id"]


SELECTIVE = {
    "assignee": lambda w: ({"assignee_id": w["users"][0]["id"]},
                           lambda r: r["assignee_id"] == w["users"][0]["id"]),
    "creator": lambda w: ({"creator_id": w["users"][3]["id"]},
                          lambda r: r["creator_id"] == w["users"][3]["id"]),
    "q": lambda w: ({"q": w["word"]}, lambda r: w["word"] in r["title"]),
    "q+project": lambda w: ({"q": w["word"], "project_id": w["project"]["id"]},
                            lambda r: w["word"] in r["title"]),
    "assignee+status": lambda w: ({"assignee_id": w["users"][1]["id"], "status": "open"},
                                  lambda r: r["assignee_id"] == w["users"][1]["id"]
                                  and r["status"] == "open"),
    "none+project": lambda w: ({"assignee_id": "none", "project_id": w["project"]["id"]},
                               lambda r: r["assignee_id"] is None),
}


@pytest.mark.parametrize("name", sorted(SELECTIVE))
@pytest.mark.parametrize("sort", SORTS)
def test_sorts_and_cursors_under_selective_filters(world, reporter, name, sort):
    """The filters whose rows are collected before sorting (the fence in
    it_res_issues_list.c) sort and page like the others."""
    params, pred = SELECTIVE[name](world)
    for s in (sort, "-" + sort):
        got = walk(reporter, size=2, sort=s, **params)
        assert ids(got) == expect(world["live"], pred, s)


# ---- page / size ------------------------------------------------------------------------

def test_page_and_size(world, reporter):
    want = expect(world["live"])
    seen = []
    for page in range(1, 6):
        r = listing(reporter, project_id=world["project"]["id"], size=3, page=page)
        body = ok(r)
        assert body["page"] == page and body["size"] == 3
        assert body["has_more"] is (page < 5)
        assert len(body["items"]) == (3 if page < 5 else 2)
        if page < 5:
            assert body["next_cursor"] and 'rel="next"' in r.headers["Link"]
        else:
            assert body["next_cursor"] is None and "Link" not in r.headers
        seen += ids(body["items"])
    assert seen == want


def test_page_beyond_the_end_is_empty(world, reporter):
    body = ok(listing(reporter, project_id=world["project"]["id"], size=10, page=3))
    assert body["items"] == [] and body["has_more"] is False and body["page"] == 3


def test_size_max_is_fine(reporter):
    assert ok(listing(reporter, size=100))["size"] == 100


def test_default_size_is_20(fresh_world, reporter):
    world = fresh_world
    insert_issues(world["project"], [{"title": "more %d" % i, "creator_id": world["users"][2]["id"]}
                                     for i in range(10)])
    body = ok(listing(reporter, project_id=world["project"]["id"]))
    assert body["size"] == 20 and len(body["items"]) == 20 and body["has_more"] is True


# ---- cursors ----------------------------------------------------------------------------

@pytest.mark.parametrize("sort", ["created_at", "-created_at", "updated_at", "-updated_at",
                                  "priority", "-priority", "number", "-number", "title", "-title"])
def test_cursor_walk_sees_every_issue_exactly_once(world, reporter, sort):
    seen, pages = [], 0
    params = {"project_id": world["project"]["id"], "size": 3, "sort": sort}
    while True:
        body = ok(listing(reporter, **params))
        pages += 1
        assert body["page"] == 1
        seen += ids(body["items"])
        if not body["has_more"]:
            break
        params = {"project_id": world["project"]["id"], "size": 3, "cursor": body["next_cursor"]}
    assert pages == 5
    assert seen == expect(world["live"], sort=sort)


def test_cursor_walk_over_everything(world, reporter):
    """The whole table (every test's issues), unfiltered: once each, in order."""
    everything = walk(reporter, size=37)
    assert len(ids(everything)) == len(set(ids(everything)))
    keys = [(i["created_at"], i["id"]) for i in everything]
    assert keys == sorted(keys)
    live = int(psql("SELECT count(*) FROM issues WHERE NOT is_deleted"))
    assert len(everything) == live
    assert {r["id"] for r in world["live"]} <= set(ids(everything))


def insert_now(project, creator_id, title, created_at=None):
    """One issue, numbered like the create endpoint does (row lock on the
    project), committed on its own."""
    created = ("%s::timestamptz" % sql_literal(iso(created_at))) if created_at else "clock_timestamp()"
    return psql(
        "WITH n AS (UPDATE projects SET next_number = next_number + 1 WHERE id = %s "
        "RETURNING next_number - 1 AS number) "
        "INSERT INTO issues (project_id, number, title, creator_id, created_at, updated_at) "
        "SELECT %s, n.number, %s, %s, %s, %s FROM n RETURNING id"
        % (sql_literal(project["id"]), sql_literal(project["id"]), sql_literal(title),
           sql_literal(creator_id), created, created))


@pytest.mark.parametrize("sort", ["created_at", "-created_at", "-updated_at", "title", "-priority"])
def test_cursor_walk_while_others_insert(fresh_world, reporter, sort):
    """Every issue that existed before the walk is seen exactly once, while
    other clients keep inserting into the same project, between every two
    pages (new issues at the end of created order, and back-dated ones in
    the middle of it)."""
    world = fresh_world
    creator = world["users"][2]["id"]
    before = {r["id"] for r in world["live"]}
    stop = threading.Event()
    inserted, errors = [], []

    def writer(seed):
        rnd = random.Random(seed)
        while not stop.is_set():
            try:
                back = world["base"] + dt.timedelta(minutes=rnd.randint(0, 14),
                                                    microseconds=rnd.randint(1, 999))
                inserted.append(insert_now(world["project"], creator,
                                           "W%d %s" % (seed, rnd.random()),
                                           back if rnd.random() < 0.5 else None))
            except Exception as e:  # reported below
                errors.append(e)
                return

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    pages = 0
    try:
        seen, params = [], {"project_id": world["project"]["id"], "size": 2, "sort": sort}
        for _ in range(500):
            mark = len(inserted)
            body = ok(listing(reporter, **params))
            pages += 1
            seen += ids(body["items"])
            if not body["has_more"] or before <= set(seen):
                break
            params = {"project_id": world["project"]["id"], "size": 2,
                      "cursor": body["next_cursor"]}
            # let the others write before the next page
            for _ in range(200):
                if len(inserted) > mark or errors:
                    break
                time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert len(inserted) >= pages - 1, "the writers must write between the pages"
    assert len(seen) == len(set(seen)), "an issue was seen twice"
    assert before <= set(seen), "a pre-existing issue was skipped"


def test_offset_pages_are_not_stable_but_cursors_are(fresh_world, reporter):
    """Why cursors exist: an insert at the front shifts page 2 of an OFFSET
    walk (an item is seen twice); the cursor walk is not affected."""
    world = fresh_world
    pid = world["project"]["id"]
    first = ok(listing(reporter, project_id=pid, size=3, sort="-created_at"))
    insert_now(world["project"], world["users"][2]["id"], "newest")
    by_page = ok(listing(reporter, project_id=pid, size=3, page=2, sort="-created_at"))
    by_cursor = ok(listing(reporter, project_id=pid, size=3, cursor=first["next_cursor"]))
    assert ids(by_page["items"])[0] == ids(first["items"])[-1]
    assert ids(by_cursor["items"]) == expect(world["live"], sort="-created_at")[3:6]


@pytest.mark.parametrize("cursor", ["garbage", "AAAA", "Yzg=", "!!!", "a" * 3000, "-_-_"])
def test_bad_cursor_is_400(reporter, cursor):
    assert_problem(listing(reporter, cursor=cursor), 400, "invalid_cursor")


def test_tampered_cursor_is_400(world, reporter):
    cursor = ok(listing(reporter, project_id=world["project"]["id"], size=1))["next_cursor"]
    # (not the last character: some of its bits may be padding)
    for pos in (3, len(cursor) // 2, len(cursor) - 3):
        flipped = cursor[:pos] + ("B" if cursor[pos] != "B" else "C") + cursor[pos + 1:]
        assert_problem(listing(reporter, cursor=flipped), 400, "invalid_cursor")


def forge(sort, desc, id_, key):
    """A cursor with a valid checksum, as it_page.c makes them (FNV-1a 40
    bits): the checksum catches accidents, not forgers."""
    plain = "c1\n%s\n%s\n%s\n%s" % (sort, "d" if desc else "a", id_, key)
    h = 1469598103934665603
    for c in plain.encode():
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    raw = "%s\n%010x" % (plain, h & 0xFFFFFFFFFF)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def test_forge_matches_the_servers_cursors(world, reporter):
    body = ok(listing(reporter, project_id=world["project"]["id"], size=1))
    first = body["items"][0]
    key = psql("SELECT created_at::text FROM issues WHERE id = %s" % sql_literal(first["id"]))
    assert forge("created_at", False, first["id"], key) == body["next_cursor"]


@pytest.mark.parametrize("sort, key", [
    ("created_at", "yesterday"), ("created_at", "2021-02-30 00:00:00+00"),
    ("created_at", "2021-01-01 25:00:00+00"), ("updated_at", "1e9"),
    ("priority", "high"), ("priority", "99999999999999999999"), ("number", "1.5"),
    ("number", "-"), ("created_at", "2021-01-01 00:00:00+16"),
])
def test_forged_cursor_with_a_bad_key_is_400_not_a_database_error(reporter, sort, key):
    r = listing(reporter, cursor=forge(sort, False, str(uuid.uuid4()), key))
    assert_problem(r, 400, "invalid_cursor")


def test_forged_cursor_with_a_valid_key_only_moves_the_position(world, reporter):
    key = (world["base"] + dt.timedelta(minutes=6)).strftime("%Y-%m-%d %H:%M:%S.%f+00")
    got = ok(listing(reporter, project_id=world["project"]["id"],
                     cursor=forge("created_at", False, "00000000-0000-0000-0000-000000000000", key)))
    assert ids(got["items"]) == expect(world["live"], lambda r: r["created_at"] >= at(world, 6))
    got = ok(listing(reporter, project_id=world["project"]["id"],
                     cursor=forge("title", True, str(uuid.uuid4()), "Lemon' OR 1=1 --")))
    assert ids(got["items"]) == expect(world["live"], lambda r: r["title"] <= "Lemon", "-title")


def test_cursor_of_another_sort_is_400(world, reporter):
    cursor = ok(listing(reporter, project_id=world["project"]["id"], size=1,
                        sort="title"))["next_cursor"]
    assert_problem(listing(reporter, cursor=cursor, sort="number"), 400, "invalid_cursor")
    assert_problem(listing(reporter, cursor=cursor, sort="-title"), 400, "invalid_cursor")
    # the same sort named again is fine
    assert ok(listing(reporter, project_id=world["project"]["id"], cursor=cursor, sort="title"))


def test_cursor_of_another_resource_is_400(world, reporter, manager):
    psql("INSERT INTO projects (key, name, owner_id) VALUES (%s, 'a', %s), (%s, 'b', %s)"
         % (sql_literal("C" + uuid.uuid4().hex[:8].upper()), sql_literal(manager["id"]),
            sql_literal("C" + uuid.uuid4().hex[:8].upper()), sql_literal(manager["id"])))
    cursor = requests.get(url("/api/v1/projects"), params={"owner_id": manager["id"], "size": 1,
                                                           "sort": "key"},
                          headers=reporter["headers"]).json()["next_cursor"]
    assert_problem(listing(reporter, cursor=cursor), 400, "invalid_cursor")


def test_cursor_replaces_page(world, reporter):
    cursor = ok(listing(reporter, project_id=world["project"]["id"], size=3))["next_cursor"]
    body = ok(listing(reporter, project_id=world["project"]["id"], size=3, page=4, cursor=cursor))
    assert body["page"] == 1
    assert ids(body["items"]) == expect(world["live"])[3:6]


# ---- Link -------------------------------------------------------------------------------

def test_link_header_walk_keeps_filters(world, reporter):
    seen = []
    next_url = ISSUES + "?project_id=%s&status=open,in_progress&size=2&sort=-priority" \
        % world["project"]["id"]
    while next_url:
        r = requests.get(next_url, headers=reporter["headers"], timeout=TIMEOUT)
        seen += ids(ok(r)["items"])
        link = r.headers.get("Link")
        next_url = None
        if link:
            m = re.match(r'^<([^>]+)>; rel="next"$', link)
            assert m, link
            next_url = BASE_URL + m.group(1)
            q = parse_qs(urlsplit(next_url).query)
            assert q["project_id"] == [world["project"]["id"]]
            assert q["status"] == ["open,in_progress"] and q["size"] == ["2"]
            assert "page" not in q and len(q["cursor"]) == 1
    assert seen == expect(world["live"], lambda r: r["status"] in ("open", "in_progress"),
                          "-priority")


# ---- include_total / include_deleted --------------------------------------------------------

def test_include_total(world, reporter):
    body = ok(listing(reporter, project_id=world["project"]["id"], size=4, include_total="true"))
    assert body["total"] == 14 and body["pages"] == 4
    body = ok(listing(reporter, project_id=world["project"]["id"], status="open",
                      include_total="true"))
    assert body["total"] == 7 and body["pages"] == 1
    body = ok(listing(reporter, project_id=world["project"]["id"], q=world["word"],
                      include_total="1"))
    assert body["total"] == 3
    body = ok(listing(reporter, project_id=world["project"]["id"], include_total="false"))
    assert "total" not in body and "pages" not in body


def test_include_total_with_a_cursor_counts_the_whole_filter(world, reporter):
    cursor = ok(listing(reporter, project_id=world["project"]["id"], size=4))["next_cursor"]
    body = ok(listing(reporter, project_id=world["project"]["id"], size=4, cursor=cursor,
                      include_total="true"))
    assert body["total"] == 14


def test_include_deleted_admin_sees_deleted(world, admin):
    got = walk(admin, project_id=world["project"]["id"], include_deleted="true")
    assert ids(got) == expect(world["rows"])
    for item in got:
        if item["id"] == world["deleted"][0]["id"]:
            # a deleted issue says so, as GET /issues/{ref} shows it to admins
            assert set(item) == ISSUE_FIELDS | {"is_deleted", "deleted_at"}
            assert item["is_deleted"] is True and TS.match(item["deleted_at"])
        else:
            assert set(item) == ISSUE_FIELDS
    body = ok(listing(admin, project_id=world["project"]["id"], include_deleted="true",
                      include_total="true"))
    assert body["total"] == 15
    assert ok(listing(admin, project_id=world["project"]["id"], include_deleted="false",
                      include_total="true"))["total"] == 14
    got = ok(listing(admin, q=world["word"], include_deleted="true"))["items"]
    assert world["deleted"][0]["id"] in ids(got)


@pytest.mark.parametrize("role", ["reporter", "developer", "manager"])
def test_include_deleted_is_403_for_non_admins(world, make_user, role):
    user = make_user(role)
    assert_problem(listing(user, include_deleted="true"), 403, "forbidden")
    assert ok(listing(user, include_deleted="false", project_id=world["project"]["id"]))


# ---- validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("params, field, code", [
    ({"status": "bogus"}, "status", "enum"),
    ({"status": "open,bogus"}, "status", "enum"),
    ({"status": "Open"}, "status", "enum"),
    ({"status": ""}, "status", "enum"),
    ({"status": "open,"}, "status", "enum"),
    ({"status": ",open"}, "status", "enum"),
    ({"status": "open, closed"}, "status", "enum"),
    ({"priority": "urgent"}, "priority", "enum"),
    ({"priority": "high,,low"}, "priority", "enum"),
    ({"type": "epic"}, "type", "enum"),
    ({"assignee_id": "nope"}, "assignee_id", "format"),
    ({"assignee_id": "None"}, "assignee_id", "format"),
    ({"assignee_id": ""}, "assignee_id", "format"),
    ({"creator_id": "123"}, "creator_id", "format"),
    ({"creator_id": "none"}, "creator_id", "format"),
    ({"project_id": "P-1"}, "project_id", "format"),
    ({"q": "x" * 201}, "q", "too_long"),
    ({"label": ""}, "label", "format"),
    ({"label": "l" * 51}, "label", "format"),
    ({"created_after": "yesterday"}, "created_after", "format"),
    ({"created_after": "2021-02-30"}, "created_after", "range"),
    ({"created_after": "0000-01-01"}, "created_after", "range"),
    ({"created_before": "2021-13-01T00:00:00Z"}, "created_before", "range"),
    ({"created_before": "2021-01-01T00:00:00"}, "created_before", "format"),
    ({"updated_after": "2021-01-01T24:00:00Z"}, "updated_after", "range"),
    ({"updated_after": "2021-01-01T10:00:00+16:00"}, "updated_after", "range"),
    ({"updated_after": "2021-01-01T10:00:00.1234567Z"}, "updated_after", "format"),
    ({"sort": "bogus"}, "sort", "enum"),
    ({"sort": "-description"}, "sort", "enum"),
    ({"sort": "id"}, "sort", "enum"),
    ({"sort": "priority_rank"}, "sort", "enum"),
    ({"size": "0"}, "size", "range"),
    ({"size": "101"}, "size", "range"),
    ({"size": "ten"}, "size", "type"),
    ({"page": "0"}, "page", "range"),
    ({"page": "-1"}, "page", "range"),
    ({"page": "1.5"}, "page", "type"),
    ({"include_total": "maybe"}, "include_total", "type"),
    ({"include_deleted": "2"}, "include_deleted", "type"),
    ({"foo": "1"}, "foo", "unknown_parameter"),
    ({"owner_id": str(uuid.uuid4())}, "owner_id", "unknown_parameter"),
    ({"Status": "open"}, "Status", "unknown_parameter"),
])
def test_invalid_parameter_is_422_naming_it(reporter, params, field, code):
    body = assert_problem(listing(reporter, **params), 422, "validation_failed")
    assert error_fields(body) == {(field, code)}, body


def test_every_bad_parameter_is_named_at_once(reporter):
    r = requests.get(ISSUES + "?status=x&priority=y&type=z&assignee_id=1&creator_id=2"
                     "&project_id=3&created_after=4&size=0&page=0&bar=1",
                     headers=reporter["headers"], timeout=TIMEOUT)
    body = assert_problem(r, 422, "validation_failed")
    assert {f for f, _ in error_fields(body)} == {
        "status", "priority", "type", "assignee_id", "creator_id", "project_id",
        "created_after", "size", "page", "bar"}


def test_repeated_parameter_is_422(reporter):
    r = requests.get(ISSUES + "?status=open&status=closed", headers=reporter["headers"],
                     timeout=TIMEOUT)
    assert ("status", "duplicate") in error_fields(assert_problem(r, 422))


def test_validation_comes_before_the_include_deleted_check(reporter):
    body = assert_problem(listing(reporter, include_deleted="true", status="nope"), 422)
    assert error_fields(body) == {("status", "enum")}


# ---- the reference call, trailing slash ------------------------------------------------------

def test_reference_call_with_trailing_slash(world, reporter):
    a = world["users"][0]["id"]
    r = requests.get(ISSUES + "/?status=open&assignee_id=%s&page=1&size=20" % a,
                     headers=reporter["headers"], timeout=TIMEOUT)
    body = ok(r)
    assert body["page"] == 1 and body["size"] == 20
    assert ids(body["items"]) == expect(world["live"],
                                        lambda r: r["status"] == "open" and r["assignee_id"] == a)


def test_trailing_slash_and_link(world, reporter):
    r = requests.get(ISSUES + "/", params={"project_id": world["project"]["id"], "size": 5},
                     headers=reporter["headers"], timeout=TIMEOUT)
    body = ok(r)
    assert len(body["items"]) == 5
    assert r.headers["Link"].startswith("</api/v1/issues/?cursor=")
    nxt = BASE_URL + re.match(r"<([^>]+)>", r.headers["Link"]).group(1)
    assert ids(ok(requests.get(nxt, headers=reporter["headers"]))["items"]) == \
        expect(world["live"])[5:10]


def test_head_has_no_body(world, reporter):
    r = requests.head(ISSUES, params={"project_id": world["project"]["id"]},
                      headers=reporter["headers"], timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == b""


def test_other_methods_are_405_with_allow(reporter):
    r = requests.delete(ISSUES, headers=reporter["headers"], timeout=TIMEOUT)
    body = assert_problem(r, 405)
    assert "GET" in r.headers["Allow"]
    assert body["code"] == "method_not_allowed"
