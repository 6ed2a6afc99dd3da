/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-event-log"
#include "config.h"

#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "marina-error.h"
#include "marina-event-log.h"

/* The log is kept in memory (bounded) for queries and appended to a file, one
 * line per event, so that it survives restarts. When the file grows past
 * ROTATE_BYTES it is moved to "<path>.1" (one older generation is kept). */
#define ROTATE_BYTES (1024 * 1024)

typedef struct {
  gint64 time;
  char *severity;
  char *object;
  char *category;
  char *message;
} MarinaEvent;

struct _MarinaEventLog {
  GObject parent_instance;
  char *path;
  guint max_events;
  GQueue events;
};

G_DEFINE_FINAL_TYPE (MarinaEventLog, marina_event_log, G_TYPE_OBJECT)

enum { SIGNAL_LOGGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char *const severities[] = { "info", "warning", "error", NULL };

static void
marina_event_free (MarinaEvent *event)
{
  g_free (event->severity);
  g_free (event->object);
  g_free (event->category);
  g_free (event->message);
  g_free (event);
}

static int
severity_rank (const char *severity)
{
  for (guint i = 0; severities[i]; i++)
    if (g_strcmp0 (severities[i], severity) == 0)
      return i;
  return -1;
}

gboolean
marina_severity_is_valid (const char *severity)
{
  return severity_rank (severity) >= 0;
}

static void
push_event (MarinaEventLog *self, MarinaEvent *event)
{
  g_queue_push_tail (&self->events, event);
  while (self->events.length > self->max_events)
    marina_event_free (g_queue_pop_head (&self->events));
}

static MarinaEvent *
parse_line (const char *line)
{
  g_auto(GStrv) fields = g_strsplit (line, "\t", 5);
  MarinaEvent *event;

  if (g_strv_length (fields) != 5 || severity_rank (fields[1]) < 0)
    return NULL;
  event = g_new0 (MarinaEvent, 1);
  event->time = g_ascii_strtoll (fields[0], NULL, 10);
  event->severity = g_strdup (fields[1]);
  event->object = g_strcompress (fields[2]);
  event->category = g_strcompress (fields[3]);
  event->message = g_strcompress (fields[4]);
  return event;
}

static void
load_file (MarinaEventLog *self, const char *path)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      MarinaEvent *event = parse_line (lines[i]);
      if (event)
        push_event (self, event);
    }
}

static void
maybe_rotate (MarinaEventLog *self)
{
  GStatBuf st;
  g_autofree char *old = g_strconcat (self->path, ".1", NULL);

  if (g_stat (self->path, &st) == 0 && st.st_size > ROTATE_BYTES)
    g_rename (self->path, old);
}

static void
append_to_file (MarinaEventLog *self, const MarinaEvent *event)
{
  g_autofree char *object = g_strescape (event->object, NULL);
  g_autofree char *category = g_strescape (event->category, NULL);
  g_autofree char *message = g_strescape (event->message, NULL);
  g_autofree char *line = g_strdup_printf ("%" G_GINT64_FORMAT "\t%s\t%s\t%s\t%s\n",
                                           event->time, event->severity,
                                           object, category, message);
  int fd;

  maybe_rotate (self);
  /* A short O_APPEND write to a local file: atomic per line and cheap. */
  fd = open (self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0)
    {
      g_warning ("Cannot write the event log %s: %s", self->path, g_strerror (errno));
      return;
    }
  if (write (fd, line, strlen (line)) < 0)
    g_warning ("Cannot write the event log %s: %s", self->path, g_strerror (errno));
  close (fd);
}

