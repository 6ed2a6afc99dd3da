/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-metrics"
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "marina-error.h"
#include "marina-machine-metrics.h"
#include "marina-proc-stats.h"

struct _MarinaMachineMetrics {
  GObject parent_instance;

  MarinaDBusMachine *machine;   /* weak: the machine owns us */
  MarinaQemu *qemu;
  guint generation;             /* bumped per QEMU, so late replies are dropped */
  GStrv net_devices;
  MarinaMetricsRing *history;

  MarinaProcPidStat last_stat;
  gint64 last_time;             /* monotonic, when last_stat was read */
  double cpu_percent;
  guint64 rss_bytes;
  guint64 uptime;
  guint64 disk_read_bytes;      /* the newest QMP figures */
  guint64 disk_written_bytes;
  gboolean query_in_flight;
};

enum { SIGNAL_ACTIVE_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (MarinaMachineMetrics, marina_machine_metrics, G_TYPE_OBJECT)

/* ---- counters --------------------------------------------------------------- */

void
marina_blockstats_sum (JsonNode *reply, guint64 *read_bytes, guint64 *written_bytes)
{
  JsonArray *devices = reply && JSON_NODE_HOLDS_ARRAY (reply) ? json_node_get_array (reply) : NULL;

  *read_bytes = *written_bytes = 0;
  /* The top-level entries are the guest's devices; their "parent" members
   * describe the image files below and would count the same bytes twice. */
  for (guint i = 0; devices && i < json_array_get_length (devices); i++)
    {
      JsonObject *device = json_array_get_object_element (devices, i);
      JsonObject *stats = device && json_object_has_member (device, "stats")
                            ? json_object_get_object_member (device, "stats") : NULL;
      if (stats == NULL)
        continue;
      *read_bytes += json_object_get_int_member_with_default (stats, "rd_bytes", 0);
      *written_bytes += json_object_get_int_member_with_default (stats, "wr_bytes", 0);
    }
}

static void
read_net_counters (MarinaMachineMetrics *self, MarinaMetricsSample *sample)
{
  for (guint i = 0; self->net_devices && self->net_devices[i]; i++)
    {
      g_autofree char *tx = g_strdup_printf ("/sys/class/net/%s/statistics/tx_bytes",
                                             self->net_devices[i]);
      g_autofree char *rx = g_strdup_printf ("/sys/class/net/%s/statistics/rx_bytes",
                                             self->net_devices[i]);
      guint64 value;

      /* The host's side of a tap: what it transmits, the guest receives. */
      if (marina_read_counter_file (tx, &value))
        sample->net_received_bytes += value;
      if (marina_read_counter_file (rx, &value))
        sample->net_sent_bytes += value;
    }
}

/* Seconds QEMU has run, from its start time in /proc: right after a restart
 * of marinad too, unlike anything marinad could remember. */
static double
process_age (const MarinaProcPidStat *stat)
{
  double age = marina_proc_read_boot_uptime () -
               (double) stat->start_ticks / marina_clock_ticks_per_second ();

  return MAX (age, 0);
}

static void
read_cpu (MarinaMachineMetrics *self)
{
  MarinaProcPidStat stat;
  gint64 now = g_get_monotonic_time ();

  if (!marina_proc_read_pid_stat (marina_qemu_get_pid (self->qemu), &stat))
    return;
  if (self->last_time == 0)
    {
      /* The first reading of this QEMU: measure from its start. */
      self->last_stat.cpu_ticks = 0;
      self->last_time = now - (gint64) (process_age (&stat) * G_USEC_PER_SEC);
    }
  self->cpu_percent = marina_cpu_percent (stat.cpu_ticks - MIN (stat.cpu_ticks, self->last_stat.cpu_ticks),
                                          now - self->last_time, marina_clock_ticks_per_second ());
  self->rss_bytes = stat.rss_pages * (guint64) sysconf (_SC_PAGESIZE);
  self->uptime = (guint64) process_age (&stat);
  self->last_stat = stat;
  self->last_time = now;
}

/* ---- samples ------------------------------------------------------------------ */

static void
publish (MarinaMachineMetrics *self, const MarinaMetricsSample *s)
{
  if (self->machine == NULL)
    return;
  marina_dbus_machine_set_cpu_usage (self->machine, s->cpu_percent);
  marina_dbus_machine_set_disk_read_bytes (self->machine, s->disk_read_bytes);
  marina_dbus_machine_set_disk_written_bytes (self->machine, s->disk_written_bytes);
  marina_dbus_machine_set_network_received_bytes (self->machine, s->net_received_bytes);
  marina_dbus_machine_set_network_sent_bytes (self->machine, s->net_sent_bytes);
  marina_dbus_machine_set_uptime (self->machine, self->uptime);
}

typedef struct {
  MarinaMachineMetrics *self;
  guint generation;
  gboolean publish;
  MarinaMetricsSample sample;
} SampleCall;

static void
finish_sample (MarinaMachineMetrics *self, SampleCall *call)
{
  call->sample.disk_read_bytes = self->disk_read_bytes;
  call->sample.disk_written_bytes = self->disk_written_bytes;
  marina_metrics_ring_push (self->history, &call->sample);
  if (call->publish)
    publish (self, &call->sample);
}

static void
on_blockstats (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree SampleCall *call = user_data;
  g_autoptr(MarinaMachineMetrics) self = call->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = marina_qmp_execute_finish (MARINA_QMP (source), result, &error);

  if (call->generation != self->generation)
    return; /* that QEMU is gone */
  self->query_in_flight = FALSE;
  if (reply)
    marina_blockstats_sum (reply, &self->disk_read_bytes, &self->disk_written_bytes);
  else
    g_debug ("query-blockstats failed: %s", error->message);
  finish_sample (self, call);
}

void
marina_machine_metrics_sample (MarinaMachineMetrics *self, gboolean publish_now)
{
  MarinaQmp *qmp;
  g_autofree SampleCall *call = NULL;

  /* A monitor slow to answer (a save in progress) costs samples, not a queue. */
  if (self->qemu == NULL || self->query_in_flight)
    return;
  read_cpu (self);
  call = g_new0 (SampleCall, 1);
  call->generation = self->generation;
  call->publish = publish_now;
  call->sample.time_usec = g_get_real_time ();
  call->sample.cpu_percent = self->cpu_percent;
  read_net_counters (self, &call->sample);
  qmp = marina_qemu_get_qmp (self->qemu);
  if (qmp == NULL || !marina_qmp_is_connected (qmp))
    return finish_sample (self, call);
  call->self = g_object_ref (self);
  self->query_in_flight = TRUE;
  marina_qmp_execute_async (qmp, "query-blockstats", NULL, -1, NULL, on_blockstats,
                            g_steal_pointer (&call));
}

/* ---- the machine's side ---------------------------------------------------------- */

static void
reset_counters (MarinaMachineMetrics *self)
{
  MarinaMetricsSample zero = { 0 };

  memset (&self->last_stat, 0, sizeof self->last_stat);
  self->last_time = 0;
  self->cpu_percent = 0;
  self->rss_bytes = 0;
  self->uptime = 0;
  self->disk_read_bytes = self->disk_written_bytes = 0;
  self->query_in_flight = FALSE;
  self->generation++;
  /* A new QEMU counts from zero; a stopped one uses nothing. */
  publish (self, &zero);
}

void
marina_machine_metrics_set_qemu (MarinaMachineMetrics *self, MarinaQemu *qemu)
{
  if (self->qemu == qemu)
    return;
  g_set_object (&self->qemu, qemu);
  reset_counters (self);
  g_signal_emit (self, signals[SIGNAL_ACTIVE_CHANGED], 0);
}

gboolean
marina_machine_metrics_is_active (MarinaMachineMetrics *self)
{
  return self->qemu != NULL;
}

void
marina_machine_metrics_set_net_devices (MarinaMachineMetrics *self, const char *const *devices)
{
  g_strfreev (self->net_devices);
  self->net_devices = g_strdupv ((char **) devices);
}

double
marina_machine_metrics_get_cpu_percent (MarinaMachineMetrics *self)
{
  return self->cpu_percent;
}

double
marina_machine_metrics_get_cpu_seconds (MarinaMachineMetrics *self)
{
  return (double) self->last_stat.cpu_ticks / marina_clock_ticks_per_second ();
}

guint64
marina_machine_metrics_get_rss_bytes (MarinaMachineMetrics *self)
{
  return self->rss_bytes;
}

guint64
marina_machine_metrics_get_uptime (MarinaMachineMetrics *self)
{
  return self->uptime;
}

const MarinaMetricsSample *
marina_machine_metrics_get_latest (MarinaMachineMetrics *self)
{
  return marina_metrics_ring_get_latest (self->history);
}

MarinaDBusMachine *
marina_machine_metrics_get_machine (MarinaMachineMetrics *self)
{
  return self->machine;
}

GVariant *
marina_machine_metrics_get_history (MarinaMachineMetrics *self, GVariant *options, GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;
  gint64 since = G_MININT64;

  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr(GVariant) owned = value;
      if (!g_str_equal (key, "seconds") || !g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                            "Unknown option '%s' of type %s; GetHistory knows \"seconds\" (u)",
                            key, g_variant_get_type_string (value)), NULL;
      since = g_get_real_time () - (gint64) g_variant_get_uint32 (value) * G_USEC_PER_SEC;
    }
  return marina_metrics_ring_to_variant (self->history, since);
}

