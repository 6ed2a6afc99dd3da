/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-metrics"
#include "config.h"

#include "marina-error.h"
#include "marina-metrics.h"
#include "marina-metrics-server.h"
#include "marina-proc-stats.h"

struct _MarinaMetrics {
  GObject parent_instance;

  MarinaDBusManager *manager;  /* weak: the manager owns us */
  GPtrArray *machines;         /* MarinaMachineMetrics, weakly referenced */
  GHashTable *watchers;        /* unique bus name → Watcher */
  guint timer_id;
  guint timer_interval;        /* seconds; 0 when no timer runs */
  MarinaProcHostStat last_host_stat;
  double host_busy;
  MarinaMetricsServer *server;
};

/* D-Bus cannot tell who listens to PropertiesChanged, so listeners say so;
 * the bus tells us when one leaves without saying goodbye. */
typedef struct {
  guint count;
  guint name_watch_id;
} Watcher;

G_DEFINE_FINAL_TYPE (MarinaMetrics, marina_metrics, G_TYPE_OBJECT)

static void
watcher_free (Watcher *watcher)
{
  g_bus_unwatch_name (watcher->name_watch_id);
  g_free (watcher);
}

/* ---- sampling --------------------------------------------------------------- */

static gboolean
is_live (MarinaMetrics *self)
{
  return g_hash_table_size (self->watchers) > 0;
}

static gboolean
any_machine_active (MarinaMetrics *self)
{
  for (guint i = 0; i < self->machines->len; i++)
    if (marina_machine_metrics_is_active (self->machines->pdata[i]))
      return TRUE;
  return FALSE;
}

/* Read on every tick, live or not, so that a new watcher's first figure
 * covers the last interval instead of waiting for a second reading. Returns
 * -1 while there is no earlier reading to compare with. */
static double
host_busy_percent (MarinaMetrics *self)
{
  MarinaProcHostStat now;
  gboolean first = self->last_host_stat.total_ticks == 0;

  if (!marina_proc_read_host_stat (&now))
    return -1;
  if (!first)
    self->host_busy = marina_host_busy_percent (&self->last_host_stat, &now);
  self->last_host_stat = now;
  return first ? -1 : self->host_busy;
}

static void
publish_host_totals (MarinaMetrics *self, double host_busy)
{
  double machines_cpu = 0;
  guint64 machines_rss = 0;

  for (guint i = 0; i < self->machines->len; i++)
    {
      machines_cpu += marina_machine_metrics_get_cpu_percent (self->machines->pdata[i]);
      machines_rss += marina_machine_metrics_get_rss_bytes (self->machines->pdata[i]);
    }
  if (self->manager == NULL)
    return;
  marina_dbus_manager_set_machines_cpu_usage (self->manager, machines_cpu);
  marina_dbus_manager_set_machines_memory_mi_b (self->manager, machines_rss / (1024 * 1024));
  if (host_busy >= 0)
    marina_dbus_manager_set_host_cpu_usage (self->manager, host_busy);
}

static void
sample_all (MarinaMetrics *self)
{
  gboolean live = is_live (self);
  double host_busy = host_busy_percent (self);

  for (guint i = 0; i < self->machines->len; i++)
    marina_machine_metrics_sample (self->machines->pdata[i], live);
  if (live)
    publish_host_totals (self, host_busy);
}

static gboolean
on_tick (gpointer user_data)
{
  sample_all (MARINA_METRICS (user_data));
  return G_SOURCE_CONTINUE;
}

static void
update_timer (MarinaMetrics *self)
{
  guint interval = is_live (self) ? MARINA_METRICS_LIVE_INTERVAL
                   : any_machine_active (self) ? MARINA_METRICS_HISTORY_INTERVAL : 0;

  if (interval == self->timer_interval)
    return;
  g_clear_handle_id (&self->timer_id, g_source_remove);
  self->timer_interval = interval;
  if (interval > 0)
    self->timer_id = g_timeout_add_seconds (interval, on_tick, self);
}

/* ---- machines ------------------------------------------------------------------- */

static void
on_machine_finalized (gpointer user_data, GObject *where_the_object_was)
{
  MarinaMetrics *self = user_data;

  g_ptr_array_remove (self->machines, where_the_object_was);
  update_timer (self);
}

static void
on_machine_active_changed (MarinaMachineMetrics *machine, MarinaMetrics *self)
{
  update_timer (self);
  /* Watchers see a machine that starts at once, not a tick later. */
  if (is_live (self) && marina_machine_metrics_is_active (machine))
    marina_machine_metrics_sample (machine, TRUE);
}

void
marina_metrics_add_machine (MarinaMetrics *self, MarinaMachineMetrics *machine)
{
  g_ptr_array_add (self->machines, machine);
  g_object_weak_ref (G_OBJECT (machine), on_machine_finalized, self);
  g_signal_connect_object (machine, "active-changed", G_CALLBACK (on_machine_active_changed),
                           self, 0);
  update_timer (self);
}

