/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One sample of a machine's counters. The byte counts are totals since QEMU
 * started (they fall back to 0 when it starts again); cpu_percent is the use
 * over the interval that ended at time_usec, in percent of one host CPU. */
typedef struct {
  gint64 time_usec;          /* wall clock, microseconds since the epoch */
  double cpu_percent;
  guint64 disk_read_bytes;
  guint64 disk_written_bytes;
  guint64 net_received_bytes;
  guint64 net_sent_bytes;
} MarinaMetricsSample;

/* A fixed-size ring of samples, oldest overwritten first. A plain struct:
 * one per machine, owned by its MarinaMachineMetrics. */
typedef struct _MarinaMetricsRing MarinaMetricsRing;

MarinaMetricsRing         *marina_metrics_ring_new        (guint                      capacity);
void                       marina_metrics_ring_free       (MarinaMetricsRing         *ring);
void                       marina_metrics_ring_push       (MarinaMetricsRing         *ring,
                                                           const MarinaMetricsSample *sample);
guint                      marina_metrics_ring_get_length (MarinaMetricsRing         *ring);
/* index 0 is the oldest sample kept. */
const MarinaMetricsSample *marina_metrics_ring_get        (MarinaMetricsRing         *ring,
                                                           guint                      index);
const MarinaMetricsSample *marina_metrics_ring_get_latest (MarinaMetricsRing         *ring);
/* Samples taken at or after since_usec, oldest first, as a(xdtttt). */
GVariant                  *marina_metrics_ring_to_variant (MarinaMetricsRing         *ring,
                                                           gint64                     since_usec);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MarinaMetricsRing, marina_metrics_ring_free)

G_END_DECLS
