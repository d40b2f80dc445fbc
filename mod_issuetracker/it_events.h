/*
 * it_events.h -- the writer of the issue timeline (issue_events).
 *
 * Every change to an issue records what happened in the same transaction
 * as the change itself (DESIGN.md section 5): the caller has begun the
 * transaction (it_db_tx) and calls these before it commits, so the change
 * and its events are committed together or not at all.
 *
 * Kinds and their `data` (the timeline's contract; issue_events_kind_check
 * lists the kinds the database accepts):
 *   created            {}
 *   status_changed     {"from": "open", "to": "resolved"}
 *   assigned           {"from": <user id or null>, "to": <user id or null>}
 *   field_changed      {"field": "title"|"priority"|"type", "from": .., "to": ..}
 *                      {"field": "description"}  (texts are not copied)
 *   deleted, restored  {}
 *   commented, comment_edited, comment_deleted   {"comment_id": ...}
 *   labeled, unlabeled                           {"label_id": ...}
 *   attachment_added, attachment_removed         {"attachment_id": ...}
 */
#ifndef IT_EVENTS_H
#define IT_EVENTS_H

#include "it_types.h"

/* Appends one event. `data_json` is the text of a JSON object (NULL means
 * {}); actor_id may be NULL (a system change). Returns 0, or -1 with
 * db->err filled (the caller rolls back). */
int it_event_add(it_db_t *db, const char *issue_id, const char *kind,
                 const char *actor_id, const char *data_json);

/* Appends several events of one change in one statement, in array order
 * (their `seq` keeps that order). `events` is a JSON array of
 * {"kind": ..., "data": {...}} objects (borrowed); an empty array writes
 * nothing. Returns 0 or -1 as it_event_add. */
int it_events_add(it_db_t *db, const char *issue_id, const char *actor_id,
                  json_t *events);

/* Appends {"kind": kind, "data": data} to the array `events` (created
 * when NULL; steals `data`, NULL meaning {}); returns the array. */
json_t *it_event_push(json_t *events, const char *kind, json_t *data);

/* {"from": from, "to": to}, each a string or null (new reference). */
json_t *it_event_from_to(const char *from, const char *to);

#endif
