/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-metrics"
#include "config.h"

#include <sys/stat.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "marina-error.h"
#include "marina-metrics-server.h"

#define MAX_REQUEST 4096
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct _MarinaMetricsServer {
  GObject parent_instance;

  GSocketService *service;
  char *socket_path;
  MarinaMetricsRenderFunc render;
  gpointer user_data;
};

G_DEFINE_FINAL_TYPE (MarinaMetricsServer, marina_metrics_server, G_TYPE_OBJECT)

/* ---- HTTP, just enough for a scraper ------------------------------------------- */

static char *
http_reply (const char *status, const char *content_type, const char *body)
{
  return g_strdup_printf ("HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                          "Connection: close\r\n\r\n%s",
                          status, content_type, strlen (body), body);
}

char *
marina_metrics_server_respond (const char *request_line, const char *body)
{
  g_auto(GStrv) words = g_strsplit (request_line, " ", 3);

  if (g_strv_length (words) < 2)
    return http_reply ("400 Bad Request", "text/plain", "Bad request\n");
  if (!g_str_equal (words[0], "GET"))
    return http_reply ("405 Method Not Allowed", "text/plain", "Only GET is served\n");
  /* Prometheus may add a query string; it asks nothing we would answer differently. */
  if (!g_str_equal (words[1], "/metrics") && !g_str_has_prefix (words[1], "/metrics?"))
    return http_reply ("404 Not Found", "text/plain", "Try /metrics\n");
  return http_reply ("200 OK", CONTENT_TYPE, body);
}

typedef struct {
  MarinaMetricsServer *self;
  GSocketConnection *connection;
  char buffer[MAX_REQUEST];
  gsize length;
  char *reply;
} Request;

static void
request_free (Request *request)
{
  g_io_stream_close (G_IO_STREAM (request->connection), NULL, NULL);
  g_object_unref (request->connection);
  g_object_unref (request->self);
  g_free (request->reply);
  g_free (request);
}

static void
on_reply_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    g_debug ("A metrics client went away: %s", error->message);
  request_free (user_data);
}

static void
answer (Request *request)
{
  g_autofree char *line = g_strndup (request->buffer, strcspn (request->buffer, "\r\n"));
  g_autofree char *body = request->self->render (request->self->user_data);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (request->connection));

  request->reply = marina_metrics_server_respond (line, body);
  g_output_stream_write_all_async (out, request->reply, strlen (request->reply), G_PRIORITY_DEFAULT,
                                   NULL, on_reply_written, request);
}

static void read_more (Request *request);

static void
on_request_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    return request_free (request);
  request->length += n;
  request->buffer[request->length] = '\0';
  /* The headers end with an empty line; a request too long for us gets what fits. */
  if (strstr (request->buffer, "\r\n\r\n") || strstr (request->buffer, "\n\n") ||
      request->length + 1 >= sizeof request->buffer)
    return answer (request);
  read_more (request);
}

static void
read_more (Request *request)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (request->connection));

  g_input_stream_read_async (in, request->buffer + request->length,
                             sizeof request->buffer - request->length - 1, G_PRIORITY_DEFAULT,
                             NULL, on_request_read, request);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source_object,
             gpointer user_data)
{
  Request *request = g_new0 (Request, 1);

  request->self = g_object_ref (user_data);
  request->connection = g_object_ref (connection);
  read_more (request);
  return TRUE;
}

/* ---- object ---------------------------------------------------------------------- */

static gboolean
listen_on (MarinaMetricsServer *self, GError **error)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (self->socket_path);
  GStatBuf st;

  /* A socket left by an earlier marinad is ours to replace; anything else is not. */
  if (g_lstat (self->socket_path, &st) == 0 && S_ISSOCK (st.st_mode))
    g_unlink (self->socket_path);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL,
                                      error))
    return FALSE;
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  return TRUE;
}

static void
marina_metrics_server_finalize (GObject *object)
{
  MarinaMetricsServer *self = MARINA_METRICS_SERVER (object);

  g_socket_service_stop (self->service);
  g_socket_listener_close (G_SOCKET_LISTENER (self->service));
  g_clear_object (&self->service);
  g_unlink (self->socket_path);
  g_free (self->socket_path);
  G_OBJECT_CLASS (marina_metrics_server_parent_class)->finalize (object);
}

static void
marina_metrics_server_class_init (MarinaMetricsServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = marina_metrics_server_finalize;
}

static void
marina_metrics_server_init (MarinaMetricsServer *self)
{
  self->service = g_socket_service_new ();
}

MarinaMetricsServer *
marina_metrics_server_new (const char *socket_path, MarinaMetricsRenderFunc render,
                           gpointer user_data, GError **error)
{
  g_autoptr(MarinaMetricsServer) self = g_object_new (MARINA_TYPE_METRICS_SERVER, NULL);
  g_autoptr(GError) local_error = NULL;

  self->socket_path = g_strdup (socket_path);
  self->render = render;
  self->user_data = user_data;
  if (!listen_on (self, &local_error))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                        "Cannot serve metrics on %s ([metrics] socket): %s", socket_path,
                        local_error->message), NULL;
  return g_steal_pointer (&self);
}
