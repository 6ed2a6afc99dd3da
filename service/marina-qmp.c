/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-qmp"
#include "config.h"

#include <errno.h>
#include <string.h>
#include <gio/gunixfdlist.h>
#include <gio/gunixfdmessage.h>
#include <gio/gunixsocketaddress.h>

#include "marina-error.h"
#include "marina-qmp.h"

/* The biggest real replies (query-qmp-schema, query-block of many disks) are
 * a few hundred KiB; a peer that sends this much without a newline is broken
 * or hostile, and buffering more would let it eat marinad's memory. */
#define MAX_LINE_LENGTH (16 * 1024 * 1024)
#define READ_CHUNK_SIZE (64 * 1024)
/* The guest agent resets its parser on this byte and puts it before its
 * answer to guest-sync-delimited; it is never part of valid UTF-8 JSON. */
#define AGENT_SENTINEL '\xff'

/* One command, from execute until its reply: queued, being written, or sent. */
typedef struct {
  MarinaQmp *qmp;         /* unowned: the queues of qmp own the Pending */
  gint64 id;
  char *command;
  GBytes *message;        /* the serialized command, newline included */
  GUnixFDList *fds;       /* NULL unless an fd travels with the command */
  GTask *task;            /* NULL once the caller cancelled: the reply is dropped */
  GSource *cancel_source;
  gboolean sent;          /* its first byte may have reached QEMU */
} Pending;

struct _MarinaQmp {
  GObject parent_instance;
  GMainContext *context;
  GSocketConnection *connection;
  GSocket *socket;             /* owned by connection */
  GCancellable *cancellable;   /* stops every read and write when closing */
  GByteArray *inbuf;           /* bytes read that do not make a whole line yet */
  gsize scanned;               /* leading bytes of inbuf known to hold no newline */
  GQueue pending;              /* Pending awaiting a reply, in the order sent */
  GQueue outgoing;             /* Pending not yet written: a tail of pending */
  Pending *writing;            /* the command being written, or NULL */
  GBytes *write_bytes;         /* keeps the buffer of the write in flight alive */
  GSource *room_source;        /* waits until an fd message fits in the socket */
  gint64 next_id;
  GTask *handshake;            /* until qmp_capabilities is answered */
  GSource *handshake_cancel_source;
  JsonObject *greeting;
  gboolean closed;
  /* The guest agent's dialect of the protocol: no greeting, no events, and a
   * channel that may hold stale or torn data from an earlier agent or client,
   * which is dropped instead of closing the connection. */
  gboolean agent;
};

