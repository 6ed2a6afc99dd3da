/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-guest-agent"
#include "config.h"

#include <gio/gunixsocketaddress.h>

#include "marina-error.h"
#include "marina-guest-agent.h"
#include "marina-qmp.h"

/* The protocol itself (ids, replies, the 0xFF sentinel, dropping stale
 * lines) is MarinaQmp's agent dialect; this adds what a silent guest needs:
 * connecting on demand, resynchronising, and a timeout on every command. */

/* qemu-ga answers guest-shutdown only when it could not start the shutdown,
 * and then at once. */
#define SHUTDOWN_GRACE_MS 2000
#define SHUTDOWN_PING_TIMEOUT_MS 3000

struct _MarinaGuestAgent {
  GObject parent_instance;
  char *socket_path;
  MarinaQmp *qmp;          /* NULL until connected, and after QEMU hung up */
  gboolean synced;         /* a sync was answered and nothing timed out since */
  gboolean connecting;
  GPtrArray *waiting;      /* Call waiting for the connection */
};

G_DEFINE_FINAL_TYPE (MarinaGuestAgent, marina_guest_agent, G_TYPE_OBJECT)

/* One execute, from the call until its answer or its timeout. */
typedef struct {
  MarinaGuestAgent *self;
  char *command;
  JsonObject *arguments;
  guint timeout_ms;
  GCancellable *cancellable;   /* cancelled by the timeout */
  GSource *timeout_source;
  gboolean timed_out;
} Call;

static void
call_free (Call *call)
{
  if (call->timeout_source)
    g_source_destroy (call->timeout_source);
  g_clear_pointer (&call->timeout_source, g_source_unref);
  g_clear_pointer (&call->arguments, json_object_unref);
  g_clear_object (&call->cancellable);
  g_clear_object (&call->self);
  g_free (call->command);
  g_free (call);
}

static void step (GTask *task);

static void
return_error (GTask *task, GError *error)
{
  Call *call = g_task_get_task_data (task);

  if (call->timed_out)
    {
      g_clear_error (&error);
      call->self->synced = FALSE; /* its answer may still come: resync first */
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "The guest agent did not answer '%s' within %u ms",
                               call->command, call->timeout_ms);
    }
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

static gboolean
on_timeout (gpointer user_data)
{
  Call *call = user_data;

  call->timed_out = TRUE;
  g_cancellable_cancel (call->cancellable);
  g_clear_pointer (&call->timeout_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* ---- connecting ---- */

static void
on_qmp_closed (MarinaQmp *qmp, gpointer user_data)
{
  MarinaGuestAgent *self = user_data;

  g_signal_handlers_disconnect_by_data (qmp, self);
  g_clear_object (&self->qmp);
  self->synced = FALSE;
}

static void
take_connection (MarinaGuestAgent *self, GSocketConnection *connection)
{
  self->qmp = marina_qmp_new_for_agent (connection);
  self->synced = FALSE;
  g_signal_connect (self->qmp, "closed", G_CALLBACK (on_qmp_closed), self);
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaGuestAgent) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection =
    g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  g_autoptr(GPtrArray) waiting = g_steal_pointer (&self->waiting);

  self->connecting = FALSE;
  self->waiting = g_ptr_array_new ();
  if (connection && self->qmp == NULL)
    take_connection (self, connection);
  for (guint i = 0; i < waiting->len; i++)
    {
      GTask *task = waiting->pdata[i];

      if (self->qmp)
        step (task);
      else
        return_error (task, g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED,
                                         "Cannot connect to the guest agent socket %s: %s",
                                         self->socket_path, error->message));
    }
}

static void
connect_then_step (MarinaGuestAgent *self, GTask *task)
{
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  g_ptr_array_add (self->waiting, task);
  if (self->connecting)
    return;
  self->connecting = TRUE;
  client = g_socket_client_new ();
  address = g_unix_socket_address_new (self->socket_path);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), NULL, on_connected,
                                 g_object_ref (self));
}

/* ---- synchronising ---- */

static void
on_synced (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Call *call = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(JsonNode) value = marina_qmp_execute_finish (MARINA_QMP (source), result, &error);
  gint64 expected = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (task), "sync-id"));

  if (error)
    return return_error (task, error);
  if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_INT64 ||
      json_node_get_int (value) != expected)
    return return_error (task, g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED,
                                            "The guest agent answered guest-sync-delimited "
                                            "with another id"));
  call->self->synced = TRUE;
  step (task);
}

/* A random id: an answer to an earlier sync, even of an earlier marinad,
 * cannot pass for this one. */
static void
sync_then_step (MarinaGuestAgent *self, GTask *task)
{
  Call *call = g_task_get_task_data (task);
  g_autoptr(JsonObject) args = json_object_new ();
  gint id = g_random_int_range (1, G_MAXINT32);

  g_object_set_data (G_OBJECT (task), "sync-id", GINT_TO_POINTER (id));
  json_object_set_int_member (args, "id", id);
  marina_qmp_execute_async (self->qmp, "guest-sync-delimited", args, -1, call->cancellable,
                            on_synced, task);
}

/* ---- executing ---- */

