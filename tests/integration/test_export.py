"""CSV export (GET /api/v1/issues?format=csv, or Accept: text/csv): the
header and rows of a known data set, the list's filters and sorts, RFC 4180
quoting, formula neutralisation, an export of more than one keyset batch,
the export -> import round trip, content negotiation and the validation of
the parameters (problems before the body starts).

Black-box HTTP against the real httpd + PostgreSQL. Issues are written
straight into the database (psql); each test makes its own project, users
and labels (random names) and scopes its export by project_id.
"""
import csv
import io
import json
import uuid

import pytest
import requests

from conftest import assert_problem, make_user_now, psql, sql_literal, url

ISSUES = url("/api/v1/issues")
IMPORT = url("/api/v1/issues/import")
TIMEOUT = 120
IMPORT_COLUMNS = ["title", "description", "priority", "type", "status", "assignee",
                  "labels", "project"]
ALL_COLUMNS = IMPORT_COLUMNS + ["key", "created_at", "updated_at", "resolved_at", "closed_at"]
PRIORITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}


# ---- data ------------------------------------------------------------------------------

def make_project(owner):
    key = "X" + uuid.uuid4().hex[:8].upper()
    pid = psql("INSERT INTO projects (key, name, owner_id) VALUES (%s, %s, %s) RETURNING id"
               % (sql_literal(key), sql_literal("Export " + key), sql_literal(owner["id"])))
    return {"id": pid, "key": key}


def make_label(name=None):
    name = name or "x-" + uuid.uuid4().hex[:10]
    return {"id": psql(f"INSERT INTO labels (name) VALUES ({sql_literal(name)}) RETURNING id"),
            "name": name}


def insert_issues(project, rows):
    """rows: dicts with title, creator_id and optional description, status,
    priority, type, assignee_id, minutes (created_at = a fixed day +
    minutes), labels (ids); numbered 1.. in order. Returns the rows with id,
    number and key."""
    values = []
    for n, r in enumerate(rows, 1):
        r.setdefault("description", "")
        r.setdefault("status", "open")
        r.setdefault("priority", "medium")
        r.setdefault("type", "task")
        r.setdefault("assignee_id", None)
        r.setdefault("minutes", n)
        r.setdefault("labels", [])
        r["number"] = n
        r["key"] = f"{project['key']}-{n}"
        ts = "timestamptz '2024-03-01 10:00:00+00' + interval '%d minutes'" % r["minutes"]
        values.append("(" + ", ".join([
            sql_literal(project["id"]), str(n), sql_literal(r["title"]),
            sql_literal(r["description"]), sql_literal(r["status"]), sql_literal(r["priority"]),
            sql_literal(r["type"]), sql_literal(r["creator_id"]),
            sql_literal(r["assignee_id"]) + "::uuid", ts, ts,
            "CASE WHEN %s = 'resolved' THEN %s END" % (sql_literal(r["status"]), ts),
            "CASE WHEN %s = 'closed' THEN %s END" % (sql_literal(r["status"]), ts)]) + ")")
    psql(f"UPDATE projects SET next_number = {len(rows) + 1} WHERE id = '{project['id']}'")
    out = psql("INSERT INTO issues (project_id, number, title, description, status, priority,"
               " type, creator_id, assignee_id, created_at, updated_at, resolved_at, closed_at)"
               " VALUES " + ", ".join(values) + " RETURNING number, id")
    by_number = dict(line.split("|") for line in out.splitlines())
    links = []
    for r in rows:
        r["id"] = by_number[str(r["number"])]
        links += [f"('{r['id']}', '{label}')" for label in r["labels"]]
    if links:
        psql("INSERT INTO issue_labels (issue_id, label_id) VALUES " + ", ".join(links))
    return rows


@pytest.fixture(scope="module")
def reporter():
    return make_user_now("reporter")


