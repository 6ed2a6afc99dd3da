/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-application.h"
#include "marina-gui-util.h"
#include "marina-notifier.h"
#include "marina-preferences-dialog.h"
#include "marina-window.h"

/* marina: the manager of every machine of one marinad, on the system bus
 * unless told otherwise. It only speaks the D-Bus API: one connection of its
 * own to the bus that holds marinad, and an object manager client that keeps
 * the machines (and the Manager) as proxies. */

#define BUS_NAME "org.marinavm.Marina1"
#define ROOT_PATH "/org/marinavm/Marina1"
#define MANAGER_PATH ROOT_PATH "/Manager"
#define MANAGER_IFACE BUS_NAME ".Manager"

struct _MarinaApplication {
  AdwApplication parent_instance;
  gboolean session_bus;
  char *address;
  GDBusConnection *connection;
  GDBusObjectManager *objects;
  MarinaNotifier *notifier;
  MarinaPreferences *preferences;
  gboolean connecting;
  gboolean held;       /* running on in the background without a window */
};

G_DEFINE_FINAL_TYPE (MarinaApplication, marina_application, ADW_TYPE_APPLICATION)

static const struct { const char *action; const char *accels[2]; } accels[] = {
  { "win.new-machine", { "<Control>n", NULL } },
  { "win.machine-settings", { "<Alt>Return", NULL } },
  { "win.start", { "<Control>Return", NULL } },
  { "win.pause", { "<Control>p", NULL } },
  { "win.resume", { "<Control>r", NULL } },
  { "win.save", { "<Control>s", NULL } },
  { "win.discard-saved-state", { "<Control><Shift>d", NULL } },
  { "win.shutdown", { "<Control><Shift>s", NULL } },
  { "win.turn-off", { "<Control><Shift>o", NULL } },
  { "win.reset", { "<Control><Shift>r", NULL } },
  { "win.remove", { "<Control>Delete", NULL } },
  { "win.delete", { "<Control><Shift>Delete", NULL } },
  { "win.focus-events", { "<Control>e", NULL } },
  { "win.show-page::machines", { "<Alt>1", NULL } },
  { "win.show-page::disks", { "<Alt>2", NULL } },
  { "win.show-page::networks", { "<Alt>3", NULL } },
  { "win.new-disk", { "<Control><Shift>n", NULL } },
  { "win.new-network", { "<Control><Alt>n", NULL } },
  { "window.close", { "<Control>w", NULL } },
  { "app.preferences", { "<Control>comma", NULL } },
  { "app.quit", { "<Control>q", NULL } },
};

GDBusConnection *
marina_application_get_connection (MarinaApplication *self)
{
  return self->connection;
}

GDBusObjectManager *
marina_application_get_objects (MarinaApplication *self)
{
  return self->objects;
}

/* A new reference, or NULL while marinad is not on the bus. */
MarinaDBusManager *
marina_application_get_manager (MarinaApplication *self)
{
  if (self->objects == NULL)
    return NULL;
  return MARINA_DBUS_MANAGER (g_dbus_object_manager_get_interface (self->objects, MANAGER_PATH,
                                                                   MANAGER_IFACE));
}

static MarinaWindow *
find_window (MarinaApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  return MARINA_IS_WINDOW (window) ? MARINA_WINDOW (window) : NULL;
}

static MarinaWindow *
show_window (MarinaApplication *self)
{
  MarinaWindow *window = find_window (self);

  if (window == NULL)
    window = marina_window_new (self);
  /* present() alone leaves a minimised window where it is. */
  gtk_window_unminimize (GTK_WINDOW (window));
  gtk_window_present (GTK_WINDOW (window));
  return window;
}

/* With notifications on and the preference set, closing the window leaves
 * the application running: it keeps watching marinad and notifying, and
 * activating it (or a notification) opens the window again. */
static void
sync_background (MarinaApplication *self)
{
  MarinaPreferences *preferences = self->preferences;
  gboolean hold = self->objects && marina_preferences_background (preferences)
                  && (marina_preferences_notifies (preferences, "stopped")
                      || marina_preferences_notifies (preferences, "saved")
                      || marina_preferences_notifies (preferences, "heartbeat"));

  if (hold == self->held)
    return;
  self->held = hold;
  if (hold)
    g_application_hold (G_APPLICATION (self));
  else
    g_application_release (G_APPLICATION (self));
  g_debug ("background: %s", hold ? "keeps running when the window closes"
                                  : "quits when the window closes");
}

static void
on_objects_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  self->objects = marina_dbus_object_manager_client_new_finish (result, &error);
  self->connecting = FALSE;
  g_application_release (G_APPLICATION (self));
  if (self->objects == NULL)
    {
      g_printerr (_("Cannot watch marinad's objects: %s\n"), error->message);
      return g_application_quit (G_APPLICATION (self));
    }
  self->notifier = marina_notifier_new (G_APPLICATION (self), self->objects, self->preferences);
  show_window (self);
  sync_background (self);
}

static void
on_bus_closed (GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
               MarinaApplication *self)
{
  g_printerr (_("The bus connection was closed.\n"));
  g_application_quit (G_APPLICATION (self));
}

/* The object manager client follows marinad across restarts: its objects
 * vanish when the name loses its owner and come back with the new one. */
