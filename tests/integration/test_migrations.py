"""Migrations (scripts/migrate + sql/) and the schema's key constraints.

Needs the integration harness's environment:
  IT_DATABASE_URL        libpq URL of the live test database (only its server,
                         role and connection parameters are used: every test
                         works in a scratch database of its own, never in this one)
  IT_ADMIN_DATABASE_URL  URL of the same server as a superuser (creates and
                         drops the scratch databases)
  IT_ROOT                repository root (default: two levels above this file)
and psql / pg_dump in PATH.
"""

import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import urllib.parse
import uuid

import pytest

IT_DATABASE_URL = os.environ.get("IT_DATABASE_URL", "")
IT_ADMIN_DATABASE_URL = os.environ.get("IT_ADMIN_DATABASE_URL", "")
ROOT = pathlib.Path(os.environ.get("IT_ROOT") or pathlib.Path(__file__).resolve().parents[2])
MIGRATE = ROOT / "scripts" / "migrate"
SQL_DIR = ROOT / "sql"


ID_RE = re.compile(r"^([0-9]{3})_([A-Za-z0-9_-]+)\.up\.sql$")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def is_url(conn):
    return conn.startswith(("postgresql://", "postgres://"))


def with_dbname(conn, dbname):
    """conn (libpq URL or conninfo string) pointing at database dbname."""
    if is_url(conn):
        parts = urllib.parse.urlsplit(conn)
        query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
                 if k != "dbname"]
        # built by hand: urlunsplit drops the "//" of an empty netloc
        url = f"{parts.scheme}://{parts.netloc}/{urllib.parse.quote(dbname)}"
        if query:
            url += "?" + urllib.parse.urlencode(query, safe="/")
        return url
    if re.search(r"(^|\s)dbname\s*=", conn):
        return re.sub(r"(^|\s)dbname\s*=\s*('(?:[^'\\]|\\.)*'|\S+)",
                      lambda m: m.group(1) + "dbname=" + dbname, conn)
    return conn + " dbname=" + dbname


def user_of(conn):
    if is_url(conn):
        parts = urllib.parse.urlsplit(conn)
        q = dict(urllib.parse.parse_qsl(parts.query))
        if q.get("user"):
            return q["user"]
        if parts.username:
            return urllib.parse.unquote(parts.username)
    else:
        m = re.search(r"(?:^|\s)user\s*=\s*'?([^'\s]+)", conn)
        if m:
            return m.group(1)
    return os.environ.get("PGUSER", "issuetracker")


def ident(name):
    return '"' + name.replace('"', '""') + '"'


def psql(url, sql, check=True):
    """Run sql (one or more statements) through psql; returns CompletedProcess.

    Errors are printed in verbose form ("ERROR:  23505: ...") so tests can
    check the SQLSTATE and the constraint name.
    """
    p = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose",
         "--dbname", url],
        input=sql, capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"psql failed ({p.returncode}):\n{sql}\n{p.stderr}")
    return p


def query(url, sql):
    return psql(url, sql).stdout.strip()


def migrate(url, *args, sql_dir=None, check=False):
    env = dict(os.environ)
    env.pop("SQL_DIR", None)
    env["DATABASE_URL"] = url
    if sql_dir is not None:
        env["SQL_DIR"] = str(sql_dir)
    p = subprocess.run([str(MIGRATE), *args], env=env, capture_output=True, text=True,
                       timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"migrate {' '.join(args)} failed ({p.returncode}):\n"
                             f"{p.stdout}\n{p.stderr}")
    return p


def up_files(sql_dir=SQL_DIR):
    files = sorted(f.name for f in pathlib.Path(sql_dir).iterdir() if ID_RE.match(f.name))
    assert files, f"no migrations in {sql_dir}"
    return files


