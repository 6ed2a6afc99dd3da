/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-metrics"
#include "config.h"

#include "marina-metrics-ring.h"

struct _MarinaMetricsRing {
  MarinaMetricsSample *samples;
  guint capacity;
  guint start;  /* index of the oldest sample */
  guint length;
};

MarinaMetricsRing *
marina_metrics_ring_new (guint capacity)
{
  MarinaMetricsRing *ring;

  g_return_val_if_fail (capacity > 0, NULL);
  ring = g_new0 (MarinaMetricsRing, 1);
  ring->samples = g_new0 (MarinaMetricsSample, capacity);
  ring->capacity = capacity;
  return ring;
}

void
marina_metrics_ring_free (MarinaMetricsRing *ring)
{
  g_free (ring->samples);
  g_free (ring);
}

void
marina_metrics_ring_push (MarinaMetricsRing *ring, const MarinaMetricsSample *sample)
{
  if (ring->length < ring->capacity)
    {
      ring->samples[(ring->start + ring->length++) % ring->capacity] = *sample;
      return;
    }
  /* Full: the new sample takes the oldest one's place. */
  ring->samples[ring->start] = *sample;
  ring->start = (ring->start + 1) % ring->capacity;
}

guint
marina_metrics_ring_get_length (MarinaMetricsRing *ring)
{
  return ring->length;
}

const MarinaMetricsSample *
marina_metrics_ring_get (MarinaMetricsRing *ring, guint index)
{
  g_return_val_if_fail (index < ring->length, NULL);
  return &ring->samples[(ring->start + index) % ring->capacity];
}

const MarinaMetricsSample *
marina_metrics_ring_get_latest (MarinaMetricsRing *ring)
{
  return ring->length > 0 ? marina_metrics_ring_get (ring, ring->length - 1) : NULL;
}

GVariant *
marina_metrics_ring_to_variant (MarinaMetricsRing *ring, gint64 since_usec)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xdtttt)"));
  for (guint i = 0; i < ring->length; i++)
    {
      const MarinaMetricsSample *s = marina_metrics_ring_get (ring, i);
      if (s->time_usec < since_usec)
        continue;
      g_variant_builder_add (&builder, "(xdtttt)", s->time_usec, s->cpu_percent,
                             s->disk_read_bytes, s->disk_written_bytes,
                             s->net_received_bytes, s->net_sent_bytes);
    }
  return g_variant_builder_end (&builder);
}
