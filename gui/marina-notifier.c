/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-dbus-generated.h"
#include "marina-notifier.h"

/* Desktop notifications for what a person should hear of even when looking
 * elsewhere: a machine that stopped without being asked to (or that its
 * guest shut down), a machine that was saved, a guest whose heartbeat was
 * lost, and a long job (LONG_JOB_SECONDS or more) that ended, whoever
 * started it. GNotification picks the
 * desktop's service (org.gtk.Notifications, or org.freedesktop.Notifications
 * without one); clicking one shows the machine (app.show-machine). */

struct _MarinaNotifier {
  GObject parent_instance;
  GApplication *application;  /* weak: the application owns us */
  GDBusObjectManager *objects;
  MarinaPreferences *preferences;
};

G_DEFINE_FINAL_TYPE (MarinaNotifier, marina_notifier, G_TYPE_OBJECT)

/* Shorter jobs end while their starter still looks at them. */
#define LONG_JOB_SECONDS 10

/* Reasons of a stop that someone asked for. */
static gboolean
is_expected_stop (const char *reason)
{
  static const char *const expected[] = { "user", "shutdown", "turned-off", NULL };

  return g_strv_contains (expected, reason);
}

static char *
describe_stop (const char *reason)
{
  if (g_str_equal (reason, "qemu-crashed"))
    return g_strdup (_("Its QEMU process ended without being asked to."));
  if (g_str_equal (reason, "guest-shutdown"))
    return g_strdup (_("The guest operating system shut itself down."));
  return g_strdup_printf (_("Reason: %s"), reason);
}

/* id: GApplication's id of the notification; machine_path: what clicking
 * it shows, or NULL for the window as it is. */
static void
send_notification (MarinaNotifier *self, const char *id, const char *kind, const char *title,
                   const char *body, const char *machine_path)
{
  g_autoptr(GNotification) notification = g_notification_new (title);

  if (!marina_preferences_notifies (self->preferences, kind))
    {
      g_debug ("notification %s skipped: turned off in the preferences", id);
      return;
    }
  g_notification_set_body (notification, body);
  if (machine_path)
    g_notification_set_default_action_and_target (notification, "app.show-machine", "s",
                                                  machine_path);
  if (g_str_equal (kind, "stopped") || g_str_equal (kind, "heartbeat"))
    g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_HIGH);
  g_debug ("notification %s: %s — %s", id, title, body);
  g_application_send_notification (self->application, id, notification);
}

static void
send (MarinaNotifier *self, MarinaDBusMachine *machine, const char *kind, const char *title,
      const char *body)
{
  g_autofree char *id = g_strdup_printf ("%s-%s", marina_dbus_machine_get_id (machine), kind);

  send_notification (self, id, kind, title, body,
                     g_dbus_proxy_get_object_path (G_DBUS_PROXY (machine)));
}

static void
on_state_changed (MarinaDBusMachine *machine, const char *old, const char *state,
                  const char *reason, MarinaNotifier *self)
{
  const char *name = marina_dbus_machine_get_name (machine);
  g_autofree char *title = NULL;
  g_autofree char *body = NULL;

  if (self->application == NULL)
    return;
  if (g_str_equal (state, "off") && !is_expected_stop (reason))
    {
      title = g_str_equal (reason, "guest-shutdown")
                ? g_strdup_printf (_("“%s” was shut down by its guest"), name)
                : g_strdup_printf (_("“%s” stopped unexpectedly"), name);
      body = describe_stop (reason);
      send (self, machine, "stopped", title, body);
    }
  else if (g_str_equal (state, "saved"))
    {
      title = g_strdup_printf (_("“%s” was saved"), name);
      send (self, machine, "saved", title,
            _("Its memory is on disk: starting it continues where it left off."));
    }
}

