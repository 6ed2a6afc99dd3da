/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-console"
#include "config.h"

#include <glib/gi18n.h>

#include <sys/socket.h>
#include <unistd.h>

#include "marina-console-remote.h"

/* marinad on another host, reached through ssh: every connection is one ssh
 * process whose stdin and stdout are one end of a socketpair, running
 * marina-console in one of its relay modes on the remote host.
 *
 * The bus goes through "marina-console --stdio-bridge" (busctl --host does the
 * same with systemd-stdio-bridge, which a remote host may lack; GLib 2.74's
 * GDBus has no unixexec: transport, so we spawn ssh ourselves). Unix fds
 * cannot cross such a byte stream, so OpenConsole() is called on the remote
 * host by "marina-console --console-proxy", which splices the socket it gets
 * to its stdin and stdout, through a second ssh. */

struct _MarinaConsoleRemote {
  GObject parent_instance;
  GStrv ssh_argv;   /* ssh and its options, up to and including the host */
  GStrv relay_argv; /* the remote marina-console and its bus options */
};

G_DEFINE_FINAL_TYPE (MarinaConsoleRemote, marina_console_remote, G_TYPE_OBJECT)

static void
marina_console_remote_finalize (GObject *object)
{
  MarinaConsoleRemote *self = MARINA_CONSOLE_REMOTE (object);

  g_strfreev (self->ssh_argv);
  g_strfreev (self->relay_argv);
  G_OBJECT_CLASS (marina_console_remote_parent_class)->finalize (object);
}

static void
marina_console_remote_class_init (MarinaConsoleRemoteClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = marina_console_remote_finalize;
}

static void
marina_console_remote_init (MarinaConsoleRemote *self)
{
}

/* MARINA_SSH_OPTIONS holds extra ssh arguments in shell syntax
 * ("-i key -o StrictHostKeyChecking=no"): what a user's ssh_config would
 * say, for when it cannot be edited (tests, scripts). */
static gboolean
add_environment_options (GStrvBuilder *argv, GError **error)
{
  const char *value = g_getenv ("MARINA_SSH_OPTIONS");
  g_auto(GStrv) words = NULL;

  if (value == NULL || *value == '\0')
    return TRUE;
  if (!g_shell_parse_argv (value, NULL, &words, error))
    {
      g_prefix_error (error, "MARINA_SSH_OPTIONS: ");
      return FALSE;
    }
  g_strv_builder_addv (argv, (const char **) words);
  return TRUE;
}

static GStrv
build_ssh_argv (GUri *uri, const char * const *ssh_options, GError **error)
{
  g_autoptr(GStrvBuilder) argv = g_strv_builder_new ();

  /* No terminal and no forwarding: the channel carries bytes, nothing else. */
  g_strv_builder_add_many (argv, "ssh", "-T", "-x", "-a", NULL);
  if (g_uri_get_port (uri) > 0)
    {
      g_autofree char *port = g_strdup_printf ("%d", g_uri_get_port (uri));
      g_strv_builder_add_many (argv, "-p", port, NULL);
    }
  if (g_uri_get_user (uri))
    g_strv_builder_add_many (argv, "-l", g_uri_get_user (uri), NULL);
  for (gsize i = 0; ssh_options && ssh_options[i]; i++)
    g_strv_builder_add_many (argv, "-o", ssh_options[i], NULL);
  if (!add_environment_options (argv, error))
    return NULL;
  g_strv_builder_add_many (argv, "--", g_uri_get_host (uri), NULL);
  return g_strv_builder_end (argv);
}

/* url: ssh://[user@]host[:port]; ssh_options: "-o" options for ssh;
 * command: marina-console on the remote host; bus_args: which bus it
 * uses there (--session, --address ADDR or none for the system bus). */
MarinaConsoleRemote *
marina_console_remote_new (const char *url, const char * const *ssh_options, const char *command,
                           const char * const *bus_args, GError **error)
{
  g_autoptr(MarinaConsoleRemote) self = g_object_new (MARINA_TYPE_CONSOLE_REMOTE, NULL);
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, error);
  g_autoptr(GStrvBuilder) relay = g_strv_builder_new ();

  if (uri == NULL)
    return NULL;
  if (g_strcmp0 (g_uri_get_scheme (uri), "ssh") != 0 || g_uri_get_host (uri) == NULL ||
      *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   /* Translators: the URL's parts as in --connect's help */
                   _("%s is not ssh://[USER@]HOST[:PORT]"), url);
      return NULL;
    }
  self->ssh_argv = build_ssh_argv (uri, ssh_options, error);
  if (self->ssh_argv == NULL)
    return NULL;
  g_strv_builder_add (relay, command ? command : "marina-console");
  g_strv_builder_addv (relay, (const char **) bus_args);
  self->relay_argv = g_strv_builder_end (relay);
  return g_steal_pointer (&self);
}

