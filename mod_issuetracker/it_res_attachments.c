/*
 * it_res_attachments.c -- files attached to issues.
 *
 *   POST   /api/v1/issues/{ref}/attachments    upload (multipart `file`, or raw)
 *   GET    /api/v1/issues/{ref}/attachments    list, in upload order
 *   GET    /api/v1/attachments/{id}            metadata (ETag: version)
 *   GET    /api/v1/attachments/{id}/content    the bytes (ETag: sha256, Range)
 *   DELETE /api/v1/attachments/{id}            soft delete (precondition)
 *
 * An upload is streamed: req->read_chunk -> (it_multipart) -> a temporary
 * file created O_EXCL 0600 under <upload_dir>/tmp with a server-chosen
 * name, hashed (SHA-256) and counted as it is written, so memory does not
 * grow with the file. Then: limit (413), libmagic sniff (415 for a type
 * not allowed, or one that contradicts the declared type), fsync, rename
 * to <upload_dir>/<aa>/<bb>/<uuid> (the uuid is ours, never the client's),
 * and one transaction for the row and its attachment_added event. A pool
 * cleanup removes the temporary file, or the renamed one, on every path
 * that does not end in a committed row: errors, 4xx, client disconnects.
 * Deleted attachments keep their file until scripts/attachments-cleanup.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <magic.h>
#include <openssl/evp.h>

#include "it_auth.h"
#include "it_config.h"
#include "it_db.h"
#include "it_dispatch.h"
#include "it_events.h"
#include "it_issues.h"
#include "it_json.h"
#include "it_multipart.h"
#include "it_page.h"
#include "it_problem.h"
#include "it_router.h"
#include "it_version.h"

#define IT_ATT_PATH    IT_API_BASE "/attachments"
#define IT_ATT_CHUNK   (64 * 1024)   /* one read from the input filters */
#define IT_ATT_WBUF    (64 * 1024)   /* file data gathered per write(2) */
#define IT_ATT_MAX_PARTS 100         /* form fields per upload */
#define IT_ATT_TX_TRIES 3
#define IT_ATT_FALLBACK_NAME "attachment"
/* libmagic reads (and allocates) this much of a file: 7 MiB by default,
 * far more than any signature or text heuristic needs. */
#define IT_ATT_SNIFF_BYTES (1024 * 1024)

/* The same list as it_config_default_types (DESIGN.md section 4): that one
 * lives in the glue (it_config.c), which the unit tests do not link. */
static const char *const it_att_default_types[] = {
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf",
    "text/plain", "text/csv", "application/json", "application/zip",
    "application/gzip", NULL
};

/* Types a browser may render as they are: everything else is sent as
 * application/octet-stream, whatever IssueTrackerAllowedTypes admits
 * (text/html, image/svg+xml, scripts, XML could run in our origin). */
static const char *const it_att_passive_types[] = {
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf",
    "text/plain", "text/csv", "application/json", "application/zip",
    "application/gzip", NULL
};

/* Common names for one type: declared -> what libmagic calls it. */
static const char *const it_att_aliases[][2] = {
    { "image/jpg",                    "image/jpeg" },
    { "image/pjpeg",                  "image/jpeg" },
    { "application/x-zip-compressed", "application/zip" },
    { "application/x-zip",            "application/zip" },
    { "application/x-gzip",           "application/gzip" },
    { "application/x-pdf",            "application/pdf" },
    { NULL, NULL }
};

/* Plain text that libmagic cannot tell apart reliably: a declared type of
 * this family (or any text/...) is accepted for sniffed text of it. */
static const char *const it_att_text_family[] = {
    "text/plain", "text/csv", "application/json", NULL
};

#define IT_ATT_DOC_LIVE \
    "json_build_object('id', a.id, 'issue_id', a.issue_id," \
    " 'uploader_id', a.uploader_id, 'filename', a.filename," \
    " 'content_type', a.content_type, 'size_bytes', a.size_bytes," \
    " 'sha256', a.sha256, 'created_at', it_ts(a.created_at)," \
    " 'version', a.version)"

/* Admins with include_deleted see deleted ones with is_deleted, deleted_at. */
#define IT_ATT_DOC \
    "(CASE WHEN a.is_deleted THEN (" IT_ATT_DOC_LIVE "::jsonb" \
    " || jsonb_build_object('is_deleted', true, 'deleted_at', it_ts(a.deleted_at)))::text" \
    " ELSE " IT_ATT_DOC_LIVE "::text END)"

/* ---- SQL ---------------------------------------------------------------- */

static const char it_sql_att_issue[] =
    "SELECT i.id, i.creator_id, i.is_deleted, p.is_deleted"
    " FROM issues i JOIN projects p ON p.id = i.project_id"
    " WHERE " IT_ISSUE_REF_WHERE;

/* $1 id, $2 issue, $3 uploader, $4 filename, $5 type, $6 size, $7 sha256,
 * $8 storage key. No row: the issue was deleted while the file arrived. */
