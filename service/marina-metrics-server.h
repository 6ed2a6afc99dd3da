/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Serves "GET /metrics" in the Prometheus text format (version 0.0.4) on a
 * local Unix socket, for a Prometheus (or a node exporter's textfile job) on
 * the same host: no TCP port is opened. Figures come from the newest samples
 * (at most 5 seconds old, 1 second while metrics are watched); each request
 * asks render for the body. */
#define MARINA_TYPE_METRICS_SERVER (marina_metrics_server_get_type ())
G_DECLARE_FINAL_TYPE (MarinaMetricsServer, marina_metrics_server, MARINA, METRICS_SERVER, GObject)

typedef char *(*MarinaMetricsRenderFunc) (gpointer user_data);

MarinaMetricsServer *marina_metrics_server_new (const char             *socket_path,
                                                MarinaMetricsRenderFunc render,
                                                gpointer                user_data,
                                                GError                **error);

/* The answer to one request line, such as "GET /metrics HTTP/1.1". */
char                *marina_metrics_server_respond (const char *request_line,
                                                    const char *body);

G_END_DECLS
