/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "marina-dbus-generated.h"
#include "marina-metrics-ring.h"
#include "marina-qemu.h"

G_BEGIN_DECLS

/* One machine's accountant: samples its QEMU's CPU time (/proc), disk bytes
 * (QMP query-blockstats) and network bytes (the host side of its tap
 * devices), keeps a history and, when asked, publishes the newest values as
 * the machine's D-Bus properties. Sampling is driven from outside
 * (MarinaMetrics decides the pace).
 *
 * Signals:
 *   "active-changed" (MarinaMachineMetrics *)
 *            A QEMU process was given or taken away. */
#define MARINA_TYPE_MACHINE_METRICS (marina_machine_metrics_get_type ())
G_DECLARE_FINAL_TYPE (MarinaMachineMetrics, marina_machine_metrics, MARINA, MACHINE_METRICS, GObject)

/* The history keeps this many samples: 10 minutes at one a second. */
#define MARINA_METRICS_HISTORY_SAMPLES 600

MarinaMachineMetrics      *marina_machine_metrics_new             (MarinaDBusMachine    *machine);
/* The running QEMU, or NULL once it has exited. */
void                       marina_machine_metrics_set_qemu        (MarinaMachineMetrics *self,
                                                                   MarinaQemu           *qemu);
gboolean                   marina_machine_metrics_is_active       (MarinaMachineMetrics *self);
/* Host-side names of the machine's tap devices; the guest receives what the
 * host sends on them (tx_bytes) and the other way round. */
void                       marina_machine_metrics_set_net_devices (MarinaMachineMetrics *self,
                                                                   const char *const    *devices);
/* Takes a sample; publish also sets the D-Bus properties. The disk counters
 * arrive asynchronously from QMP; CPU and memory are current on return. */
void                       marina_machine_metrics_sample          (MarinaMachineMetrics *self,
                                                                   gboolean              publish);
double                     marina_machine_metrics_get_cpu_percent (MarinaMachineMetrics *self);
double                     marina_machine_metrics_get_cpu_seconds (MarinaMachineMetrics *self);
guint64                    marina_machine_metrics_get_rss_bytes   (MarinaMachineMetrics *self);
guint64                    marina_machine_metrics_get_uptime      (MarinaMachineMetrics *self);
/* The newest sample, or NULL before the first one completes. */
const MarinaMetricsSample *marina_machine_metrics_get_latest      (MarinaMachineMetrics *self);
MarinaDBusMachine         *marina_machine_metrics_get_machine     (MarinaMachineMetrics *self);
/* Machine.GetHistory(): options "seconds" (u, only samples this recent). */
GVariant                  *marina_machine_metrics_get_history     (MarinaMachineMetrics *self,
                                                                   GVariant             *options,
                                                                   GError              **error);

/* Sums rd_bytes and wr_bytes over the devices of a query-blockstats reply. */
void                       marina_blockstats_sum                  (JsonNode             *reply,
                                                                   guint64              *read_bytes,
                                                                   guint64              *written_bytes);

G_END_DECLS