enum { SIGNAL_EVENT, SIGNAL_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (MarinaQmp, marina_qmp, G_TYPE_OBJECT)

static void write_next (MarinaQmp *self);
static void read_more (MarinaQmp *self);

static void
pending_free (Pending *p)
{
  if (p->cancel_source)
    g_source_destroy (p->cancel_source);
  g_clear_pointer (&p->cancel_source, g_source_unref);
  g_clear_object (&p->task);
  g_clear_object (&p->fds);
  g_clear_pointer (&p->message, g_bytes_unref);
  g_free (p->command);
  g_free (p);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pending, pending_free)

/* ---- JSON helpers that never g_critical on unexpected input from QEMU ---- */

static const char *
get_string (JsonObject *object, const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonObject *
get_object (JsonObject *object, const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static gboolean
get_int (JsonObject *object, const char *member, gint64 *value)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}

/* ---- closing ---- */

static void
stop_io (MarinaQmp *self)
{
  g_cancellable_cancel (self->cancellable);
  if (self->room_source)
    g_source_destroy (self->room_source);
  g_clear_pointer (&self->room_source, g_source_unref);
  /* Closing a socket never blocks; outstanding reads and writes end with
   * G_IO_ERROR_CANCELLED in their own callbacks. */
  if (self->connection)
    g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
}

static GTask *
take_handshake (MarinaQmp *self)
{
  if (self->handshake_cancel_source)
    g_source_destroy (self->handshake_cancel_source);
  g_clear_pointer (&self->handshake_cancel_source, g_source_unref);
  return g_steal_pointer (&self->handshake);
}

static void
fail_handshake (MarinaQmp *self, const char *reason)
{
  g_autoptr(GTask) handshake = take_handshake (self);

  if (handshake)
    g_task_return_new_error (handshake, MARINA_ERROR, MARINA_ERROR_FAILED,
                             "The QMP handshake with QEMU failed: %s", reason);
}

/* The queue was detached from self first: callbacks may run new commands,
 * which then fail on their own because the connection is closed. */
static void
fail_all (GQueue *pending, const char *reason)
{
  Pending *p;

  while ((p = g_queue_pop_head (pending)))
    {
      g_autoptr(GTask) task = g_steal_pointer (&p->task);
      g_autofree char *command = g_steal_pointer (&p->command);

      pending_free (p);
      if (task)
        g_task_return_new_error (task, MARINA_ERROR, MARINA_ERROR_FAILED,
                                 "Lost the connection to QEMU while running '%s': %s",
                                 command, reason);
    }
}

/* Ends the connection for good: every caller still waiting learns why, then
 * "closed" tells the owner, exactly once. */
static void
shut_down (MarinaQmp *self, const char *reason)
{
  g_autoptr(MarinaQmp) hold = g_object_ref (self); /* a handler may drop the last ref */
  GQueue pending = self->pending;

  if (self->closed)
    return;
  g_debug ("Closing the QMP connection: %s", reason);
  self->closed = TRUE;
  stop_io (self);
  g_queue_init (&self->pending);
  g_queue_clear (&self->outgoing);
  self->writing = NULL;
  fail_handshake (self, reason);
  fail_all (&pending, reason);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0);
}

static void G_GNUC_PRINTF (2, 3)
protocol_error (MarinaQmp *self, const char *format, ...)
{
  g_autofree char *what = NULL;
  g_autofree char *reason = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  reason = g_strdup_printf ("QEMU sent %s", what);
  g_warning ("Closing the QMP connection: %s", reason);
  shut_down (self, reason);
}

/* ---- writing ---- */

static void
message_written (MarinaQmp *self)
{
  self->writing = NULL;
  write_next (self);
}

static void
write_failed (MarinaQmp *self, const GError *error)
{
  g_autofree char *reason = g_strdup_printf ("could not send '%s': %s",
                                             self->writing->command, error->message);

  shut_down (self, reason);
}

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaQmp) self = user_data;
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&self->write_bytes, g_bytes_unref);
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (!self->closed)
        write_failed (self, error);
      return;
    }
  message_written (self);
}

/* write_all copes with short writes; the queue keeps commands from mixing. */
static void
write_from (MarinaQmp *self, gsize offset)
{
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (self->connection));
  gsize size;
  const guint8 *data = g_bytes_get_data (self->writing->message, &size);

  self->write_bytes = g_bytes_ref (self->writing->message);
  g_output_stream_write_all_async (output, data + offset, size - offset, G_PRIORITY_DEFAULT,
                                   self->cancellable, on_written, g_object_ref (self));
}

static void send_with_fd (MarinaQmp *self);

static gboolean
on_room (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  MarinaQmp *self = user_data;

  g_clear_pointer (&self->room_source, g_source_unref);
  if (!self->closed)
    send_with_fd (self);
  return G_SOURCE_REMOVE;
}

static void
wait_for_room (MarinaQmp *self)
{
  self->room_source = g_socket_create_source (self->socket, G_IO_OUT, NULL);
  g_source_set_callback (self->room_source, G_SOURCE_FUNC (on_room),
                         g_object_ref (self), g_object_unref);
  g_source_attach (self->room_source, self->context);
}

/* SCM_RIGHTS needs real bytes to ride on, so the fd goes out with the start of
 * its command; whatever the kernel did not take follows through the stream.
 * A timeout of 0 makes the send non-blocking whatever the socket's mode. */
