/*
 * it_http.h -- request_rec <-> it_req_t / it_resp_t adapter (glue layer).
 */
#ifndef IT_HTTP_H
#define IT_HTTP_H

#include <httpd.h>
#include "it_types.h"

/* Builds the core's view of r. Returns NULL and sets *status (400) when the
 * query string cannot be decoded. */
it_req_t *it_http_req(request_rec *r, const it_config_t *cfg, int *status);

/* Creates an empty response in r's pool. */
it_resp_t *it_http_resp(request_rec *r);

/* Writes resp to the client; returns OK (the status is in the response). */
int it_http_send(request_rec *r, it_req_t *req, it_resp_t *resp);

#endif