static void
on_bus_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  self->connection = g_dbus_connection_new_for_address_finish (result, &error);
  if (self->connection == NULL)
    {
      g_printerr (_("Cannot connect to the bus: %s\n"), error->message);
      g_application_release (G_APPLICATION (self));
      return g_application_quit (G_APPLICATION (self));
    }
  g_dbus_connection_set_exit_on_close (self->connection, FALSE);
  g_signal_connect_object (self->connection, "closed", G_CALLBACK (on_bus_closed), self, 0);
  marina_dbus_object_manager_client_new (self->connection,
                                         G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE, BUS_NAME,
                                         ROOT_PATH, NULL, on_objects_ready, g_object_ref (self));
}

/* A connection of our own rather than the shared one: the application's
 * own session bus connection (notifications, actions) must not decide
 * which bus holds marinad. */
static void
connect_bus (MarinaApplication *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = marina_gui_bus_address (self->session_bus, self->address, &error);

  if (address == NULL)
    {
      g_printerr (_("Cannot find the bus: %s\n"), error->message);
      return g_application_quit (G_APPLICATION (self));
    }
  self->connecting = TRUE;
  g_application_hold (G_APPLICATION (self));
  g_dbus_connection_new_for_address (address,
                                     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                     G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                     NULL, NULL, on_bus_ready, g_object_ref (self));
}

static void
marina_application_activate (GApplication *application)
{
  MarinaApplication *self = MARINA_APPLICATION (application);

  if (self->objects)
    show_window (self);
  else if (!self->connecting)
    connect_bus (self);
}

/* ---- application actions ----------------------------------------------------- */

static void
action_quit (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

/* A notification's default action: the window, with that machine selected. */
static void
action_show_machine (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaApplication *self = user_data;

  if (self->objects == NULL)
    return;
  marina_window_select_machine (show_window (self), g_variant_get_string (parameter, NULL));
}

static void
action_preferences (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));

  gtk_window_present (GTK_WINDOW (marina_preferences_dialog_new (parent, self->preferences)));
}

/* Test hook (MARINA_TEST_HOOKS=1): a preference by name, as its switch. */
static void
action_set_preference (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaApplication *self = user_data;
  const char *name;
  gboolean value;

  g_variant_get (parameter, "(&sb)", &name, &value);
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (self->preferences), name))
    g_object_set (self->preferences, name, value, NULL);
}

static const GActionEntry test_app_actions[] = {
  { "set-preference", action_set_preference, "(sb)" },
};

static const GActionEntry app_actions[] = {
  { "quit", action_quit },
  { "preferences", action_preferences },
  { "show-machine", action_show_machine, "s" },
};

static void
marina_application_startup (GApplication *application)
{
  G_APPLICATION_CLASS (marina_application_parent_class)->startup (application);
  g_action_map_add_action_entries (G_ACTION_MAP (application), app_actions,
                                   G_N_ELEMENTS (app_actions), application);
  if (g_strcmp0 (g_getenv ("MARINA_TEST_HOOKS"), "1") == 0)
    g_action_map_add_action_entries (G_ACTION_MAP (application), test_app_actions,
                                     G_N_ELEMENTS (test_app_actions), application);
  for (gsize i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (application), accels[i].action,
                                           accels[i].accels);
}

static int
marina_application_handle_local_options (GApplication *application, GVariantDict *options)
{
  MarinaApplication *self = MARINA_APPLICATION (application);

  if (self->address && self->session_bus)
    {
      g_printerr (_("--session and --address exclude each other\n"));
      return 2;
    }
  return -1;
}

static void
marina_application_finalize (GObject *object)
{
  MarinaApplication *self = MARINA_APPLICATION (object);

  g_clear_object (&self->notifier);
  g_clear_object (&self->preferences);
  g_clear_object (&self->objects);
  g_clear_object (&self->connection);
  g_free (self->address);
  G_OBJECT_CLASS (marina_application_parent_class)->finalize (object);
}

static void
marina_application_class_init (MarinaApplicationClass *klass)
{
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = marina_application_finalize;
  application_class->startup = marina_application_startup;
  application_class->activate = marina_application_activate;
  application_class->handle_local_options = marina_application_handle_local_options;
}

static void
add_options (MarinaApplication *self)
{
  const GOptionEntry entries[] = {
    { "session", 0, 0, G_OPTION_ARG_NONE, &self->session_bus,
      N_("Use the session bus (marinad --session)"), NULL },
    { "address", 0, 0, G_OPTION_ARG_STRING, &self->address,
      N_("Use the bus at ADDRESS"), N_("ADDRESS") },
    { NULL }
  };

  g_application_add_main_option_entries (G_APPLICATION (self), entries);
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            _("Manage the virtual machines of a Marina server."));
}

static void
marina_application_init (MarinaApplication *self)
{
  add_options (self);
  self->preferences = marina_preferences_new ();
  g_signal_connect_swapped (self->preferences, "notify", G_CALLBACK (sync_background), self);
}

/* Not unique: each instance may watch another marinad (--session, --address). */
MarinaApplication *
marina_application_new (void)
{
  return g_object_new (MARINA_TYPE_APPLICATION,
                       "application-id", "org.marinavm.Manager",
                       "flags", G_APPLICATION_NON_UNIQUE,
                       "resource-base-path", "/org/marinavm/Manager",
                       NULL);
}
