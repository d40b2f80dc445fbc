/*
 * it_issues.h -- what the issue resources share: the JSON projection of
 * an issue (one place, used by the single-issue, list and bulk SQL) and
 * the event writer of the timeline.
 */
#ifndef IT_ISSUES_H
#define IT_ISSUES_H

#include "it_types.h"

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

#endif