static void
send_with_fd (MarinaQmp *self)
{
  Pending *p = self->writing;
  g_autoptr(GSocketControlMessage) control = g_unix_fd_message_new_with_fd_list (p->fds);
  g_autoptr(GError) error = NULL;
  GOutputVector vector;
  gsize size, written = 0;

  vector.buffer = g_bytes_get_data (p->message, &size);
  vector.size = size;
  switch (g_socket_send_message_with_timeout (self->socket, NULL, &vector, 1, &control, 1,
                                              G_SOCKET_MSG_NONE, 0, &written, NULL, &error))
    {
    case G_POLLABLE_RETURN_OK:
      g_clear_object (&p->fds); /* close our duplicate now that QEMU has its own */
      if (written < size)
        write_from (self, written);
      else
        message_written (self);
      break;
    case G_POLLABLE_RETURN_WOULD_BLOCK:
      wait_for_room (self);
      break;
    case G_POLLABLE_RETURN_FAILED:
      write_failed (self, error);
      break;
    }
}

static void
write_next (MarinaQmp *self)
{
  if (self->closed || self->writing != NULL || g_queue_is_empty (&self->outgoing))
    return;
  self->writing = g_queue_pop_head (&self->outgoing);
  self->writing->sent = TRUE;
  if (self->writing->fds)
    send_with_fd (self);
  else
    write_from (self, 0);
}

/* ---- replies and events ---- */

static void
return_refusal (GTask *task, const char *command, JsonObject *error)
{
  const char *klass = get_string (error, "class");
  const char *desc = get_string (error, "desc");

  klass = klass ? klass : "GenericError";
  desc = desc ? desc : "QEMU gave no reason";
  g_task_set_task_data (task, g_strdup (klass), g_free);
  /* GenericError tells a person nothing; the specific classes do. */
  if (g_str_equal (klass, "GenericError"))
    g_task_return_new_error (task, MARINA_ERROR, MARINA_ERROR_FAILED,
                             "QEMU refused '%s': %s", command, desc);
  else
    g_task_return_new_error (task, MARINA_ERROR, MARINA_ERROR_FAILED,
                             "QEMU refused '%s': %s (%s)", command, desc, klass);
}

static void
complete_pending (Pending *p, JsonObject *reply)
{
  g_autoptr(Pending) owned = p;
  g_autoptr(GTask) task = g_steal_pointer (&p->task);
  JsonNode *value = json_object_get_member (reply, "return");

  if (task == NULL)
    return; /* the caller cancelled; the reply only had to be consumed */
  if (value)
    g_task_return_pointer (task, json_node_ref (value), (GDestroyNotify) json_node_unref);
  else
    return_refusal (task, p->command, get_object (reply, "error"));
}

/* QEMU echoes the id we sent. It answers without one only when it could not
 * read the command at all; it answers in order, so that is the oldest one. */
static Pending *
find_pending (MarinaQmp *self, JsonObject *reply)
{
  Pending *oldest = g_queue_peek_head (&self->pending);
  gint64 id;

  if (!json_object_has_member (reply, "id"))
    return oldest && oldest->sent && !self->agent ? oldest : NULL;
  if (!get_int (reply, "id", &id))
    return NULL;
  for (GList *l = self->pending.head; l; l = l->next)
    if (((Pending *) l->data)->id == id && ((Pending *) l->data)->sent)
      return l->data;
  return NULL;
}

static void
handle_reply (MarinaQmp *self, JsonObject *reply)
{
  Pending *p = find_pending (self, reply);

  if (p == NULL && self->agent)
    {
      /* For an agent: a timed-out command, or one sent before a resync. */
      g_debug ("Dropping a guest agent reply that nobody waits for");
      return;
    }
  if (p == NULL)
    {
      g_warning ("Ignoring a QMP reply to a command that Marina did not send");
      return;
    }
  g_queue_remove (&self->pending, p);
  complete_pending (p, reply);
}

static gint64
event_timestamp (JsonObject *event)
{
  JsonObject *timestamp = get_object (event, "timestamp");
  gint64 seconds, microseconds;

  if (!get_int (timestamp, "seconds", &seconds) ||
      !get_int (timestamp, "microseconds", &microseconds))
    return g_get_real_time ();
  return seconds * G_USEC_PER_SEC + microseconds;
}

