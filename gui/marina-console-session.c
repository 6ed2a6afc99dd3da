/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-console"
#include "config.h"

#include <glib/gi18n.h>

#include <unistd.h>
#include <gio/gunixfdlist.h>

#include "marina-console-session.h"
#include "marina-gui-util.h"
#include "marina-dbus-generated.h"

/* One machine as seen through marinad, kept up to date across restarts of
 * the service: the bus name is watched, and each time it appears again the
 * machine is looked up afresh (a new marinad has new objects). The VNC
 * socket itself goes straight to QEMU, so a restart of marinad alone does not
 * break an open console. */

#define BUS_NAME "org.marinavm.Marina1"
#define ROOT_PATH "/org/marinavm/Marina1"
#define MANAGER_PATH ROOT_PATH "/Manager"
#define MANAGER_IFACE BUS_NAME ".Manager"
#define MACHINE_IFACE BUS_NAME ".Machine"
#define NOT_FOUND BUS_NAME ".Error.NotFound"

struct _MarinaConsoleSession {
  GObject parent_instance;
  GDBusConnection *connection;
  MarinaConsoleRemote *remote; /* NULL when marinad is on this host */
  char *direct_address;     /* HOST:PORT of a direct TCP (TLS) console, or NULL */
  char *spec;               /* what the user asked for: a name or an id */
  char *path;               /* the machine's object path once found */
  MarinaDBusMachine *machine;
  char *status;
  guint watch_id;
  guint removed_id;
  GCancellable *cancellable;
};

G_DEFINE_FINAL_TYPE (MarinaConsoleSession, marina_console_session, G_TYPE_OBJECT)