static void
on_heartbeat_lost (MarinaDBusMachine *machine, MarinaNotifier *self)
{
  g_autofree char *title = g_strdup_printf (_("“%s” stopped answering"),
                                            marina_dbus_machine_get_name (machine));

  if (self->application)
    send (self, machine, "heartbeat", title,
          _("Its guest agent missed its heartbeat: the guest may have hung."));
}

/* ---- long jobs ---------------------------------------------------------------- */

static const struct { const char *operation; const char *format; } job_titles[] = {
  { "start", N_("Starting %s") },
  { "restore", N_("Restoring %s") },
  { "save", N_("Saving %s") },
  { "shutdown", N_("Shutting down %s") },
  { "create-disk", N_("Creating %s") },
  { "convert-disk", N_("Converting %s") },
  { "merge-disk", N_("Merging %s") },
  { "merge-disk-to", N_("Merging %s into a new disk") },
  { "compact-disk", N_("Compacting %s") },
  { "resize-disk", N_("Resizing %s") },
  { "link-disk", N_("Linking %s") },
  { "commit-undo-disks", N_("Committing the undo disks of %s") },
};

/* What the job worked on, as a person knows it: a machine's name, a
 * disk's file name. */
static char *
job_object_name (MarinaNotifier *self, const char *path)
{
  g_autoptr(GDBusObject) object = g_dbus_object_manager_get_object (self->objects, path);
  MarinaDBusMachine *machine = object ? marina_dbus_object_peek_machine (MARINA_DBUS_OBJECT (object))
                                      : NULL;
  MarinaDBusDisk *disk = object ? marina_dbus_object_peek_disk (MARINA_DBUS_OBJECT (object)) : NULL;

  if (machine)
    return g_strdup_printf ("“%s”", marina_dbus_machine_get_name (machine));
  if (disk)
    return g_path_get_basename (marina_dbus_disk_get_path (disk));
  return g_strdup (path);
}

/* The name as it was while the job ran (from when the object shows up, at
 * the latest with the job's progress): a disk whose creation failed or was
 * cancelled is gone by the end. */
static void
remember_job_object (MarinaNotifier *self, MarinaDBusJob *job)
{
  const char *path = marina_dbus_job_get_object (job);
  g_autoptr(GDBusObject) object = g_dbus_object_manager_get_object (self->objects, path);

  if (object)
    g_object_set_data_full (G_OBJECT (job), "object-name", job_object_name (self, path), g_free);
}

static void
on_job_progress (MarinaDBusJob *job, GParamSpec *pspec, MarinaNotifier *self)
{
  if (g_object_get_data (G_OBJECT (job), "object-name") == NULL)
    remember_job_object (self, job);
}