static const char it_sql_att_insert[] =
    "INSERT INTO attachments AS a (id, issue_id, uploader_id, filename, content_type,"
    "                         size_bytes, sha256, storage_key)"
    " SELECT $1::uuid, i.id, $3::uuid, $4, $5, $6::bigint, $7, $8"
    "   FROM issues i WHERE i.id = $2::uuid AND NOT i.is_deleted"
    " RETURNING " IT_ATT_DOC_LIVE "::text, a.version";

enum {
    IT_AG_DOC, IT_AG_VERSION, IT_AG_DELETED, IT_AG_ISSUE_DELETED, IT_AG_KEY,
    IT_AG_SHA, IT_AG_TYPE, IT_AG_NAME, IT_AG_SIZE, IT_AG_UPLOADER, IT_AG_ISSUE,
    IT_AG_PROJECT_DELETED
};
static const char it_sql_att_get[] =
    "SELECT " IT_ATT_DOC ", a.version, a.is_deleted, i.is_deleted, a.storage_key,"
    "       a.sha256, a.content_type, a.filename, a.size_bytes, a.uploader_id,"
    "       a.issue_id, p.is_deleted"
    " FROM attachments a JOIN issues i ON i.id = a.issue_id"
    " JOIN projects p ON p.id = i.project_id"
    " WHERE a.id = $1::uuid";

/* The download needs no document: the same columns with a NULL in its
 * place (json_build_object and it_ts() cost more than the rest of the
 * query, on every download). */
static const char it_sql_att_content[] =
    "SELECT NULL, a.version, a.is_deleted, i.is_deleted, a.storage_key,"
    "       a.sha256, a.content_type, a.filename, a.size_bytes, a.uploader_id,"
    "       a.issue_id, p.is_deleted"
    " FROM attachments a JOIN issues i ON i.id = a.issue_id"
    " JOIN projects p ON p.id = i.project_id"
    " WHERE a.id = $1::uuid";

static const char it_sql_att_lock[] =
    "SELECT " IT_ATT_DOC ", a.version, a.is_deleted, i.is_deleted, a.storage_key,"
    "       a.sha256, a.content_type, a.filename, a.size_bytes, a.uploader_id,"
    "       a.issue_id, p.is_deleted"
    " FROM attachments a JOIN issues i ON i.id = a.issue_id"
    " JOIN projects p ON p.id = i.project_id"
    " WHERE a.id = $1::uuid FOR UPDATE OF a";

static const char it_sql_att_delete[] =
    "UPDATE attachments SET is_deleted = true, deleted_at = now(),"
    " version = version + 1, updated_at = now()"
    " WHERE id = $1::uuid AND version = $2::int AND NOT is_deleted";

/* Every column here is NOT NULL (keyset pagination). */
static const it_sort_t it_att_sorts[] = {
    { "created_at", "a.created_at", "timestamptz" },
    { "filename",   "a.filename",   "text" },
    { "size_bytes", "a.size_bytes", "bigint" },
    { NULL, NULL, NULL }
};

#define IT_ATT_LIST_FROM \
    " FROM attachments a WHERE a.issue_id = $1::uuid AND ($2::boolean OR NOT a.is_deleted)"

static const char it_sql_att_count[] = "SELECT count(*)" IT_ATT_LIST_FROM;

