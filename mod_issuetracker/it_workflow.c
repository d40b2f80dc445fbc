/*
 * it_workflow.c -- the transition table.
 */
#include <string.h>

#include "it_workflow.h"

const char *const it_statuses[] = {
    "open", "in_progress", "resolved", "closed", NULL
};

const it_transition_t it_transitions[] = {
    { "open",        "in_progress", "start" },
    { "open",        "resolved",    "resolve" },
    { "open",        "closed",      "close" },
    { "in_progress", "open",        "stop" },
    { "in_progress", "resolved",    "resolve" },
    { "in_progress", "closed",      "close" },
    { "resolved",    "closed",      "close" },
    { "resolved",    "open",        "reopen" },
    { "resolved",    "in_progress", "restart" },
    { "closed",      "open",        "reopen" },
    { NULL,          NULL,          NULL }
};

int it_workflow_is_status(const char *status)
{
    const char *const *s;
    for (s = it_statuses; status && *s; s++) {
        if (!strcmp(*s, status)) {
            return 1;
        }
    }
    return 0;
}

int it_workflow_allowed(const char *from, const char *to)
{
    const it_transition_t *t;
    for (t = it_transitions; from && to && t->from; t++) {
        if (!strcmp(t->from, from) && !strcmp(t->to, to)) {
            return 1;
        }
    }
    return 0;
}

int it_workflow_targets(const char *from, const char **out, int n)
{
    const it_transition_t *t;
    int k = 0;
    for (t = it_transitions; from && t->from; t++) {
        if (!strcmp(t->from, from) && k < n) {
            out[k++] = t->to;
        }
    }
    return k;
}