static void
handle_event (MarinaQmp *self, JsonObject *event)
{
  const char *name = get_string (event, "event");
  JsonObject *data = get_object (event, "data");
  g_autoptr(JsonObject) empty = data ? NULL : json_object_new ();

  if (name == NULL)
    {
      protocol_error (self, "an event without a name");
      return;
    }
  /* try_string: a name nobody listens for must not grow the quark table. */
  g_signal_emit (self, signals[SIGNAL_EVENT], g_quark_try_string (name),
                 name, data ? data : empty, event_timestamp (event));
}

static void
on_capabilities (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MarinaQmp *self = MARINA_QMP (source);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = marina_qmp_execute_finish (self, result, &error);
  g_autoptr(GTask) handshake = take_handshake (self);

  if (handshake == NULL)
    return; /* cancelled or lost meanwhile, and already answered */
  if (value == NULL)
    {
      shut_down (self, error->message);
      g_task_return_error (handshake, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (handshake, g_object_ref (self), g_object_unref);
}

static void
handle_greeting (MarinaQmp *self, JsonObject *message)
{
  JsonObject *qmp = get_object (message, "QMP");

  if (self->greeting != NULL || qmp == NULL)
    {
      protocol_error (self, "an unexpected greeting");
      return;
    }
  self->greeting = json_object_ref (qmp);
  marina_qmp_execute_async (self, "qmp_capabilities", NULL, -1, NULL, on_capabilities, NULL);
}

static void
handle_message (MarinaQmp *self, JsonObject *message)
{
  if (self->agent && (json_object_has_member (message, "return") ||
                      json_object_has_member (message, "error")))
    handle_reply (self, message);
  else if (self->agent)
    g_debug ("Dropping a guest agent message that is not a reply");
  else if (json_object_has_member (message, "QMP"))
    handle_greeting (self, message);
  else if (self->greeting == NULL)
    protocol_error (self, "a message before its QMP greeting");
  else if (json_object_has_member (message, "event"))
    handle_event (self, message);
  else if (json_object_has_member (message, "return") || json_object_has_member (message, "error"))
    handle_reply (self, message);
  else
    protocol_error (self, "a message that is neither a reply nor an event");
}

/* ---- reading ---- */

static gboolean
is_blank (const char *line, gsize length)
{
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isspace (line[i]))
      return FALSE;
  return TRUE;
}

/* What stands before the agent's sentinel is left over from earlier. */
static void
skip_to_sentinel (const char **line, gsize *length)
{
  for (gsize i = *length; i > 0; i--)
    if ((*line)[i - 1] == AGENT_SENTINEL)
      {
        *line += i;
        *length -= i;
        return;
      }
}

/* QMP sends one JSON object per line. json-glib 1.6 accepts several values
 * in a row ("{}{}"), keeps the last and leaks the others, so a guest agent
 * could make marinad grow without end: such a line never reaches it. */
static gboolean
holds_one_object (const char *line, gsize length)
{
  gsize i = 0, depth = 0;
  gboolean in_string = FALSE;

  while (i < length && g_ascii_isspace (line[i]))
    i++;
  if (i == length || line[i] != '{')
    return FALSE;
  for (; i < length; i++)
    {
      if (in_string && line[i] == '\\')
        i++;
      else if (line[i] == '"')
        in_string = !in_string;
      else if (!in_string && (line[i] == '{' || line[i] == '['))
        depth++;
      else if (!in_string && (line[i] == '}' || line[i] == ']') && --depth == 0)
        break;
    }
  return i < length && is_blank (line + i + 1, length - i - 1);
}

/* QEMU never sends such a line; the agent's channel may hold torn data. */
static void
reject_line (MarinaQmp *self, const char *what, const char *detail)
{
  if (self->agent)
    g_debug ("Dropping %s from the guest agent", what);
  else if (detail)
    protocol_error (self, "%s (%s)", what, detail);
  else
    protocol_error (self, "%s", what);
}

static void
handle_line (MarinaQmp *self, const char *line, gsize length)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  if (self->agent)
    skip_to_sentinel (&line, &length);
  if (is_blank (line, length))
    return;
  if (!holds_one_object (line, length))
    {
      reject_line (self, "a line that is not one JSON object", NULL);
      return;
    }
  if (!json_parser_load_from_data (parser, line, length, &error))
    {
      reject_line (self, "a line that is not JSON", error->message);
      return;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    reject_line (self, "JSON that is not an object", NULL);
  else
    handle_message (self, json_node_get_object (root));
}

/* QMP ends every message with a newline, and a read may stop anywhere:
 * hand on each whole line and keep the rest for the next read. */
static gboolean
take_input (MarinaQmp *self, GBytes *bytes)
{
  gsize size, consumed = 0;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  const guint8 *newline;

  g_byte_array_append (self->inbuf, data, size);
  while (!self->closed &&
         (newline = memchr (self->inbuf->data + self->scanned, '\n',
                            self->inbuf->len - self->scanned)))
    {
      gsize end = newline - self->inbuf->data;

      handle_line (self, (const char *) self->inbuf->data + consumed, end - consumed);
      consumed = self->scanned = end + 1;
    }
  if (self->closed)
    return FALSE;
  g_byte_array_remove_range (self->inbuf, 0, consumed);
  self->scanned = self->inbuf->len;
  if (self->inbuf->len > MAX_LINE_LENGTH)
    protocol_error (self, "a message longer than %d MiB", MAX_LINE_LENGTH / (1024 * 1024));
  return !self->closed;
}

static MarinaQmp *
weak_ref_steal (GWeakRef *weak)
{
  MarinaQmp *self = g_weak_ref_get (weak);

  g_weak_ref_clear (weak);
  g_free (weak);
  return self;
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaQmp) self = weak_ref_steal (user_data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source),
                                                              result, &error);
  g_autofree char *reason = NULL;

  if (self == NULL || self->closed)
    return;
  if (bytes == NULL)
    {
      reason = g_strdup_printf ("could not read from the monitor socket: %s", error->message);
      shut_down (self, reason);
    }
  else if (g_bytes_get_size (bytes) == 0)
    shut_down (self, "QEMU closed the monitor socket");
  else if (take_input (self, bytes))
    read_more (self);
}