enum { PROP_0, PROP_NAME, PROP_STATE, PROP_STATUS, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { SIGNAL_REMOVED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
set_status (MarinaConsoleSession *self, const char *status)
{
  if (g_strcmp0 (self->status, status) == 0)
    return;
  g_free (self->status);
  self->status = g_strdup (status);
  g_debug ("status: %s", status);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

static void
set_machine (MarinaConsoleSession *self, MarinaDBusMachine *machine)
{
  if (self->machine)
    g_signal_handlers_disconnect_by_data (self->machine, self);
  g_set_object (&self->machine, machine);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
on_machine_notify (MarinaDBusMachine *machine, GParamSpec *pspec, MarinaConsoleSession *self)
{
  if (g_str_equal (pspec->name, "state"))
    {
      g_debug ("machine state: %s", marina_dbus_machine_get_state (machine));
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    }
  else if (g_str_equal (pspec->name, "name"))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

static void
on_proxy_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaConsoleSession) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaDBusMachine) machine = marina_dbus_machine_proxy_new_finish (result, &error);

  if (machine == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        set_status (self, error->message);
      return;
    }
  g_signal_connect (machine, "notify", G_CALLBACK (on_machine_notify), self);
  set_machine (self, machine);
  set_status (self, NULL);
}

static void
machine_lost (MarinaConsoleSession *self, const GError *error)
{
  g_autofree char *message = marina_gui_error_message (error);

  /* Found before, gone now: removed while marinad was away. */
  if (self->path && g_strcmp0 (g_dbus_error_get_remote_error (error), NOT_FOUND) == 0)
    {
      g_signal_emit (self, signals[SIGNAL_REMOVED], 0);
      return;
    }
  set_status (self, message);
}

static void
on_machine_found (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaConsoleSession) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  if (reply == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        machine_lost (self, error);
      return;
    }
  g_clear_pointer (&self->path, g_free);
  g_variant_get (reply, "(o)", &self->path);
  g_debug ("machine %s is %s", self->spec, self->path);
  marina_dbus_machine_proxy_new (self->connection, G_DBUS_PROXY_FLAGS_NONE, BUS_NAME, self->path,
                                 self->cancellable, on_proxy_ready, g_object_ref (self));
}

static void
on_service_appeared (GDBusConnection *connection, const char *name, const char *owner,
                     gpointer user_data)
{
  MarinaConsoleSession *self = user_data;

  g_debug ("service appeared: %s", owner);
  set_status (self, _("Looking for the machine…"));
  g_dbus_connection_call (connection, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "FindMachine",
                          g_variant_new ("(s)", self->spec), G_VARIANT_TYPE ("(o)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, on_machine_found,
                          g_object_ref (self));
}

static void
on_service_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  MarinaConsoleSession *self = user_data;

  g_debug ("service vanished");
  set_machine (self, NULL);
  set_status (self, _("The Marina service is not running. Waiting for it to start again…"));
}

static void
on_interfaces_removed (GDBusConnection *connection, const char *sender, const char *path,
                       const char *interface, const char *signal, GVariant *parameters,
                       gpointer user_data)
{
  MarinaConsoleSession *self = user_data;
  const char *object = NULL;

  g_variant_get (parameters, "(&o@as)", &object, NULL);
  if (self->path && g_str_equal (object, self->path))
    {
      g_debug ("machine removed");
      g_signal_emit (self, signals[SIGNAL_REMOVED], 0);
    }
}

static void
start_watching (MarinaConsoleSession *self)
{
  self->removed_id = g_dbus_connection_signal_subscribe (
    self->connection, BUS_NAME, "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved",
    ROOT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_interfaces_removed, self, NULL);
  self->watch_id = g_bus_watch_name_on_connection (self->connection, BUS_NAME,
                                                   G_BUS_NAME_WATCHER_FLAGS_AUTO_START,
                                                   on_service_appeared, on_service_vanished,
                                                   self, NULL);
}

static void
marina_console_session_dispose (GObject *object)
{
  MarinaConsoleSession *self = MARINA_CONSOLE_SESSION (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
  if (self->removed_id)
    g_dbus_connection_signal_unsubscribe (self->connection, self->removed_id);
  self->removed_id = 0;
  if (self->machine)
    g_signal_handlers_disconnect_by_data (self->machine, self);
  g_clear_object (&self->machine);
  G_OBJECT_CLASS (marina_console_session_parent_class)->dispose (object);
}

static void
marina_console_session_finalize (GObject *object)
{
  MarinaConsoleSession *self = MARINA_CONSOLE_SESSION (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->connection);
  g_clear_object (&self->remote);
  g_free (self->spec);
  g_free (self->direct_address);
  g_free (self->path);
  g_free (self->status);
  G_OBJECT_CLASS (marina_console_session_parent_class)->finalize (object);
}

static void
marina_console_session_get_property (GObject *object, guint prop_id, GValue *value,
                                     GParamSpec *pspec)
{
  MarinaConsoleSession *self = MARINA_CONSOLE_SESSION (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, marina_console_session_get_name (self));
      break;
    case PROP_STATE:
      g_value_set_string (value, marina_console_session_get_state (self));
      break;
    case PROP_STATUS:
      g_value_set_string (value, self->status);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
marina_console_session_class_init (MarinaConsoleSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = marina_console_session_dispose;
  object_class->finalize = marina_console_session_finalize;
  object_class->get_property = marina_console_session_get_property;
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL,
                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] = g_param_spec_string ("state", NULL, NULL, NULL,
                                                G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATUS] = g_param_spec_string ("status", NULL, NULL, NULL,
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  signals[SIGNAL_REMOVED] = g_signal_new ("removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
marina_console_session_init (MarinaConsoleSession *self)
{
  self->cancellable = g_cancellable_new ();
  self->status = g_strdup (_("Connecting to the Marina service…"));
}

/* remote: how to reach the machine's sockets when marinad runs on another
 * host (connection then goes there through ssh), or NULL. */
MarinaConsoleSession *
marina_console_session_new (GDBusConnection *connection, MarinaConsoleRemote *remote,
                            const char *machine)
{
  MarinaConsoleSession *self = g_object_new (MARINA_TYPE_CONSOLE_SESSION, NULL);

  self->connection = g_object_ref (connection);
  self->remote = remote ? g_object_ref (remote) : NULL;
  self->spec = g_strdup (machine);
  start_watching (self);
  return self;
}

/* A console reached over TCP, QEMU's VNC with TLS (Virtual Server's VMRC):
 * no bus, so no machine state and no machine actions. */
MarinaConsoleSession *
marina_console_session_new_direct (const char *address)
{
  MarinaConsoleSession *self = g_object_new (MARINA_TYPE_CONSOLE_SESSION, NULL);

  self->direct_address = g_strdup (address);
  self->spec = g_strdup (address);
  self->status = g_strdup_printf (_("Connecting to %s over TLS"), address);
  return self;
}

const char *
marina_console_session_get_name (MarinaConsoleSession *self)
{
  return self->machine ? marina_dbus_machine_get_name (self->machine) : self->spec;
}

/* The machine's state, or NULL while marinad is away. */
const char *
marina_console_session_get_state (MarinaConsoleSession *self)
{
  return self->machine ? marina_dbus_machine_get_state (self->machine) : NULL;
}

const char *
marina_console_session_get_status (MarinaConsoleSession *self)
{
  return self->status;
}

/* Whether the machine has a screen and serial port to connect to now. */
gboolean
marina_console_session_has_console (MarinaConsoleSession *self)
{
  const char *state = marina_console_session_get_state (self);

  if (self->direct_address)
    return TRUE;
  return g_strcmp0 (state, "running") == 0 || g_strcmp0 (state, "paused") == 0;
}

static void
on_opened (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GVariant) reply =
    g_dbus_proxy_call_with_unix_fd_list_finish (G_DBUS_PROXY (source), &fds, result, &error);
  int index = -1;
  int fd;

  if (reply == NULL)
    return g_task_return_error (task, g_steal_pointer (&error));
  g_variant_get (reply, "(h)", &index);
  fd = g_unix_fd_list_get (fds, index, &error);
  if (fd < 0)
    return g_task_return_error (task, g_steal_pointer (&error));
  g_task_return_int (task, fd);
}

/* Unix fds do not cross ssh: the remote host opens the socket and relays it.
 * The machine is named by its id, which stays put when it is renamed. */
static void
open_remote (MarinaConsoleSession *self, MarinaConsoleKind kind, GTask *task)
{
  g_autoptr(GError) error = NULL;
  int fd = marina_console_remote_open_console (self->remote, strrchr (self->path, '/') + 1,
                                               kind == MARINA_CONSOLE_SERIAL, &error);

  if (fd < 0)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_int (task, fd);
  g_object_unref (task);
}

static void
on_direct_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection =
    g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, &error);

  if (connection == NULL)
    return g_task_return_error (task, g_steal_pointer (&error));
  /* Our own copy: the connection object closes its fd when it goes. */
  g_task_return_int (task, dup (g_socket_get_fd (g_socket_connection_get_socket (connection))));
}

static void
open_direct (MarinaConsoleSession *self, MarinaConsoleKind kind, GCancellable *cancellable,
             GTask *task)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();

  if (kind == MARINA_CONSOLE_SERIAL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               "A direct console shows the screen only: the serial port is "
                               "reached through marinad");
      return g_object_unref (task);
    }
  g_socket_client_connect_to_host_async (client, self->direct_address, 5900, cancellable,
                                         on_direct_connected, task);
}

