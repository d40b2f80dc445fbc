/*
 * it_workflow.h -- the issue workflow as one transition table
 * (DESIGN.md section 5). The API (/issues/{id}/transitions, PATCH status,
 * bulk-status), docs and tests all read the same rows.
 */
#ifndef IT_WORKFLOW_H
#define IT_WORKFLOW_H

typedef struct {
    const char *from;
    const char *to;
    const char *name;        /* what the move is called in a UI */
} it_transition_t;

extern const it_transition_t it_transitions[];
extern const char *const it_statuses[];

/* 1 if status is one of it_statuses. */
int it_workflow_is_status(const char *status);

/* 1 if from -> to is in the table (from == to is not a transition). */
int it_workflow_allowed(const char *from, const char *to);

/* Fills out (capacity n) with the targets allowed from `from`; returns the
 * count, in table order. */
int it_workflow_targets(const char *from, const char **out, int n);

#endif
