/*
 * stub_httpd.c -- the httpd symbols it_config.c needs to link into a unit
 * test without httpd, and nothing more (check with `nm -u it_config.o`).
 * ap_get_module_config is a macro unless AP_DEBUG, so it needs no stub.
 */
#include <httpd.h>
#include <http_config.h>

extern module AP_MODULE_DECLARE_DATA issuetracker_module;

/* Zero-filled: module_index 0, so ap_get_module_config(v, &module) reads
 * slot 0 of whatever vector a test passes as module_config. */
module AP_MODULE_DECLARE_DATA issuetracker_module;

/* Tests build cmd_parms by hand; no context is ever forbidden here. */
AP_DECLARE(const char *) ap_check_cmd_context(cmd_parms *cmd,
                                              unsigned forbidden)
{
    (void)cmd;
    (void)forbidden;
    return NULL;
}
