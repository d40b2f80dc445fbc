/*
 * test_events.c -- building timeline event lists; writing them is covered
 * by the integration suite (issue_events rows checked with psql).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "it_test.h"
#include "it_events.h"

static void test_push_builds_ordered_array(void **state)
{
    json_t *ev = NULL;
    (void)state;

    ev = it_event_push(ev, "created", NULL);
    ev = it_event_push(ev, "assigned", it_event_from_to(NULL, "u-2"));
    ev = it_event_push(ev, "status_changed", it_event_from_to("open", "closed"));
    assert_int_equal(json_array_size(ev), 3);
    assert_string_equal(it_test_jstr(json_array_get(ev, 0), "kind"), "created");
    assert_true(json_is_object(json_object_get(json_array_get(ev, 0), "data")));
    assert_int_equal(json_object_size(json_object_get(json_array_get(ev, 0), "data")), 0);
    assert_string_equal(it_test_jstr(json_array_get(ev, 2), "kind"), "status_changed");
    json_decref(ev);
}

static void test_from_to_keeps_nulls(void **state)
{
    json_t *ft = it_event_from_to(NULL, "x");
    (void)state;

    assert_true(json_is_null(json_object_get(ft, "from")));
    assert_string_equal(it_test_jstr(ft, "to"), "x");
    json_decref(ft);
    ft = it_event_from_to("a", NULL);
    assert_string_equal(it_test_jstr(ft, "from"), "a");
    assert_true(json_is_null(json_object_get(ft, "to")));
    json_decref(ft);
}

static const struct CMUnitTest tests[] = {
    IT_TEST(test_push_builds_ordered_array),
    IT_TEST(test_from_to_keeps_nulls),
};

IT_TEST_MAIN("events", tests)
