/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-test-qmp"
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gunixfdmessage.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "marina-error.h"
#include "marina-qmp.h"

/* The tests play QEMU on the far end of a socketpair, scripted step by step,
 * while the main loop runs the client. */

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, " \
                 "\"major\": 7}, \"package\": \"Debian 1:7.2\"}, \"capabilities\": [\"oob\"]}}"

typedef struct {
  MarinaQmp *qmp;
  GSocket *client;       /* the client's end, before the handshake takes it */
  GSocket *fake;         /* QEMU's end */
  GByteArray *inbuf;     /* what the fake QEMU read and did not parse yet */
  GArray *fds;           /* fds the fake QEMU received */
  GPtrArray *log;        /* "event:NAME" and "reply:LABEL", in the order seen */
  guint closed_count;
  guint timeout_id;
} Fixture;

typedef struct {
  Fixture *f;
  const char *label;
  gboolean done;
  JsonNode *value;
  GError *error;
  char *error_class;
} Result;

static void
result_clear (Result *r)
{
  g_clear_pointer (&r->value, json_node_unref);
  g_clear_error (&r->error);
  g_clear_pointer (&r->error_class, g_free);
}

static gboolean
on_test_timeout (gpointer user_data)
{
  g_error ("Test timed out; the client or the fake QEMU is stuck");
  return G_SOURCE_REMOVE;
}

static void
wait_until (gboolean *flag)
{
  while (!*flag)
    g_main_context_iteration (NULL, TRUE);
}

/* Let the client read whatever is already in the socket. */
static void
drain (void)
{
  for (int i = 0; i < 10; i++)
    while (g_main_context_iteration (NULL, FALSE))
      ;
}

/* ---- the fake QEMU ---- */

static gboolean
on_fake_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
fake_wait_readable (Fixture *f)
{
  gboolean ready = FALSE;
  g_autoptr(GSource) source = g_socket_create_source (f->fake, G_IO_IN | G_IO_HUP, NULL);

  g_source_set_callback (source, G_SOURCE_FUNC (on_fake_readable), &ready, NULL);
  g_source_attach (source, NULL);
  wait_until (&ready);
  g_source_destroy (source);
}

static void
fake_keep_fds (Fixture *f, GSocketControlMessage **messages, int n_messages)
{
  for (int i = 0; i < n_messages; i++)
    {
      if (G_IS_UNIX_FD_MESSAGE (messages[i]))
        {
          int n_fds;
          g_autofree int *fds = g_unix_fd_message_steal_fds (G_UNIX_FD_MESSAGE (messages[i]), &n_fds);

          g_array_append_vals (f->fds, fds, n_fds);
        }
      g_object_unref (messages[i]);
    }
  g_free (messages);
}

static void
fake_receive (Fixture *f)
{
  char chunk[4096];
  GInputVector vector = { chunk, sizeof chunk };
  GSocketControlMessage **messages = NULL;
  int n_messages = 0;
  g_autoptr(GError) error = NULL;
  gssize n;

  fake_wait_readable (f);
  n = g_socket_receive_message (f->fake, NULL, &vector, 1, &messages, &n_messages,
                                NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, >, 0);
  fake_keep_fds (f, messages, n_messages);
  g_byte_array_append (f->inbuf, (guint8 *) chunk, n);
}

static char *
fake_read_line (Fixture *f)
{
  guint8 *newline;
  gsize length;
  char *line;

  while (f->inbuf->len == 0 || !(newline = memchr (f->inbuf->data, '\n', f->inbuf->len)))
    fake_receive (f);
  length = newline - f->inbuf->data;
  line = g_strndup ((char *) f->inbuf->data, length);
  g_byte_array_remove_range (f->inbuf, 0, length + 1);
  return line;
}

/* Reads one command, checks its name and returns its id. */
static gint64
fake_read_command (Fixture *f, const char *expected, JsonObject **arguments)
{
  g_autofree char *line = fake_read_line (f);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *command;

  json_parser_load_from_data (parser, line, -1, &error);
  g_assert_no_error (error);
  command = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (command, "execute"), ==, expected);
  if (arguments)
    *arguments = json_object_has_member (command, "arguments")
                 ? json_object_ref (json_object_get_object_member (command, "arguments"))
                 : NULL;
  return json_object_get_int_member (command, "id");
}