@pytest.fixture(scope="module")
def world():
    """A project with seven issues: every status, priority and type, two
    assignees (one issue unassigned), labels, and cells that need quoting
    or neutralising."""
    owner = make_user_now("manager")
    dev1, dev2 = make_user_now("developer"), make_user_now("developer")
    bug, ui = make_label("bug-" + uuid.uuid4().hex[:6]), make_label("Ui-" + uuid.uuid4().hex[:6])
    project = make_project(owner)
    c = owner["id"]
    rows = insert_issues(project, [
        {"title": "Plain", "description": "simple text", "status": "open",
         "priority": "high", "type": "bug", "assignee_id": dev1["id"], "creator_id": c,
         "labels": [bug["id"], ui["id"]]},
        {"title": "Comma, in title", "description": 'She said "hi"', "status": "in_progress",
         "priority": "low", "type": "feature", "assignee_id": dev2["id"], "creator_id": c,
         "labels": [ui["id"]]},
        {"title": "Line\nbreak", "description": "one\r\ntwo\nthree", "status": "resolved",
         "priority": "critical", "type": "task", "creator_id": c},
        {"title": "=SUM(A1:A2)", "description": "+cmd|' /C calc'!A0", "status": "closed",
         "priority": "medium", "type": "bug", "assignee_id": dev1["id"], "creator_id": c},
        {"title": "-minus", "description": "@import", "status": "open", "priority": "low",
         "type": "task", "creator_id": c},
        {"title": "Tab lead", "description": "\tindented", "status": "open",
         "priority": "critical", "type": "feature", "assignee_id": dev2["id"], "creator_id": c},
        {"title": "Ünïcödé ✓ 日本", "description": "", "status": "in_progress",
         "priority": "medium", "type": "bug", "creator_id": c, "labels": [bug["id"]]},
    ])
    return {"project": project, "rows": rows, "dev1": dev1, "dev2": dev2, "owner": owner,
            "labels": {bug["id"]: bug["name"], ui["id"]: ui["name"]},
            "users": {dev1["id"]: dev1["username"], dev2["id"]: dev2["username"]}}


# ---- helpers ---------------------------------------------------------------------------

def export(user, headers=None, **params):
    params.setdefault("format", "csv")
    if params["format"] is None:
        del params["format"]
    return requests.get(ISSUES, params=params, headers={**user["headers"], **(headers or {})},
                        timeout=TIMEOUT)


def parse(resp):
    assert resp.status_code == 200, (resp.status_code, resp.text[:500])
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="issues.csv"'
    text = resp.content.decode("utf-8")
    assert text.endswith("\r\n")
    table = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    return table[0], table[1:]


GUARDED = "=+-@\t\r'"


def guarded(value):
    """The export's formula guard: a leading ' before a cell that starts
    with = + - @ tab CR or ' (the import strips exactly that one)."""
    return "'" + value if value[:1] and value[0] in GUARDED else value


def expected_row(world, r, columns):
    full = {
        "title": guarded(r["title"]), "description": guarded(r["description"]),
        "priority": r["priority"], "type": r["type"], "status": r["status"],
        "assignee": world["users"].get(r["assignee_id"], ""),
        "labels": ";".join(sorted((world["labels"][label] for label in r["labels"]),
                                  key=lambda n: (n.lower(), n))),
        "project": world["project"]["key"], "key": r["key"],
        "created_at": "2024-03-01T%02d:%02d:00.000000Z" % (10 + r["minutes"] // 60,
                                                          r["minutes"] % 60),
    }
    full["updated_at"] = full["created_at"]
    full["resolved_at"] = full["created_at"] if r["status"] == "resolved" else ""
    full["closed_at"] = full["created_at"] if r["status"] == "closed" else ""
    return [full[c] for c in columns]


# ---- the format ------------------------------------------------------------------------

def test_default_columns_are_the_import_columns(world, reporter):
    header, rows = parse(export(reporter, project_id=world["project"]["id"]))
    assert header == IMPORT_COLUMNS
    assert rows == [expected_row(world, r, IMPORT_COLUMNS) for r in world["rows"]]


def test_all_columns_header_and_rows(world, reporter):
    header, rows = parse(export(reporter, project_id=world["project"]["id"], columns="all"))
    assert header == ALL_COLUMNS
    assert rows == [expected_row(world, r, ALL_COLUMNS) for r in world["rows"]]