static const it_field_t it_att_version_spec[] = {
    { "version", IT_JT_INT, 0, 1, INT_MAX, NULL, NULL },
    { NULL,      IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

/* ---- helpers ------------------------------------------------------------ */

static int it_att_in(const char *const *list, const char *s)
{
    for (; s && *list; list++) {
        if (!strcmp(*list, s)) {
            return 1;
        }
    }
    return 0;
}

static int it_att_allowed(const it_config_t *cfg, const char *type)
{
    int i;

    if (!cfg || !cfg->allowed_types) {
        return it_att_in(it_att_default_types, type);
    }
    for (i = 0; i < cfg->allowed_types->nelts; i++) {
        if (!strcasecmp(APR_ARRAY_IDX(cfg->allowed_types, i, const char *), type)) {
            return 1;
        }
    }
    return 0;
}

static const char *it_att_unalias(const char *type)
{
    int i;

    for (i = 0; type && it_att_aliases[i][0]; i++) {
        if (!strcmp(it_att_aliases[i][0], type)) {
            return it_att_aliases[i][1];
        }
    }
    return type;
}

/* 1 if the declared type (lowercased, no parameters; NULL = none) agrees
 * with what libmagic found. application/octet-stream claims nothing. */
static int it_att_type_agrees(const char *declared, const char *sniffed)
{
    if (!declared || !strcmp(declared, "application/octet-stream")) {
        return 1;
    }
    declared = it_att_unalias(declared);
    if (!strcmp(declared, sniffed)) {
        return 1;
    }
    return it_att_in(it_att_text_family, sniffed)
           && (!strncmp(declared, "text/", 5) || it_att_in(it_att_text_family, declared));
}

/* One libmagic handle per process, behind a mutex: magic_t is not thread
 * safe, and loading the database per thread costs more than the wait. */
static pthread_mutex_t it_att_magic_lock = PTHREAD_MUTEX_INITIALIZER;
static magic_t it_att_magic;

/* The sniffed media type of a file, NULL if libmagic failed. */
static const char *it_att_sniff(apr_pool_t *pool, const char *path,
                                const char **why)
{
    const char *t, *out = NULL;

    pthread_mutex_lock(&it_att_magic_lock);
    if (!it_att_magic) {
        magic_t m = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
        size_t bytes_max = IT_ATT_SNIFF_BYTES;
        if (m && magic_load(m, NULL) == 0
            && magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &bytes_max) == 0) {
            it_att_magic = m;
        }
        else {
            *why = m ? apr_pstrdup(pool, magic_error(m)) : "magic_open failed";
            if (m) {
                magic_close(m);
            }
        }
    }
    if (it_att_magic) {
        t = magic_file(it_att_magic, path);
        if (t) {
            out = apr_pstrdup(pool, t);
        }
        else {
            const char *e = magic_error(it_att_magic);
            *why = apr_pstrdup(pool, e ? e : "magic_file failed");
        }
    }
    pthread_mutex_unlock(&it_att_magic_lock);
    return out;
}

/* A random (version 4) UUID from APR's entropy source. */
static const char *it_att_uuid(apr_pool_t *pool)
{
    unsigned char b[16];

    if (apr_generate_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        return NULL;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    return apr_psprintf(pool, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                        "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
                        b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                        b[14], b[15]);
}

static int it_att_mkdir(const char *path, mode_t mode)
{
    return mkdir(path, mode) == 0 || errno == EEXIST ? 0 : -1;
}

/* fsync of a directory, so a rename survives a crash. */
static void it_att_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* $1-$3 of IT_ISSUE_REF_WHERE from a {ref}. */
static void it_att_ref_params(apr_pool_t *pool, const char *ref, const char **params)
{
    const char *dash;

    params[0] = params[1] = params[2] = NULL;
    if (it_is_uuid(ref)) {
        params[0] = ref;
        return;
    }
    dash = strrchr(ref, '-');
    params[1] = apr_pstrmemdup(pool, ref, (apr_size_t)(dash - ref));
    params[2] = dash + 1;
}

/* Loads the issue of {ref}: 404 when missing or deleted. Sets *res. */
static int it_att_issue(it_req_t *req, it_resp_t *resp, it_dbres_t **res)
{
    const char *params[3];
    it_db_t *db = it_req_db(req);

    if (!db) {
        return it_problem_db(resp, NULL);
    }
    it_att_ref_params(req->pool, req->params[0], params);
    if (it_db_exec(db, res, it_sql_att_issue, 3, params) != 0) {
        return it_problem_db(resp, db);
    }
    if ((*res)->nrows == 0 || !strcmp(it_dbres_get(*res, 0, 2), "t")) {
        return it_problem(resp, 404, "not_found", "No issue %s", req->params[0]);
    }
    return 0;
}

static int it_att_is_caller(const it_req_t *req, const char *user_id)
{
    return user_id && req->caller && !strcasecmp(user_id, req->caller->id);
}

/* ---- the upload sink ---------------------------------------------------- */

typedef struct {
    it_req_t *req;
    it_resp_t *resp;
    int fd;
    const char *tmp_path;        /* unlinked by the cleanup unless NULL */
    const char *final_path;      /* unlinked by the cleanup unless kept */
    int keep;
    EVP_MD_CTX *md;
    apr_off_t size;
    apr_off_t max;
    int status;                  /* a problem set by a callback */
    int have_file, in_file;
    const char *filename;        /* sanitised */
    const char *declared;        /* media type of the part / body, or NULL */
    char *wbuf;                  /* file data not yet written: the parser */
    size_t wlen;                 /* hands it over between CRs, often only */
                                 /* a few hundred bytes at a time */
} it_att_upload_t;

static apr_status_t it_att_upload_cleanup(void *data)
{
    it_att_upload_t *u = data;

    if (u->fd >= 0) {
        close(u->fd);
        u->fd = -1;
    }
    if (!u->keep) {
        if (u->tmp_path) {
            unlink(u->tmp_path);
        }
        if (u->final_path) {
            unlink(u->final_path);
        }
    }
    if (u->md) {
        EVP_MD_CTX_free(u->md);
        u->md = NULL;
    }
    return APR_SUCCESS;
}

static int it_att_fail(it_att_upload_t *u, int status, const char *code,
                       const char *detail)
{
    u->status = it_problem(u->resp, status, code, "%s", detail);
    return u->status;
}

/* write(2) all of buf to the temporary file. */
static int it_att_write_out(it_att_upload_t *u, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(u->fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int err = errno;
            if (u->req->log) {
                u->req->log(u->req, 3, apr_psprintf(u->req->pool,
                            "attachment: write %s: %s", u->tmp_path, strerror(err)));
            }
            return it_att_fail(u, err == ENOSPC ? 507 : 500, "storage_error",
                               "The file could not be stored");
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The gathered data to the file: before it is sniffed and synced. */
static int it_att_flush(it_att_upload_t *u)
{
    size_t n = u->wlen;

    u->wlen = 0;
    return n ? it_att_write_out(u, u->wbuf, n) : 0;
}

/* File data from the parser (or a raw body): counted against the limit,
 * hashed, and gathered into IT_ATT_WBUF-sized writes. */
static int it_att_write(it_att_upload_t *u, const char *buf, size_t len)
{
    int rc;

    if (u->size + (apr_off_t)len > u->max) {
        it_problem(u->resp, 413, "upload_too_large",
                   "The file is larger than the limit of %" APR_OFF_T_FMT " bytes",
                   u->max);
        u->status = 413;
        return 413;
    }
    u->size += (apr_off_t)len;
    if (EVP_DigestUpdate(u->md, buf, len) != 1) {
        return it_att_fail(u, 500, "internal_error", "SHA-256 failed");
    }
    if (u->wlen + len > IT_ATT_WBUF && (rc = it_att_flush(u)) != 0) {
        return rc;
    }
    if (len >= IT_ATT_WBUF) {
        return it_att_write_out(u, buf, len);
    }
    memcpy(u->wbuf + u->wlen, buf, len);
    u->wlen += len;
    return 0;
}

static int it_att_on_part(void *ctx, const it_mp_part_t *part)
{
    it_att_upload_t *u = ctx;

    u->in_file = !strcmp(part->name, "file");
    if (!u->in_file) {
        return 0;                     /* other fields are ignored */
    }
    if (u->have_file) {
        return it_att_fail(u, 400, "duplicate_file",
                           "The form has more than one part named file");
    }
    u->have_file = 1;
    u->filename = it_mp_sanitize_filename(u->req->pool, part->filename,
                                          IT_ATT_FALLBACK_NAME);
    u->declared = it_mp_media_type(u->req->pool, part->content_type);
    return 0;
}

static int it_att_on_data(void *ctx, const char *buf, size_t len)
{
    it_att_upload_t *u = ctx;
    return u->in_file ? it_att_write(u, buf, len) : 0;
}

static int it_att_on_part_end(void *ctx)
{
    ((it_att_upload_t *)ctx)->in_file = 0;
    return 0;
}

static const it_mp_callbacks_t it_att_mp_callbacks = {
    it_att_on_part, it_att_on_data, it_att_on_part_end
};

/* Reads the rest of a body we refuse, up to about the limit again, so
 * that the client (which sends before it reads) sees the answer rather
 * than a reset. Past that the connection is closed by httpd. */
static void it_att_drain(it_req_t *req, char *buf, apr_off_t budget)
{
    while (budget > 0) {
        apr_size_t n = IT_ATT_CHUNK;
        if (req->read_chunk(req, buf, &n) != 0 || n == 0) {
            return;
        }
        budget -= (apr_off_t)n;
    }
}

/* Streams the body into u's temporary file. Returns 0 or a problem status. */
static int it_att_receive(it_att_upload_t *u, const char *boundary)
{
    it_req_t *req = u->req;
    char *buf = apr_palloc(req->pool, IT_ATT_CHUNK);
    it_mp_t *mp = NULL;
    apr_off_t total = 0;
    it_mp_status_t st;
    int rc;

    if (boundary) {
        mp = it_mp_create(req->pool, boundary, IT_ATT_MAX_PARTS,
                          &it_att_mp_callbacks, u);
        if (!mp) {
            return it_problem(u->resp, 400, "invalid_boundary",
                              "The multipart boundary is not valid");
        }
    }
    if (!req->read_chunk) {
        return it_problem(u->resp, 400, "missing_body", "The upload has no body");
    }
    for (;;) {
        apr_size_t n = IT_ATT_CHUNK;

        if ((rc = req->read_chunk(req, buf, &n)) != 0) {
            /* a client that went away mid-upload lands here too */
            return it_problem(u->resp, rc, rc == 413 ? "upload_too_large" : NULL,
                              "The request body could not be read");
        }
        if (n == 0) {
            break;
        }
        total += (apr_off_t)n;
        if (mp) {
            st = it_mp_feed(mp, buf, n);
            if (st == IT_MP_E_CALLBACK) {
                if (u->status == 413) {
                    it_att_drain(req, buf, u->max);
                }
                return u->status;
            }
            if (st != IT_MP_OK) {
                return it_problem(u->resp, 400, it_mp_code(st), "%s", it_mp_message(st));
            }
        }
        else if ((rc = it_att_write(u, buf, n)) != 0) {
            if (rc == 413) {
                it_att_drain(req, buf, u->max);
            }
            return rc;
        }
    }
    if (mp) {
        if ((st = it_mp_finish(mp)) != IT_MP_OK) {
            return it_problem(u->resp, 400, it_mp_code(st), "%s", it_mp_message(st));
        }
        if (!u->have_file) {
            return it_problem(u->resp, 400, "missing_file",
                              "The form has no part named file");
        }
    }
    else if (req->content_length >= 0 && total != req->content_length) {
        return it_problem(u->resp, 400, "truncated_body",
                          "The body ended before its Content-Length");
    }
    return it_att_flush(u);
}

/* ---- POST /issues/{ref}/attachments ------------------------------------- */

typedef struct {
    it_req_t *req;
    it_resp_t *resp;
    it_att_upload_t *u;
    const char *params[8];
} it_att_insert_t;

static int it_att_insert_tx(it_db_t *db, void *ctx)
{
    it_att_insert_t *c = ctx;
    it_dbres_t *res;
    const char *data;

    if (it_db_exec(db, &res, it_sql_att_insert, 8, c->params) != 0) {
        return -1;
    }
    if (res->nrows == 0) {
        return it_problem(c->resp, 404, "not_found",
                          "The issue was deleted during the upload");
    }
    data = apr_psprintf(c->req->pool, "{\"attachment_id\": \"%s\"}", c->params[0]);
    if (it_event_add(db, c->params[1], "attachment_added", c->req->caller->id,
                     data) != 0) {
        return -1;
    }
    apr_table_setn(c->resp->headers, "Location",
                   apr_pstrcat(c->req->pool, IT_ATT_PATH "/", c->params[0], NULL));
    it_version_respond(c->req, c->resp, 201, it_dbres_get(res, 0, 0),
                       it_dbres_get(res, 0, 1));
    return 0;
}

/* The declared type and filename of a raw (non-multipart) upload. */
static int it_att_raw_headers(it_req_t *req, it_resp_t *resp, it_att_upload_t *u)
{
    const char *cd = apr_table_get(req->headers, "Content-Disposition");
    const char *type, *filename;

    if (!req->content_type || !it_mp_media_type(req->pool, req->content_type)) {
        return it_problem(resp, 415, "unsupported_media_type",
                          "Send multipart/form-data with a part named file, or the "
                          "file itself with its Content-Type and Content-Disposition");
    }
    if (!cd || it_mp_disposition(req->pool, cd, &type, NULL, &filename) != 0
        || strcmp(type, "attachment") || !filename) {
        return it_problem(resp, 400, "missing_filename",
                          "A raw upload needs Content-Disposition: attachment; "
                          "filename=\"...\"");
    }
    u->filename = it_mp_sanitize_filename(req->pool, filename, IT_ATT_FALLBACK_NAME);
    u->declared = it_mp_media_type(req->pool, req->content_type);
    u->have_file = 1;
    return 0;
}

static int it_att_create(it_req_t *req, it_resp_t *resp)
{
    const it_config_t *cfg = req->cfg;
    const char *upload_dir = cfg && cfg->upload_dir ? cfg->upload_dir
                                                    : IT_DEFAULT_UPLOAD_DIR;
    const char *boundary, *id, *dir1, *dir2, *why = "", *sniffed, *stored;
    it_att_upload_t *u;
    it_att_insert_t c;
    it_dbres_t *issue;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, k;
    char *hex;
    int is_mp, rc;

    if ((rc = it_att_issue(req, resp, &issue)) != 0) {
        return rc;
    }
    if ((rc = it_auth_require(req, resp, "attachments.create",
                              it_att_is_caller(req, it_dbres_get(issue, 0, 1)))) != 0) {
        return rc;
    }
    if (!strcmp(it_dbres_get(issue, 0, 3), "t")) {
        return it_problem(resp, 409, "project_deleted",
                          "The issue's project is deleted: its issues are read-only");
    }
    u = apr_pcalloc(req->pool, sizeof(*u));
    u->req = req;
    u->resp = resp;
    u->fd = -1;
    u->wbuf = apr_palloc(req->pool, IT_ATT_WBUF);
    u->max = cfg && cfg->max_upload_size > 0 ? cfg->max_upload_size
                                             : IT_DEFAULT_MAX_UPLOAD;
    boundary = it_mp_boundary(req->pool, req->content_type, &is_mp);
    if (is_mp && !boundary) {
        return it_problem(resp, 400, "invalid_boundary",
                          "multipart/form-data needs a valid boundary parameter");
    }
    if (!is_mp) {
        if ((rc = it_att_raw_headers(req, resp, u)) != 0) {
            return rc;
        }
        if (req->content_length > u->max) {
            return it_problem(resp, 413, "upload_too_large",
                              "The file is larger than the limit of %" APR_OFF_T_FMT
                              " bytes", u->max);
        }
    }
    if (!(id = it_att_uuid(req->pool))) {
        return it_problem(resp, 500, "internal_error", "No random bytes for an id");
    }
    u->md = EVP_MD_CTX_new();
    apr_pool_cleanup_register(req->pool, u, it_att_upload_cleanup,
                              apr_pool_cleanup_null);
    u->tmp_path = apr_pstrcat(req->pool, upload_dir, "/tmp/", id, ".part", NULL);
    if (it_att_mkdir(apr_pstrcat(req->pool, upload_dir, "/tmp", NULL), 0700) != 0
        || (u->fd = open(u->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
                         | O_NOFOLLOW, 0600)) < 0
        || !u->md || EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1) {
        const char *msg = apr_psprintf(req->pool, "attachment: cannot create %s: %s",
                                       u->tmp_path, strerror(errno));
        if (req->log) {
            req->log(req, 3, msg);
        }
        u->tmp_path = u->fd >= 0 ? u->tmp_path : NULL;
        return it_problem(resp, 500, "storage_error",
                          "The upload directory is not writable (see the error log)");
    }
    if ((rc = it_att_receive(u, boundary)) != 0) {
        return rc;
    }
    /* what is the file, really? */
    if (!(sniffed = it_att_sniff(req->pool, u->tmp_path, &why))) {
        if (req->log) {
            req->log(req, 3, apr_pstrcat(req->pool, "attachment: libmagic: ", why, NULL));
        }
        return it_problem(resp, 500, "internal_error", "The file type could not be determined");
    }
    if (!it_att_allowed(cfg, sniffed)) {
        it_problem(resp, 415, "type_not_allowed",
                   "Files of type %s are not accepted here", sniffed);
        it_problem_set(resp, "content_type", json_string(sniffed));
        return 415;
    }
    if (!it_att_type_agrees(u->declared, sniffed)) {
        it_problem(resp, 415, "type_mismatch",
                   "The file is declared as %s but its content is %s",
                   u->declared, sniffed);
        it_problem_set(resp, "content_type", json_string(sniffed));
        return 415;
    }
    /* text that libmagic calls text/plain may well be the CSV it says it is */
    stored = sniffed;
    if (u->declared && it_att_in(it_att_text_family, sniffed)
        && it_att_in(it_att_text_family, u->declared) && it_att_allowed(cfg, u->declared)) {
        stored = u->declared;
    }
    if (EVP_DigestFinal_ex(u->md, md, &mdlen) != 1) {
        return it_problem(resp, 500, "internal_error", "SHA-256 failed");
    }
    hex = apr_palloc(req->pool, mdlen * 2 + 1);
    for (k = 0; k < mdlen; k++) {
        apr_snprintf(hex + k * 2, 3, "%02x", md[k]);
    }
    /* durable before it is named, named before the row points at it */
    dir1 = apr_pstrcat(req->pool, upload_dir, "/", apr_pstrmemdup(req->pool, id, 2), NULL);
    dir2 = apr_pstrcat(req->pool, dir1, "/", apr_pstrmemdup(req->pool, id + 2, 2), NULL);
    u->final_path = apr_pstrcat(req->pool, dir2, "/", id, NULL);
    rc = fsync(u->fd);
    if (close(u->fd) != 0) {
        rc = -1;
    }
    u->fd = -1;                       /* closed either way: never twice */
    if (rc != 0 || it_att_mkdir(dir1, 0750) != 0 || it_att_mkdir(dir2, 0750) != 0
        || rename(u->tmp_path, u->final_path) != 0) {
        if (req->log) {
            req->log(req, 3, apr_psprintf(req->pool, "attachment: cannot store %s: %s",
                                          u->final_path, strerror(errno)));
        }
        return it_problem(resp, 500, "storage_error", "The file could not be stored");
    }
    u->tmp_path = NULL;
    it_att_sync_dir(dir2);

    memset(&c, 0, sizeof(c));
    c.req = req;
    c.resp = resp;
    c.u = u;
    c.params[0] = id;
    c.params[1] = it_dbres_get(issue, 0, 0);
    c.params[2] = req->caller->id;
    c.params[3] = u->filename;
    c.params[4] = stored;
    c.params[5] = apr_off_t_toa(req->pool, u->size);
    c.params[6] = hex;
    c.params[7] = apr_pstrcat(req->pool, apr_pstrmemdup(req->pool, id, 2), "/",
                              apr_pstrmemdup(req->pool, id + 2, 2), "/", id, NULL);
    rc = it_db_tx(req->db, it_att_insert_tx, &c, IT_ATT_TX_TRIES);
    if (rc == -1) {
        apr_table_unset(resp->headers, "Location");
        apr_table_unset(resp->headers, "ETag");
        return it_problem_db(resp, req->db);
    }
    if (rc == 0) {
        u->keep = 1;                  /* the row is committed: keep the file */
    }
    return resp->status;
}

/* ---- GET /issues/{ref}/attachments -------------------------------------- */

static int it_att_list(it_req_t *req, it_resp_t *resp)
{
    static const char *const known[] = { NULL };
    json_t *errors = NULL;
    it_page_t pg;
    const char *params[4], *sql;
    it_dbres_t *issue, *res;
    long total = -1;
    int rc, n = 2;

    it_query_known(req, known, &errors);
    if ((rc = it_page_parse(req, resp, it_att_sorts, "created_at", &pg, &errors)) != 0) {
        json_decref(errors);
        return rc;
    }
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    if (pg.include_deleted && !it_auth_allowed(req->caller, "deleted.read", 0)) {
        return it_problem(resp, 403, "forbidden", "include_deleted=true is for admins only");
    }
    if ((rc = it_att_issue(req, resp, &issue)) != 0) {
        return rc;
    }
    params[0] = it_dbres_get(issue, 0, 0);
    params[1] = pg.include_deleted ? "true" : "false";
    if (pg.after_id) {
        params[n++] = pg.after_key;
        params[n++] = pg.after_id;
    }
    sql = apr_pstrcat(req->pool, "SELECT " IT_ATT_DOC ", a.id, (", pg.sort->column,
                      ")::text" IT_ATT_LIST_FROM " AND ",
                      it_page_keyset_sql(req->pool, &pg, "a.id", 3), " ",
                      it_page_order_sql(req->pool, &pg, "a.id"), " ",
                      it_page_limit_sql(req->pool, &pg), NULL);
    if (it_db_exec(req->db, &res, sql, n, params) != 0) {
        return it_problem_db(resp, req->db);
    }
    if (pg.include_total) {
        it_dbres_t *cnt;
        if (it_db_exec(req->db, &cnt, it_sql_att_count, 2, params) != 0) {
            return it_problem_db(resp, req->db);
        }
        total = atol(it_dbres_get(cnt, 0, 0));
    }
    return it_page_respond_res(req, resp, &pg, res, 0, 1, 2, total);
}

/* ---- GET /attachments/{id}[/content] ------------------------------------ */

/* Loads the attachment with SQL (it_sql_att_get, or it_sql_att_content
 * without the document): 404 when missing, deleted (unless admin with
 * include_deleted) or on a deleted issue. */
static int it_att_load(it_req_t *req, it_resp_t *resp, int allow_deleted,
                       const char *sql, it_dbres_t **res)
{
    const apr_array_header_t *arr = apr_table_elts(req->query);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    json_t *errors = NULL;
    int include_deleted = 0, i;

    for (i = 0; i < arr->nelts; i++) {
        if (!allow_deleted || strcmp(e[i].key, "include_deleted")) {
            errors = it_problem_error_add(errors, e[i].key, "unknown_parameter",
                                          "is not a known parameter");
        }
    }
    if (allow_deleted) {
        it_query_bool(req, "include_deleted", &include_deleted, &errors);
    }
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    if (include_deleted && !it_auth_allowed(req->caller, "deleted.read", 0)) {
        return it_problem(resp, 403, "forbidden", "include_deleted=true is for admins only");
    }
    if (!it_req_db(req)) {
        return it_problem_db(resp, NULL);
    }
    if (it_db_exec(req->db, res, sql, 1, &req->params[0]) != 0) {
        return it_problem_db(resp, req->db);
    }
    if ((*res)->nrows == 0
        || (!include_deleted && (!strcmp(it_dbres_get(*res, 0, IT_AG_DELETED), "t")
                                 || !strcmp(it_dbres_get(*res, 0, IT_AG_ISSUE_DELETED), "t")))) {
        return it_problem(resp, 404, "not_found", "No attachment %s", req->params[0]);
    }
    return 0;
}

static int it_att_read(it_req_t *req, it_resp_t *resp)
{
    it_dbres_t *res;
    int rc;

    if ((rc = it_att_load(req, resp, 1, it_sql_att_get, &res)) != 0) {
        return rc;
    }
    return it_version_respond(req, resp, 200, it_dbres_get(res, 0, IT_AG_DOC),
                              it_dbres_get(res, 0, IT_AG_VERSION));
}

/* RFC 8187 attr-char: everything else is percent-encoded. */
static const char *it_att_pct(apr_pool_t *pool, const char *s)
{
    char *out = apr_palloc(pool, strlen(s) * 3 + 1), *o = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (apr_isalnum(c) || strchr("!#$&+-.^_`|~", c)) {
            *o++ = (char)c;
        }
        else {
            o += apr_snprintf(o, 4, "%%%02X", c);
        }
    }
    *o = '\0';
    return out;
}

/* A quoted-string filename for old clients: printable ASCII only, no
 * quote, backslash or percent (some decode it). */
static const char *it_att_ascii(apr_pool_t *pool, const char *s)
{
    char *out = apr_pstrdup(pool, s), *o;

    for (o = out; *o; o++) {
        unsigned char c = (unsigned char)*o;
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '%') {
            *o = '_';
        }
    }
    return out;
}

/* If-None-Match against the strong ETag "<sha256>" (weak comparison). */
static int it_att_sha_matches(const char *inm, const char *sha)
{
    const char *p = inm;
    size_t n = strlen(sha);

    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (*p == '*') {
            return 1;
        }
        if (!strncmp(p, "W/", 2)) {
            p += 2;
        }
        if (*p == '"' && !strncmp(p + 1, sha, n) && p[1 + n] == '"') {
            return 1;
        }
        p = strchr(p, ',');
    }
    return 0;
}

static int it_att_content(it_req_t *req, it_resp_t *resp)
{
    const it_config_t *cfg = req->cfg;
    const char *upload_dir = cfg && cfg->upload_dir ? cfg->upload_dir
                                                    : IT_DEFAULT_UPLOAD_DIR;
    const char *key, *sha, *type, *name, *inm;
    it_dbres_t *res;
    int rc;

    if ((rc = it_att_load(req, resp, 0, it_sql_att_content, &res)) != 0) {
        return rc;
    }
    key = it_dbres_get(res, 0, IT_AG_KEY);
    sha = it_dbres_get(res, 0, IT_AG_SHA);
    type = it_dbres_get(res, 0, IT_AG_TYPE);
    name = it_dbres_get(res, 0, IT_AG_NAME);
    /* the key is ours ("aa/bb/<uuid>"), checked again rather than trusted */
    if (strlen(key) != 42 || strstr(key, "..") || key[2] != '/' || key[5] != '/'
        || !it_is_uuid(key + 6)) {
        return it_problem(resp, 404, "content_missing",
                          "The stored content of this attachment is missing");
    }
    apr_table_setn(resp->headers, "ETag", apr_pstrcat(req->pool, "\"", sha, "\"", NULL));
    apr_table_setn(resp->headers, "X-Content-Type-Options", "nosniff");
    apr_table_setn(resp->headers, "Cache-Control", "private, no-cache");
    inm = apr_table_get(req->headers, "If-None-Match");
    if (inm && it_att_sha_matches(inm, sha)) {
        resp->status = 304;
        return 304;
    }
    apr_table_setn(resp->headers, "Content-Disposition",
                   apr_pstrcat(req->pool, "attachment; filename=\"",
                               it_att_ascii(req->pool, name), "\"; filename*=UTF-8''",
                               it_att_pct(req->pool, name), NULL));
    resp->content_type = it_att_in(it_att_passive_types, type)
                         ? type : "application/octet-stream";
    resp->file_path = apr_pstrcat(req->pool, upload_dir, "/", key, NULL);
    resp->file_size = apr_atoi64(it_dbres_get(res, 0, IT_AG_SIZE));
    resp->status = 200;
    return 200;
}

/* ---- DELETE /attachments/{id} ------------------------------------------- */

typedef struct {
    it_req_t *req;
    it_resp_t *resp;
    it_precondition_t pre;
} it_att_delete_t;

static int it_att_delete_tx(it_db_t *db, void *ctx)
{
    it_att_delete_t *d = ctx;
    it_req_t *req = d->req;
    it_dbres_t *row, *res;
    const char *params[2], *version, *data;
    int rc;

    if (it_db_exec(db, &row, it_sql_att_lock, 1, &req->params[0]) != 0) {
        return -1;
    }
    if (row->nrows == 0 || !strcmp(it_dbres_get(row, 0, IT_AG_DELETED), "t")
        || !strcmp(it_dbres_get(row, 0, IT_AG_ISSUE_DELETED), "t")) {
        return it_problem(d->resp, 404, "not_found", "No attachment %s", req->params[0]);
    }
    if ((rc = it_auth_require(req, d->resp, "attachments.delete",
                              it_att_is_caller(req, it_dbres_get(row, 0, IT_AG_UPLOADER)))) != 0) {
        return rc;
    }
    if (!strcmp(it_dbres_get(row, 0, IT_AG_PROJECT_DELETED), "t")) {
        return it_problem(d->resp, 409, "project_deleted",
                          "The issue's project is deleted: its issues are read-only");
    }
    version = it_dbres_get(row, 0, IT_AG_VERSION);
    if (d->pre.expected < 0 && !d->pre.any
        && !(req->cfg && req->cfg->require_version == 0)) {
        it_precondition_t none;
        return it_version_precondition(req, d->resp, NULL, 1, &none);
    }
    if (d->pre.expected >= 0 && d->pre.expected != atol(version)) {
        it_version_conflict(d->resp, &d->pre, atol(version));
        it_version_etag(d->resp, version);
        return d->resp->status;
    }
    params[0] = req->params[0];
    params[1] = version;
    if (it_db_exec(db, &res, it_sql_att_delete, 2, params) != 0) {
        return -1;
    }
    data = apr_psprintf(req->pool, "{\"attachment_id\": \"%s\"}", req->params[0]);
    if (it_event_add(db, it_dbres_get(row, 0, IT_AG_ISSUE), "attachment_removed",
                     req->caller->id, data) != 0) {
        return -1;
    }
    d->resp->status = 204;
    return 0;
}

static int it_att_delete(it_req_t *req, it_resp_t *resp)
{
    it_att_delete_t d;
    json_t *body = NULL;
    int rc;

    memset(&d, 0, sizeof(d));
    d.req = req;
    d.resp = resp;
    if ((req->content_length > 0
         || (req->headers && apr_table_get(req->headers, "Transfer-Encoding")))
        && (rc = it_json_body(req, resp, it_att_version_spec, &body)) != 0) {
        return rc;
    }
    if ((rc = it_version_precondition(req, resp, body, 0, &d.pre)) != 0) {
        return rc;
    }
    return it_req_tx(req, resp, it_att_delete_tx, &d, IT_ATT_TX_TRIES);
}

static const it_route_t it_att_routes[] = {
    { "POST",   IT_API_BASE "/issues/{ref}/attachments", it_att_create,  "attachments.create", 0 },
    { "GET",    IT_API_BASE "/issues/{ref}/attachments", it_att_list,    "attachments.read",   0 },
    { "GET",    IT_ATT_PATH "/{id}",                     it_att_read,    "attachments.read",   0 },
    { "DELETE", IT_ATT_PATH "/{id}",                     it_att_delete,  "attachments.delete", 0 },
    { "GET",    IT_ATT_PATH "/{id}/content",             it_att_content, "attachments.read",   0 },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_attachments = { "attachments", it_att_routes };