/* Never blocks: when the socket is full, the client needs the main loop to read. */
static gboolean
fake_send (Fixture *f, const char *data, gsize length)
{
  while (length > 0)
    {
      g_autoptr(GError) error = NULL;
      gssize sent = g_socket_send_with_blocking (f->fake, data, length, FALSE, NULL, &error);

      if (sent < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        g_main_context_iteration (NULL, TRUE);
      else if (sent < 0)
        return FALSE;
      else
        {
          data += sent;
          length -= sent;
        }
    }
  return TRUE;
}

static void G_GNUC_PRINTF (2, 3)
fake_send_line (Fixture *f, const char *format, ...)
{
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  line = g_strconcat (text, "\r\n", NULL); /* QEMU ends its lines with CRLF */
  g_assert_true (fake_send (f, line, strlen (line)));
}

static void
fake_reply (Fixture *f, gint64 id, const char *value)
{
  fake_send_line (f, "{\"return\": %s, \"id\": %" G_GINT64_FORMAT "}", value, id);
}

/* ---- the client side ---- */

static void
on_event (MarinaQmp *qmp, const char *name, JsonObject *data, gint64 timestamp, gpointer user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->log, g_strdup_printf ("event:%s", name));
}

static void
on_closed (MarinaQmp *qmp, gpointer user_data)
{
  Fixture *f = user_data;

  f->closed_count++;
}

static void
on_executed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Result *r = user_data;

  r->value = marina_qmp_execute_finish (MARINA_QMP (source), result, &r->error);
  r->error_class = g_strdup (marina_qmp_execute_get_error_class (MARINA_QMP (source), result));
  if (r->f && r->label)
    g_ptr_array_add (r->f->log, g_strdup_printf ("reply:%s", r->label));
  r->done = TRUE;
}

static void
execute (Fixture *f, Result *r, const char *command, int fd, GCancellable *cancellable)
{
  r->f = f;
  r->label = command;
  marina_qmp_execute_async (f->qmp, command, NULL, fd, cancellable, on_executed, r);
}

static void
on_handshake_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Result *r = user_data;
  g_autoptr(MarinaQmp) qmp = marina_qmp_new_for_connection_finish (result, &r->error);

  r->f->qmp = g_steal_pointer (&qmp);
  r->done = TRUE;
}

static void
start_handshake (Fixture *f, Result *r, GCancellable *cancellable)
{
  g_autoptr(GSocketConnection) connection =
    g_socket_connection_factory_create_connection (f->client);

  r->f = f;
  marina_qmp_new_for_connection_async (connection, cancellable, on_handshake_done, r);
}

static void
connect_client (Fixture *f)
{
  Result r = { 0 };
  g_autoptr(JsonObject) arguments = NULL;
  gint64 id;

  fake_send_line (f, GREETING);
  start_handshake (f, &r, NULL);
  id = fake_read_command (f, "qmp_capabilities", &arguments);
  g_assert_null (arguments);
  g_assert_false (r.done);
  fake_reply (f, id, "{}");
  wait_until (&r.done);
  g_assert_no_error (r.error);
  g_assert_true (marina_qmp_is_connected (f->qmp));
  g_signal_connect (f->qmp, "event", G_CALLBACK (on_event), f);
  g_signal_connect (f->qmp, "closed", G_CALLBACK (on_closed), f);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  int pair[2];

  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
  f->client = g_socket_new_from_fd (pair[0], &error);
  g_assert_no_error (error);
  f->fake = g_socket_new_from_fd (pair[1], &error);
  g_assert_no_error (error);
  f->inbuf = g_byte_array_new ();
  f->fds = g_array_new (FALSE, FALSE, sizeof (int));
  f->log = g_ptr_array_new_with_free_func (g_free);
  f->timeout_id = g_timeout_add_seconds (20, on_test_timeout, NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->qmp);
  g_clear_object (&f->client);
  if (f->fake)
    g_socket_close (f->fake, NULL);
  g_clear_object (&f->fake);
  drain ();
  for (guint i = 0; i < f->fds->len; i++)
    close (g_array_index (f->fds, int, i));
  g_array_unref (f->fds);
  g_byte_array_unref (f->inbuf);
  g_ptr_array_unref (f->log);
  g_source_remove (f->timeout_id);
}

/* ---- tests ---- */