/* The read loop holds only a weak reference, so that dropping the last
 * reference to a MarinaQmp closes the connection instead of leaking it. */
static void
read_more (MarinaQmp *self)
{
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (self->connection));
  GWeakRef *weak = g_new0 (GWeakRef, 1);

  g_weak_ref_init (weak, self);
  g_input_stream_read_bytes_async (input, READ_CHUNK_SIZE, G_PRIORITY_DEFAULT,
                                   self->cancellable, on_read, weak);
}

/* ---- executing ---- */

static GBytes *
serialize_command (const char *command, JsonObject *arguments, gint64 id, gboolean sentinel)
{
  g_autoptr(JsonObject) message = json_object_new ();
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;
  char *line;

  json_object_set_string_member (message, "execute", command);
  if (arguments)
    json_object_set_object_member (message, "arguments", json_object_ref (arguments));
  json_object_set_int_member (message, "id", id);
  json_node_set_object (root, message);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  line = g_strconcat (sentinel ? "\xff" : "", text, "\n", NULL);
  return g_bytes_new_take (line, strlen (line));
}

static gboolean
attach_fd (MarinaQmp *self, Pending *p, int fd, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (g_socket_get_family (self->socket) != G_SOCKET_FAMILY_UNIX)
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "Cannot pass a file descriptor with '%s': the QEMU monitor "
                   "connection is not a unix socket", p->command);
      return FALSE;
    }
  /* The list holds a duplicate, so the caller may close its fd right away. */
  p->fds = g_unix_fd_list_new ();
  if (g_unix_fd_list_append (p->fds, fd, &local_error) < 0)
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "Cannot pass file descriptor %d with '%s': %s",
                   fd, p->command, local_error->message);
      return FALSE;
    }
  return TRUE;
}

static Pending *
pending_new (MarinaQmp *self, const char *command, JsonObject *arguments, int fd, GError **error)
{
  g_autoptr(Pending) p = g_new0 (Pending, 1);

  p->qmp = self;
  p->id = self->next_id++;
  p->command = g_strdup (command);
  /* The sentinel makes the agent drop whatever half a command it holds. */
  p->message = serialize_command (command, arguments, p->id,
                                  self->agent && g_str_equal (command, "guest-sync-delimited"));
  if (fd >= 0 && !attach_fd (self, p, fd, error))
    return NULL;
  return g_steal_pointer (&p);
}

