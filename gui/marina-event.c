/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include "marina-event.h"

/* One entry of marinad's event log, as GetEvents and EventLogged give it:
 * an item for the event log's list model. */

struct _MarinaEvent {
  GObject parent_instance;
  gint64 time;
  char *severity;
  char *object;
  char *category;
  char *message;
};

G_DEFINE_FINAL_TYPE (MarinaEvent, marina_event, G_TYPE_OBJECT)

static void
marina_event_finalize (GObject *object)
{
  MarinaEvent *self = MARINA_EVENT (object);

  g_free (self->severity);
  g_free (self->object);
  g_free (self->category);
  g_free (self->message);
  G_OBJECT_CLASS (marina_event_parent_class)->finalize (object);
}

static void
marina_event_class_init (MarinaEventClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = marina_event_finalize;
}

static void
marina_event_init (MarinaEvent *self)
{
}

MarinaEvent *
marina_event_new (gint64 time_usec, const char *severity, const char *object,
                  const char *category, const char *message)
{
  MarinaEvent *self = g_object_new (MARINA_TYPE_EVENT, NULL);

  self->time = time_usec;
  self->severity = g_strdup (severity);
  self->object = g_strdup (object);
  self->category = g_strdup (category);
  self->message = g_strdup (message);
  return self;
}

gint64
marina_event_get_time (MarinaEvent *self)
{
  return self->time;
}

const char *
marina_event_get_severity (MarinaEvent *self)
{
  return self->severity;
}

const char *
marina_event_get_object (MarinaEvent *self)
{
  return self->object;
}

const char *
marina_event_get_category (MarinaEvent *self)
{
  return self->category;
}

const char *
marina_event_get_message (MarinaEvent *self)
{
  return self->message;
}

/* info < warning < error, for "at least this severe" filters. */
int
marina_event_severity_rank (const char *severity)
{
  if (g_strcmp0 (severity, "error") == 0)
    return 2;
  if (g_strcmp0 (severity, "warning") == 0)
    return 1;
  return 0;
}

int
marina_event_get_rank (MarinaEvent *self)
{
  return marina_event_severity_rank (self->severity);
}
