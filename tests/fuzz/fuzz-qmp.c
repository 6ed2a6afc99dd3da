/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-fuzz"
#include "config.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "marina-qmp.h"

/* The QMP reader, fed what a hostile or broken QEMU (or guest agent) could
 * send: the input is written to the far end of a socket pair and the real
 * MarinaQmp reads it, line splitting, JSON, greeting, replies and events
 * included. The first byte picks the dialect (even: QEMU's monitor, odd: the
 * guest agent). Strings that leave the reader (event names, error messages)
 * end up on D-Bus, so they must be valid UTF-8. */

typedef struct {
  MarinaQmp *qmp;     /* held until the end: dropping it would close quietly */
  guint outstanding;  /* callbacks still to come */
  gboolean closed;
} Run;

static void
check_text (const char *what, const char *text)
{
  if (text != NULL && !g_utf8_validate (text, -1, NULL))
    {
      g_printerr ("The QMP reader passed on %s that is not UTF-8\n", what);
      abort ();
    }
}

static void
on_event (MarinaQmp *qmp, const char *name, JsonObject *data, gint64 timestamp, Run *run)
{
  check_text ("an event name", name);
  if (data == NULL)
    abort ();
}

static void
on_closed (MarinaQmp *qmp, Run *run)
{
  run->closed = TRUE;
}

static void
on_executed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = marina_qmp_execute_finish (MARINA_QMP (source), result, &error);

  if (error)
    check_text ("an error message", error->message);
  run->outstanding--;
}

static void
execute (MarinaQmp *qmp, const char *command, Run *run)
{
  run->outstanding++;
  marina_qmp_execute_async (qmp, command, NULL, -1, NULL, on_executed, run);
}

static void
watch (MarinaQmp *qmp, Run *run)
{
  g_signal_connect (qmp, "event", G_CALLBACK (on_event), run);
  g_signal_connect (qmp, "closed", G_CALLBACK (on_closed), run);
}

/* After the handshake: commands whose replies (ids 2 and 3) the input may hold. */
static void
on_handshake (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  MarinaQmp *qmp = marina_qmp_new_for_connection_finish (result, &error);

  run->outstanding--;
  if (qmp == NULL)
    {
      check_text ("a handshake error", error->message);
      run->closed = TRUE;
      return;
    }
  run->qmp = qmp;
  watch (qmp, run);
  execute (qmp, "query-status", run);
  execute (qmp, "cont", run);
  if (!marina_qmp_is_connected (qmp))
    run->closed = TRUE;
}

static GSocketConnection *
connection_for_fd (int fd)
{
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, NULL);

  if (socket == NULL)
    abort ();
  return g_socket_connection_factory_create_connection (socket);
}

/* Small inputs (libFuzzer's -max_len) fit in the socket buffer at once. */
static void
feed (int fd, const uint8_t *data, size_t size)
{
  while (size > 0)
    {
      ssize_t n = write (fd, data, size);

      if (n <= 0)
        abort ();
      data += n;
      size -= (size_t) n;
    }
  shutdown (fd, SHUT_WR);
}

static void
run_until_done (Run *run)
{
  while (!run->closed || run->outstanding > 0)
    g_main_context_iteration (NULL, TRUE);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GSocketConnection) connection = NULL;
  Run run = { 0 };
  int pair[2];

  marina_fuzz_setup ();
  if (size == 0 || size > 100000 ||
      socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
    return 0;
  connection = connection_for_fd (pair[0]);
  if (data[0] & 1)
    {
      run.qmp = marina_qmp_new_for_agent (connection);
      watch (run.qmp, &run);
      execute (run.qmp, "guest-sync-delimited", &run);
      execute (run.qmp, "guest-info", &run);
    }
  else
    {
      run.outstanding++;
      marina_qmp_new_for_connection_async (connection, NULL, on_handshake, &run);
    }
  feed (pair[1], data + 1, size - 1);
  run_until_done (&run);
  g_clear_object (&run.qmp);
  close (pair[1]);
  return 0;
}