def mig_id(filename):
    return filename[: -len(".up.sql")]


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def dump_schema(url):
    p = subprocess.run(["pg_dump", "--schema-only", "--no-owner", "--no-privileges",
                        "--dbname", url], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    # pg_dump >= 15.14 wraps the dump in \restrict / \unrestrict with a random key
    return "\n".join(line for line in p.stdout.splitlines()
                     if not line.startswith(("\\restrict", "\\unrestrict")))


def migrations_rows(url):
    return query(url, "SELECT version, name, checksum FROM schema_migrations ORDER BY version")


def next_version(sql_dir, offset=1):
    last = max(int(ID_RE.match(f).group(1)) for f in up_files(sql_dir))
    return "%03d" % (last + offset)


def add_migration(sql_dir, version, name, up_sql, down_sql):
    (pathlib.Path(sql_dir) / f"{version}_{name}.up.sql").write_text(up_sql)
    (pathlib.Path(sql_dir) / f"{version}_{name}.down.sql").write_text(down_sql)


def copy_sql(tmp_path):
    dst = tmp_path / "sql"
    shutil.copytree(SQL_DIR, dst)
    return dst


def table_exists(url, name):
    return query(url, f"SELECT to_regclass('{name}') IS NOT NULL") == "t"


def assert_sqlstate(p, sqlstate, constraint=None):
    assert p.returncode != 0, f"statement succeeded, expected SQLSTATE {sqlstate}"
    assert f"ERROR:  {sqlstate}:" in p.stderr, p.stderr
    if constraint:
        assert constraint in p.stderr, p.stderr


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------

class Scratch:
    def __init__(self, name, url):
        self.name = name
        self.url = url


def _create_scratch():
    assert IT_DATABASE_URL and IT_ADMIN_DATABASE_URL, (
        "IT_DATABASE_URL and IT_ADMIN_DATABASE_URL are not set "
        "(run through scripts/test-integration)")
    name = "it_migtest_" + uuid.uuid4().hex[:12]
    admin = IT_ADMIN_DATABASE_URL
    psql(admin, f"CREATE DATABASE {ident(name)} OWNER {ident(user_of(IT_DATABASE_URL))};")
    return Scratch(name, with_dbname(IT_DATABASE_URL, name))


def _drop_scratch(s):
    psql(IT_ADMIN_DATABASE_URL, f"DROP DATABASE IF EXISTS {ident(s.name)} WITH (FORCE);",
         check=False)


@pytest.fixture
def scratch():
    """An empty database owned by the application role; dropped afterwards."""
    s = _create_scratch()
    try:
        yield s
    finally:
        _drop_scratch(s)


@pytest.fixture(scope="module")
def schema_db():
    """A scratch database with every migration applied (for constraint tests)."""
    s = _create_scratch()
    try:
        migrate(s.url, "up", check=True)
        yield s
    finally:
        _drop_scratch(s)


# --------------------------------------------------------------------------
# the migration files themselves
# --------------------------------------------------------------------------

def test_every_up_has_a_down_and_no_transaction_control():
    for f in up_files():
        down = SQL_DIR / (mig_id(f) + ".down.sql")
        assert down.is_file(), f"{down} is missing"
        for path in (SQL_DIR / f, down):
            text = path.read_text()
            m = re.search(r"^\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION|END)\s*;",
                          text, re.IGNORECASE | re.MULTILINE)
            assert not m, f"{path}: {m.group(0).strip()} (scripts/migrate wraps the file in a transaction)"


# --------------------------------------------------------------------------
# scripts/migrate
# --------------------------------------------------------------------------

def test_requires_database_url():
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    p = subprocess.run([str(MIGRATE), "up"], env=env, capture_output=True, text=True)
    assert p.returncode != 0
    assert "DATABASE_URL" in p.stderr


def test_rejects_bad_arguments(scratch):
    for args in (["sideways"], ["down", "0"], ["down", "x"], ["up", "1"]):
        p = migrate(scratch.url, *args)
        assert p.returncode != 0, args


USER_OBJECTS_SQL = """
SELECT 'rel ' || c.relname || ' ' || c.relkind::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
UNION ALL
SELECT 'type ' || t.typname
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
   AND t.typname NOT IN ('schema_migrations', '_schema_migrations')
UNION ALL
SELECT 'function ' || p.proname
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'
UNION ALL
SELECT 'schema ' || nspname FROM pg_namespace
 WHERE nspname NOT IN ('public', 'information_schema') AND nspname !~ '^pg_'
UNION ALL
SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
ORDER BY 1;
"""


def test_up_down_all_up_roundtrip(scratch):
    files = up_files()
    p = migrate(scratch.url, "up", check=True)
    assert p.stdout.splitlines() == [f"applied {mig_id(f)}" for f in files]
    assert p.stderr == ""
    first = dump_schema(scratch.url)
    assert "CREATE TABLE public.issues" in first

    # up again: nothing to do, nothing printed
    p = migrate(scratch.url, "up", check=True)
    assert p.stdout == "" and p.stderr == ""

    p = migrate(scratch.url, "down", "all", check=True)
    assert p.stdout.splitlines() == [f"reverted {mig_id(f)}" for f in reversed(files)]
    leftovers = query(scratch.url, USER_OBJECTS_SQL).splitlines()
    assert leftovers == ["rel schema_migrations r", "rel schema_migrations_pkey i"], leftovers
    assert query(scratch.url, "SELECT count(*) FROM schema_migrations") == "0"

    # down with nothing applied is a quiet no-op
    p = migrate(scratch.url, "down", check=True)
    assert p.stdout == ""

    migrate(scratch.url, "up", check=True)
    assert dump_schema(scratch.url) == first


def test_status(scratch):
    files = up_files()
    p = migrate(scratch.url, "status", check=True)
    # status is read-only: it does not create schema_migrations
    assert not table_exists(scratch.url, "schema_migrations")
    for f in files:
        line = next(l for l in p.stdout.splitlines() if l.startswith(mig_id(f) + " "))
        assert line.split()[1:3] == ["pending", sha256(SQL_DIR / f)], line

    migrate(scratch.url, "up", check=True)
    p = migrate(scratch.url, "status", check=True)
    for f in files:
        line = next(l for l in p.stdout.splitlines() if l.startswith(mig_id(f) + " "))
        assert line.split()[1:3] == ["applied", sha256(SQL_DIR / f)], line
    stored = dict(row.split("|")[0::2] for row in migrations_rows(scratch.url).splitlines())
    assert stored == {ID_RE.match(f).group(1): sha256(SQL_DIR / f) for f in files}


def test_checksum_mismatch_refuses_and_changes_nothing(scratch, tmp_path):
    sql_dir = copy_sql(tmp_path)
    migrate(scratch.url, "up", sql_dir=sql_dir, check=True)
    before_schema = dump_schema(scratch.url)
    before_rows = migrations_rows(scratch.url)

    edited = sql_dir / up_files(sql_dir)[0]
    edited.write_text(edited.read_text() + "\n-- edited after it was applied\n")
    ver = next_version(sql_dir)
    add_migration(sql_dir, ver, "pending_one",
                  "CREATE TABLE it_mig_pending (id int);\n", "DROP TABLE it_mig_pending;\n")

    for args in (["up"], ["down"], ["down", "all"]):
        p = migrate(scratch.url, *args, sql_dir=sql_dir)
        assert p.returncode != 0, args
        assert edited.name in p.stderr, p.stderr
        assert p.stdout == ""
    assert dump_schema(scratch.url) == before_schema
    assert migrations_rows(scratch.url) == before_rows
    assert not table_exists(scratch.url, "it_mig_pending")

    p = migrate(scratch.url, "status", sql_dir=sql_dir)
    assert p.returncode != 0
    assert re.search(rf"^{re.escape(mig_id(edited.name))}\s+modified\b", p.stdout, re.M), p.stdout

    # a deleted applied file is refused the same way
    edited.unlink()
    p = migrate(scratch.url, "up", sql_dir=sql_dir)
    assert p.returncode != 0 and edited.name in p.stderr, p.stderr
    assert migrations_rows(scratch.url) == before_rows
    assert not table_exists(scratch.url, "it_mig_pending")


def test_down_1_reverts_only_the_last(scratch, tmp_path):
    sql_dir = copy_sql(tmp_path)
    va, vb = next_version(sql_dir, 1), next_version(sql_dir, 2)
    add_migration(sql_dir, va, "extra_a", "CREATE TABLE it_mig_a (id int);\n",
                  "DROP TABLE it_mig_a;\n")
    add_migration(sql_dir, vb, "extra_b",
                  "CREATE TABLE it_mig_b (id int);\nSELECT 42;\n",  # output is not echoed
                  "DROP TABLE it_mig_b;\n")
    p = migrate(scratch.url, "up", sql_dir=sql_dir, check=True)
    assert p.stdout.splitlines()[-2:] == [f"applied {va}_extra_a", f"applied {vb}_extra_b"]

    p = migrate(scratch.url, "down", "1", sql_dir=sql_dir, check=True)
    assert p.stdout.splitlines() == [f"reverted {vb}_extra_b"]
    assert not table_exists(scratch.url, "it_mig_b")
    assert table_exists(scratch.url, "it_mig_a")
    assert table_exists(scratch.url, "issues")
    status = migrate(scratch.url, "status", sql_dir=sql_dir, check=True).stdout
    assert re.search(rf"^{va}_extra_a\s+applied\b", status, re.M), status
    assert re.search(rf"^{vb}_extra_b\s+pending\b", status, re.M), status

    # default N is 1
    p = migrate(scratch.url, "down", sql_dir=sql_dir, check=True)
    assert p.stdout.splitlines() == [f"reverted {va}_extra_a"]
    assert table_exists(scratch.url, "issues")

    # up re-applies exactly the reverted ones
    p = migrate(scratch.url, "up", sql_dir=sql_dir, check=True)
    assert p.stdout.splitlines() == [f"applied {va}_extra_a", f"applied {vb}_extra_b"]
    p = migrate(scratch.url, "down", "2", sql_dir=sql_dir, check=True)
    assert p.stdout.splitlines() == [f"reverted {vb}_extra_b", f"reverted {va}_extra_a"]


def test_failing_migration_is_rolled_back(scratch, tmp_path):
    sql_dir = copy_sql(tmp_path)
    ver = next_version(sql_dir)
    add_migration(sql_dir, ver, "broken",
                  "CREATE TABLE it_mig_broken (id int);\nSELECT 1/0;\n",
                  "DROP TABLE it_mig_broken;\n")
    p = migrate(scratch.url, "up", sql_dir=sql_dir)
    assert p.returncode != 0
    assert "division by zero" in p.stderr and f"{ver}_broken" in p.stderr
    # the earlier migrations were applied, the broken one left nothing behind
    assert table_exists(scratch.url, "issues")
    assert not table_exists(scratch.url, "it_mig_broken")
    assert query(scratch.url, f"SELECT count(*) FROM schema_migrations WHERE version = '{ver}'") == "0"


def test_concurrent_runs_apply_once(scratch):
    env = dict(os.environ, DATABASE_URL=scratch.url)
    env.pop("SQL_DIR", None)
    procs = [subprocess.Popen([str(MIGRATE), "up"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    applied = [line for out, _ in outs for line in out.splitlines()]
    assert sorted(applied) == sorted(f"applied {mig_id(f)}" for f in up_files())
    assert query(scratch.url, "SELECT count(*) FROM schema_migrations") == str(len(up_files()))


# --------------------------------------------------------------------------
# constraints that the application relies on
# --------------------------------------------------------------------------

def _user(url, username, email=None, role="reporter"):
    email = email or f"{username}@example.com"
    return query(url, "INSERT INTO users (username, email, password_hash, role) "
                      f"VALUES ('{username}', '{email}', '$2y$12$x', '{role}') RETURNING id;")


def _project(url, owner, key):
    return query(url, "INSERT INTO projects (key, name, owner_id) "
                      f"VALUES ('{key}', 'Project {key}', '{owner}') RETURNING id;")


def _uniq(prefix):
    return prefix + uuid.uuid4().hex[:8]


def test_username_unique_case_insensitively(schema_db):
    name = _uniq("alice")
    _user(schema_db.url, name)
    p = psql(schema_db.url, "INSERT INTO users (username, email, password_hash) "
                            f"VALUES ('{name.upper()}', '{_uniq('x')}@example.com', 'h');",
             check=False)
    assert_sqlstate(p, "23505", "users_username_lower_key")


def test_username_unique_even_when_soft_deleted(schema_db):
    name = _uniq("gone")
    uid = _user(schema_db.url, name)
    psql(schema_db.url, "UPDATE users SET is_deleted = true, deleted_at = now() "
                        f"WHERE id = '{uid}';")
    p = psql(schema_db.url, "INSERT INTO users (username, email, password_hash) "
                            f"VALUES ('{name}', '{_uniq('y')}@example.com', 'h');", check=False)
    assert_sqlstate(p, "23505", "users_username_lower_key")


def test_email_unique_case_insensitively(schema_db):
    email = _uniq("bob") + "@Example.com"
    _user(schema_db.url, _uniq("bob"), email=email)
    p = psql(schema_db.url, "INSERT INTO users (username, email, password_hash) "
                            f"VALUES ('{_uniq('bob')}', '{email.lower()}', 'h');", check=False)
    assert_sqlstate(p, "23505", "users_email_lower_key")


@pytest.mark.parametrize("column,value,constraint", [
    ("role", "superuser", "users_role_check"),
    ("username", "-bad", "users_username_check"),
    ("username", "ab", "users_username_check"),
    ("email", "no-at-sign", "users_email_check"),
    ("auth_source", "ldap", "users_auth_source_check"),
])
def test_user_checks(schema_db, column, value, constraint):
    cols = {"username": _uniq("carol"), "email": _uniq("c") + "@example.com",
            "password_hash": "h", column: value}
    names = ", ".join(cols)
    values = ", ".join(f"'{v}'" for v in cols.values())
    p = psql(schema_db.url, f"INSERT INTO users ({names}) VALUES ({values});", check=False)
    assert_sqlstate(p, "23514", constraint)


def test_soft_delete_flags_go_together(schema_db):
    uid = _user(schema_db.url, _uniq("dave"))
    p = psql(schema_db.url, f"UPDATE users SET is_deleted = true WHERE id = '{uid}';",
             check=False)
    assert_sqlstate(p, "23514", "users_deleted_check")


def test_issue_number_unique_per_project(schema_db):
    owner = _user(schema_db.url, _uniq("erin"), role="manager")
    p1 = _project(schema_db.url, owner, "P" + uuid.uuid4().hex[:6].upper())
    p2 = _project(schema_db.url, owner, "Q" + uuid.uuid4().hex[:6].upper())
    ins = ("INSERT INTO issues (project_id, number, title, creator_id) "
           "VALUES ('{p}', {n}, 'an issue', '{u}');")
    psql(schema_db.url, ins.format(p=p1, n=1, u=owner))
    psql(schema_db.url, ins.format(p=p2, n=1, u=owner))   # same number, other project
    p = psql(schema_db.url, ins.format(p=p1, n=1, u=owner), check=False)
    assert_sqlstate(p, "23505", "issues_project_id_number_key")


def test_issue_defaults_rank_and_search(schema_db):
    owner = _user(schema_db.url, _uniq("frank"))
    proj = _project(schema_db.url, owner, "R" + uuid.uuid4().hex[:6].upper())
    row = query(schema_db.url,
                "INSERT INTO issues (project_id, number, title, description, creator_id, priority) "
                f"VALUES ('{proj}', 7, 'Crash on Login', 'stack overflow', '{owner}', 'critical') "
                "RETURNING status, type, version, priority_rank, "
                "search @@ websearch_to_tsquery('simple', 'login overflow');")
    assert row == "open|task|1|4|t"
    p = psql(schema_db.url, "INSERT INTO issues (project_id, number, title, creator_id, status) "
                            f"VALUES ('{proj}', 8, 'x', '{owner}', 'wontfix');", check=False)
    assert_sqlstate(p, "23514", "issues_status_check")
    p = psql(schema_db.url, "INSERT INTO issues (project_id, number, title, creator_id) "
                            f"VALUES ('{proj}', 9, '', '{owner}');", check=False)
    assert_sqlstate(p, "23514", "issues_title_check")
    p = psql(schema_db.url, "INSERT INTO issues (project_id, number, title, creator_id) "
                            f"VALUES ('{proj}', 10, 'x', '{uuid.uuid4()}');", check=False)
    assert_sqlstate(p, "23503", "issues_creator_id_fkey")


def test_project_key_shape(schema_db):
    owner = _user(schema_db.url, _uniq("gina"))
    p = psql(schema_db.url, "INSERT INTO projects (key, name, owner_id) "
                            f"VALUES ('lower', 'x', '{owner}');", check=False)
    assert_sqlstate(p, "23514", "projects_key_check")


def test_label_name_unique_among_live_labels(schema_db):
    name = _uniq("Bug")
    lid = query(schema_db.url, f"INSERT INTO labels (name, color) VALUES ('{name}', '#ff0000') "
                               "RETURNING id;")
    p = psql(schema_db.url, f"INSERT INTO labels (name, color) VALUES ('{name.lower()}', '#00ff00');",
             check=False)
    assert_sqlstate(p, "23505", "labels_name_lower_key")
    psql(schema_db.url, "UPDATE labels SET is_deleted = true, deleted_at = now() "
                        f"WHERE id = '{lid}';")
    psql(schema_db.url, f"INSERT INTO labels (name, color) VALUES ('{name.lower()}', '#00ff00');")
    p = psql(schema_db.url, "INSERT INTO labels (name, color) VALUES ('x', 'red');", check=False)
    assert_sqlstate(p, "23514", "labels_color_check")


def test_comment_thread_paths(schema_db):
    owner = _user(schema_db.url, _uniq("hank"))
    proj = _project(schema_db.url, owner, "T" + uuid.uuid4().hex[:6].upper())
    issue = query(schema_db.url, "INSERT INTO issues (project_id, number, title, creator_id) "
                                 f"VALUES ('{proj}', 1, 'thread', '{owner}') RETURNING id;")
    top = "INSERT INTO comments (issue_id, author_id, body) VALUES ('{i}', '{u}', '{b}') RETURNING id;"
    reply = ("INSERT INTO comments (issue_id, parent_id, author_id, body, depth, path) "
             "SELECT p.issue_id, p.id, '{u}', '{b}', p.depth + 1, "
             "p.path || '.' || to_char(nextval('comments_path_seq'), 'FM000000000000') "
             "FROM comments p WHERE p.id = '{p}' RETURNING id;")
    a = query(schema_db.url, top.format(i=issue, u=owner, b="a"))
    b = query(schema_db.url, top.format(i=issue, u=owner, b="b"))
    a1 = query(schema_db.url, reply.format(p=a, u=owner, b="a1"))
    query(schema_db.url, reply.format(p=b, u=owner, b="b1"))
    query(schema_db.url, reply.format(p=a1, u=owner, b="a1x"))
    query(schema_db.url, reply.format(p=a, u=owner, b="a2"))
    order = query(schema_db.url, f"SELECT body FROM comments WHERE issue_id = '{issue}' "
                                 "ORDER BY path;").splitlines()
    assert order == ["a", "a1", "a1x", "a2", "b", "b1"]
    # a reply without the parent's path is rejected
    p = psql(schema_db.url, "INSERT INTO comments (issue_id, parent_id, author_id, body, depth) "
                            f"VALUES ('{issue}', '{a}', '{owner}', 'bad', 1);", check=False)
    assert_sqlstate(p, "23514", "comments_path_check")
    p = psql(schema_db.url, "INSERT INTO comments (issue_id, author_id, body) "
                            f"VALUES ('{issue}', '{owner}', '');", check=False)
    assert_sqlstate(p, "23514", "comments_body_check")


def test_event_kinds_and_ordering(schema_db):
    owner = _user(schema_db.url, _uniq("ivan"))
    proj = _project(schema_db.url, owner, "E" + uuid.uuid4().hex[:6].upper())
    issue = query(schema_db.url, "INSERT INTO issues (project_id, number, title, creator_id) "
                                 f"VALUES ('{proj}', 1, 'events', '{owner}') RETURNING id;")
    kinds = query(schema_db.url,
                  "BEGIN;"
                  "INSERT INTO issue_events (issue_id, kind, actor_id) "
                  f"VALUES ('{issue}', 'created', '{owner}');"
                  "INSERT INTO issue_events (issue_id, kind, actor_id, data) "
                  f"VALUES ('{issue}', 'status_changed', '{owner}', "
                  "'{\"from\": \"open\", \"to\": \"closed\"}');"
                  "COMMIT;"
                  f"SELECT kind FROM issue_events WHERE issue_id = '{issue}' "
                  "ORDER BY created_at, seq;").splitlines()
    assert kinds == ["created", "status_changed"]
    p = psql(schema_db.url, "INSERT INTO issue_events (issue_id, kind) "
                            f"VALUES ('{issue}', 'exploded');", check=False)
    assert_sqlstate(p, "23514", "issue_events_kind_check")
