/*
 * it_resources.c -- the list of resources whose routes make up the API.
 * Adding a resource is adding one line here.
 */
#include "it_dispatch.h"

extern const it_resource_t it_res_health;
extern const it_resource_t it_res_problem;
extern const it_resource_t it_res_projects;
extern const it_resource_t it_res_auth;
extern const it_resource_t it_res_users;
extern const it_resource_t it_res_issues;
extern const it_resource_t it_res_issues_list;
extern const it_resource_t it_res_timeline;
extern const it_resource_t it_res_import;
extern const it_resource_t it_res_attachments;
extern const it_resource_t it_res_comments;
extern const it_resource_t it_res_labels;
extern const it_resource_t it_res_bulk;
extern const it_resource_t it_res_reports;

const it_resource_t *const it_resources[] = {
    &it_res_health,
    &it_res_problem,
    &it_res_projects,
    &it_res_auth,
    &it_res_users,
    &it_res_issues,
    &it_res_issues_list,
    &it_res_timeline,
    &it_res_import,
    &it_res_attachments,
    &it_res_comments,
    &it_res_labels,
    &it_res_bulk,
    &it_res_reports,
    NULL
};
