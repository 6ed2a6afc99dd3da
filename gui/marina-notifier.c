/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-dbus-generated.h"
#include "marina-notifier.h"

/* Desktop notifications for what a person should hear of even when looking
 * elsewhere: a machine that stopped without being asked to, a machine that
 * was saved, a guest whose heartbeat was lost. GNotification picks the
 * desktop's service (org.gtk.Notifications, or org.freedesktop.Notifications
 * without one); clicking one shows the machine (app.show-machine). */

struct _MarinaNotifier {
  GObject parent_instance;
  GApplication *application;  /* weak: the application owns us */
  GDBusObjectManager *objects;
  MarinaPreferences *preferences;
};

G_DEFINE_FINAL_TYPE (MarinaNotifier, marina_notifier, G_TYPE_OBJECT)

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

static void
send (MarinaNotifier *self, MarinaDBusMachine *machine, const char *kind, const char *title,
      const char *body)
{
  g_autoptr(GNotification) notification = g_notification_new (title);
  g_autofree char *id = g_strdup_printf ("%s-%s", marina_dbus_machine_get_id (machine), kind);
  const char *path = g_dbus_proxy_get_object_path (G_DBUS_PROXY (machine));

  if (!marina_preferences_notifies (self->preferences, kind))
    {
      g_debug ("notification %s skipped: turned off in the preferences", id);
      return;
    }
  g_notification_set_body (notification, body);
  g_notification_set_default_action_and_target (notification, "app.show-machine", "s", path);
  if (g_str_equal (kind, "stopped") || g_str_equal (kind, "heartbeat"))
    g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_HIGH);
  g_debug ("notification %s: %s — %s", id, title, body);
  g_application_send_notification (self->application, id, notification);
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
      title = g_strdup_printf (_("“%s” stopped unexpectedly"), name);
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

static void
watch_object (MarinaNotifier *self, GDBusObject *object)
{
  MarinaDBusMachine *machine = marina_dbus_object_peek_machine (MARINA_DBUS_OBJECT (object));

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