static void
on_executed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  JsonNode *value = marina_qmp_execute_finish (MARINA_QMP (source), result, &error);

  /* Told apart for guest-shutdown: QEMU hangs up when the guest powers off. */
  if (error && !marina_qmp_is_connected (MARINA_QMP (source)))
    {
      GError *closed = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                            error->message);
      g_error_free (error);
      error = closed;
    }
  if (error)
    return return_error (task, error);
  g_task_return_pointer (task, value, (GDestroyNotify) json_node_unref);
  g_object_unref (task);
}

/* Connect, then sync, then the command, each only when needed. */
static void
step (GTask *task)
{
  Call *call = g_task_get_task_data (task);
  MarinaGuestAgent *self = call->self;

  if (g_cancellable_is_cancelled (call->cancellable))
    return return_error (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                    "Cancelled"));
  if (self->qmp == NULL)
    return connect_then_step (self, task);
  if (!self->synced)
    return sync_then_step (self, task);
  marina_qmp_execute_async (self->qmp, call->command, call->arguments, -1, call->cancellable,
                            on_executed, task);
}

void
marina_guest_agent_execute_async (MarinaGuestAgent   *self,
                                  const char         *command,
                                  JsonObject         *arguments,
                                  guint               timeout_ms,
                                  GAsyncReadyCallback callback,
                                  gpointer            user_data)
{
  GTask *task;
  Call *call;

  g_return_if_fail (MARINA_IS_GUEST_AGENT (self));
  g_return_if_fail (command != NULL && timeout_ms > 0);

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, marina_guest_agent_execute_async);
  call = g_new0 (Call, 1);
  call->self = g_object_ref (self);
  call->command = g_strdup (command);
  call->arguments = arguments ? json_object_ref (arguments) : NULL;
  call->timeout_ms = timeout_ms;
  call->cancellable = g_cancellable_new ();
  call->timeout_source = g_timeout_source_new (timeout_ms);
  g_source_set_callback (call->timeout_source, on_timeout, call, NULL);
  g_source_attach (call->timeout_source, g_main_context_get_thread_default ());
  g_task_set_task_data (task, call, (GDestroyNotify) call_free);
  step (task);
}

JsonNode *
marina_guest_agent_execute_finish (MarinaGuestAgent *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- shutdown ---- */

static void
on_shutdown_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = marina_guest_agent_execute_finish (MARINA_GUEST_AGENT (source),
                                                                 result, &error);

  /* Silence is what a shutdown in progress sounds like, or QEMU's exit. */
  if (error == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, g_steal_pointer (&error));
}

static void
on_shutdown_ping (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  MarinaGuestAgent *self = MARINA_GUEST_AGENT (source);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = marina_guest_agent_execute_finish (self, result, &error);
  g_autoptr(JsonObject) args = json_object_new ();

  if (error)
    return g_task_return_error (task, g_steal_pointer (&error));
  json_object_set_string_member (args, "mode", "powerdown");
  marina_guest_agent_execute_async (self, "guest-shutdown", args, SHUTDOWN_GRACE_MS,
                                    on_shutdown_sent, g_steal_pointer (&task));
}

void
marina_guest_agent_shutdown_async (MarinaGuestAgent   *self,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data)
{
  GTask *task;

  g_return_if_fail (MARINA_IS_GUEST_AGENT (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, marina_guest_agent_shutdown_async);
  marina_guest_agent_execute_async (self, "guest-ping", NULL, SHUTDOWN_PING_TIMEOUT_MS,
                                    on_shutdown_ping, task);
}

gboolean
marina_guest_agent_shutdown_finish (MarinaGuestAgent *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- object ---- */

void
marina_guest_agent_close (MarinaGuestAgent *self)
{
  g_return_if_fail (MARINA_IS_GUEST_AGENT (self));

  if (self->qmp)
    marina_qmp_close (self->qmp); /* "closed" clears it */
}

static void
marina_guest_agent_dispose (GObject *object)
{
  MarinaGuestAgent *self = MARINA_GUEST_AGENT (object);

  if (self->qmp)
    g_signal_handlers_disconnect_by_data (self->qmp, self);
  g_clear_object (&self->qmp);
  G_OBJECT_CLASS (marina_guest_agent_parent_class)->dispose (object);
}

static void
marina_guest_agent_finalize (GObject *object)
{
  MarinaGuestAgent *self = MARINA_GUEST_AGENT (object);

  g_ptr_array_unref (self->waiting);
  g_free (self->socket_path);
  G_OBJECT_CLASS (marina_guest_agent_parent_class)->finalize (object);
}

static void
marina_guest_agent_class_init (MarinaGuestAgentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = marina_guest_agent_dispose;
  object_class->finalize = marina_guest_agent_finalize;
}

static void
marina_guest_agent_init (MarinaGuestAgent *self)
{
  self->waiting = g_ptr_array_new ();
}

MarinaGuestAgent *
marina_guest_agent_new (const char *socket_path)
{
  MarinaGuestAgent *self;

  g_return_val_if_fail (socket_path != NULL, NULL);

  self = g_object_new (MARINA_TYPE_GUEST_AGENT, NULL);
  self->socket_path = g_strdup (socket_path);
  return self;
}