def test_chosen_columns_in_the_order_asked(world, reporter):
    header, rows = parse(export(reporter, project_id=world["project"]["id"],
                                columns="key,status,title"))
    assert header == ["key", "status", "title"]
    assert rows == [[r["key"], r["status"], guarded(r["title"])] for r in world["rows"]]


def test_rfc4180_bytes(world, reporter):
    resp = export(reporter, project_id=world["project"]["id"], columns="title,description")
    raw = resp.content.decode("utf-8")
    lines = raw.split("\r\n")
    assert lines[0] == "title,description"
    assert lines[1] == "Plain,simple text"
    assert lines[2] == '"Comma, in title","She said ""hi"""'
    # quoted fields keep their own line breaks; every record ends in CRLF
    assert '"Line\nbreak","one\r\ntwo\nthree"\r\n' in raw
    assert "\r\n\"'=SUM(A1:A2)\",\"'+cmd|' /C calc'!A0\"" not in raw  # no needless quotes
    assert "\r\n'=SUM(A1:A2),'+cmd|' /C calc'!A0\r\n" in raw
    assert "\r\n'-minus,'@import\r\n" in raw
    assert "\r\nTab lead,'\tindented\r\n" in raw
    assert "\r\nÜnïcödé ✓ 日本,\r\n" in raw
    assert not raw.startswith("\ufeff")


def test_formula_cells_are_neutralised(world, reporter):
    _, rows = parse(export(reporter, project_id=world["project"]["id"],
                           columns="title,description"))
    cells = [c for row in rows for c in row]
    for c in cells:
        assert c[:1] not in ("=", "+", "-", "@", "\t", "\r"), c
    assert ["'=SUM(A1:A2)", "'+cmd|' /C calc'!A0"] in rows
    assert ["'-minus", "'@import"] in rows
    assert ["Tab lead", "'\tindented"] in rows


def test_filters_and_sort_apply(world, reporter):
    pid = world["project"]["id"]
    header, rows = parse(export(reporter, project_id=pid, status="open,in_progress",
                                sort="-priority", columns="key,priority,status"))
    want = sorted((r for r in world["rows"] if r["status"] in ("open", "in_progress")),
                  key=lambda r: (PRIORITY_RANK[r["priority"]], r["id"]), reverse=True)
    assert rows == [[r["key"], r["priority"], r["status"]] for r in want]
    _, rows = parse(export(reporter, project_id=pid, assignee_id=world["dev1"]["id"],
                           columns="key"))
    assert rows == [[r["key"]] for r in world["rows"] if r["assignee_id"] == world["dev1"]["id"]]
    label = next(iter(world["labels"].values()))
    _, rows = parse(export(reporter, project_id=pid, label=label, sort="title",
                           columns="title"))
    want = sorted((r for r in world["rows"]
                   if label in [world["labels"][x] for x in r["labels"]]),
                  key=lambda r: r["title"])
    assert sorted(rows) == sorted([[guarded(r["title"])] for r in want]) and len(rows) == len(want)
    _, rows = parse(export(reporter, project_id=pid, q="Plain", columns="title"))
    assert rows == [["Plain"]]


def test_same_issues_as_the_json_list(world, reporter):
    pid = world["project"]["id"]
    _, rows = parse(export(reporter, project_id=pid, sort="-created_at", columns="key"))
    body = requests.get(ISSUES, params={"project_id": pid, "sort": "-created_at", "size": 100},
                        headers=reporter["headers"], timeout=TIMEOUT).json()
    assert [r[0] for r in rows] == [i["key"] for i in body["items"]]


def test_no_match_is_a_header_only(world, reporter):
    for params in ({"q": "zzq" + uuid.uuid4().hex}, {"q": "!!!"}):
        header, rows = parse(export(reporter, project_id=world["project"]["id"], **params))
        assert header == IMPORT_COLUMNS and rows == []


# ---- negotiation -----------------------------------------------------------------------