static void
test_handshake (Fixture *f, gconstpointer data)
{
  JsonObject *greeting;

  connect_client (f);
  greeting = marina_qmp_get_greeting (f->qmp);
  g_assert_nonnull (greeting);
  g_assert_cmpint (json_object_get_int_member (
                     json_object_get_object_member (
                       json_object_get_object_member (greeting, "version"), "qemu"), "major"), ==, 7);
  g_assert_cmpuint (f->closed_count, ==, 0);
}

static void
test_handshake_bad_greeting (Fixture *f, gconstpointer data)
{
  Result r = { 0 };

  g_test_expect_message ("marina-qmp", G_LOG_LEVEL_WARNING, "*before its QMP greeting*");
  fake_send_line (f, "{\"return\": {}}");
  start_handshake (f, &r, NULL);
  wait_until (&r.done);
  g_test_assert_expected_messages ();
  g_assert_error (r.error, MARINA_ERROR, MARINA_ERROR_FAILED);
  g_assert_true (strstr (r.error->message, "QMP handshake") != NULL);
  g_assert_null (f->qmp);
  result_clear (&r);
}

static void
test_handshake_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Result r = { 0 };

  start_handshake (f, &r, cancellable); /* QEMU never greets */
  drain ();
  g_assert_false (r.done);
  g_cancellable_cancel (cancellable);
  wait_until (&r.done);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (f->qmp);
  result_clear (&r);
}

static void
test_reply_matching (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonObject) arguments = NULL;
  Result a = { 0 }, b = { 0 }, c = { 0 };
  gint64 id_a, id_b, id_c;

  connect_client (f);
  execute (f, &a, "query-status", -1, NULL);
  execute (f, &b, "query-name", -1, NULL);
  marina_qmp_execute_async (f->qmp, "query-cpus-fast", NULL, -1, NULL, on_executed, &c);
  id_a = fake_read_command (f, "query-status", NULL);
  id_b = fake_read_command (f, "query-name", NULL);
  id_c = fake_read_command (f, "query-cpus-fast", NULL);
  g_assert_cmpint (id_a, !=, id_b);
  g_assert_cmpint (id_b, !=, id_c);

  fake_reply (f, id_c, "[1]");
  fake_reply (f, id_a, "{\"status\": \"running\"}");
  fake_reply (f, id_b, "{\"name\": \"vm\"}");
  wait_until (&a.done);
  wait_until (&b.done);
  wait_until (&c.done);
  g_assert_no_error (a.error);
  g_assert_no_error (b.error);
  g_assert_no_error (c.error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (a.value), "status"), ==, "running");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (b.value), "name"), ==, "vm");
  g_assert_true (JSON_NODE_HOLDS_ARRAY (c.value));
  g_assert_null (a.error_class);
  result_clear (&a);
  result_clear (&b);
  result_clear (&c);
}

static void
test_arguments (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonObject) sent = json_object_new ();
  g_autoptr(JsonObject) received = NULL;
  Result r = { 0 };
  gint64 id;

  connect_client (f);
  json_object_set_string_member (sent, "device", "net0");
  json_object_set_boolean_member (sent, "force", TRUE);
  marina_qmp_execute_async (f->qmp, "device_del", sent, -1, NULL, on_executed, &r);
  id = fake_read_command (f, "device_del", &received);
  g_assert_cmpstr (json_object_get_string_member (received, "device"), ==, "net0");
  g_assert_true (json_object_get_boolean_member (received, "force"));
  fake_reply (f, id, "{}");
  wait_until (&r.done);
  g_assert_no_error (r.error);
  result_clear (&r);
}

static void
on_stop_event (MarinaQmp *qmp, const char *name, JsonObject *event_data, gint64 timestamp,
               gpointer user_data)
{
  JsonObject **out = user_data;

  g_assert_cmpstr (name, ==, "STOP");
  g_assert_cmpint (timestamp, ==, G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC + 123456);
  *out = json_object_ref (event_data);
}