/* The caller gives up, but QEMU may already be running the command: once
 * sent, it stays in the queue so that its reply is read and dropped. */
static gboolean
on_execute_cancelled (GCancellable *cancellable, gpointer user_data)
{
  Pending *p = user_data;
  MarinaQmp *self = p->qmp;
  g_autoptr(GTask) task = g_steal_pointer (&p->task);

  g_clear_pointer (&p->cancel_source, g_source_unref); /* REMOVE destroys it */
  /* The agent's replies carry our id, so a late one is dropped without the
   * Pending; keeping it would pile up while an agent stays silent. */
  if (!p->sent || (self->agent && p != self->writing))
    {
      g_queue_remove (&self->outgoing, p);
      g_queue_remove (&self->pending, p);
      pending_free (p);
    }
  g_task_return_error_if_cancelled (task);
  return G_SOURCE_REMOVE;
}

/* A GSource rather than g_cancellable_connect: the answer then comes on our
 * main context even when another thread cancels. */
static void
watch_cancellation (MarinaQmp *self, Pending *p, GCancellable *cancellable)
{
  if (cancellable == NULL)
    return;
  p->cancel_source = g_cancellable_source_new (cancellable);
  g_source_set_callback (p->cancel_source, G_SOURCE_FUNC (on_execute_cancelled), p, NULL);
  g_source_attach (p->cancel_source, self->context);
}

void
marina_qmp_execute_async (MarinaQmp          *self,
                          const char         *command,
                          JsonObject         *arguments,
                          int                 fd,
                          GCancellable       *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer            user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  Pending *p;

  g_return_if_fail (MARINA_IS_QMP (self));
  g_return_if_fail (command != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, marina_qmp_execute_async);
  if (g_task_return_error_if_cancelled (task))
    return;
  if (self->closed)
    {
      g_task_return_new_error (task, MARINA_ERROR, MARINA_ERROR_FAILED,
                               "Cannot run '%s': the connection to QEMU is closed", command);
      return;
    }
  if (!(p = pending_new (self, command, arguments, fd, &error)))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  p->task = g_steal_pointer (&task);
  watch_cancellation (self, p, cancellable);
  g_queue_push_tail (&self->pending, p);
  g_queue_push_tail (&self->outgoing, p);
  write_next (self);
}

JsonNode *
marina_qmp_execute_finish (MarinaQmp *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

const char *
marina_qmp_execute_get_error_class (MarinaQmp *self, GAsyncResult *result)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_get_task_data (G_TASK (result));
}

/* ---- connecting ---- */

static gboolean
on_handshake_cancelled (GCancellable *cancellable, gpointer user_data)
{
  MarinaQmp *self = user_data;
  g_autoptr(GTask) handshake = take_handshake (self);

  shut_down (self, "the QMP handshake was cancelled");
  g_task_return_error_if_cancelled (handshake);
  return G_SOURCE_REMOVE;
}

static void
watch_handshake_cancellation (MarinaQmp *self, GCancellable *cancellable)
{
  if (cancellable == NULL)
    return;
  self->handshake_cancel_source = g_cancellable_source_new (cancellable);
  g_source_set_callback (self->handshake_cancel_source, G_SOURCE_FUNC (on_handshake_cancelled),
                         self, NULL);
  g_source_attach (self->handshake_cancel_source, self->context);
}

void
marina_qmp_new_for_connection_async (GSocketConnection  *connection,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data)
{
  g_autoptr(MarinaQmp) self = NULL;
  GTask *task;

  g_return_if_fail (G_IS_SOCKET_CONNECTION (connection));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, marina_qmp_new_for_connection_async);
  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  self = g_object_new (MARINA_TYPE_QMP, NULL);
  self->connection = g_object_ref (connection);
  self->socket = g_socket_connection_get_socket (connection);
  /* Nothing else holds the client until the handshake ends. */
  g_task_set_task_data (task, g_object_ref (self), g_object_unref);
  self->handshake = task;
  watch_handshake_cancellation (self, cancellable);
  read_more (self);
}

