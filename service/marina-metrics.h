/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "marina-dbus-generated.h"
#include "marina-machine-metrics.h"

G_BEGIN_DECLS

/* The pace of sampling and the host totals. Clients that want live figures
 * call Manager.WatchMetrics(); while at least one such watcher is on the bus,
 * every running machine is sampled once a second and its properties (and the
 * Manager's totals) follow. Without watchers, running machines are sampled
 * every MARINA_METRICS_HISTORY_INTERVAL seconds for their history only, and no
 * property changes; with no machine running and no watcher, no timer runs. */
#define MARINA_METRICS_LIVE_INTERVAL 1
#define MARINA_METRICS_HISTORY_INTERVAL 5

#define MARINA_TYPE_METRICS (marina_metrics_get_type ())
G_DECLARE_FINAL_TYPE (MarinaMetrics, marina_metrics, MARINA, METRICS, GObject)

MarinaMetrics *marina_metrics_new            (MarinaDBusManager    *manager);
/* Takes part in sampling until it is finalized. */
void           marina_metrics_add_machine    (MarinaMetrics        *self,
                                              MarinaMachineMetrics *machine);
/* Manager.WatchMetrics()/UnwatchMetrics() for sender; a sender's watches
 * count up and down, and all end when it leaves the bus. */
void           marina_metrics_watch          (MarinaMetrics        *self,
                                              GDBusConnection      *connection,
                                              const char           *sender);
gboolean       marina_metrics_unwatch        (MarinaMetrics        *self,
                                              const char           *sender,
                                              GError              **error);
guint          marina_metrics_get_n_watchers (MarinaMetrics        *self);
/* The machines (element type MarinaMachineMetrics). */
GPtrArray     *marina_metrics_get_machines   (MarinaMetrics        *self);
/* Every machine's figures in the Prometheus text format, version 0.0.4. */
char          *marina_metrics_render_text    (MarinaMetrics        *self);
/* Serves marina_metrics_render_text() on a Unix socket ([metrics] socket). */
gboolean       marina_metrics_listen         (MarinaMetrics        *self,
                                              const char           *socket_path,
                                              GError              **error);

G_END_DECLS