/* A new socket to the machine's screen (RFB) or its first serial port. */
void
marina_console_session_open_async (MarinaConsoleSession *self, MarinaConsoleKind kind,
                                   GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  if (self->direct_address)
    return open_direct (self, kind, cancellable, task);
  if (self->machine == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "%s", self->status);
      return g_object_unref (task);
    }
  if (self->remote)
    return open_remote (self, kind, task);
  g_dbus_proxy_call_with_unix_fd_list (G_DBUS_PROXY (self->machine),
                                       kind == MARINA_CONSOLE_SERIAL ? "OpenSerial" : "OpenConsole",
                                       NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, cancellable,
                                       on_opened, task);
}

/* Returns a file descriptor the caller owns, or -1. */
int
marina_console_session_open_finish (MarinaConsoleSession *self, GAsyncResult *result,
                                    GError **error)
{
  GError *local = NULL;
  int fd = g_task_propagate_int (G_TASK (result), &local);

  if (local)
    {
      g_propagate_error (error, local);
      return -1;
    }
  return fd;
}

static void
on_called (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (reply == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/* Calls one of the machine's lifecycle methods. Shutdown and friends return a
 * Job; the console follows the state instead of the job. */
void
marina_console_session_call_async (MarinaConsoleSession *self, const char *method,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  GVariant *parameters = NULL;

  if (self->direct_address)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               _("Machine actions need marinad: this console is connected "
                                 "directly to the machine's screen"));
      return g_object_unref (task);
    }
  if (self->machine == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "%s", self->status);
      return g_object_unref (task);
    }
  if (g_str_equal (method, "Shutdown"))
    parameters = g_variant_new_parsed ("(@a{sv} {},)");
  g_dbus_proxy_call (G_DBUS_PROXY (self->machine), method, parameters, G_DBUS_CALL_FLAGS_NONE,
                     -1, NULL, on_called, task);
}

gboolean
marina_console_session_call_finish (MarinaConsoleSession *self, GAsyncResult *result,
                                    GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