void
marina_event_log_add (MarinaEventLog *self,
                      const char     *severity,
                      const char     *object_path,
                      const char     *category,
                      const char     *message)
{
  MarinaEvent *event = g_new0 (MarinaEvent, 1);

  g_return_if_fail (marina_severity_is_valid (severity));
  event->time = g_get_real_time ();
  event->severity = g_strdup (severity);
  event->object = g_strdup (object_path);
  event->category = g_strdup (category);
  event->message = g_strdup (message);
  if (g_strcmp0 (severity, "info") == 0)
    g_message ("%s: %s", object_path, message);
  else
    g_warning ("%s: %s", object_path, message);
  append_to_file (self, event);
  push_event (self, event);
  g_signal_emit (self, signals[SIGNAL_LOGGED], 0, event->time, event->severity,
                 event->object, event->category, event->message);
}

typedef struct {
  const char *object;
  int min_rank;
  gint64 since;
  guint limit;
} EventFilter;

static gboolean
parse_filter (GVariant *filter, EventFilter *out, GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  *out = (EventFilter) { NULL, 0, 0, G_MAXUINT };
  g_variant_iter_init (&iter, filter);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      if (g_str_equal (key, "object") &&
          (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING) ||
           g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH)))
        out->object = g_variant_get_string (value, NULL);
      else if (g_str_equal (key, "min-severity") && g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        {
          out->min_rank = severity_rank (g_variant_get_string (value, NULL));
          if (out->min_rank < 0)
            {
              g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                           "Severity '%s' is unknown; use info, warning or error",
                           g_variant_get_string (value, NULL));
              g_variant_unref (value);
              return FALSE;
            }
        }
      else if (g_str_equal (key, "since") && g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
        out->since = g_variant_get_int64 (value);
      else if (g_str_equal (key, "limit") && g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
        out->limit = g_variant_get_uint32 (value);
      else
        {
          g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                       "Unknown filter '%s' of type '%s'; known filters are object (s), "
                       "min-severity (s), since (x) and limit (u)",
                       key, g_variant_get_type_string (value));
          g_variant_unref (value);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
event_matches (const MarinaEvent *event, const EventFilter *filter)
{
  return (filter->object == NULL || g_strcmp0 (filter->object, event->object) == 0) &&
         severity_rank (event->severity) >= filter->min_rank &&
         event->time >= filter->since;
}

GVariant *
marina_event_log_query (MarinaEventLog *self, GVariant *filter, GError **error)
{
  EventFilter f;
  g_autoptr(GPtrArray) matches = g_ptr_array_new ();
  GVariantBuilder builder;
  guint first;

  if (!parse_filter (filter, &f, error))
    return NULL;
  for (GList *l = self->events.head; l; l = l->next)
    if (event_matches (l->data, &f))
      g_ptr_array_add (matches, l->data);
  first = matches->len > f.limit ? matches->len - f.limit : 0;
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xssss)"));
  for (guint i = first; i < matches->len; i++)
    {
      MarinaEvent *event = matches->pdata[i];
      g_variant_builder_add (&builder, "(xssss)", event->time, event->severity,
                             event->object, event->category, event->message);
    }
  return g_variant_builder_end (&builder);
}

static void
marina_event_log_finalize (GObject *object)
{
  MarinaEventLog *self = MARINA_EVENT_LOG (object);

  g_queue_clear_full (&self->events, (GDestroyNotify) marina_event_free);
  g_free (self->path);
  G_OBJECT_CLASS (marina_event_log_parent_class)->finalize (object);
}

static void
marina_event_log_class_init (MarinaEventLogClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = marina_event_log_finalize;
  signals[SIGNAL_LOGGED] =
    g_signal_new ("logged", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 5, G_TYPE_INT64, G_TYPE_STRING,
                  G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void
marina_event_log_init (MarinaEventLog *self)
{
  g_queue_init (&self->events);
}

MarinaEventLog *
marina_event_log_new (const char *path, guint max_events)
{
  MarinaEventLog *self = g_object_new (MARINA_TYPE_EVENT_LOG, NULL);
  g_autofree char *old = g_strconcat (path, ".1", NULL);

  self->path = g_strdup (path);
  self->max_events = max_events;
  load_file (self, old);
  load_file (self, path);
  return self;
}
