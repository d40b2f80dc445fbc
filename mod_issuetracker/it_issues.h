/*
 * it_issues.h -- what the issue resources share: the JSON projection of
 * an issue (one place, used by the single-issue, list and bulk SQL) and
 * the event writer of the timeline.
 */
#ifndef IT_ISSUES_H
#define IT_ISSUES_H

#include "it_types.h"
#include "it_page.h"

/* The issue document, built by PostgreSQL from `issues i JOIN projects p
 * ON p.id = i.project_id`. Every issue response uses exactly this. */
#define IT_ISSUE_JSON_SQL \
    "json_build_object(" \
    "'id', i.id, 'key', p.key || '-' || i.number, 'number', i.number," \
    " 'project_id', i.project_id, 'title', i.title," \
    " 'description', i.description, 'status', i.status," \
    " 'priority', i.priority, 'type', i.type, 'creator_id', i.creator_id," \
    " 'assignee_id', i.assignee_id, 'resolved_at', it_ts(i.resolved_at)," \
    " 'closed_at', it_ts(i.closed_at), 'created_at', it_ts(i.created_at)," \
    " 'updated_at', it_ts(i.updated_at), 'version', i.version," \
    " 'labels', (SELECT coalesce(json_agg(json_build_object('id', l.id," \
    " 'name', l.name, 'color', l.color) ORDER BY lower(l.name)), '[]')" \
    " FROM issue_labels il JOIN labels l ON l.id = il.label_id" \
    " WHERE il.issue_id = i.id AND NOT l.is_deleted))::text"

/* The same document where admins may see deleted issues: those carry
 * is_deleted and deleted_at, live ones are exactly IT_ISSUE_JSON_SQL. */
#define IT_ISSUE_DOC_ANY \
    "(CASE WHEN i.is_deleted THEN ((" IT_ISSUE_JSON_SQL ")::jsonb" \
    " || jsonb_build_object('is_deleted', true, 'deleted_at'," \
    " it_ts(i.deleted_at)))::text ELSE " IT_ISSUE_JSON_SQL " END)"

/* The WHERE condition that finds an issue (alias i) by its {ref}: $1 the
 * id (a UUID) or NULL, and then $2 the project key and $3 the number of a
 * key such as PROJ-42. The key is resolved once (an InitPlan), so both
 * forms end in a primary-key lookup. */
#define IT_ISSUE_REF_WHERE \
    "i.id = COALESCE($1::uuid, (SELECT k.id FROM issues k" \
    " JOIN projects kp ON kp.id = k.project_id" \
    " WHERE kp.key = $2::text AND k.number = $3::int))"

/* CSV export of GET /issues (it_res_export.c; the format, columns and
 * streaming are described there). */
typedef struct {
    int cols[16];                /* columns in output order */
    int ncols;
} it_issue_export_opts_t;

/* Parses `format` and `columns` (errors appended to *errors, naming the
 * parameter) and the Accept header. Returns 1 if the list is wanted as
 * CSV: format=csv, or no format and an Accept naming text/csv with a
 * higher q than application/json. */
int it_issue_export_parse(it_req_t *req, it_issue_export_opts_t *opts,
                          json_t **errors);

/* Answers with the CSV of every issue that `where` (on `issues i`, the
 * list's filters, with its n parameters) matches, in pg's sort, in keyset
 * batches; fenced: filter behind an OFFSET 0 fence as the list does;
 * empty: nothing can match (header only). The first batch runs before the
 * response starts (a database error is a problem); the rest is streamed
 * through resp->stream. */
int it_issue_export(it_req_t *req, it_resp_t *resp,
                    const it_issue_export_opts_t *opts, const it_page_t *pg,
                    const char *where, const char *const *params, int n,
                    int fenced, int empty);

#endif