static void
test_event_before_reply (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonObject) stop_data = NULL;
  Result r = { 0 };
  gint64 id;

  connect_client (f);
  g_signal_connect (f->qmp, "event::STOP", G_CALLBACK (on_stop_event), &stop_data);
  execute (f, &r, "stop", -1, NULL);
  id = fake_read_command (f, "stop", NULL);
  fake_send_line (f, "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 123456}, "
                     "\"event\": \"STOP\"}");
  fake_send_line (f, "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 123457}, "
                     "\"event\": \"BLOCK_IO_ERROR\", \"data\": {\"device\": \"d0\"}}");
  fake_reply (f, id, "{}");
  wait_until (&r.done);
  g_assert_no_error (r.error);
  g_assert_cmpuint (f->log->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (f->log, 0), ==, "event:STOP");
  g_assert_cmpstr (g_ptr_array_index (f->log, 1), ==, "event:BLOCK_IO_ERROR");
  g_assert_cmpstr (g_ptr_array_index (f->log, 2), ==, "reply:stop");
  g_assert_nonnull (stop_data);
  g_assert_cmpuint (json_object_get_size (stop_data), ==, 0);
  result_clear (&r);
}

static void
test_split_and_batched (Fixture *f, gconstpointer data)
{
  Result a = { 0 }, b = { 0 }, c = { 0 };
  g_autofree char *reply = NULL;
  g_autofree char *batch = NULL;
  gint64 id_a, id_b, id_c;
  gsize third;

  connect_client (f);
  execute (f, &a, "query-status", -1, NULL);
  id_a = fake_read_command (f, "query-status", NULL);
  reply = g_strdup_printf ("{\"return\": {\"status\": \"paused\"}, \"id\": %" G_GINT64_FORMAT "}\r\n", id_a);
  third = strlen (reply) / 3;
  g_assert_true (fake_send (f, reply, third));
  drain ();
  g_assert_true (fake_send (f, reply + third, third));
  drain ();
  g_assert_false (a.done);
  g_assert_true (fake_send (f, reply + 2 * third, strlen (reply) - 2 * third));
  wait_until (&a.done);
  g_assert_no_error (a.error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (a.value), "status"), ==, "paused");

  execute (f, &b, "cont", -1, NULL);
  execute (f, &c, "query-status", -1, NULL);
  id_b = fake_read_command (f, "cont", NULL);
  id_c = fake_read_command (f, "query-status", NULL);
  batch = g_strdup_printf ("{\"return\": {}, \"id\": %" G_GINT64_FORMAT "}\r\n"
                           "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n"
                           "\r\n"
                           "{\"return\": {\"status\": \"running\"}, \"id\": %" G_GINT64_FORMAT "}\r\n",
                           id_b, id_c);
  g_assert_true (fake_send (f, batch, strlen (batch)));
  wait_until (&c.done);
  g_assert_true (b.done);
  g_assert_no_error (b.error);
  g_assert_no_error (c.error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (c.value), "status"), ==, "running");
  g_assert_cmpuint (f->log->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (f->log, 2), ==, "event:RESUME");
  result_clear (&a);
  result_clear (&b);
  result_clear (&c);
}

static void
test_error_reply (Fixture *f, gconstpointer data)
{
  Result a = { 0 }, b = { 0 };
  gint64 id;

  connect_client (f);
  execute (f, &a, "device_del", -1, NULL);
  id = fake_read_command (f, "device_del", NULL);
  fake_send_line (f, "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'net9' not found\"}, "
                     "\"id\": %" G_GINT64_FORMAT "}", id);
  wait_until (&a.done);
  g_assert_error (a.error, MARINA_ERROR, MARINA_ERROR_FAILED);
  g_assert_cmpstr (a.error->message, ==, "QEMU refused 'device_del': Device 'net9' not found (DeviceNotFound)");
  g_assert_cmpstr (a.error_class, ==, "DeviceNotFound");

  execute (f, &b, "cont", -1, NULL);
  id = fake_read_command (f, "cont", NULL);
  fake_send_line (f, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Resetting the VM is needed\"}, "
                     "\"id\": %" G_GINT64_FORMAT "}", id);
  wait_until (&b.done);
  g_assert_cmpstr (b.error->message, ==, "QEMU refused 'cont': Resetting the VM is needed");
  g_assert_cmpstr (b.error_class, ==, "GenericError");
  g_assert_true (marina_qmp_is_connected (f->qmp));
  result_clear (&a);
  result_clear (&b);
}

