"""CSV import (POST /api/v1/issues/import): multipart and text/csv uploads,
per-project numbering, timeline events and labels written in one
transaction, dry runs, the row errors of a corpus of broken files (each one
checked to insert nothing), the limits, permissions and creator_id rules.

Black-box HTTP against the real httpd + PostgreSQL; the database is shared
by the whole suite, so each test makes its own project (random key) and
labels (random names), and checks what was written with psql.
"""
import json
import uuid

import pytest
import requests

from conftest import assert_problem, psql, url

IMPORT = url("/api/v1/issues/import")
ISSUES = url("/api/v1/issues")
PROJECTS = url("/api/v1/projects")
TIMEOUT = 120


# ---- helpers ---------------------------------------------------------------------


def new_key():
    return ("M" + uuid.uuid4().hex[:9]).upper()


def make_project(owner):
    r = requests.post(PROJECTS, json={"key": new_key(), "name": "Import test"},
                      headers=owner["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


def make_label(name=None):
    name = name or "l-" + uuid.uuid4().hex[:10]
    label_id = psql(f"INSERT INTO labels (name) VALUES ('{name}') RETURNING id")
    return {"id": label_id, "name": name}


def issue_count():
    return int(psql("SELECT count(*) FROM issues"))


def project_issues(project_id):
    out = psql("SELECT COALESCE(json_agg(json_build_object("
               "'number', number, 'title', title, 'description', description,"
               " 'priority', priority, 'type', type, 'status', status,"
               " 'assignee_id', assignee_id, 'creator_id', creator_id,"
               " 'resolved', resolved_at IS NOT NULL, 'closed', closed_at IS NOT NULL)"
               " ORDER BY number), '[]')"
               f" FROM issues WHERE project_id = '{project_id}'")
    return json.loads(out)


def events(issue_id):
    out = psql("SELECT kind, COALESCE(actor_id::text, ''), data::text FROM issue_events"
               f" WHERE issue_id = '{issue_id}' ORDER BY seq")
    return [tuple(line.split("|", 2)) for line in out.split("\n")] if out else []


def post_multipart(user, data, fields=None, filename="issues.csv", params=None):
    files = {"file": (filename, data, "text/csv")}
    return requests.post(IMPORT, files=files, data=fields or {}, params=params or {},
                         headers=user["headers"], timeout=TIMEOUT)


def post_csv(user, data, params=None, ctype="text/csv"):
    if isinstance(data, str):
        data = data.encode()
    return requests.post(IMPORT, data=data, params=params or {},
                         headers={**user["headers"], "Content-Type": ctype},
                         timeout=TIMEOUT)


def row_errors(resp):
    body = assert_problem(resp, 422, "invalid_import")
    assert body["error_count"] >= len(body["errors"])
    return [(e["row"], e["column"], e["code"]) for e in body["errors"]]


# ---- happy paths -------------------------------------------------------------------


def test_multipart_import_numbers_issues_and_writes_events(manager, make_user):
    project = make_project(manager)
    dev = make_user("developer")
    other = make_user("developer")
    bug, ui = make_label(), make_label()
    # one issue exists: the import continues the project's numbering
    r = requests.post(ISSUES, json={"project_id": project["id"], "title": "first"},
                      headers=manager["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    key = project["key"]
    csv = ("title,description,priority,type,status,assignee,labels,project\n"
           f"Login fails,SSO users get a 500,high,bug,open,{dev['username']},"
           f"{bug['name']};{ui['name'].upper()},{key}\n"
           f"Export to CSV,,,feature,in_progress,{dev['email'].upper()},,{key.lower()}\n"
           f"Old crash,,low,,resolved,{other['id']},{bug['name']},{project['id']}\n"
           f"Closed one,,critical,task,closed,,,{key}\n")
    resp = post_multipart(manager, csv)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["created"] == 4
    assert [i["number"] for i in body["items"]] == [2, 3, 4, 5]
    assert [i["key"] for i in body["items"]] == [f"{key}-{n}" for n in (2, 3, 4, 5)]
    rows = project_issues(project["id"])
    assert [r["title"] for r in rows] == ["first", "Login fails", "Export to CSV",
                                         "Old crash", "Closed one"]
    login, export, old, closed = rows[1:]
    assert (login["priority"], login["type"], login["status"]) == ("high", "bug", "open")
    assert login["description"] == "SSO users get a 500"
    assert login["assignee_id"] == dev["id"] and export["assignee_id"] == dev["id"]
    assert old["assignee_id"] == other["id"] and closed["assignee_id"] is None
    assert (export["priority"], export["type"], export["status"]) == \
        ("medium", "feature", "in_progress")
    assert old["resolved"] and not old["closed"]
    assert closed["closed"] and not closed["resolved"]
    assert all(r["creator_id"] == manager["id"] for r in rows)
    assert psql(f"SELECT next_number FROM projects WHERE id = '{project['id']}'") == "6"
    # ids in the answer are the issues, in file order
    ids = [i["id"] for i in body["items"]]
    got = psql("SELECT string_agg(id::text, ',' ORDER BY number) FROM issues"
               f" WHERE project_id = '{project['id']}' AND number > 1")
    assert got.split(",") == ids
    # timeline: created, assigned, labeled (in column order), actor = the creator
    ev = events(ids[0])
    assert [e[0] for e in ev] == ["created", "assigned", "labeled", "labeled"]
    assert all(e[1] == manager["id"] for e in ev)
    assert dev["id"] in ev[1][2]
    assert bug["id"] in ev[2][2] and ui["id"] in ev[3][2]
    assert [e[0] for e in events(ids[3])] == ["created"]
    labels = psql("SELECT string_agg(label_id::text, ',' ORDER BY label_id) FROM issue_labels"
                  f" WHERE issue_id = '{ids[0]}'")
    assert sorted(labels.split(",")) == sorted([bug["id"], ui["id"]])
    # the imported issues are ordinary issues
    r = requests.get(f"{ISSUES}/{key}-3", headers=manager["headers"], timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["title"] == "Export to CSV"


def test_text_csv_import_with_query_parameters(manager):
    project = make_project(manager)
    resp = post_csv(manager, "title\nOne\nTwo\n",
                    params={"project_id": project["id"], "creator_id": manager["id"]})
    assert resp.status_code == 201, resp.text
    assert [i["number"] for i in resp.json()["items"]] == [1, 2]
    assert [r["title"] for r in project_issues(project["id"])] == ["One", "Two"]


def test_project_column_overrides_project_id(manager):
    p1, p2 = make_project(manager), make_project(manager)
    resp = post_multipart(manager, f"title,project\nA,\nB,{p2['key']}\nC,\n",
                          fields={"project_id": p1["id"]})
    assert resp.status_code == 201, resp.text
    assert [r["title"] for r in project_issues(p1["id"])] == ["A", "C"]
    assert [r["title"] for r in project_issues(p2["id"])] == ["B"]
    assert [i["key"] for i in resp.json()["items"]] == \
        [f"{p1['key']}-1", f"{p2['key']}-1", f"{p1['key']}-2"]


def test_bom_crlf_embedded_newlines_and_formulas_are_imported_as_text(manager):
    project = make_project(manager)
    csv = ("\ufefftitle,description\r\n"
           "\"multi\r\nline, \"\"quoted\"\"\",\"a\nb\"\r\n"
           "=1+1,@SUM(A1)\r\n"
           "+cmd,-2\r\n"
           "\"caf\u00e9 \u2603\",\t tab\r\n")
    resp = post_multipart(manager, csv.encode("utf-8"),
                          fields={"project_id": project["id"]})
    assert resp.status_code == 201, resp.text
    rows = project_issues(project["id"])
    assert [(r["title"], r["description"]) for r in rows] == \
        [("multi\r\nline, \"quoted\"", "a\nb"), ("=1+1", "@SUM(A1)"), ("+cmd", "-2"),
         ("caf\u00e9 \u2603", "\t tab")]


def test_formula_guard_is_removed_once_and_only_before_a_formula_character(manager):
    """The export writes '=x for =x and ''x for 'x; the import strips that
    one quote (before = + - @ tab CR '), in every column, and leaves any
    other leading quote alone."""
    project = make_project(manager)
    label = make_label("-l" + uuid.uuid4().hex[:8])
    csv = ("title,description,labels\r\n"
           f"'=SUM(A1),'@cmd,'{label['name']}\r\n"
           "'+1,'-x,\r\n"
           "\"'\tTab\",\"'\r\nline\",\r\n"
           "''=quoted,''x,\r\n"
           "'plain,',\r\n"
           "'''x,a'=b,\r\n")
    resp = post_csv(manager, csv, params={"project_id": project["id"]})
    assert resp.status_code == 201, resp.text
    rows = project_issues(project["id"])
    assert [(r["title"], r["description"]) for r in rows] == [
        ("=SUM(A1)", "@cmd"), ("+1", "-x"), ("\tTab", "\r\nline"),
        ("'=quoted", "'x"), ("'plain", "'"), ("''x", "a'=b")]
    assert psql("SELECT count(*) FROM issue_labels il JOIN issues i ON i.id = il.issue_id"
                f" WHERE i.project_id = '{project['id']}'"
                f" AND il.label_id = '{label['id']}'") == "1"


def test_dry_run_writes_nothing_and_answers_what_would_be_created(manager):
    project = make_project(manager)
    label = make_label()
    before = issue_count()
    events_before = psql("SELECT count(*) FROM issue_events")
    resp = post_multipart(manager, f"title,labels\nA,{label['name']}\nB,\n",
                          fields={"project_id": project["id"], "dry_run": "true"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["dry_run"] is True and body["created"] == 0 and body["would_create"] == 2
    assert [(i["row"], i["title"], i["project_id"], i["project_key"]) for i in body["items"]] \
        == [(2, "A", project["id"], project["key"]), (3, "B", project["id"], project["key"])]
    assert issue_count() == before
    assert psql("SELECT count(*) FROM issue_events") == events_before
    assert psql(f"SELECT next_number FROM projects WHERE id = '{project['id']}'") == "1"
    # the same as text/csv with the query parameter
    resp = post_csv(manager, "title\nA\n", params={"project_id": project["id"],
                                                    "dry_run": "1"})
    assert resp.status_code == 200 and resp.json()["would_create"] == 1
    assert issue_count() == before


def test_dry_run_reports_the_same_errors(manager):
    project = make_project(manager)
    resp = post_csv(manager, "title,priority\nA,urgent\n",
                    params={"project_id": project["id"], "dry_run": "true"})
    assert row_errors(resp) == [(2, "priority", "enum")]


# ---- a corpus of broken files: row errors, nothing inserted -------------------------

BROKEN = [
    ("unbalanced quote", "title,description\nA,ok\nB,\"never closed\nC,d\n",
     [(3, None, "unbalanced_quote")]),
    ("quote inside a field", "title,description\nA,b\"c\n", [(2, "description", "invalid_quote")]),
    ("ragged rows", "title,priority\nA,low\nB\nC,low,extra\n",
     [(3, None, "field_count"), (4, None, "field_count")]),
    ("missing header", "Fix the login,high\nAnother,low\n", [(1, None, "missing_header")]),
    ("empty file", "", [(1, None, "missing_header")]),
    ("header only", "title\n", [(2, None, "no_rows")]),
    ("unknown column", "title,severity\nA,high\n", [(1, "severity", "unknown_column")]),
    ("duplicate column", "title,Title\nA,B\n", [(1, "title", "duplicate_column")]),
    ("no title column", "description\nx\n", [(1, "title", "required")]),
    ("bad enums", "title,priority,type,status\nA,urgent,epic,done\nB,low,bug,open\n",
     [(2, "priority", "enum"), (2, "type", "enum"), (2, "status", "enum")]),
    ("blank title", "title,priority\n  ,low\n", [(2, "title", "required")]),
    ("too long title", "title\nok\n" + "x" * 201 + "\n", [(3, "title", "too_long")]),
    ("too long description", "title,description\nA," + "d" * 65537 + "\n",
     [(2, "description", "too_long")]),
    ("unknown assignee", "title,assignee\nA,nobody-{r}\nB,\n", [(2, "assignee", "not_found")]),
    ("unknown label", "title,labels\nA,\nB,no-such-{r}\n", [(3, "labels", "not_found")]),
    ("unknown project", "title,project\nA,NOPE{R}\nB,{key}\n", [(2, "project", "not_found")]),
    ("invalid UTF-8", b"title,description\nA,\xc3\x28\n\xff\xfe,ok\n",
     [(2, "description", "invalid_utf8"), (3, "title", "invalid_utf8")]),
    ("errors keep their lines with CRLF, BOM and embedded newlines",
     "\ufefftitle,priority\r\n\"two\r\nlines\",high\r\n\r\nok,urgent\r\n",
     [(5, "priority", "enum")]),
    ("errors from the parser and the database merge in line order",
     "title,priority,assignee\nA,,nobody-{r}\nB,urgent,\nC,,nobody2-{r}\n",
     [(2, "assignee", "not_found"), (3, "priority", "enum"), (4, "assignee", "not_found")]),
]


@pytest.mark.parametrize("name,csv,expected", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_file_gives_row_errors_and_inserts_nothing(manager, name, csv, expected):
    project = make_project(manager)
    r = uuid.uuid4().hex[:8]
    if isinstance(csv, str):
        csv = csv.replace("{r}", r).replace("{R}", r.upper()).replace("{key}", project["key"])
        csv = csv.encode("utf-8")
    before = issue_count()
    default = {"project_id": project["id"]}
    for send in (lambda: post_multipart(manager, csv, fields=default),
                 lambda: post_csv(manager, csv, params=default)):
        resp = send()
        assert row_errors(resp) == expected, resp.text
        body = resp.json()
        assert body["error_count"] == len(expected)
        for e in body["errors"]:
            assert e["message"]
    assert issue_count() == before
    assert psql(f"SELECT next_number FROM projects WHERE id = '{project['id']}'") == "1"


def test_project_is_required_per_row_without_project_id(manager):
    project = make_project(manager)
    before = issue_count()
    resp = post_csv(manager, f"title,project\nA,{project['key']}\nB,\nC\n")
    assert row_errors(resp) == [(3, "project", "required"), (4, None, "field_count"),
                                (4, "project", "required")]
    resp = post_csv(manager, "title\nA\n")
    assert row_errors(resp) == [(2, "project", "required")]
    assert issue_count() == before


def test_one_bad_row_among_many_inserts_nothing(manager):
    project = make_project(manager)
    rows = [f"row {i},{project['key']}" for i in range(2000)]
    rows[1500] = f"bad,NOPE{uuid.uuid4().hex[:6].upper()}"
    before = issue_count()
    resp = post_csv(manager, "title,project\n" + "\n".join(rows) + "\n")
    assert row_errors(resp) == [(1502, "project", "not_found")]
    assert issue_count() == before


def test_errors_are_capped_at_1000_with_the_total(manager):
    project = make_project(manager)
    resp = post_csv(manager, "title,priority\n" + "A,bad\n" * 1500,
                    params={"project_id": project["id"]})
    body = assert_problem(resp, 422, "invalid_import")
    assert len(body["errors"]) == 1000
    assert body["error_count"] == 1500
    assert body["errors"][0]["row"] == 2 and body["errors"][-1]["row"] == 1001


# ---- limits -----------------------------------------------------------------------------


def test_more_rows_than_the_limit_is_413(manager):
    project = make_project(manager)
    before = issue_count()
    resp = post_csv(manager, "title\n" + "t\n" * 100001, params={"project_id": project["id"]})
    body = assert_problem(resp, 413, "too_many_rows")
    assert body["max_rows"] == 100000
    resp = post_multipart(manager, "title\n" + "t\n" * 100001,
                          fields={"project_id": project["id"]})
    assert_problem(resp, 413, "too_many_rows")
    assert issue_count() == before


def test_upload_larger_than_the_limit_is_413(manager):
    project = make_project(manager)
    body = b"title\n" + b"x\n" * (13 * 1024 * 1024)      # 26 MiB > 25M
    resp = post_csv(manager, body, params={"project_id": project["id"]})
    assert resp.status_code == 413, resp.text[:300]
    assert resp.headers["Content-Type"].startswith("application/problem+json")


# ---- request shape ----------------------------------------------------------------------


def test_other_body_types_are_415(manager):
    resp = requests.post(IMPORT, json={"title": "x"}, headers=manager["headers"],
                         timeout=TIMEOUT)
    assert_problem(resp, 415)


def test_multipart_without_file_is_422(manager):
    resp = requests.post(IMPORT, files={"creator_id": (None, manager["id"])},
                         headers=manager["headers"], timeout=TIMEOUT)
    body = assert_problem(resp, 422)
    assert body["errors"][0]["field"] == "file"


def test_unknown_form_field_and_parameter_are_422(manager):
    project = make_project(manager)
    resp = post_multipart(manager, "title\nA\n", fields={"project": project["id"]})
    body = assert_problem(resp, 422)
    assert body["errors"][0]["field"] == "project"
    resp = post_csv(manager, "title\nA\n", params={"project_id": project["id"], "x": "1"})
    body = assert_problem(resp, 422)
    assert body["errors"][0]["field"] == "x"


def test_bad_parameters_are_422(manager):
    for params, field in (({"project_id": "nope"}, "project_id"),
                          ({"creator_id": "nope"}, "creator_id"),
                          ({"dry_run": "maybe"}, "dry_run")):
        resp = post_csv(manager, "title\nA\n", params=params)
        body = assert_problem(resp, 422)
        assert body["errors"][0]["field"] == field


def test_unknown_project_id_is_422(manager):
    resp = post_csv(manager, "title\nA\n", params={"project_id": str(uuid.uuid4())})
    body = assert_problem(resp, 422)
    assert body["errors"][0]["field"] == "project_id"
    assert body["errors"][0]["code"] == "not_found"


def test_malformed_multipart_is_400(manager):
    resp = requests.post(IMPORT, data=b"--xyz\r\nContent-Disposition: form-data; name=\"file\""
                         b"\r\n\r\ntitle\nA\n",
                         headers={**manager["headers"],
                                  "Content-Type": "multipart/form-data; boundary=xyz"},
                         timeout=TIMEOUT)
    assert_problem(resp, 400)


# ---- permissions and creator_id -----------------------------------------------------


@pytest.mark.parametrize("role", ["reporter", "developer"])
def test_reporters_and_developers_may_not_import(make_user, manager, role):
    project = make_project(manager)
    user = make_user(role)
    before = issue_count()
    resp = post_csv(user, "title\nA\n", params={"project_id": project["id"]})
    assert_problem(resp, 403)
    assert issue_count() == before


def test_anonymous_import_is_401(manager):
    project = make_project(manager)
    resp = requests.post(IMPORT, data=b"title\nA\n", params={"project_id": project["id"]},
                         headers={"Content-Type": "text/csv"}, timeout=TIMEOUT)
    assert_problem(resp, 401)


def test_admin_may_import(admin, manager):
    project = make_project(manager)
    resp = post_csv(admin, "title\nA\n", params={"project_id": project["id"]})
    assert resp.status_code == 201, resp.text
    assert project_issues(project["id"])[0]["creator_id"] == admin["id"]


def test_creator_id_of_someone_else_is_403_for_a_manager(manager, make_user):
    project = make_project(manager)
    other = make_user("developer")
    before = issue_count()
    resp = post_multipart(manager, "title\nA\n",
                          fields={"project_id": project["id"], "creator_id": other["id"]})
    assert_problem(resp, 403, "creator_mismatch")
    resp = post_multipart(manager, "title\nA\n",
                          fields={"project_id": project["id"],
                                  "creator_id": manager["id"].upper()})
    assert resp.status_code == 201, resp.text
    assert issue_count() == before + 1


def test_admin_imports_on_behalf_of_an_active_user(admin, manager, make_user):
    project = make_project(manager)
    other = make_user("reporter")
    resp = post_multipart(admin, "title\nA\n",
                          fields={"project_id": project["id"], "creator_id": other["id"]})
    assert resp.status_code == 201, resp.text
    issue_id = resp.json()["items"][0]["id"]
    assert project_issues(project["id"])[0]["creator_id"] == other["id"]
    # the timeline's actor is the caller, as for a single create
    assert events(issue_id)[0][:2] == ("created", admin["id"])
    resp = post_multipart(admin, "title\nA\n",
                          fields={"project_id": project["id"], "creator_id": str(uuid.uuid4())})
    body = assert_problem(resp, 422)
    assert body["errors"][0]["field"] == "creator_id"


def test_deleted_label_and_inactive_assignee_do_not_resolve(manager, make_user):
    project = make_project(manager)
    label = make_label()
    psql(f"UPDATE labels SET is_deleted = true, deleted_at = now() WHERE id = '{label['id']}'")
    gone = make_user("developer", is_active=False)
    resp = post_csv(manager, f"title,assignee,labels\nA,{gone['username']},{label['name']}\n",
                    params={"project_id": project["id"]})
    assert row_errors(resp) == [(2, "assignee", "not_found"), (2, "labels", "not_found")]


def test_get_on_the_import_path_is_405(manager):
    resp = requests.get(IMPORT, headers=manager["headers"], timeout=TIMEOUT)
    assert_problem(resp, 405)
    assert "POST" in resp.headers["Allow"]
