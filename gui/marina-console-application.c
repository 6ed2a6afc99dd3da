/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-console"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-console-application.h"
#include "marina-gui-util.h"
#include "marina-console-relay.h"
#include "marina-console-session.h"
#include "marina-console-window.h"

/* marina-console NAME|ID: one machine's console, on the system bus unless
 * told otherwise. Several consoles may run at once, one per machine, so the
 * application is not unique. With --connect ssh://HOST, marinad runs on HOST
 * and --session/--address name the bus there; --stdio-bridge and
 * --console-proxy are the modes that run on HOST (marina-console-relay.c). */

struct _MarinaConsoleApplication {
  AdwApplication parent_instance;
  gboolean session_bus;
  char *address;
  gboolean serial;
  gboolean fullscreen;
  gboolean print_frames;
  char *connect_url;
  char *direct;         /* HOST:PORT of a direct TLS console */
  char *password_file;
  char *username;
  char **ssh_options;
  char *remote_console;
  gboolean stdio_bridge;
  gboolean console_proxy;
  char **machines;
  MarinaConsoleRemote *remote;
  GDBusConnection *connection;
};

G_DEFINE_FINAL_TYPE (MarinaConsoleApplication, marina_console_application, ADW_TYPE_APPLICATION)

static const struct { const char *action; const char *accels[2]; } accels[] = {
  { "win.pause", { "<Control><Alt>p", NULL } },
  { "win.resume", { "<Control><Alt>r", NULL } },
  { "win.reset", { "<Control><Alt><Shift>r", NULL } },
  { "win.shutdown", { "<Control><Alt><Shift>s", NULL } },
  { "win.turn-off", { "<Control><Alt><Shift>o", NULL } },
  { "win.fullscreen", { "<Control><Alt>Return", NULL } },
  { "win.scaling", { "<Control><Alt>0", NULL } },
  { "win.screenshot", { "<Control><Alt>s", NULL } },
  { "win.send-keys::ctrl+alt+delete", { "<Control><Alt>End", NULL } },
  { "win.close", { "<Control><Alt>w", NULL } },
};

static void
marina_console_application_startup (GApplication *application)
{
  G_APPLICATION_CLASS (marina_console_application_parent_class)->startup (application);
  for (gsize i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (application), accels[i].action,
                                           accels[i].accels);
}

static MarinaConsoleSession *
new_session (MarinaConsoleApplication *self)
{
  if (self->direct)
    return marina_console_session_new_direct (self->direct);
  return marina_console_session_new (self->connection, self->remote, self->machines[0]);
}

/* The password's first line: a file keeps it out of ps and the shell's history. */
static char *
read_password (MarinaConsoleApplication *self)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  if (self->password_file == NULL)
    return NULL;
  if (!g_file_get_contents (self->password_file, &text, NULL, &error))
    {
      g_printerr ("--password-file: %s\n", error->message);
      return NULL;
    }
  text[strcspn (text, "\r\n")] = '\0';
  return text;
}

static void
show_window (MarinaConsoleApplication *self)
{
  g_autoptr(MarinaConsoleSession) session = new_session (self);
  g_autofree char *password = read_password (self);
  MarinaConsoleWindow *window =
    marina_console_window_new (GTK_APPLICATION (self), session,
                               self->serial ? MARINA_CONSOLE_SERIAL : MARINA_CONSOLE_DISPLAY);

  marina_console_window_set_credentials (window, self->username, password);

  if (self->print_frames)
    marina_console_window_print_frames (window);
  if (self->fullscreen)
    gtk_window_fullscreen (GTK_WINDOW (window));
  gtk_window_present (GTK_WINDOW (window));
}

static void
on_bus_closed (GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
               MarinaConsoleApplication *self)
{
  g_printerr (_("The bus connection was closed.\n"));
  g_application_quit (G_APPLICATION (self));
}

static void
on_bus_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaConsoleApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  self->connection = g_dbus_connection_new_for_address_finish (result, &error);
  g_application_release (G_APPLICATION (self));
  if (self->connection == NULL)
    {
      g_printerr (_("Cannot connect to the bus: %s\n"), error->message);
      return g_application_quit (G_APPLICATION (self));
    }
  g_dbus_connection_set_exit_on_close (self->connection, FALSE);
  g_signal_connect_object (self->connection, "closed", G_CALLBACK (on_bus_closed), self, 0);
  show_window (self);
}

static void
connect_remote (MarinaConsoleApplication *self)
{
  g_autoptr(GError) error = NULL;

  g_application_hold (G_APPLICATION (self));
  if (!marina_console_remote_connect_bus (self->remote, on_bus_ready, g_object_ref (self), &error))
    {
      g_printerr (_("Cannot reach %s: %s\n"), self->connect_url, error->message);
      g_application_release (G_APPLICATION (self));
      g_object_unref (self);
      return g_application_quit (G_APPLICATION (self));
    }
}

/* A connection of our own rather than the shared one: the application's
 * own session bus connection must not decide which bus holds marinad. */
static void
marina_console_application_activate (GApplication *application)
{
  MarinaConsoleApplication *self = MARINA_CONSOLE_APPLICATION (application);
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;

  if (self->direct)
    return show_window (self);
  if (self->remote)
    return connect_remote (self);
  address = marina_gui_bus_address (self->session_bus, self->address, &error);
  if (address == NULL)
    {
      g_printerr (_("Cannot find the bus: %s\n"), error->message);
      return g_application_quit (application);
    }
  g_application_hold (application);
  g_dbus_connection_new_for_address (address,
                                     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                     G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                     NULL, NULL, on_bus_ready, g_object_ref (self));
}