static void
test_closed_with_pending (Fixture *f, gconstpointer data)
{
  Result a = { 0 }, b = { 0 }, c = { 0 };

  connect_client (f);
  execute (f, &a, "query-status", -1, NULL);
  execute (f, &b, "system_powerdown", -1, NULL);
  fake_read_command (f, "query-status", NULL);
  g_socket_close (f->fake, NULL);
  wait_until (&a.done);
  wait_until (&b.done);
  g_assert_error (a.error, MARINA_ERROR, MARINA_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (a.error->message, "Lost the connection to QEMU"));
  g_assert_error (b.error, MARINA_ERROR, MARINA_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (b.error->message, "Lost the connection to QEMU"));
  g_assert_cmpuint (f->closed_count, ==, 1);
  g_assert_false (marina_qmp_is_connected (f->qmp));

  execute (f, &c, "cont", -1, NULL);
  wait_until (&c.done);
  g_assert_error (c.error, MARINA_ERROR, MARINA_ERROR_FAILED);
  marina_qmp_close (f->qmp);
  g_assert_cmpuint (f->closed_count, ==, 1);
  result_clear (&a);
  result_clear (&b);
  result_clear (&c);
}

static void
test_close (Fixture *f, gconstpointer data)
{
  Result a = { 0 };

  connect_client (f);
  execute (f, &a, "query-status", -1, NULL);
  marina_qmp_close (f->qmp);
  wait_until (&a.done);
  g_assert_error (a.error, MARINA_ERROR, MARINA_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (a.error->message, "Lost the connection to QEMU"));
  g_assert_cmpuint (f->closed_count, ==, 1);
  marina_qmp_close (f->qmp);
  g_assert_cmpuint (f->closed_count, ==, 1);
  result_clear (&a);
}

static void
check_garbage (Fixture *f, const char *line, const char *warning)
{
  Result a = { 0 };

  connect_client (f);
  execute (f, &a, "query-status", -1, NULL);
  fake_read_command (f, "query-status", NULL);
  g_test_expect_message ("marina-qmp", G_LOG_LEVEL_WARNING, warning);
  fake_send_line (f, "%s", line);
  wait_until (&a.done);
  g_test_assert_expected_messages ();
  g_assert_error (a.error, MARINA_ERROR, MARINA_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (a.error->message, "Lost the connection to QEMU"));
  g_assert_cmpuint (f->closed_count, ==, 1);
  g_assert_false (marina_qmp_is_connected (f->qmp));
  result_clear (&a);
}

static void
test_garbage (Fixture *f, gconstpointer data)
{
  check_garbage (f, "this is no JSON {{{", "*not*JSON*");
}

/* json-glib would take both, keep the last and leak the first (found by
 * tests/fuzz/fuzz-qmp). */
static void
test_two_objects_on_a_line (Fixture *f, gconstpointer data)
{
  check_garbage (f, "{\"return\": {}, \"id\": 1}{\"return\": {}}", "*not one JSON object*");
}

static void
test_not_an_object (Fixture *f, gconstpointer data)
{
  check_garbage (f, "[1, 2, 3]", "*not*object*");
}

static void
test_unknown_message (Fixture *f, gconstpointer data)
{
  check_garbage (f, "{\"hello\": 1}", "*neither a reply nor an event*");
}

static void
test_overlong_line (Fixture *f, gconstpointer data)
{
  g_autofree char *chunk = g_malloc (64 * 1024);

  connect_client (f);
  memset (chunk, ' ', 64 * 1024);
  chunk[0] = '"';
  g_test_expect_message ("marina-qmp", G_LOG_LEVEL_WARNING, "*longer than 16 MiB*");
  /* 17 MiB without a newline; the client hangs up somewhere past 16. */
  for (int i = 0; i < 17 * 16 && f->closed_count == 0; i++)
    if (!fake_send (f, chunk, 64 * 1024))
      break;
  while (f->closed_count == 0)
    g_main_context_iteration (NULL, TRUE);
  g_test_assert_expected_messages ();
}

