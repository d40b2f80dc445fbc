"""Attachments: streaming uploads (multipart/form-data and raw bodies), the
malformed-multipart corpus, limits (413), sniffed types (415), sanitised
filenames, storage under the upload dir with server-chosen names, downloads
(headers, Range, ETag), soft delete, the permission matrix and the timeline.

Black-box HTTP against the real httpd + PostgreSQL. "No row, no file" is
checked in the database (psql) and in the upload directory ($IT_VAR/uploads,
which the test runner can read) after every refused upload.
"""
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import uuid
import zlib

import pytest
import requests

from conftest import BASE_URL, assert_problem, psql, url, wait_for

ISSUES = url("/api/v1/issues")
PROJECTS = url("/api/v1/projects")
ATTACHMENTS = url("/api/v1/attachments")
TIMEOUT = 60
UPLOAD_DIR = os.path.join(os.environ.get("IT_VAR", "/nonexistent"), "uploads")
MAX_UPLOAD = 25 * 1024 * 1024
DOC_FIELDS = {"id", "issue_id", "uploader_id", "filename", "content_type", "size_bytes",
              "sha256", "created_at", "version"}


# ---- content -------------------------------------------------------------------------

def png_bytes(width=1, height=1):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PNG = png_bytes(4, 4)
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
TEXT = b"line one\nline two\n" * 50
HTML = (b"<!DOCTYPE html>\n<html><head><title>x</title></head>"
        b"<body><script>alert(1)</script></body></html>\n")


def elf_bytes():
    with open("/bin/true", "rb") as f:
        return f.read(16384)


# ---- helpers -------------------------------------------------------------------------