GPtrArray *
marina_metrics_get_machines (MarinaMetrics *self)
{
  return self->machines;
}

/* ---- watchers -------------------------------------------------------------------- */

static void
watchers_changed (MarinaMetrics *self, gboolean was_live)
{
  update_timer (self);
  if (!was_live && is_live (self))
    sample_all (self); /* fresh figures for the first watcher, not a second later */
}

static void
on_watcher_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  MarinaMetrics *self = user_data;

  g_debug ("Metrics watcher %s left the bus", name);
  g_hash_table_remove (self->watchers, name);
  watchers_changed (self, TRUE);
}

void
marina_metrics_watch (MarinaMetrics *self, GDBusConnection *connection, const char *sender)
{
  gboolean was_live = is_live (self);
  Watcher *watcher = g_hash_table_lookup (self->watchers, sender);

  if (watcher == NULL)
    {
      watcher = g_new0 (Watcher, 1);
      watcher->name_watch_id = g_bus_watch_name_on_connection (connection, sender,
                                                               G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                               NULL, on_watcher_vanished,
                                                               self, NULL);
      g_hash_table_insert (self->watchers, g_strdup (sender), watcher);
    }
  watcher->count++;
  watchers_changed (self, was_live);
}

gboolean
marina_metrics_unwatch (MarinaMetrics *self, const char *sender, GError **error)
{
  Watcher *watcher = g_hash_table_lookup (self->watchers, sender);

  if (watcher == NULL)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_STATE,
                        "%s does not watch the metrics; call WatchMetrics first", sender), FALSE;
  if (--watcher->count == 0)
    g_hash_table_remove (self->watchers, sender);
  watchers_changed (self, TRUE);
  return TRUE;
}

guint
marina_metrics_get_n_watchers (MarinaMetrics *self)
{
  return g_hash_table_size (self->watchers);
}

/* ---- Prometheus text ------------------------------------------------------------------ */

/* A family's value comes from a function or, when that is NULL, from a
 * guint64 counter of the newest sample at sample_offset. */
typedef struct {
  const char *name;
  const char *type;
  const char *help;
  double (*value) (MarinaMachineMetrics *machine);
  gsize sample_offset;
} Family;

static double
sample_field (MarinaMachineMetrics *machine, gsize offset)
{
  const MarinaMetricsSample *latest = marina_machine_metrics_get_latest (machine);

  /* The newest sample of a stopped machine belongs to a QEMU that is gone. */
  if (latest == NULL || !marina_machine_metrics_is_active (machine))
    return 0;
  return (double) G_STRUCT_MEMBER (guint64, latest, offset);
}

static double
uptime (MarinaMachineMetrics *m)
{
  return marina_machine_metrics_get_uptime (m);
}

static double
rss (MarinaMachineMetrics *m)
{
  return marina_machine_metrics_get_rss_bytes (m);
}

static double
memory (MarinaMachineMetrics *m)
{
  return marina_dbus_machine_get_memory_mi_b (marina_machine_metrics_get_machine (m)) * 1048576.0;
}

static double
running (MarinaMachineMetrics *m)
{
  return g_strcmp0 (marina_dbus_machine_get_state (marina_machine_metrics_get_machine (m)),
                    "running") == 0;
}

static double
heartbeat (MarinaMachineMetrics *m)
{
  return marina_dbus_machine_get_heartbeat (marina_machine_metrics_get_machine (m));
}

static const Family families[] = {
  { "marina_machine_cpu_seconds_total", "counter", "CPU time used by the machine's QEMU process.",
    marina_machine_metrics_get_cpu_seconds },
  { "marina_machine_cpu_usage_percent", "gauge", "CPU use in percent of one host CPU over the last sample.",
    marina_machine_metrics_get_cpu_percent },
  { "marina_machine_disk_read_bytes_total", "counter", "Bytes the guest read from its disks.",
    NULL, G_STRUCT_OFFSET (MarinaMetricsSample, disk_read_bytes) },
  { "marina_machine_disk_written_bytes_total", "counter", "Bytes the guest wrote to its disks.",
    NULL, G_STRUCT_OFFSET (MarinaMetricsSample, disk_written_bytes) },
  { "marina_machine_network_received_bytes_total", "counter", "Bytes the guest received.",
    NULL, G_STRUCT_OFFSET (MarinaMetricsSample, net_received_bytes) },
  { "marina_machine_network_sent_bytes_total", "counter", "Bytes the guest sent.",
    NULL, G_STRUCT_OFFSET (MarinaMetricsSample, net_sent_bytes) },
  { "marina_machine_uptime_seconds", "gauge", "Seconds since QEMU started; 0 when not running.", uptime },
  { "marina_machine_memory_bytes", "gauge", "Memory given to the guest.", memory },
  { "marina_machine_resident_memory_bytes", "gauge", "Memory QEMU holds (resident set).", rss },
  { "marina_machine_running", "gauge", "1 while the machine runs (not paused or stopped).", running },
  { "marina_machine_heartbeat", "gauge", "1 while the guest agent answers.", heartbeat },
};