/* The guest agent has nothing to negotiate: the client is ready at once. */
MarinaQmp *
marina_qmp_new_for_agent (GSocketConnection *connection)
{
  MarinaQmp *self;

  g_return_val_if_fail (G_IS_SOCKET_CONNECTION (connection), NULL);

  self = g_object_new (MARINA_TYPE_QMP, NULL);
  self->agent = TRUE;
  self->connection = g_object_ref (connection);
  self->socket = g_socket_connection_get_socket (connection);
  read_more (self);
  return self;
}

MarinaQmp *
marina_qmp_new_for_connection_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
on_connect_handshake_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  MarinaQmp *qmp = marina_qmp_new_for_connection_finish (result, &error);

  if (qmp)
    {
      g_task_return_pointer (task, qmp, g_object_unref);
      return;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_prefix_error (&error, "%s: ", (const char *) g_task_get_task_data (task));
  g_task_return_error (task, g_steal_pointer (&error));
}

/* GIO words this as "Could not connect: …"; say which socket instead. */
static const char *
describe_connect_error (const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return g_strerror (ENOENT);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    return g_strerror (ECONNREFUSED);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    return g_strerror (EACCES);
  return error->message;
}

static void
on_socket_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection =
    g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  GCancellable *cancellable = g_task_get_cancellable (task);

  if (connection)
    {
      marina_qmp_new_for_connection_async (connection, cancellable,
                                           on_connect_handshake_done, g_steal_pointer (&task));
      return;
    }
  /* Keep the GIO code: callers retry on NOT_FOUND or CONNECTION_REFUSED
   * while QEMU is still starting. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_new_error (task, error->domain, error->code,
                             "Could not connect to the QEMU monitor socket %s: %s",
                             (const char *) g_task_get_task_data (task),
                             describe_connect_error (error));
}

void
marina_qmp_connect_async (const char         *socket_path,
                          GCancellable       *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer            user_data)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = NULL;
  GTask *task;

  g_return_if_fail (socket_path != NULL);

  address = g_unix_socket_address_new (socket_path);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, marina_qmp_connect_async);
  g_task_set_task_data (task, g_strdup (socket_path), g_free);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), cancellable,
                                 on_socket_connected, task);
}

MarinaQmp *
marina_qmp_connect_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- the rest of the API ---- */

JsonObject *
marina_qmp_get_greeting (MarinaQmp *self)
{
  g_return_val_if_fail (MARINA_IS_QMP (self), NULL);

  return self->greeting;
}

gboolean
marina_qmp_is_connected (MarinaQmp *self)
{
  g_return_val_if_fail (MARINA_IS_QMP (self), FALSE);

  return !self->closed && self->handshake == NULL;
}

void
marina_qmp_close (MarinaQmp *self)
{
  g_return_if_fail (MARINA_IS_QMP (self));

  shut_down (self, "Marina closed the monitor connection");
}

/* Dropping the last reference closes quietly: nobody is left to tell, and
 * no execute can be pending, since each one holds a reference. */
static void
marina_qmp_dispose (GObject *object)
{
  MarinaQmp *self = MARINA_QMP (object);

  if (!self->closed)
    {
      self->closed = TRUE;
      stop_io (self);
    }
  G_OBJECT_CLASS (marina_qmp_parent_class)->dispose (object);
}

static void
marina_qmp_finalize (GObject *object)
{
  MarinaQmp *self = MARINA_QMP (object);

  g_queue_clear_full (&self->pending, (GDestroyNotify) pending_free);
  g_queue_clear (&self->outgoing);
  g_clear_pointer (&self->write_bytes, g_bytes_unref);
  g_clear_pointer (&self->inbuf, g_byte_array_unref);
  g_clear_pointer (&self->greeting, json_object_unref);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->connection);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (marina_qmp_parent_class)->finalize (object);
}

static void
marina_qmp_class_init (MarinaQmpClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = marina_qmp_dispose;
  object_class->finalize = marina_qmp_finalize;

  signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  JSON_TYPE_OBJECT | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_INT64);
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
marina_qmp_init (MarinaQmp *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->cancellable = g_cancellable_new ();
  self->inbuf = g_byte_array_new ();
  self->next_id = 1;
}
