/*
 * mod_issuetracker.h -- what other modules may use.
 *
 * Optional functions, as mod_dbd exports ap_dbd_acquire: a module that
 * wants to know whether the tracker is loaded (or which version) retrieves
 * them with APR_RETRIEVE_OPTIONAL_FN and does not link against us.
 */
#ifndef MOD_ISSUETRACKER_H
#define MOD_ISSUETRACKER_H

#include <apr_optional.h>

/* The module version, e.g. "0.1.0". */
APR_DECLARE_OPTIONAL_FN(const char *, issuetracker_version, (void));

#endif