def test_accept_text_csv_is_format_csv(world, reporter):
    pid = world["project"]["id"]
    by_param = export(reporter, project_id=pid)
    for accept in ("text/csv", "text/csv, */*", "application/json;q=0.5, text/csv"):
        resp = export(reporter, headers={"Accept": accept}, format=None, project_id=pid)
        parse(resp)
        assert resp.content == by_param.content, accept
    for accept in ("application/json", "*/*", "application/json, text/csv",
                   "text/csv;q=0.2, application/json"):
        resp = export(reporter, headers={"Accept": accept}, format=None, project_id=pid)
        assert resp.headers["Content-Type"].startswith("application/json"), accept
        assert len(resp.json()["items"]) == len(world["rows"])
    # an explicit format wins over Accept
    resp = export(reporter, headers={"Accept": "text/csv"}, format="json", project_id=pid)
    assert resp.headers["Content-Type"].startswith("application/json")


def test_head_has_the_csv_headers(world, reporter):
    resp = requests.head(ISSUES, params={"format": "csv", "project_id": world["project"]["id"]},
                         headers=reporter["headers"], timeout=TIMEOUT)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.content == b""


# ---- errors before the body ------------------------------------------------------------

@pytest.mark.parametrize("params, field", [
    ({"status": "bogus"}, "status"),
    ({"sort": "nope"}, "sort"),
    ({"project_id": "not-a-uuid"}, "project_id"),
    ({"created_after": "yesterday"}, "created_after"),
    ({"format": "xml"}, "format"),
    ({"columns": "title,nope"}, "columns"),
    ({"columns": "title,title"}, "columns"),
    ({"bogus": "1"}, "bogus"),
])
def test_bad_parameters_are_422_problems(reporter, params, field):
    params = dict({"format": "csv"}, **params)
    body = assert_problem(requests.get(ISSUES, params=params, headers=reporter["headers"],
                                       timeout=TIMEOUT), 422)
    assert field in {e["field"] for e in body["errors"]}, body


def test_bad_filter_with_accept_csv_is_a_problem(reporter):
    resp = requests.get(ISSUES, params={"priority": "urgent"},
                        headers={**reporter["headers"], "Accept": "text/csv"}, timeout=TIMEOUT)
    body = assert_problem(resp, 422)
    assert {e["field"] for e in body["errors"]} == {"priority"}


def test_columns_without_csv_is_422(reporter):
    body = assert_problem(requests.get(ISSUES, params={"columns": "all"},
                                       headers=reporter["headers"], timeout=TIMEOUT), 422)
    assert {e["field"] for e in body["errors"]} == {"columns"}


def test_bad_cursor_is_400(reporter):
    assert_problem(export(reporter, cursor="garbage!"), 400, "invalid_cursor")


def test_without_credentials_is_401():
    assert_problem(requests.get(ISSUES, params={"format": "csv"}, timeout=TIMEOUT), 401)


# ---- many batches ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_project():
    owner = make_user_now("manager")
    project = make_project(owner)
    n = 2537
    # a quarter share one created_at: batch boundaries fall inside ties
    psql("INSERT INTO issues (project_id, number, title, description, priority, creator_id,"
         " created_at, updated_at)"
         f" SELECT '{project['id']}', g, 'Bulk ' || lpad(g::text, 5, '0'), 'row ' || g,"
         " (ARRAY['low','medium','high','critical'])[1 + g % 4],"
         f" '{owner['id']}',"
         " timestamptz '2023-01-01 00:00:00+00' + (g / 4) * interval '1 second',"
         " timestamptz '2023-01-01 00:00:00+00'"
         f" FROM generate_series(1, {n}) g")
    psql(f"UPDATE projects SET next_number = {n + 1} WHERE id = '{project['id']}'")
    return {"project": project, "n": n}


@pytest.mark.parametrize("sort", ["created_at", "-created_at", "priority", "-title",
                                  "updated_at", "number"])