static int
prepare_remote (MarinaConsoleApplication *self)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) bus_args = marina_gui_bus_args (self->session_bus, self->address);

  self->remote = marina_console_remote_new (self->connect_url,
                                            (const char * const *) self->ssh_options,
                                            self->remote_console,
                                            (const char * const *) bus_args, &error);
  if (self->remote == NULL)
    {
      g_printerr ("--connect: %s\n", error->message);
      return 2;
    }
  return -1;
}

/* The relay modes run here, before GTK starts: the remote host needs no
 * display. */
static int
run_relay (MarinaConsoleApplication *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = marina_gui_bus_address (self->session_bus, self->address, &error);

  if (address == NULL)
    {
      g_printerr (_("Cannot find the bus: %s\n"), error->message);
      return 1;
    }
  if (self->stdio_bridge)
    return marina_console_relay_bus (address);
  return marina_console_relay_console (address, self->machines[0], self->serial);
}

static int
marina_console_application_handle_local_options (GApplication *application,
                                                 GVariantDict *options)
{
  MarinaConsoleApplication *self = MARINA_CONSOLE_APPLICATION (application);
  gboolean machine_given = self->machines && g_strv_length (self->machines) == 1;

  if (self->address && self->session_bus)
    {
      g_printerr (_("--session and --address exclude each other\n"));
      return 2;
    }
  if (self->stdio_bridge || (self->console_proxy && machine_given))
    return run_relay (self);
  if (self->direct)
    return machine_given || self->connect_url ? (g_printerr (_("--direct names the console "
                                                               "itself: give no machine\n")), 2)
                                              : -1;
  if (!machine_given)
    {
      g_printerr (_("Usage: marina-console [OPTION…] NAME|ID\n"));
      return 2;
    }
  if (self->connect_url)
    return prepare_remote (self);
  return -1;
}

static void
marina_console_application_finalize (GObject *object)
{
  MarinaConsoleApplication *self = MARINA_CONSOLE_APPLICATION (object);

  g_clear_object (&self->connection);
  g_clear_object (&self->remote);
  g_free (self->address);
  g_free (self->connect_url);
  g_free (self->direct);
  g_free (self->password_file);
  g_free (self->username);
  g_strfreev (self->ssh_options);
  g_free (self->remote_console);
  g_strfreev (self->machines);
  G_OBJECT_CLASS (marina_console_application_parent_class)->finalize (object);
}

static void
marina_console_application_class_init (MarinaConsoleApplicationClass *klass)
{
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = marina_console_application_finalize;
  application_class->startup = marina_console_application_startup;
  application_class->activate = marina_console_application_activate;
  application_class->handle_local_options = marina_console_application_handle_local_options;
}

static void
add_options (MarinaConsoleApplication *self)
{
  const GOptionEntry entries[] = {
    { "session", 0, 0, G_OPTION_ARG_NONE, &self->session_bus,
      N_("Use the session bus (marinad --session)"), NULL },
    { "address", 0, 0, G_OPTION_ARG_STRING, &self->address,
      N_("Use the bus at ADDRESS"), N_("ADDRESS") },
    { "serial", 0, 0, G_OPTION_ARG_NONE, &self->serial,
      N_("Show the first serial port instead of the screen"), NULL },
    { "fullscreen", 0, 0, G_OPTION_ARG_NONE, &self->fullscreen, N_("Start in fullscreen"), NULL },
    { "connect", 0, 0, G_OPTION_ARG_STRING, &self->connect_url,
      N_("Reach marinad on another host through ssh"), N_("ssh://[USER@]HOST[:PORT]") },
    { "ssh-option", 0, 0, G_OPTION_ARG_STRING_ARRAY, &self->ssh_options,
      N_("Pass -o OPTION to ssh (also: MARINA_SSH_OPTIONS)"), N_("OPTION") },
    { "remote-console", 0, 0, G_OPTION_ARG_FILENAME, &self->remote_console,
      N_("marina-console on the remote host (default: marina-console)"), N_("PATH") },
    { "stdio-bridge", 0, 0, G_OPTION_ARG_NONE, &self->stdio_bridge,
      N_("Relay stdin and stdout to the bus (run by --connect on the remote host)"), NULL },
    { "console-proxy", 0, 0, G_OPTION_ARG_NONE, &self->console_proxy,
      N_("Relay stdin and stdout to the machine's console (run by --connect on the remote host)"),
      NULL },
    { "direct", 0, 0, G_OPTION_ARG_STRING, &self->direct,
      N_("Connect straight to a machine's TCP console (TLS with x509; the authority in "
         "~/.pki/CA/cacert.pem)"), N_("HOST:PORT") },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &self->password_file,
      N_("Read the direct console's password from FILE"), N_("FILE") },
    { "username", 0, 0, G_OPTION_ARG_STRING, &self->username,
      N_("The user name a SASL console asks for"), N_("NAME") },
    { "print-frames", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &self->print_frames,
      "Print a line for each frame drawn (benchmarks)", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &self->machines, NULL, N_("NAME|ID") },
    { NULL }
  };

  g_application_add_main_option_entries (G_APPLICATION (self), entries);
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            _("Show the console of a Marina virtual machine."));
}

static void
marina_console_application_init (MarinaConsoleApplication *self)
{
  add_options (self);
}

MarinaConsoleApplication *
marina_console_application_new (void)
{
  return g_object_new (MARINA_TYPE_CONSOLE_APPLICATION,
                       "application-id", "org.marinavm.Console",
                       "flags", G_APPLICATION_NON_UNIQUE,
                       "resource-base-path", "/org/marinavm/Console",
                       NULL);
}
