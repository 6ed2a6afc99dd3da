/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "test-event-log"
#include "config.h"

#include <glib/gstdio.h>

#include "marina-error.h"
#include "marina-event-log.h"

typedef struct {
  char *dir;
  char *path;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("marina-events-XXXXXX", NULL);
  f->path = g_build_filename (f->dir, "events.log", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autofree char *old = g_strconcat (f->path, ".1", NULL);

  g_unlink (f->path);
  g_unlink (old);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static GVariant *
query (MarinaEventLog *log, const char *filter_text)
{
  g_autoptr(GVariant) filter = g_variant_parse (G_VARIANT_TYPE ("a{sv}"), filter_text,
                                                NULL, NULL, NULL);
  g_autoptr(GError) error = NULL;
  GVariant *events = marina_event_log_query (log, filter, &error);

  g_assert_no_error (error);
  return events;
}

static void
test_persists_across_instances (Fixture *f, gconstpointer data)
{
  g_autoptr(MarinaEventLog) first = marina_event_log_new (f->path, 100);
  g_autoptr(MarinaEventLog) second = NULL;
  g_autoptr(GVariant) events = NULL;
  const char *message;

  marina_event_log_add (first, "info", "/a", "state", "tab\there and\nnewline");
  second = marina_event_log_new (f->path, 100);
  events = query (second, "@a{sv} {}");
  g_assert_cmpuint (g_variant_n_children (events), ==, 1);
  g_variant_get_child (events, 0, "(xs&s&s&s)", NULL, NULL, NULL, NULL, &message);
  g_assert_cmpstr (message, ==, "tab\there and\nnewline");
}

static void
test_filters (Fixture *f, gconstpointer data)
{
  g_autoptr(MarinaEventLog) log = marina_event_log_new (f->path, 100);
  g_autoptr(GVariant) by_object = NULL;
  g_autoptr(GVariant) warnings = NULL;
  g_autoptr(GVariant) newest = NULL;

  marina_event_log_add (log, "info", "/a", "state", "one");
  g_test_expect_message ("marina-event-log", G_LOG_LEVEL_WARNING, "*two*");
  marina_event_log_add (log, "warning", "/b", "state", "two");
  g_test_expect_message ("marina-event-log", G_LOG_LEVEL_WARNING, "*three*");
  marina_event_log_add (log, "error", "/a", "state", "three");
  g_test_assert_expected_messages ();
  by_object = query (log, "{'object': <'/a'>}");
  g_assert_cmpuint (g_variant_n_children (by_object), ==, 2);
  warnings = query (log, "{'min-severity': <'warning'>}");
  g_assert_cmpuint (g_variant_n_children (warnings), ==, 2);
  newest = query (log, "{'limit': <uint32 1>}");
  g_assert_cmpuint (g_variant_n_children (newest), ==, 1);
}

static void
test_bad_filter_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(MarinaEventLog) log = marina_event_log_new (f->path, 100);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) filter = g_variant_parse (G_VARIANT_TYPE ("a{sv}"), "{'limit': <'ten'>}",
                                                NULL, NULL, NULL);

  g_assert_null (marina_event_log_query (log, filter, &error));
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "limit"));
}

static void
test_bounded (Fixture *f, gconstpointer data)
{
  g_autoptr(MarinaEventLog) log = marina_event_log_new (f->path, 10);
  g_autoptr(GVariant) events = NULL;
  const char *message;

  for (int i = 0; i < 25; i++)
    {
      g_autofree char *text = g_strdup_printf ("event %d", i);
      marina_event_log_add (log, "info", "/a", "state", text);
    }
  events = query (log, "@a{sv} {}");
  g_assert_cmpuint (g_variant_n_children (events), ==, 10);
  g_variant_get_child (events, 0, "(xs&s&s&s)", NULL, NULL, NULL, NULL, &message);
  g_assert_cmpstr (message, ==, "event 15");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/service/event-log/persists", Fixture, NULL, fixture_setup,
              test_persists_across_instances, fixture_teardown);
  g_test_add ("/service/event-log/filters", Fixture, NULL, fixture_setup, test_filters,
              fixture_teardown);
  g_test_add ("/service/event-log/bad-filter", Fixture, NULL, fixture_setup,
              test_bad_filter_refused, fixture_teardown);
  g_test_add ("/service/event-log/bounded", Fixture, NULL, fixture_setup, test_bounded,
              fixture_teardown);
  return g_test_run ();
}
