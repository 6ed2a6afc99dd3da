/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-console"
#include "config.h"

#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>

#include "marina-console-relay.h"

/* The remote end of "marina-console --connect ssh://…": headless modes that
 * run under sshd and join its channel (stdin and stdout) to a local socket.
 * --stdio-bridge joins it to the bus socket, --console-proxy to the socket
 * Machine.OpenConsole() (or OpenSerial()) returns. Neither touches GTK, so
 * no display is needed on the remote host. Each returns an exit status. */

#define BUS_NAME "org.marinavm.Marina1"

static void
on_spliced (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GMainLoop *loop = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_io_stream_splice_finish (result, &error))
    g_printerr ("marina-console: relay: %s\n", error->message);
  g_main_loop_quit (loop);
}

/* Copies both ways until either side ends: the channel closing means the
 * viewer went away, the socket closing means the bus or QEMU did. */
static int
splice_stdio (GIOStream *stream)
{
  g_autoptr(GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  g_autoptr(GOutputStream) out = g_unix_output_stream_new (STDOUT_FILENO, FALSE);
  g_autoptr(GIOStream) stdio = g_simple_io_stream_new (in, out);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  g_io_stream_splice_async (stdio, stream, G_IO_STREAM_SPLICE_CLOSE_STREAM2, G_PRIORITY_DEFAULT,
                            NULL, on_spliced, loop);
  g_main_loop_run (loop);
  return 0;
}

static int
fail (const char *what, const GError *error)
{
  g_autoptr(GError) copy = g_error_copy (error);

  g_dbus_error_strip_remote_error (copy);
  g_printerr ("marina-console: %s: %s\n", what, copy->message);
  return 1;
}

/* The raw transport, before any authentication: the client on the other
 * side of ssh authenticates itself, as the user ssh logged in as. */
int
marina_console_relay_bus (const char *address)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) stream = g_dbus_address_get_stream_sync (address, NULL, NULL, &error);

  if (stream == NULL)
    return fail (address, error);
  return splice_stdio (stream);
}

static GIOStream *
stream_for_fd (int fd, GError **error)
{
  g_autoptr(GSocket) channel = g_socket_new_from_fd (fd, error);

  if (channel == NULL)
    {
      close (fd);
      return NULL;
    }
  return G_IO_STREAM (g_socket_connection_factory_create_connection (channel));
}

/* Blocking calls are fine here: the relay has no main loop to hold up yet,
 * and nothing to do until the socket is there. */
static int
open_machine_socket (GDBusConnection *connection, const char *machine, gboolean serial,
                     GError **error)
{
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GVariant) found = NULL;
  g_autoptr(GVariant) reply = NULL;
  const char *path = NULL;
  int index = -1;

  found = g_dbus_connection_call_sync (connection, BUS_NAME, "/org/marinavm/Marina1/Manager",
                                       BUS_NAME ".Manager", "FindMachine",
                                       g_variant_new ("(s)", machine), G_VARIANT_TYPE ("(o)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
  if (found == NULL)
    return -1;
  g_variant_get (found, "(&o)", &path);
  reply = g_dbus_connection_call_with_unix_fd_list_sync (
    connection, BUS_NAME, path, BUS_NAME ".Machine",
    serial ? "OpenSerial" : "OpenConsole", NULL, G_VARIANT_TYPE ("(h)"),
    G_DBUS_CALL_FLAGS_NONE, -1, NULL, &fds, NULL, error);
  if (reply == NULL)
    return -1;
  g_variant_get (reply, "(h)", &index);
  return g_unix_fd_list_get (fds, index, error);
}

int
marina_console_relay_console (const char *address, const char *machine, gboolean serial)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GIOStream) stream = NULL;
  int fd;

  connection = g_dbus_connection_new_for_address_sync (
    address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
    G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);
  if (connection == NULL)
    return fail (address, error);
  fd = open_machine_socket (connection, machine, serial, &error);
  if (fd < 0)
    return fail (machine, error);
  stream = stream_for_fd (fd, &error);
  if (stream == NULL)
    return fail (machine, error);
  return splice_stdio (stream);
}