def make_project(owner):
    r = requests.post(PROJECTS, json={"key": ("A" + uuid.uuid4().hex[:9]).upper(),
                                      "name": "Attachments test"},
                      headers=owner["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


def make_issue(user, project_id):
    r = requests.post(ISSUES, json={"project_id": project_id, "title": "with files"},
                      headers=user["headers"], timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


def att_url(issue_ref):
    return ISSUES + "/" + issue_ref + "/attachments"


BOUNDARY = "----itTestBoundary7MA4YWxkTrZu0gW"


def part(name, data, filename=None, ctype=None, extra=b""):
    disp = b'Content-Disposition: form-data; name="' + name.encode() + b'"'
    if filename is not None:
        disp += b'; filename="' + (filename if isinstance(filename, bytes)
                                   else filename.encode()) + b'"'
    head = disp + extra + b"\r\n"
    if ctype:
        head += b"Content-Type: " + ctype.encode() + b"\r\n"
    return b"--" + BOUNDARY.encode() + b"\r\n" + head + b"\r\n" + data + b"\r\n"


def form(*parts, boundary=BOUNDARY):
    return b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"


def mp_headers(user, boundary=BOUNDARY):
    return dict(user["headers"], **{"Content-Type": "multipart/form-data; boundary=" + boundary})


def upload(user, issue_ref, data=TEXT, filename="notes.txt", ctype="text/plain"):
    body = form(part("file", data, filename, ctype))
    return requests.post(att_url(issue_ref), data=body, headers=mp_headers(user),
                         timeout=TIMEOUT)


def upload_ok(user, issue_ref, **kw):
    r = upload(user, issue_ref, **kw)
    assert r.status_code == 201, r.text
    return r.json()


def stored_files():
    """Every file below the upload directory (relative paths)."""
    out = set()
    for root, _dirs, files in os.walk(UPLOAD_DIR):
        for f in files:
            out.add(os.path.relpath(os.path.join(root, f), UPLOAD_DIR))
    return out


def httpd_peak_rss_kib():
    """VmHWM (peak resident set, KiB) of each httpd child of the test stack."""
    with open(os.path.join(os.environ["IT_VAR"], "run", "httpd.pid")) as f:
        parent = f.read().strip()
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/status" % pid) as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if status.get("PPid", "").strip() == parent and "VmHWM" in status:
            out[pid] = int(status["VmHWM"].split()[0])
    assert out, "no httpd children found"
    return out


def rows(issue_id):
    return int(psql("SELECT count(*) FROM attachments WHERE issue_id = '%s'" % issue_id))


def events(issue_id):
    out = psql("SELECT COALESCE(json_agg(json_build_object('kind', kind, 'actor_id', actor_id,"
               " 'data', data) ORDER BY created_at, seq), '[]') FROM issue_events"
               " WHERE issue_id = '%s'" % issue_id)
    return json.loads(out)


@pytest.fixture()
def project(manager):
    return make_project(manager)


@pytest.fixture()
def issue(reporter, project):
    return make_issue(reporter, project["id"])


@pytest.fixture()
def nothing_left(issue):
    """Yields; afterwards the issue has no attachment row and the upload
    directory holds exactly the files it held before."""
    before = stored_files()
    yield
    assert rows(issue["id"]) == 0
    assert wait_for(lambda: stored_files() == before, 5), stored_files() - before


def test_upload_dir_is_visible_to_the_tests():
    assert os.path.isdir(UPLOAD_DIR), UPLOAD_DIR


# ---- upload and download -------------------------------------------------------------

def test_upload_download_round_trip(reporter, issue):
    r = upload(reporter, issue["id"], data=PNG, filename="shot.png", ctype="image/png")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert set(doc) == DOC_FIELDS, doc
    assert doc["issue_id"] == issue["id"] and doc["uploader_id"] == reporter["id"]
    assert doc["filename"] == "shot.png" and doc["content_type"] == "image/png"
    assert doc["size_bytes"] == len(PNG)
    assert doc["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert doc["version"] == 1
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == "/api/v1/attachments/" + doc["id"]
    # stored under <aa>/<bb>/<id>, the server's uuid, nothing from the client
    rel = os.path.join(doc["id"][:2], doc["id"][2:4], doc["id"])
    assert rel in stored_files()
    with open(os.path.join(UPLOAD_DIR, rel), "rb") as f:
        assert f.read() == PNG
    assert psql("SELECT storage_key FROM attachments WHERE id = '%s'" % doc["id"]) == rel

    meta = requests.get(BASE_URL + r.headers["Location"], headers=reporter["headers"])
    assert meta.status_code == 200 and meta.json() == doc and meta.headers["ETag"] == '"1"'
    again = requests.get(BASE_URL + r.headers["Location"],
                         headers=dict(reporter["headers"], **{"If-None-Match": '"1"'}))
    assert again.status_code == 304

    got = requests.get(ATTACHMENTS + "/" + doc["id"] + "/content", headers=reporter["headers"])
    assert got.status_code == 200
    assert got.content == PNG
    assert hashlib.sha256(got.content).hexdigest() == doc["sha256"]
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["ETag"] == '"%s"' % doc["sha256"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"] == \
        "attachment; filename=\"shot.png\"; filename*=UTF-8''shot.png"
    assert got.headers["Accept-Ranges"] == "bytes"


def test_download_range_is_206(reporter, issue):
    doc = upload_ok(reporter, issue["id"], data=TEXT)
    r = requests.get(ATTACHMENTS + "/" + doc["id"] + "/content",
                     headers=dict(reporter["headers"], Range="bytes=0-9"))
    assert r.status_code == 206, r.text
    assert r.content == TEXT[:10]
    assert r.headers["Content-Range"] == "bytes 0-9/%d" % len(TEXT)
    r = requests.get(ATTACHMENTS + "/" + doc["id"] + "/content",
                     headers=dict(reporter["headers"], Range="bytes=-5"))
    assert r.status_code == 206 and r.content == TEXT[-5:]


def test_download_if_none_match_sha_is_304(reporter, issue):
    doc = upload_ok(reporter, issue["id"])
    r = requests.get(ATTACHMENTS + "/" + doc["id"] + "/content",
                     headers=dict(reporter["headers"], **{"If-None-Match": '"%s"' % doc["sha256"]}))
    assert r.status_code == 304 and r.content == b""
    r = requests.get(ATTACHMENTS + "/" + doc["id"] + "/content",
                     headers=dict(reporter["headers"], **{"If-None-Match": '"0000"'}))
    assert r.status_code == 200 and r.content == TEXT


def test_head_content_sends_headers_only(reporter, issue):
    doc = upload_ok(reporter, issue["id"])
    r = requests.head(ATTACHMENTS + "/" + doc["id"] + "/content", headers=reporter["headers"])
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Length"] == str(len(TEXT))


def test_active_types_download_as_octet_stream(reporter, issue):
    """Were text/html ever allowed (IssueTrackerAllowedTypes), it must not
    render in our origin: a row of that type is served as octet-stream."""
    aid = str(uuid.uuid4())
    rel = os.path.join(aid[:2], aid[2:4], aid)
    for d in (os.path.join(UPLOAD_DIR, aid[:2]), os.path.join(UPLOAD_DIR, aid[:2], aid[2:4])):
        if not os.path.isdir(d):
            os.mkdir(d, 0o750)
            shutil.chown(d, "www-data", "www-data")   # httpd may store there later
    with open(os.path.join(UPLOAD_DIR, rel), "wb") as f:
        f.write(HTML)
    os.chmod(os.path.join(UPLOAD_DIR, rel), 0o644)
    try:
        psql("INSERT INTO attachments (id, issue_id, uploader_id, filename, content_type,"
             " size_bytes, sha256, storage_key) VALUES ('%s', '%s', '%s', 'x\"y.html', 'text/html',"
             " %d, '%s', '%s')" % (aid, issue["id"], reporter["id"], len(HTML),
                                   hashlib.sha256(HTML).hexdigest(), rel))
        r = requests.get(ATTACHMENTS + "/" + aid + "/content", headers=reporter["headers"])
        assert r.status_code == 200 and r.content == HTML
        assert r.headers["Content-Type"] == "application/octet-stream"
        assert r.headers["Content-Disposition"].startswith("attachment; filename=\"x_y.html\"")
        assert "filename*=UTF-8''x%22y.html" in r.headers["Content-Disposition"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        psql("DELETE FROM attachments WHERE id = '%s'" % aid)
        os.unlink(os.path.join(UPLOAD_DIR, rel))


def test_raw_body_upload(reporter, issue):
    h = dict(reporter["headers"], **{"Content-Type": "text/csv",
                                      "Content-Disposition": 'attachment; filename="data.csv"'})
    body = b"a,b,c\n1,2,3\n4,5,6\n"
    r = requests.post(att_url(issue["id"]), data=body, headers=h, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["filename"] == "data.csv" and doc["content_type"] == "text/csv"
    assert doc["sha256"] == hashlib.sha256(body).hexdigest() and doc["size_bytes"] == len(body)
    got = requests.get(ATTACHMENTS + "/" + doc["id"] + "/content", headers=reporter["headers"])
    assert got.content == body and got.headers["Content-Type"] == "text/csv"


def test_raw_body_without_disposition_is_400(reporter, issue, nothing_left):
    h = dict(reporter["headers"], **{"Content-Type": "text/plain"})
    r = requests.post(att_url(issue["id"]), data=TEXT, headers=h, timeout=TIMEOUT)
    assert_problem(r, 400, "missing_filename")


def test_raw_body_without_content_type_is_415(reporter, issue, nothing_left):
    r = requests.post(att_url(issue["id"]), data=TEXT, timeout=TIMEOUT,
                      headers=dict(reporter["headers"],
                                   **{"Content-Disposition": 'attachment; filename="a.txt"'}))
    assert_problem(r, 415)


def test_upload_by_issue_key_and_extra_fields_ignored(reporter, project, issue):
    body = form(part("title", b"ignored"), part("file", PDF, "spec.pdf", "application/pdf"),
                part("comment", b"also ignored"))
    r = requests.post(att_url(issue["key"]), data=body, headers=mp_headers(reporter))
    assert r.status_code == 201, r.text
    assert r.json()["content_type"] == "application/pdf" and r.json()["size_bytes"] == len(PDF)


def test_requests_library_multipart(reporter, issue):
    r = requests.post(att_url(issue["id"]), headers=reporter["headers"],
                      files={"file": ("r\u00e9sum\u00e9.txt", TEXT, "text/plain")},
                      data={"note": "x"}, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "r\u00e9sum\u00e9.txt"


def test_streamed_20mib_upload(reporter, issue):
    """A large body sent in chunks (Transfer-Encoding: chunked); the module
    writes it to disk as it arrives, so no httpd child's peak memory grows
    with it. (100 MiB is above the shipped 25 MiB limit, so the check uses
    20 MiB.)"""
    block = (b"0123456789abcdef" * 4096)[:65536]
    n = 320
    sha = hashlib.sha256()
    for _ in range(n):
        sha.update(block)

    def gen():
        yield (b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=\"file\";"
               b" filename=\"big.txt\"\r\nContent-Type: text/plain\r\n\r\n")
        for _ in range(n):
            yield block
        yield b"\r\n--" + BOUNDARY.encode() + b"--\r\n"
    for _ in range(6):   # the first upload of a child loads libmagic's database
        upload_ok(reporter, issue["id"], data=TEXT * 1000)
    hwm = httpd_peak_rss_kib()
    r = requests.post(att_url(issue["id"]), data=gen(), headers=mp_headers(reporter),
                      timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["size_bytes"] == n * len(block) and doc["sha256"] == sha.hexdigest()
    # streamed, not buffered: no child's peak RSS grew by anything like 20 MiB
    grown = {pid: kib - hwm.get(pid, 0) for pid, kib in httpd_peak_rss_kib().items()}
    assert max(grown.values()) < 12 * 1024, grown
    got = requests.get(ATTACHMENTS + "/" + doc["id"] + "/content", headers=reporter["headers"],
                       stream=True)
    h = hashlib.sha256()
    for chunk in got.iter_content(1 << 20):
        h.update(chunk)
    assert h.hexdigest() == doc["sha256"]


# ---- filenames -----------------------------------------------------------------------

@pytest.mark.parametrize("sent, stored", [
    (b"../../etc/passwd", "passwd"),
    (b"..\\..\\windows\\win.ini", "win.ini"),
    (b"/var/www/shell.txt", "shell.txt"),
    (b"a\x01b\x1fc\x7f.txt", "abc.txt"),
    (b"tab\there.txt", "tabhere.txt"),
    (b"..", "attachment"),
    (b"   ", "attachment"),
    (b"bad\xffutf8.txt", "bad_utf8.txt"),
    (b"\xe2\x80\xaetxt.exe", "txt.exe"),
    (("x" * 300 + ".txt").encode(), "x" * 255),
    (("\u20ac" * 100).encode(), "\u20ac" * 85),
])
def test_filename_is_sanitised(reporter, issue, sent, stored):
    before = stored_files()
    doc = upload_ok(reporter, issue["id"], filename=sent)
    assert doc["filename"] == stored
    # the storage path is the uuid, whatever the name said
    assert stored_files() - before == {os.path.join(doc["id"][:2], doc["id"][2:4], doc["id"])}


def test_filename_star_is_decoded_and_sanitised(reporter, issue):
    body = form(part("file", TEXT, "fallback.txt", "text/plain",
                     extra=b"; filename*=UTF-8''%E2%82%AC%20..%2F..%2Fetc%2Fshadow%0A.txt"))
    r = requests.post(att_url(issue["id"]), data=body, headers=mp_headers(reporter))
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "shadow.txt"
    body = form(part("file", TEXT, "fallback.txt", "text/plain",
                     extra=b"; filename*=UTF-8''%E2%82%AC%20rates.txt"))
    r = requests.post(att_url(issue["id"]), data=body, headers=mp_headers(reporter))
    assert r.json()["filename"] == "\u20ac rates.txt"
    got = requests.get(ATTACHMENTS + "/" + r.json()["id"] + "/content",
                       headers=reporter["headers"])
    assert got.headers["Content-Disposition"] == \
        "attachment; filename=\"___ rates.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt"


# ---- malformed multipart: 400 problem, no row, no file ---------------------------------

def _part_b(boundary, name, data):
    return (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"" + name
            + b"\"; filename=\"a.txt\"\r\n\r\n" + data + b"\r\n")


MALFORMED = [
    ("no boundary parameter", "multipart/form-data", form(part("file", TEXT, "a.txt")),
     "invalid_boundary"),
    ("empty boundary", "multipart/form-data; boundary=", form(part("file", TEXT, "a.txt")),
     "invalid_boundary"),
    ("boundary too long", "multipart/form-data; boundary=" + "x" * 71,
     form(part("file", TEXT, "a.txt")), "invalid_boundary"),
    ("body uses another boundary", "multipart/form-data; boundary=other",
     form(part("file", TEXT, "a.txt")), "no_multipart_delimiter"),
    ("truncated part", None, part("file", TEXT, "a.txt"), "truncated_multipart"),
    ("truncated headers", None, b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form",
     "truncated_multipart"),
    ("empty body", None, b"", "no_multipart_delimiter"),
    ("huge header line", None,
     form(part("file", TEXT, "a.txt", extra=b"; x=\"" + b"a" * 20000 + b"\"")),
     "header_too_long"),
    ("missing file part", None, form(part("other", TEXT, "a.txt")), "missing_file"),
    ("no parts at all", None, form(), "missing_file"),
    ("two file parts", None, form(part("file", TEXT, "a.txt"), part("file", TEXT, "b.txt")),
     "duplicate_file"),
    ("missing disposition", None,
     b"--" + BOUNDARY.encode() + b"\r\nContent-Type: text/plain\r\n\r\nx\r\n--"
     + BOUNDARY.encode() + b"--", "missing_disposition"),
    ("junk after a delimiter", None, b"--" + BOUNDARY.encode() + b"junk\r\n\r\n",
     "malformed_multipart"),
    ("10k tiny parts", None,
     form(*[part("p%d" % i, b"v") for i in range(10000)], part("file", TEXT, "a.txt")),
     "too_many_parts"),
]


@pytest.mark.parametrize("what, ctype, body, code", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_multipart_is_400_without_row_or_file(reporter, issue, nothing_left,
                                                        what, ctype, body, code):
    h = dict(reporter["headers"],
             **{"Content-Type": ctype or "multipart/form-data; boundary=" + BOUNDARY})
    r = requests.post(att_url(issue["id"]), data=body, headers=h, timeout=TIMEOUT)
    assert_problem(r, 400, code)


def test_boundary_split_at_every_offset(reporter, issue):
    """The same small body, sent as two chunks split at every offset."""
    body = form(part("file", b"hello split world\n", "s.txt"))
    with requests.Session() as s:
        for cut in range(1, len(body)):
            def gen(cut=cut):
                yield body[:cut]
                yield body[cut:]
            r = s.post(att_url(issue["id"]), data=gen(), headers=mp_headers(reporter),
                       timeout=TIMEOUT)
            assert r.status_code == 201, (cut, r.text)
            assert r.json()["sha256"] == hashlib.sha256(b"hello split world\n").hexdigest()
    assert rows(issue["id"]) == len(body) - 1


# ---- limits and types ----------------------------------------------------------------

def test_raw_upload_over_the_limit_is_413(reporter, issue, nothing_left):
    h = dict(reporter["headers"], **{"Content-Type": "text/plain",
                                      "Content-Disposition": 'attachment; filename="big.txt"'})
    r = requests.post(att_url(issue["id"]), data=b"a" * (MAX_UPLOAD + 1), headers=h,
                      timeout=TIMEOUT)
    assert_problem(r, 413, "upload_too_large")


def test_streamed_multipart_over_the_limit_is_413_and_temp_file_removed(
        reporter, issue, nothing_left):
    block = b"b" * 65536

    def gen():
        yield (b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=\"file\";"
               b" filename=\"big.txt\"\r\n\r\n")
        for _ in range(MAX_UPLOAD // len(block)):
            yield block
        yield b"one byte too many"
        yield b"\r\n--" + BOUNDARY.encode() + b"--\r\n"
    r = requests.post(att_url(issue["id"]), data=gen(), headers=mp_headers(reporter),
                      timeout=TIMEOUT)
    assert_problem(r, 413, "upload_too_large")


def test_upload_of_exactly_the_limit_is_accepted(reporter, issue):
    data = b"c" * MAX_UPLOAD
    h = dict(reporter["headers"], **{"Content-Type": "text/plain",
                                      "Content-Disposition": 'attachment; filename="max.txt"'})
    r = requests.post(att_url(issue["id"]), data=data, headers=h, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    assert r.json()["size_bytes"] == MAX_UPLOAD


@pytest.mark.parametrize("what, data, ctype", [
    ("ELF executable", elf_bytes(), "application/octet-stream"),
    ("HTML", HTML, "text/html"),
    ("HTML declared as text", HTML, "text/plain"),
    ("empty file", b"", "text/plain"),
])
def test_disallowed_type_is_415(reporter, issue, nothing_left, what, data, ctype):
    r = upload(reporter, issue["id"], data=data, filename="x.bin", ctype=ctype)
    body = assert_problem(r, 415, "type_not_allowed")
    assert body["content_type"]


@pytest.mark.parametrize("what, data, ctype", [
    ("PNG declared as PDF", PNG, "application/pdf"),
    ("text declared as PNG", TEXT, "image/png"),
    ("PDF declared as JSON", PDF, "application/json"),
])
def test_declared_type_contradicting_content_is_415(reporter, issue, nothing_left,
                                                    what, data, ctype):
    r = upload(reporter, issue["id"], data=data, filename="x", ctype=ctype)
    assert_problem(r, 415, "type_mismatch")


@pytest.mark.parametrize("data, declared, stored", [
    (PNG, "image/png", "image/png"),
    (PNG, "application/octet-stream", "image/png"),
    (PNG, None, "image/png"),
    (TEXT, "text/markdown", "text/plain"),
    (b"a,b\n1,2\n", "text/csv", "text/csv"),
    (b'{"a": [1, 2, 3]}\n', "application/json", "application/json"),
    (zlib.compress(TEXT), None, None),
])
def test_declared_types_accepted(reporter, issue, data, declared, stored):
    r = upload(reporter, issue["id"], data=data, filename="f", ctype=declared)
    if stored is None:       # zlib stream: not an allowed type
        assert_problem(r, 415)
        return
    assert r.status_code == 201, r.text
    assert r.json()["content_type"] == stored


# ---- client disconnect -----------------------------------------------------------------

def test_client_disconnect_mid_upload_leaves_no_row_and_no_file(reporter, issue):
    before = stored_files()
    payload = form(part("file", b"z" * (1 << 20), "gone.txt", "text/plain"))
    host, port = BASE_URL.split("//")[1].split(":")
    head = ("POST /api/v1/issues/%s/attachments HTTP/1.1\r\nHost: %s\r\n"
            "Authorization: %s\r\nContent-Type: multipart/form-data; boundary=%s\r\n"
            "Content-Length: %d\r\n\r\n" % (issue["id"], host, reporter["headers"]["Authorization"],
                                           BOUNDARY, len(payload))).encode()
    s = socket.create_connection((host, int(port)))
    s.sendall(head + payload[:len(payload) // 2])
    # the temporary file exists while the upload is under way
    assert wait_for(lambda: any(f.startswith("tmp/") for f in stored_files() - before), 5)
    s.close()
    assert wait_for(lambda: stored_files() == before, 10), stored_files() - before
    time.sleep(0.2)
    assert rows(issue["id"]) == 0
    # and the server is fine
    assert upload(reporter, issue["id"]).status_code == 201


# ---- list, read, delete --------------------------------------------------------------

def test_list_in_upload_order_with_paging(reporter, issue):
    ids = [upload_ok(reporter, issue["id"], filename="f%d.txt" % i)["id"] for i in range(3)]
    r = requests.get(att_url(issue["id"]), headers=reporter["headers"])
    assert r.status_code == 200, r.text
    assert [a["id"] for a in r.json()["items"]] == ids
    r = requests.get(att_url(issue["id"]), params={"size": 2}, headers=reporter["headers"])
    body = r.json()
    assert [a["id"] for a in body["items"]] == ids[:2] and body["has_more"]
    r = requests.get(att_url(issue["id"]), params={"cursor": body["next_cursor"], "size": 2},
                     headers=reporter["headers"])
    assert [a["id"] for a in r.json()["items"]] == ids[2:]
    r = requests.get(att_url(issue["id"]), params={"sort": "-filename", "include_total": "true"},
                     headers=reporter["headers"])
    assert [a["filename"] for a in r.json()["items"]] == ["f2.txt", "f1.txt", "f0.txt"]
    assert r.json()["total"] == 3


def test_list_bad_parameters_are_422(reporter, issue):
    for params in ({"sort": "sha256"}, {"bogus": "1"}, {"size": "0"}):
        r = requests.get(att_url(issue["id"]), params=params, headers=reporter["headers"])
        assert_problem(r, 422)
    r = requests.get(att_url(issue["id"]), params={"include_deleted": "true"},
                     headers=reporter["headers"])
    assert_problem(r, 403)


def test_unknown_and_malformed_ids_are_404(reporter, issue):
    for path in ("/" + str(uuid.uuid4()), "/not-a-uuid", "/" + str(uuid.uuid4()) + "/content"):
        r = requests.get(ATTACHMENTS + path, headers=reporter["headers"])
        assert_problem(r, 404)
    r = upload(reporter, str(uuid.uuid4()))
    assert_problem(r, 404)
    r = requests.get(att_url(str(uuid.uuid4())), headers=reporter["headers"])
    assert_problem(r, 404)


def test_upload_to_deleted_issue_is_404(reporter, manager, issue):
    r = requests.delete(ISSUES + "/" + issue["id"],
                        headers=dict(manager["headers"], **{"If-Match": '"1"'}))
    assert r.status_code == 204, r.text
    before = stored_files()
    assert_problem(upload(reporter, issue["id"]), 404)
    assert stored_files() == before


def test_delete_needs_precondition_then_404_and_events(reporter, admin, issue):
    doc = upload_ok(reporter, issue["id"])
    aurl = ATTACHMENTS + "/" + doc["id"]
    assert_problem(requests.delete(aurl, headers=reporter["headers"]), 428)
    r = requests.delete(aurl, headers=dict(reporter["headers"], **{"If-Match": '"7"'}))
    body = assert_problem(r, 412)
    assert body["current_version"] == 1
    r = requests.delete(aurl, json={"version": 3}, headers=reporter["headers"])
    assert_problem(r, 409)
    r = requests.delete(aurl, headers=dict(reporter["headers"], **{"If-Match": '"1"'}))
    assert r.status_code == 204, r.text
    assert_problem(requests.get(aurl, headers=reporter["headers"]), 404)
    assert_problem(requests.get(aurl + "/content", headers=reporter["headers"]), 404)
    assert_problem(requests.delete(aurl, headers=dict(reporter["headers"], **{"If-Match": '"2"'})),
                   404)
    r = requests.get(att_url(issue["id"]), headers=reporter["headers"])
    assert r.json()["items"] == []
    # admins still see it
    r = requests.get(aurl, params={"include_deleted": "true"}, headers=admin["headers"])
    assert r.status_code == 200 and r.json()["is_deleted"] is True and r.json()["version"] == 2
    r = requests.get(att_url(issue["id"]), params={"include_deleted": "true"},
                     headers=admin["headers"])
    assert [a["id"] for a in r.json()["items"]] == [doc["id"]]
    # the file stays for scripts/attachments-cleanup
    assert os.path.join(doc["id"][:2], doc["id"][2:4], doc["id"]) in stored_files()
    # and the timeline API shows both
    r = requests.get(ISSUES + "/" + issue["id"] + "/timeline", headers=reporter["headers"])
    assert r.status_code == 200, r.text
    items = [(e["kind"], e["data"]) for e in r.json()["items"]
             if e["kind"].startswith("attachment_")]
    assert items == [("attachment_added", {"attachment_id": doc["id"]}),
                     ("attachment_removed", {"attachment_id": doc["id"]})]
    evs = [e for e in events(issue["id"]) if e["kind"].startswith("attachment_")]
    assert evs == [
        {"kind": "attachment_added", "actor_id": reporter["id"], "data": {"attachment_id": doc["id"]}},
        {"kind": "attachment_removed", "actor_id": reporter["id"],
         "data": {"attachment_id": doc["id"]}},
    ]


def test_upload_leaves_the_issue_version_alone(reporter, issue):
    upload_ok(reporter, issue["id"])
    r = requests.get(ISSUES + "/" + issue["id"], headers=reporter["headers"])
    assert r.json()["version"] == issue["version"]


# ---- permissions ---------------------------------------------------------------------

@pytest.mark.parametrize("role, own_issue, status", [
    ("reporter", True, 201), ("reporter", False, 403),
    ("developer", False, 201), ("manager", False, 201), ("admin", False, 201),
])
def test_permission_matrix_create(make_user, project, role, own_issue, status):
    user = make_user(role)
    creator = user if own_issue else make_user("reporter")
    iss = make_issue(creator, project["id"])
    before = stored_files()
    r = upload(user, iss["id"])
    assert r.status_code == status, r.text
    if status == 403:
        assert_problem(r, 403)
        assert stored_files() == before and rows(iss["id"]) == 0


@pytest.mark.parametrize("role", ["reporter", "developer", "manager", "admin"])
def test_permission_matrix_read(make_user, reporter, issue, role):
    doc = upload_ok(reporter, issue["id"])
    user = make_user(role)
    for u in (att_url(issue["id"]), ATTACHMENTS + "/" + doc["id"],
              ATTACHMENTS + "/" + doc["id"] + "/content"):
        assert requests.get(u, headers=user["headers"]).status_code == 200


@pytest.mark.parametrize("role, own, status", [
    ("reporter", True, 204), ("reporter", False, 403),
    ("developer", True, 204), ("developer", False, 403),
    ("manager", False, 204), ("admin", False, 204),
])
def test_permission_matrix_delete(make_user, project, role, own, status):
    user = make_user(role)
    uploader = user if own else make_user("developer")
    iss = make_issue(uploader, project["id"])
    doc = upload_ok(uploader, iss["id"])
    r = requests.delete(ATTACHMENTS + "/" + doc["id"],
                        headers=dict(user["headers"], **{"If-Match": '"1"'}))
    assert r.status_code == status, r.text
    if status == 403:
        assert_problem(r, 403)


def test_anonymous_is_401(issue):
    r = requests.post(att_url(issue["id"]), data=form(part("file", TEXT, "a.txt")),
                      headers={"Content-Type": "multipart/form-data; boundary=" + BOUNDARY})
    assert_problem(r, 401)


# ---- scripts/attachments-cleanup -------------------------------------------------------

def test_cleanup_script_removes_old_deleted_files_and_strays(reporter, issue):
    keep = upload_ok(reporter, issue["id"])
    recent = upload_ok(reporter, issue["id"])
    old = upload_ok(reporter, issue["id"])
    for doc in (recent, old):
        r = requests.delete(ATTACHMENTS + "/" + doc["id"],
                            headers=dict(reporter["headers"], **{"If-Match": '"1"'}))
        assert r.status_code == 204
    psql("UPDATE attachments SET deleted_at = now() - interval '40 days' WHERE id = '%s'" % old["id"])
    key = lambda d: os.path.join(d["id"][:2], d["id"][2:4], d["id"])
    # a stray temporary file and an orphan, both two days old, and a fresh temp file
    day2 = time.time() - 2 * 86400
    os.makedirs(os.path.join(UPLOAD_DIR, "tmp"), exist_ok=True)
    stray = os.path.join("tmp", str(uuid.uuid4()) + ".part")
    fresh = os.path.join("tmp", str(uuid.uuid4()) + ".part")
    oid = str(uuid.uuid4())
    orphan = os.path.join(oid[:2], oid[2:4], oid)
    for d in (os.path.join(UPLOAD_DIR, oid[:2]), os.path.join(UPLOAD_DIR, oid[:2], oid[2:4])):
        if not os.path.isdir(d):
            os.mkdir(d, 0o750)
            shutil.chown(d, "www-data", "www-data")
    for rel in (stray, fresh, orphan):
        with open(os.path.join(UPLOAD_DIR, rel), "wb") as f:
            f.write(b"x")
    os.utime(os.path.join(UPLOAD_DIR, stray), (day2, day2))
    os.utime(os.path.join(UPLOAD_DIR, orphan), (day2, day2))
    script = os.path.join(os.environ["IT_ROOT"], "scripts", "attachments-cleanup")
    args = [script, "--days", "30", "--upload-dir", UPLOAD_DIR,
            "--database-url", os.environ["IT_DATABASE_URL"]]
    dry = subprocess.run(args + ["--dry-run"], capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert key(old) in dry.stdout and os.path.exists(os.path.join(UPLOAD_DIR, key(old)))
    out = subprocess.run(args, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    files = stored_files()
    assert key(old) not in files and stray not in files and orphan not in files, out.stdout
    assert key(keep) in files and key(recent) in files and fresh in files
    os.unlink(os.path.join(UPLOAD_DIR, fresh))
    # the live attachment still downloads
    r = requests.get(ATTACHMENTS + "/" + keep["id"] + "/content", headers=reporter["headers"])
    assert r.status_code == 200 and r.content == TEXT