static void
append_label_value (GString *out, const char *value)
{
  for (const char *p = value ? value : ""; *p; p++)
    {
      if (*p == '\\' || *p == '"')
        g_string_append_c (out, '\\');
      if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

static void
append_labels (GString *out, MarinaDBusMachine *machine, const char *extra_name,
               const char *extra_value)
{
  g_string_append (out, "{id=\"");
  append_label_value (out, marina_dbus_machine_get_id (machine));
  g_string_append (out, "\",name=\"");
  append_label_value (out, marina_dbus_machine_get_name (machine));
  if (extra_name)
    {
      g_string_append_printf (out, "\",%s=\"", extra_name);
      append_label_value (out, extra_value);
    }
  g_string_append (out, "\"}");
}

static void
append_value (GString *out, double value)
{
  char number[G_ASCII_DTOSTR_BUF_SIZE];

  /* 15 digits: byte counts stay exact, fractions stay short; never a locale's comma. */
  g_string_append_printf (out, " %s\n", g_ascii_formatd (number, sizeof number, "%.15g", value));
}

static void
append_family (MarinaMetrics *self, GString *out, const Family *family)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", family->name, family->help,
                          family->name, family->type);
  for (guint i = 0; i < self->machines->len; i++)
    {
      MarinaMachineMetrics *m = self->machines->pdata[i];
      if (marina_machine_metrics_get_machine (m) == NULL)
        continue;
      g_string_append (out, family->name);
      append_labels (out, marina_machine_metrics_get_machine (m), NULL, NULL);
      append_value (out, family->value ? family->value (m) : sample_field (m, family->sample_offset));
    }
}

static void
append_states (MarinaMetrics *self, GString *out)
{
  g_string_append (out, "# HELP marina_machine_state The machine's state, as a label.\n"
                        "# TYPE marina_machine_state gauge\n");
  for (guint i = 0; i < self->machines->len; i++)
    {
      MarinaDBusMachine *machine = marina_machine_metrics_get_machine (self->machines->pdata[i]);
      if (machine == NULL)
        continue;
      g_string_append (out, "marina_machine_state");
      append_labels (out, machine, "state", marina_dbus_machine_get_state (machine));
      append_value (out, 1);
    }
}

char *
marina_metrics_render_text (MarinaMetrics *self)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (families); i++)
    append_family (self, out, &families[i]);
  append_states (self, out);
  g_string_append (out, "# HELP marina_host_cpu_busy_percent How busy the host's CPUs are.\n"
                        "# TYPE marina_host_cpu_busy_percent gauge\nmarina_host_cpu_busy_percent");
  append_value (out, self->host_busy);
  g_string_append_printf (out, "# HELP marina_metrics_watchers Clients watching live metrics.\n"
                               "# TYPE marina_metrics_watchers gauge\nmarina_metrics_watchers %u\n",
                          g_hash_table_size (self->watchers));
  return g_string_free (out, FALSE);
}

static char *
render_for_server (gpointer user_data)
{
  return marina_metrics_render_text (user_data);
}

gboolean
marina_metrics_listen (MarinaMetrics *self, const char *socket_path, GError **error)
{
  g_clear_object (&self->server);
  self->server = marina_metrics_server_new (socket_path, render_for_server, self, error);
  return self->server != NULL;
}

/* ---- object ------------------------------------------------------------------------ */

static void
marina_metrics_dispose (GObject *object)
{
  MarinaMetrics *self = MARINA_METRICS (object);

  g_clear_handle_id (&self->timer_id, g_source_remove);
  g_clear_object (&self->server);
  g_hash_table_remove_all (self->watchers);
  for (guint i = 0; i < self->machines->len; i++)
    g_object_weak_unref (self->machines->pdata[i], on_machine_finalized, self);
  g_ptr_array_set_size (self->machines, 0);
  if (self->manager)
    g_object_remove_weak_pointer (G_OBJECT (self->manager), (gpointer *) &self->manager);
  self->manager = NULL;
  G_OBJECT_CLASS (marina_metrics_parent_class)->dispose (object);
}

static void
marina_metrics_finalize (GObject *object)
{
  MarinaMetrics *self = MARINA_METRICS (object);

  g_hash_table_unref (self->watchers);
  g_ptr_array_unref (self->machines);
  G_OBJECT_CLASS (marina_metrics_parent_class)->finalize (object);
}

static void
marina_metrics_class_init (MarinaMetricsClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = marina_metrics_dispose;
  G_OBJECT_CLASS (klass)->finalize = marina_metrics_finalize;
}

static void
marina_metrics_init (MarinaMetrics *self)
{
  self->machines = g_ptr_array_new ();
  self->watchers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) watcher_free);
}

MarinaMetrics *
marina_metrics_new (MarinaDBusManager *manager)
{
  MarinaMetrics *self = g_object_new (MARINA_TYPE_METRICS, NULL);

  self->manager = manager;
  g_object_add_weak_pointer (G_OBJECT (manager), (gpointer *) &self->manager);
  return self;
}