static void
test_fd_passing (Fixture *f, gconstpointer data)
{
  Result before = { 0 }, r = { 0 }, after = { 0 };
  int pipe_fds[2];
  struct stat ours, theirs;
  char byte = 0;
  gint64 id;

  connect_client (f);
  g_assert_true (g_unix_open_pipe (pipe_fds, FD_CLOEXEC, NULL));
  execute (f, &before, "query-status", -1, NULL);
  execute (f, &r, "getfd", pipe_fds[0], NULL);
  execute (f, &after, "query-name", -1, NULL);
  fake_reply (f, fake_read_command (f, "query-status", NULL), "{}");
  id = fake_read_command (f, "getfd", NULL);
  fake_reply (f, id, "{}");
  fake_reply (f, fake_read_command (f, "query-name", NULL), "{}");
  wait_until (&after.done);
  g_assert_no_error (r.error);

  g_assert_cmpuint (f->fds->len, ==, 1);
  g_assert_no_errno (fstat (pipe_fds[0], &ours));
  g_assert_no_errno (fstat (g_array_index (f->fds, int, 0), &theirs));
  g_assert_cmpuint (ours.st_ino, ==, theirs.st_ino);
  g_assert_cmpuint (ours.st_dev, ==, theirs.st_dev);
  /* The caller's fd stays open, and QEMU's copy reads the same pipe. */
  g_assert_cmpint (fcntl (pipe_fds[0], F_GETFD), !=, -1);
  g_assert_cmpint (write (pipe_fds[1], "x", 1), ==, 1);
  g_assert_cmpint (read (g_array_index (f->fds, int, 0), &byte, 1), ==, 1);
  g_assert_cmpint (byte, ==, 'x');
  close (pipe_fds[0]);
  close (pipe_fds[1]);
  result_clear (&before);
  result_clear (&r);
  result_clear (&after);
}

static void
test_fd_invalid (Fixture *f, gconstpointer data)
{
  Result r = { 0 };
  int fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);

  connect_client (f);
  close (fd); /* now surely not an open fd */
  execute (f, &r, "getfd", fd, NULL);
  wait_until (&r.done);
  g_assert_error (r.error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT);
  g_assert_true (marina_qmp_is_connected (f->qmp));
  result_clear (&r);
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  Result a = { 0 }, b = { 0 }, c = { 0 };
  gint64 id_a, id_c;

  connect_client (f);
  execute (f, &a, "query-status", -1, cancellable);
  id_a = fake_read_command (f, "query-status", NULL);
  g_cancellable_cancel (cancellable);
  wait_until (&a.done);
  g_assert_error (a.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* Cancelled before the call: never sent. */
  g_cancellable_cancel (cancelled);
  execute (f, &b, "quit", -1, cancelled);
  wait_until (&b.done);
  g_assert_error (b.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* The late reply to the first command is consumed quietly (a warning
   * would abort the test) and does not answer the next one. */
  execute (f, &c, "query-name", -1, NULL);
  id_c = fake_read_command (f, "query-name", NULL);
  fake_reply (f, id_a, "{\"status\": \"running\"}");
  drain ();
  g_assert_false (c.done);
  fake_reply (f, id_c, "{\"name\": \"vm\"}");
  wait_until (&c.done);
  g_assert_no_error (c.error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (c.value), "name"), ==, "vm");
  g_assert_true (marina_qmp_is_connected (f->qmp));
  result_clear (&a);
  result_clear (&b);
  result_clear (&c);
}

/* Cancelling a command still in the queue: it may or may not have gone out
 * by the time the cancellation lands; either way the others are unharmed. */
static void
test_cancel_queued (Fixture *f, gconstpointer data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Result a = { 0 }, b = { 0 }, c = { 0 };
  gboolean seen_c = FALSE;

  connect_client (f);
  execute (f, &a, "query-status", -1, NULL);
  execute (f, &b, "query-name", -1, cancellable);
  execute (f, &c, "query-uuid", -1, NULL);
  g_cancellable_cancel (cancellable);
  while (!seen_c)
    {
      g_autofree char *line = fake_read_line (f);
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *command;

      g_assert_true (json_parser_load_from_data (parser, line, -1, NULL));
      command = json_node_get_object (json_parser_get_root (parser));
      seen_c = g_str_equal (json_object_get_string_member (command, "execute"), "query-uuid");
      fake_send_line (f, "{\"return\": \"%s\", \"id\": %" G_GINT64_FORMAT "}",
                      json_object_get_string_member (command, "execute"),
                      json_object_get_int_member (command, "id"));
    }
  wait_until (&c.done);
  g_assert_true (a.done);
  g_assert_cmpstr (json_node_get_string (a.value), ==, "query-status");
  g_assert_true (b.done);
  g_assert_error (b.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpstr (json_node_get_string (c.value), ==, "query-uuid");
  result_clear (&a);
  result_clear (&b);
  result_clear (&c);
}

static void
test_unknown_id (Fixture *f, gconstpointer data)
{
  Result a = { 0 };
  gint64 id;

  connect_client (f);
  execute (f, &a, "query-status", -1, NULL);
  id = fake_read_command (f, "query-status", NULL);
  g_test_expect_message ("marina-qmp", G_LOG_LEVEL_WARNING, "*did not send*");
  fake_reply (f, id + 1000, "{}");
  drain ();
  g_test_assert_expected_messages ();
  g_assert_false (a.done);
  fake_reply (f, id, "{}");
  wait_until (&a.done);
  g_assert_no_error (a.error);
  result_clear (&a);
}

/* ---- connecting by path ---- */

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Result *r = user_data;
  g_autoptr(MarinaQmp) qmp = marina_qmp_connect_finish (result, &r->error);

  if (qmp)
    r->f->qmp = g_steal_pointer (&qmp);
  r->done = TRUE;
}

