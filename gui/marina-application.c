/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-application.h"
#include "marina-console-launcher.h"
#include "marina-console-remote.h"
#include "marina-gui-util.h"
#include "marina-notifier.h"
#include "marina-preferences-dialog.h"
#include "marina-window.h"

/* marina: the manager of every machine of one marinad, on the system bus
 * unless told otherwise. It only speaks the D-Bus API: one connection of its
 * own to the bus that holds marinad, and an object manager client that keeps
 * the machines (and the Manager) as proxies. With --connect ssh://HOST that
 * bus is on HOST, carried by ssh (marina-console-remote.c), and consoles
 * opened from here go there the same way. */

#define BUS_NAME "org.marinavm.Marina1"
#define ROOT_PATH "/org/marinavm/Marina1"
#define MANAGER_PATH ROOT_PATH "/Manager"
#define MANAGER_IFACE BUS_NAME ".Manager"

struct _MarinaApplication {
  AdwApplication parent_instance;
  gboolean session_bus;
  char *address;
  char *connect_url;    /* ssh://[USER@]HOST[:PORT], or NULL for this host */
  char **ssh_options;
  char *remote_console; /* marina-console on the remote host */
  MarinaConsoleRemote *remote;
  MarinaConsoleLauncher *consoles;
  GDBusConnection *connection;
  GDBusObjectManager *objects;
  MarinaNotifier *notifier;
  MarinaPreferences *preferences;
  gboolean connecting;
  gboolean start_in_background;  /* --background: no window at first (login) */
  gboolean held;       /* running on in the background without a window */
};

G_DEFINE_FINAL_TYPE (MarinaApplication, marina_application, ADW_TYPE_APPLICATION)

static const struct { const char *action; const char *accels[2]; } accels[] = {
  { "win.new-machine", { "<Control>n", NULL } },
  { "win.machine-settings", { "<Alt>Return", NULL } },
  { "win.console", { "<Control>o", NULL } },
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

MarinaConsoleLauncher *
marina_application_get_consoles (MarinaApplication *self)
{
  return self->consoles;
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
                      || marina_preferences_notifies (preferences, "heartbeat")
                      || marina_preferences_notifies (preferences, "jobs"));

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
  if (!self->start_in_background)
    show_window (self);
  sync_background (self);
  /* Started at login with the preference off: nothing to do, so it ends. */
  if (self->start_in_background && !self->held)
    g_debug ("background: turned off in the preferences; quitting");
  self->start_in_background = FALSE;
}

static void
on_bus_closed (GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
               MarinaApplication *self)
{
  g_printerr (_("The bus connection was closed.\n"));
  g_application_quit (G_APPLICATION (self));
}

/* The object manager client follows marinad across restarts: its objects
 * vanish when the name loses its owner and come back with the new one.
 * Both ways of connecting end here: GDBus finishes g_dbus_connection_new()
 * and _new_for_address() alike. */
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

static void
connect_remote_bus (MarinaApplication *self)
{
  g_autoptr(GError) error = NULL;

  if (!marina_console_remote_connect_bus (self->remote, on_bus_ready, g_object_ref (self), &error))
    {
      g_printerr (_("Cannot reach %s: %s\n"), self->connect_url, error->message);
      g_object_unref (self);
      return g_application_quit (G_APPLICATION (self));
    }
  self->connecting = TRUE;
  g_application_hold (G_APPLICATION (self));
}

/* A connection of our own rather than the shared one: the application's
 * own session bus connection (notifications, actions) must not decide
 * which bus holds marinad. */
static void
connect_bus (MarinaApplication *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;

  if (self->remote)
    return connect_remote_bus (self);
  address = marina_gui_bus_address (self->session_bus, self->address, &error);
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

/* marina-console reaches marinad as the manager does. */
static GStrv
console_args (MarinaApplication *self)
{
  g_autoptr(GStrvBuilder) args = g_strv_builder_new ();
  g_auto(GStrv) bus = marina_gui_bus_args (self->session_bus, self->address);

  if (self->connect_url)
    g_strv_builder_add_many (args, "--connect", self->connect_url, NULL);
  for (gsize i = 0; self->connect_url && self->ssh_options && self->ssh_options[i]; i++)
    g_strv_builder_add_many (args, "--ssh-option", self->ssh_options[i], NULL);
  if (self->connect_url && self->remote_console)
    g_strv_builder_add_many (args, "--remote-console", self->remote_console, NULL);
  g_strv_builder_addv (args, (const char **) bus);
  return g_strv_builder_end (args);
}

static int
prepare_remote (MarinaApplication *self)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) bus = marina_gui_bus_args (self->session_bus, self->address);

  self->remote = marina_console_remote_new (self->connect_url,
                                            (const char * const *) self->ssh_options,
                                            self->remote_console, (const char * const *) bus,
                                            &error);
  if (self->remote == NULL)
    {
      g_printerr ("--connect: %s\n", error->message);
      return 2;
    }
  return -1;
}

static int
marina_application_handle_local_options (GApplication *application, GVariantDict *options)
{
  MarinaApplication *self = MARINA_APPLICATION (application);
  g_auto(GStrv) consoles = NULL;

  if (self->address && self->session_bus)
    {
      g_printerr (_("--session and --address exclude each other\n"));
      return 2;
    }
  consoles = console_args (self);
  self->consoles = marina_console_launcher_new ((const char * const *) consoles);
  if (self->connect_url)
    return prepare_remote (self);
  return -1;
}

static void
marina_application_finalize (GObject *object)
{
  MarinaApplication *self = MARINA_APPLICATION (object);

  g_clear_object (&self->notifier);
  g_clear_object (&self->consoles);
  g_clear_object (&self->remote);
  g_clear_object (&self->preferences);
  g_clear_object (&self->objects);
  g_clear_object (&self->connection);
  g_free (self->address);
  g_free (self->connect_url);
  g_strfreev (self->ssh_options);
  g_free (self->remote_console);
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
    { "background", 0, 0, G_OPTION_ARG_NONE, &self->start_in_background,
      N_("Start without a window and notify of machine events (as at login), while the "
         "preferences say to run in the background"), NULL },
    { "connect", 0, 0, G_OPTION_ARG_STRING, &self->connect_url,
      N_("Manage marinad on another host through ssh (--session and --address then name "
         "the bus there)"), N_("ssh://[USER@]HOST[:PORT]") },
    { "ssh-option", 0, 0, G_OPTION_ARG_STRING_ARRAY, &self->ssh_options,
      N_("Pass -o OPTION to ssh (also: MARINA_SSH_OPTIONS)"), N_("OPTION") },
    { "remote-console", 0, 0, G_OPTION_ARG_FILENAME, &self->remote_console,
      N_("marina-console on the remote host, which carries the bus (default: "
         "marina-console)"), N_("PATH") },
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
