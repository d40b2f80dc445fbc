/*
 * it_config.h -- IssueTracker* directives.
 *
 * The struct is what the core sees (no httpd types). it_config.c holds the
 * directive table and the create/merge functions, in the glue layer.
 * Unset values are -1 / NULL until it_config_resolve() applies defaults.
 */
#ifndef IT_CONFIG_H
#define IT_CONFIG_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "it_types.h"

struct server_rec;

#define IT_DEFAULT_MAX_UPLOAD      (25 * 1024 * 1024)
#define IT_DEFAULT_MAX_IMPORT_ROWS 100000
#define IT_DEFAULT_PAGE_SIZE_MAX   100
#define IT_DEFAULT_TOKEN_TTL       3600
#define IT_DEFAULT_ROLE_CLAIM      "role"
#define IT_DEFAULT_MAX_BODY        (1024 * 1024)
#define IT_DEFAULT_RETRY_AFTER     1
#define IT_DEFAULT_BCRYPT_COST     12
#define IT_DEFAULT_UPLOAD_DIR      "/var/lib/issuetracker/uploads"

struct it_config_t {
    const char *upload_dir;
    long long max_upload_size;
    apr_array_header_t *allowed_types;   /* of const char *; NULL = default */
    int max_import_rows;
    int page_size_max;
    int require_version;                 /* -1 unset, 0 Off, 1 On */
    int prepared;                        /* -1 unset, 0 Off, 1 On */
    const char *token_secret;
    int token_ttl;
    const char *role_claim;
    int auto_provision;
    long long max_body_size;
    int retry_after;
    int bcrypt_cost;
};

/* Server-wide settings applied to every pooled database session. */
typedef struct {
    int statement_timeout_ms;            /* -1 unset */
    int lock_timeout_ms;
    int idle_tx_timeout_ms;
    const char *session_sql;             /* built in post_config */
} it_server_config_t;

#define IT_DEFAULT_STATEMENT_TIMEOUT 5000
#define IT_DEFAULT_LOCK_TIMEOUT      2000
#define IT_DEFAULT_IDLE_TX_TIMEOUT   10000

/* Default upload types (DESIGN.md section 4), NULL terminated. */
extern const char *const it_config_default_types[];

/* A copy of c with every unset value replaced by its default. */
it_config_t *it_config_resolve(apr_pool_t *pool, const it_config_t *c);

/* Pure parsers shared by the directive setters and the unit tests.
 * Each returns NULL on success or an error message (allocated in pool). */
const char *it_config_parse_size(apr_pool_t *pool, const char *arg,
                                 long long min, long long max, long long *out);
const char *it_config_parse_int(apr_pool_t *pool, const char *arg,
                                long long min, long long max, int *out);
const char *it_config_check_mime(apr_pool_t *pool, const char *arg);

/* The create/merge callbacks (signatures of module.create_dir_config etc.) */
void *it_config_create_dir(apr_pool_t *pool, char *dir);
void *it_config_merge_dir(apr_pool_t *pool, void *base, void *add);
void *it_config_create_server(apr_pool_t *pool, struct server_rec *s);
void *it_config_merge_server(apr_pool_t *pool, void *base, void *add);

#endif