static char *
job_title (MarinaNotifier *self, MarinaDBusJob *job)
{
  const char *operation = marina_dbus_job_get_operation (job);
  const char *remembered;
  g_autofree char *name = NULL;

  remember_job_object (self, job);
  remembered = g_object_get_data (G_OBJECT (job), "object-name");
  name = remembered ? g_strdup (remembered)
                    : job_object_name (self, marina_dbus_job_get_object (job));

  /* The formats are the table's, each with one %s. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  for (gsize i = 0; i < G_N_ELEMENTS (job_titles); i++)
    if (g_strcmp0 (job_titles[i].operation, operation) == 0)
      return g_strdup_printf (_(job_titles[i].format), name);
#pragma GCC diagnostic pop
  return g_strdup_printf ("%s: %s", operation, name);
}

static void
on_job_status (MarinaDBusJob *job, GParamSpec *pspec, MarinaNotifier *self)
{
  const char *status = marina_dbus_job_get_status (job);
  gint64 finished = marina_dbus_job_get_finished_at (job);
  gint64 seconds;
  g_autofree char *what = NULL;
  g_autofree char *title = NULL;
  g_autofree char *body = NULL;
  g_autofree char *id = NULL;
  const char *path = marina_dbus_job_get_object (job);

  if (self->application == NULL || g_strcmp0 (status, "running") == 0)
    return;
  g_signal_handlers_disconnect_by_data (job, self);
  seconds = ((finished > 0 ? finished : g_get_real_time ()) - marina_dbus_job_get_started_at (job))
            / G_USEC_PER_SEC;
  id = g_strdup_printf ("job-%s", g_dbus_proxy_get_object_path (G_DBUS_PROXY (job)));
  if (seconds < LONG_JOB_SECONDS)
    return g_debug ("notification %s skipped: %" G_GINT64_FORMAT " s is not long", id, seconds);
  what = job_title (self, job);
  if (g_str_equal (status, "completed"))
    {
      /* Translators: %s is what was done, e.g. "Converting a.vhd" */
      title = g_strdup_printf (_("Done: %s"), what);
      body = g_strdup_printf (g_dngettext (NULL, "It took %d second.", "It took %d seconds.",
                                           seconds), (int) seconds);
    }
  else if (g_str_equal (status, "cancelled"))
    {
      title = g_strdup_printf (_("Cancelled: %s"), what);
      body = g_strdup (_("It was cancelled before it finished: nothing was left half-done."));
    }
  else
    {
      title = g_strdup_printf (_("Failed: %s"), what);
      body = g_strdup (marina_dbus_job_get_message (job));
    }
  send_notification (self, id, "jobs", title, body,
                     g_str_has_prefix (path, "/org/marinavm/Marina1/Machine/") ? path : NULL);
}

static void
watch_object (MarinaNotifier *self, GDBusObject *object)
{
  MarinaDBusMachine *machine = marina_dbus_object_peek_machine (MARINA_DBUS_OBJECT (object));
  MarinaDBusJob *job = marina_dbus_object_peek_job (MARINA_DBUS_OBJECT (object));

  /* Only a job seen running can be seen ending. */
  if (job && g_strcmp0 (marina_dbus_job_get_status (job), "running") == 0)
    {
      remember_job_object (self, job);
      g_signal_connect_object (job, "notify::progress", G_CALLBACK (on_job_progress), self, 0);
      g_signal_connect_object (job, "notify::status", G_CALLBACK (on_job_status), self, 0);
    }
  if (machine == NULL)
    return;
  g_signal_connect_object (machine, "state-changed", G_CALLBACK (on_state_changed), self, 0);
  g_signal_connect_object (machine, "heartbeat-lost", G_CALLBACK (on_heartbeat_lost), self, 0);
}

static void
on_object_added (GDBusObjectManager *objects, GDBusObject *object, MarinaNotifier *self)
{
  watch_object (self, object);
}

static void
marina_notifier_dispose (GObject *object)
{
  MarinaNotifier *self = MARINA_NOTIFIER (object);

  g_clear_weak_pointer (&self->application);
  if (self->objects)
    g_signal_handlers_disconnect_by_data (self->objects, self);
  g_clear_object (&self->objects);
  g_clear_object (&self->preferences);
  G_OBJECT_CLASS (marina_notifier_parent_class)->dispose (object);
}

static void
marina_notifier_class_init (MarinaNotifierClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = marina_notifier_dispose;
}

static void
marina_notifier_init (MarinaNotifier *self)
{
}

MarinaNotifier *
marina_notifier_new (GApplication *application, GDBusObjectManager *objects,
                     MarinaPreferences *preferences)
{
  MarinaNotifier *self = g_object_new (MARINA_TYPE_NOTIFIER, NULL);
  g_autolist(GDBusObject) existing = g_dbus_object_manager_get_objects (objects);

  g_set_weak_pointer (&self->application, application);
  self->objects = g_object_ref (objects);
  self->preferences = g_object_ref (preferences);
  g_signal_connect (objects, "object-added", G_CALLBACK (on_object_added), self);
  for (GList *l = existing; l; l = l->next)
    watch_object (self, l->data);
  return self;
}