def test_more_than_one_batch_complete_without_duplicates(big_project, reporter, sort):
    resp = export(reporter, project_id=big_project["project"]["id"], sort=sort,
                  columns="key,title,priority,created_at")
    header, rows = parse(resp)
    assert resp.headers.get("Content-Length") is None       # streamed (chunked)
    n = big_project["n"]
    keys = [r[0] for r in rows]
    assert len(keys) == n
    assert len(set(keys)) == n
    assert set(keys) == {f"{big_project['project']['key']}-{g}" for g in range(1, n + 1)}
    # in the order asked (ties in id order, which the keys do not show)
    field = sort.lstrip("-")
    if field in ("title", "created_at", "number"):
        col = {"title": 1, "created_at": 3, "number": 0}[field]
        vals = [r[col] if field != "number" else int(r[0].rsplit("-", 1)[1]) for r in rows]
        assert vals == sorted(vals, reverse=sort.startswith("-"))
    if field == "priority":
        ranks = [PRIORITY_RANK[r[2]] for r in rows]
        assert ranks == sorted(ranks)


def test_many_batches_with_a_filter(big_project, reporter):
    header, rows = parse(export(reporter, project_id=big_project["project"]["id"],
                                priority="high,critical", sort="-number", columns="key"))
    n = big_project["n"]
    want = [f"{big_project['project']['key']}-{g}" for g in range(n, 0, -1)
            if g % 4 in (2, 3)]
    assert [r[0] for r in rows] == want


# ---- round trip ------------------------------------------------------------------------

def _issues_of(project_id):
    out = psql("SELECT i.title || chr(31) || i.description || chr(31) || i.priority"
               " || chr(31) || i.type || chr(31) || i.status || chr(31)"
               " || COALESCE(u.username, '') || chr(31) || COALESCE((SELECT string_agg(l.name, ';'"
               "   ORDER BY l.name) FROM issue_labels il JOIN labels l ON l.id = il.label_id"
               "   WHERE il.issue_id = i.id), '') || chr(30)"
               " FROM issues i LEFT JOIN users u ON u.id = i.assignee_id"
               f" WHERE i.project_id = '{project_id}' ORDER BY i.number")
    return [tuple(rec.lstrip("\n").split("\x1f")) for rec in out.split("\x1e") if rec.strip("\n")]


def test_export_import_round_trip(world, reporter):
    manager = world["owner"]
    target = make_project(manager)
    # the import's columns but project: they go into the project given
    resp = export(reporter, project_id=world["project"]["id"],
                  columns="title,description,priority,type,status,assignee,labels")
    data = resp.content
    imp = requests.post(IMPORT, data=data, params={"project_id": target["id"]},
                        headers={**manager["headers"], "Content-Type": "text/csv"},
                        timeout=TIMEOUT)
    assert imp.status_code == 201, imp.text
    assert imp.json()["created"] == len(world["rows"])
    before = _issues_of(world["project"]["id"])
    after = _issues_of(target["id"])
    # the import strips the formula guard the export added: byte for byte
    assert after == before


def _texts_of(project_id):
    """The text columns of a project's issues in number order, exactly (JSON,
    so leading tabs, CRs and quotes survive)."""
    out = psql("SELECT COALESCE(json_agg(json_build_object('title', i.title,"
               " 'description', i.description, 'assignee', u.username,"
               " 'labels', (SELECT string_agg(l.name, ';' ORDER BY l.name)"
               "   FROM issue_labels il JOIN labels l ON l.id = il.label_id"
               "  WHERE il.issue_id = i.id)) ORDER BY i.number), '[]')"
               " FROM issues i LEFT JOIN users u ON u.id = i.assignee_id"
               f" WHERE i.project_id = '{project_id}'")
    return json.loads(out)


FORMULA_TITLES = ["=SUM(A1)", "+1", "-x", "@cmd", "\tTab", "'=quoted", "''x", "'plain",
                  "'", "\rCR lead", "'\tq", "plain"]
FORMULA_DESCRIPTIONS = ['=HYPERLINK("http://x")', "-", "'", "''", "'@x", "@", "\t", "+1",
                        "'-1", "", "a'=b", "'''"]


