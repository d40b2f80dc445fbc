/*
 * it_problem.h -- RFC 9457 problem details (application/problem+json).
 *
 * Every error the module sends goes through here, so every error has the
 * same members: type, title, status, detail, code, request_id (added by the
 * glue when the response is written) and, for validation, `errors`.
 */
#ifndef IT_PROBLEM_H
#define IT_PROBLEM_H

#include "it_types.h"

#define IT_PROBLEM_CTYPE "application/problem+json"
#define IT_PROBLEM_TYPE_PREFIX "urn:issuetracker:problem:"

/* Reason phrase for a status, "Error" for unknown ones. */
const char *it_problem_title(int status);

/* The machine code used when a caller gives none, e.g. 404 -> "not_found". */
const char *it_problem_default_code(int status);

/* Replaces resp's body with a problem document and returns `status`.
 * `code` may be NULL (the status' default code); fmt may be NULL. */
int it_problem(it_resp_t *resp, int status, const char *code,
               const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Adds/replaces a member of the current problem (steals `value`). */
void it_problem_set(it_resp_t *resp, const char *key, json_t *value);

/* Appends {field, code, message} to an errors array (creates it if NULL);
 * returns the array. */
json_t *it_problem_error_add(json_t *errors, const char *field,
                             const char *code, const char *message);

/* 422 validation_failed with the given errors array (stolen). */
int it_problem_validation(it_resp_t *resp, json_t *errors);

/* Adds request_id and instance to a problem body; used by the glue. */
void it_problem_finish(it_resp_t *resp, const char *request_id,
                       const char *instance);

#endif