/* ssh joins its command words with spaces for the remote shell: quote each. */
static char *
remote_command (MarinaConsoleRemote *self, const char * const *mode_args)
{
  g_autoptr(GString) command = g_string_new (NULL);
  g_autoptr(GStrvBuilder) words = g_strv_builder_new ();
  g_auto(GStrv) all = NULL;

  g_strv_builder_addv (words, (const char **) self->relay_argv);
  g_strv_builder_addv (words, (const char **) mode_args);
  all = g_strv_builder_end (words);
  for (gsize i = 0; all[i]; i++)
    {
      g_autofree char *quoted = g_shell_quote (all[i]);
      g_string_append_printf (command, "%s%s", i ? " " : "", quoted);
    }
  return g_string_free (g_steal_pointer (&command), FALSE);
}

/* Starts ssh running the relay with mode_args; returns our end of the
 * socketpair that is its stdin and stdout. ssh's stderr stays ours, so its
 * messages land where the console's own go. */
static int
spawn_relay (MarinaConsoleRemote *self, const char * const *mode_args, GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GStrvBuilder) argv = g_strv_builder_new ();
  g_autoptr(GSubprocess) ssh = NULL;
  g_autofree char *command = remote_command (self, mode_args);
  g_auto(GStrv) args = NULL;
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "socketpair: %s",
                   g_strerror (errno));
      return -1;
    }
  g_strv_builder_addv (argv, (const char **) self->ssh_argv);
  g_strv_builder_add (argv, command);
  args = g_strv_builder_end (argv);
  g_debug ("spawning %s … %s", args[0], command);
  g_subprocess_launcher_take_stdin_fd (launcher, fds[1]);
  g_subprocess_launcher_take_stdout_fd (launcher, dup (fds[1]));
  /* GSubprocess reaps ssh by itself once it exits. */
  ssh = g_subprocess_launcher_spawnv (launcher, (const char * const *) args, error);
  if (ssh == NULL)
    {
      close (fds[0]);
      return -1;
    }
  return fds[0];
}

/* A byte stream to the remote bus, for g_dbus_connection_new(). */
GIOStream *
marina_console_remote_open_bus (MarinaConsoleRemote *self, GError **error)
{
  const char * const mode_args[] = { "--stdio-bridge", NULL };
  int fd = spawn_relay (self, mode_args, error);
  g_autoptr(GSocket) channel = NULL;

  if (fd < 0)
    return NULL;
  channel = g_socket_new_from_fd (fd, error);
  if (channel == NULL)
    {
      close (fd);
      return NULL;
    }
  return G_IO_STREAM (g_socket_connection_factory_create_connection (channel));
}

/* Starts a bus connection through ssh; finish it with
 * g_dbus_connection_new_finish(). FALSE when ssh cannot even start.
 *
 * Through ssh the bus sees the remote user ssh logged in as, and GDBus
 * claims our own uid in EXTERNAL: both must be the same number (root on
 * both, or matching accounts). G_DBUS_CONNECTION_FLAGS_CROSS_NAMESPACE would
 * lift that, but GLib 2.74 refuses the flag (its FLAGS_ALL lacks it). */
gboolean
marina_console_remote_connect_bus (MarinaConsoleRemote *self, GAsyncReadyCallback callback,
                                   gpointer user_data, GError **error)
{
  g_autoptr(GIOStream) stream = marina_console_remote_open_bus (self, error);

  if (stream == NULL)
    return FALSE;
  g_dbus_connection_new (stream, NULL,
                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                         G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                         NULL, NULL, callback, user_data);
  return TRUE;
}

/* A socket to the remote machine's screen (RFB) or first serial port,
 * which the caller owns; -1 on error. machine: its name or id. */
int
marina_console_remote_open_console (MarinaConsoleRemote *self, const char *machine,
                                    gboolean serial, GError **error)
{
  const char * const display_args[] = { "--console-proxy", "--", machine, NULL };
  const char * const serial_args[] = { "--console-proxy", "--serial", "--", machine, NULL };

  return spawn_relay (self, serial ? serial_args : display_args, error);
}