def test_formula_cells_round_trip_byte_identical(reporter):
    """Cells that look like formulas, or start with a quote, are guarded in
    the export (the CSV cell starts with ') and re-import exactly as they
    were: the import strips one quote before = + - @ tab CR ', and only
    there ('plain stays 'plain)."""
    owner = make_user_now("manager")
    dev = make_user_now("developer")
    tag = uuid.uuid4().hex[:6]
    minus, quote = make_label("-wip-" + tag), make_label("'q-" + tag)
    source, target = make_project(owner), make_project(owner)
    rows = [{"title": t, "description": d, "creator_id": owner["id"]}
            for t, d in zip(FORMULA_TITLES, FORMULA_DESCRIPTIONS)]
    rows[0]["labels"] = [minus["id"]]
    rows[1]["labels"] = [minus["id"], quote["id"]]
    rows[2]["assignee_id"] = dev["id"]
    insert_issues(source, rows)
    before = _texts_of(source["id"])
    assert [r["title"] for r in before] == FORMULA_TITLES
    assert [r["description"] for r in before] == FORMULA_DESCRIPTIONS

    resp = export(reporter, project_id=source["id"], sort="number",
                  columns="title,description,assignee,labels")
    _, cells = parse(resp)
    assert len(cells) == len(rows)
    for issue, row in zip(before, cells):
        labels = sorted(issue["labels"].split(";"), key=lambda n: (n.lower(), n)) \
            if issue["labels"] else []
        assert row == [guarded(issue["title"]), guarded(issue["description"]),
                       issue["assignee"] or "", guarded(";".join(labels))]
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), row
    # the cells as a spreadsheet sees them
    assert cells[0][:2] == ["'=SUM(A1)", "'=HYPERLINK(\"http://x\")"]
    assert cells[4][:2] == ["'\tTab", "''@x"]
    assert cells[5][:2] == ["''=quoted", "'@"]
    assert cells[6][:2] == ["'''x", "'\t"]
    assert cells[7][:2] == ["''plain", "'+1"]
    assert cells[8][:2] == ["''", "''-1"]
    assert cells[9][:2] == ["'\rCR lead", ""]
    assert cells[11][:2] == ["plain", "''''"]
    assert cells[0][3] == "'-wip-" + tag
    assert cells[1][3] == "''q-%s;-wip-%s" % (tag, tag)

    imp = requests.post(IMPORT, data=resp.content, params={"project_id": target["id"]},
                        headers={**owner["headers"], "Content-Type": "text/csv"},
                        timeout=TIMEOUT)
    assert imp.status_code == 201, imp.text
    assert imp.json()["created"] == len(rows)
    assert _texts_of(target["id"]) == before


def test_default_export_reimports_with_the_project_column(world, reporter):
    """The default columns are exactly the import's: the export imports as
    it is (into the project it names) -- checked as a dry run."""
    manager = world["owner"]
    data = export(reporter, project_id=world["project"]["id"]).content
    imp = requests.post(IMPORT, data=data, params={"dry_run": "true"},
                        headers={**manager["headers"], "Content-Type": "text/csv"},
                        timeout=TIMEOUT)
    assert imp.status_code == 200, imp.text
    body = imp.json()
    assert body["would_create"] == len(world["rows"])
    assert {i["project_key"] for i in body["items"]} == {world["project"]["key"]}


def test_client_leaving_mid_stream_harms_nothing(big_project, reporter):
    """A client that stops reading after the first bytes: the server stops
    writing (no crash -- scripts/test-integration checks the error log) and
    answers the next request."""
    with requests.get(ISSUES, params={"format": "csv", "project_id": big_project["project"]["id"],
                                      "columns": "all"},
                      headers=reporter["headers"], stream=True, timeout=TIMEOUT) as resp:
        assert resp.status_code == 200
        assert resp.headers.get("Transfer-Encoding") == "chunked"
        first = next(resp.iter_content(1024))
        assert first.startswith(b"title,description,")
    header, rows = parse(export(reporter, project_id=big_project["project"]["id"], columns="key"))
    assert len(rows) == big_project["n"]