static void
test_connect_no_listener (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_dir_make_tmp ("marina-qmp-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "nobody.sock", NULL);
  Result r = { .f = f };

  marina_qmp_connect_async (path, NULL, on_connected, &r);
  wait_until (&r.done);
  g_assert_nonnull (r.error);
  g_assert_true (strstr (r.error->message, path) != NULL);
  g_test_message ("%s", r.error->message);
  g_assert_null (f->qmp);
  g_rmdir (dir);
  result_clear (&r);
}

/* A socket file left behind by a QEMU that died: connect is refused. */
static void
test_connect_stale_socket (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_dir_make_tmp ("marina-qmp-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "stale.sock", NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocket) stale = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr(GError) error = NULL;
  Result r = { .f = f };

  g_socket_bind (stale, address, FALSE, &error);
  g_assert_no_error (error);
  g_socket_close (stale, NULL);
  marina_qmp_connect_async (path, NULL, on_connected, &r);
  wait_until (&r.done);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_true (strstr (r.error->message, path) != NULL);
  g_test_message ("%s", r.error->message);
  g_unlink (path);
  g_rmdir (dir);
  result_clear (&r);
}

static void
on_accepted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;
  g_autoptr(GError) error = NULL;

  f->fake = g_socket_listener_accept_socket_finish (G_SOCKET_LISTENER (source), result, NULL, &error);
  g_assert_no_error (error);
}

static void
test_connect_unix_socket (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_dir_make_tmp ("marina-qmp-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "qmp.sock", NULL);
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GError) error = NULL;
  Result r = { .f = f };

  g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                                 NULL, NULL, &error);
  g_assert_no_error (error);
  g_socket_close (f->fake, NULL);
  g_clear_object (&f->fake);
  g_socket_listener_accept_socket_async (listener, NULL, on_accepted, f);
  marina_qmp_connect_async (path, NULL, on_connected, &r);
  while (f->fake == NULL)
    g_main_context_iteration (NULL, TRUE);
  fake_send_line (f, GREETING);
  fake_reply (f, fake_read_command (f, "qmp_capabilities", NULL), "{}");
  wait_until (&r.done);
  g_assert_no_error (r.error);
  g_assert_true (marina_qmp_is_connected (f->qmp));
  g_socket_listener_close (listener);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/service/qmp/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("handshake", test_handshake);
  ADD ("handshake-bad-greeting", test_handshake_bad_greeting);
  ADD ("handshake-cancel", test_handshake_cancel);
  ADD ("reply-matching", test_reply_matching);
  ADD ("arguments", test_arguments);
  ADD ("event-before-reply", test_event_before_reply);
  ADD ("split-and-batched", test_split_and_batched);
  ADD ("error-reply", test_error_reply);
  ADD ("closed-with-pending", test_closed_with_pending);
  ADD ("close", test_close);
  ADD ("garbage", test_garbage);
  ADD ("two-objects-on-a-line", test_two_objects_on_a_line);
  ADD ("not-an-object", test_not_an_object);
  ADD ("unknown-message", test_unknown_message);
  ADD ("overlong-line", test_overlong_line);
  ADD ("unknown-id", test_unknown_id);
  ADD ("fd-passing", test_fd_passing);
  ADD ("fd-invalid", test_fd_invalid);
  ADD ("cancel", test_cancel);
  ADD ("cancel-queued", test_cancel_queued);
  ADD ("connect-no-listener", test_connect_no_listener);
  ADD ("connect-stale-socket", test_connect_stale_socket);
  ADD ("connect-unix-socket", test_connect_unix_socket);
#undef ADD

  return g_test_run ();
}