/* ---- object ------------------------------------------------------------------------ */

static void
marina_machine_metrics_finalize (GObject *object)
{
  MarinaMachineMetrics *self = MARINA_MACHINE_METRICS (object);

  if (self->machine)
    g_object_remove_weak_pointer (G_OBJECT (self->machine), (gpointer *) &self->machine);
  g_clear_object (&self->qemu);
  g_strfreev (self->net_devices);
  marina_metrics_ring_free (self->history);
  G_OBJECT_CLASS (marina_machine_metrics_parent_class)->finalize (object);
}

static void
marina_machine_metrics_class_init (MarinaMachineMetricsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = marina_machine_metrics_finalize;
  signals[SIGNAL_ACTIVE_CHANGED] = g_signal_new ("active-changed", G_TYPE_FROM_CLASS (klass),
                                                 G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                 G_TYPE_NONE, 0);
}

static void
marina_machine_metrics_init (MarinaMachineMetrics *self)
{
  self->history = marina_metrics_ring_new (MARINA_METRICS_HISTORY_SAMPLES);
}

MarinaMachineMetrics *
marina_machine_metrics_new (MarinaDBusMachine *machine)
{
  MarinaMachineMetrics *self = g_object_new (MARINA_TYPE_MACHINE_METRICS, NULL);

  self->machine = machine;
  g_object_add_weak_pointer (G_OBJECT (machine), (gpointer *) &self->machine);
  return self;
}
