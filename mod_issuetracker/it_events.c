/*
 * it_events.c -- INSERTs into issue_events, inside the caller's transaction.
 */
#include <stdlib.h>

#include "it_events.h"
#include "it_db.h"

static const char it_sql_event_add[] =
    "INSERT INTO issue_events (issue_id, kind, actor_id, data)"
    " VALUES ($1::uuid, $2, $3::uuid, COALESCE($4::jsonb, '{}'::jsonb))";

/* One row per array element; identity values are drawn in the order the
 * rows are produced, which the ORDER BY fixes to the array's order. */
static const char it_sql_events_add[] =
    "INSERT INTO issue_events (issue_id, kind, actor_id, data)"
    " SELECT $1::uuid, e.v->>'kind', $2::uuid, COALESCE(e.v->'data', '{}'::jsonb)"
    "   FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS e(v, n)"
    "  ORDER BY e.n";

int it_event_add(it_db_t *db, const char *issue_id, const char *kind,
                 const char *actor_id, const char *data_json)
{
    const char *params[4];

    params[0] = issue_id;
    params[1] = kind;
    params[2] = actor_id;
    params[3] = data_json;
    return it_db_exec(db, NULL, it_sql_event_add, 4, params);
}

int it_events_add(it_db_t *db, const char *issue_id, const char *actor_id,
                  json_t *events)
{
    const char *params[3];
    char *text;
    int rv;

    if (!json_is_array(events) || json_array_size(events) == 0) {
        return 0;
    }
    if (json_array_size(events) == 1) {
        json_t *e = json_array_get(events, 0);
        json_t *data = json_object_get(e, "data");
        text = data ? json_dumps(data, JSON_COMPACT) : NULL;
        rv = it_event_add(db, issue_id,
                          json_string_value(json_object_get(e, "kind")),
                          actor_id, text);
        free(text);
        return rv;
    }
    text = json_dumps(events, JSON_COMPACT);
    params[0] = issue_id;
    params[1] = actor_id;
    params[2] = text;
    rv = it_db_exec(db, NULL, it_sql_events_add, 3, params);
    free(text);
    return rv;
}

json_t *it_event_push(json_t *events, const char *kind, json_t *data)
{
    if (!events) {
        events = json_array();
    }
    json_array_append_new(events, json_pack("{s:s, s:o}", "kind", kind,
                                            "data", data ? data : json_object()));
    return events;
}

static json_t *it_event_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *it_event_from_to(const char *from, const char *to)
{
    json_t *o = json_object();

    json_object_set_new(o, "from", it_event_str(from));
    json_object_set_new(o, "to", it_event_str(to));
    return o;
}
