/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "test-metrics"
#include "config.h"

#include <unistd.h>

#include "marina-error.h"
#include "marina-machine-metrics.h"
#include "marina-metrics-ring.h"
#include "marina-metrics-server.h"
#include "marina-metrics.h"
#include "marina-proc-stats.h"

static MarinaMetricsSample
sample_at (gint64 time_usec, double cpu)
{
  MarinaMetricsSample s = { .time_usec = time_usec, .cpu_percent = cpu,
                            .disk_read_bytes = (guint64) time_usec * 10 };
  return s;
}

static void
test_ring_keeps_order_before_wrapping (void)
{
  g_autoptr(MarinaMetricsRing) ring = marina_metrics_ring_new (4);

  g_assert_null (marina_metrics_ring_get_latest (ring));
  for (gint64 t = 1; t <= 3; t++)
    marina_metrics_ring_push (ring, &(MarinaMetricsSample) { .time_usec = t });
  g_assert_cmpuint (marina_metrics_ring_get_length (ring), ==, 3);
  g_assert_cmpint (marina_metrics_ring_get (ring, 0)->time_usec, ==, 1);
  g_assert_cmpint (marina_metrics_ring_get_latest (ring)->time_usec, ==, 3);
}

static void
test_ring_overwrites_oldest (void)
{
  g_autoptr(MarinaMetricsRing) ring = marina_metrics_ring_new (4);

  for (gint64 t = 1; t <= 10; t++)
    {
      MarinaMetricsSample s = sample_at (t, t * 1.5);
      marina_metrics_ring_push (ring, &s);
    }
  g_assert_cmpuint (marina_metrics_ring_get_length (ring), ==, 4);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpint (marina_metrics_ring_get (ring, i)->time_usec, ==, 7 + i);
  g_assert_cmpfloat (marina_metrics_ring_get_latest (ring)->cpu_percent, ==, 15.0);
}

static void
test_ring_variant_filters_by_time (void)
{
  g_autoptr(MarinaMetricsRing) ring = marina_metrics_ring_new (8);
  g_autoptr(GVariant) all = NULL;
  g_autoptr(GVariant) recent = NULL;
  gint64 time;
  double cpu;
  guint64 rd, wr, rx, tx;

  for (gint64 t = 100; t <= 500; t += 100)
    {
      MarinaMetricsSample s = sample_at (t, t / 10.0);
      marina_metrics_ring_push (ring, &s);
    }
  all = g_variant_ref_sink (marina_metrics_ring_to_variant (ring, G_MININT64));
  g_assert_cmpstr (g_variant_get_type_string (all), ==, "a(xdtttt)");
  g_assert_cmpuint (g_variant_n_children (all), ==, 5);
  recent = g_variant_ref_sink (marina_metrics_ring_to_variant (ring, 300));
  g_assert_cmpuint (g_variant_n_children (recent), ==, 3);
  g_variant_get_child (recent, 0, "(xdtttt)", &time, &cpu, &rd, &wr, &rx, &tx);
  g_assert_cmpint (time, ==, 300);
  g_assert_cmpfloat (cpu, ==, 30.0);
  g_assert_cmpuint (rd, ==, 3000);
}

static void
test_parse_pid_stat (void)
{
  /* The command name may hold spaces and parentheses: fields count from the last ')'. */
  const char *text = "4242 (qemu (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
                     "1234 567 0 0 20 0 5 0 98765 1000000000 51200 18446744073709551615 "
                     "1 1 0 0 0 0 0 4096 0 0 0 0 17 3 0 0 0 0 0\n";
  MarinaProcPidStat stat;

  g_assert_true (marina_proc_parse_pid_stat (text, &stat));
  g_assert_cmpuint (stat.cpu_ticks, ==, 1234 + 567);
  g_assert_cmpuint (stat.start_ticks, ==, 98765);
  g_assert_cmpuint (stat.rss_pages, ==, 51200);
  g_assert_false (marina_proc_parse_pid_stat ("4242 (qemu", &stat));
  g_assert_false (marina_proc_parse_pid_stat ("4242 (qemu) S 1 2", &stat));
  g_assert_false (marina_proc_parse_pid_stat (NULL, &stat));
}

static void
test_read_own_pid_stat (void)
{
  MarinaProcPidStat stat;
  MarinaProcHostStat host;

  g_assert_true (marina_proc_read_pid_stat (getpid (), &stat));
  g_assert_cmpuint (stat.rss_pages, >, 0);
  g_assert_false (marina_proc_read_pid_stat (0, &stat));
  g_assert_true (marina_proc_read_host_stat (&host));
  g_assert_cmpuint (host.total_ticks, >=, host.busy_ticks);
  g_assert_cmpfloat (marina_proc_read_boot_uptime (), >, 0);
}

static void
test_parse_host_stat (void)
{
  /* user nice system idle iowait irq softirq steal guest guest_nice */
  const char *text = "cpu  100 10 50 800 40 0 0 0 30 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";
  MarinaProcHostStat stat;

  g_assert_true (marina_proc_parse_host_stat (text, &stat));
  g_assert_cmpuint (stat.total_ticks, ==, 1000); /* guest is part of user already */
  g_assert_cmpuint (stat.busy_ticks, ==, 160);
  g_assert_false (marina_proc_parse_host_stat ("intr 1 2 3", &stat));
  g_assert_false (marina_proc_parse_host_stat ("cpu  1 x 3 4 5", &stat));
}

static void
test_cpu_percent (void)
{
  /* 50 ticks at 100 Hz in one second: half a CPU. */
  g_assert_cmpfloat_with_epsilon (marina_cpu_percent (50, G_USEC_PER_SEC, 100), 50.0, 1e-9);
  /* Two busy vCPUs for 5 s: 200%. */
  g_assert_cmpfloat_with_epsilon (marina_cpu_percent (1000, 5 * G_USEC_PER_SEC, 100), 200.0, 1e-9);
  g_assert_cmpfloat (marina_cpu_percent (10, 0, 100), ==, 0);
  g_assert_cmpfloat (marina_cpu_percent (10, -5, 100), ==, 0);
}

static void
test_host_busy_percent (void)
{
  MarinaProcHostStat before = { .busy_ticks = 100, .total_ticks = 1000 };
  MarinaProcHostStat after = { .busy_ticks = 175, .total_ticks = 1100 };

  g_assert_cmpfloat_with_epsilon (marina_host_busy_percent (&before, &after), 75.0, 1e-9);
  g_assert_cmpfloat (marina_host_busy_percent (&after, &before), ==, 0);
  g_assert_cmpfloat (marina_host_busy_percent (&before, &before), ==, 0);
}

static void
test_blockstats_sum (void)
{
  /* Two devices; the "parent" (the image file node) must not count twice. */
  const char *reply = "[{\"device\": \"\", \"qdev\": \"disk0\", \"stats\": "
                      "{\"rd_bytes\": 4096, \"wr_bytes\": 512}, \"parent\": {\"stats\": "
                      "{\"rd_bytes\": 4096, \"wr_bytes\": 512}}},"
                      " {\"device\": \"cd0\", \"stats\": {\"rd_bytes\": 2048, \"wr_bytes\": 0}},"
                      " {\"device\": \"empty\"}]";
  g_autoptr(JsonNode) node = json_from_string (reply, NULL);
  guint64 rd = 1, wr = 1;

  marina_blockstats_sum (node, &rd, &wr);
  g_assert_cmpuint (rd, ==, 6144);
  g_assert_cmpuint (wr, ==, 512);
  marina_blockstats_sum (NULL, &rd, &wr);
  g_assert_cmpuint (rd + wr, ==, 0);
}

static void
test_history_options (void)
{
  g_autoptr(MarinaDBusMachine) machine = MARINA_DBUS_MACHINE (marina_dbus_machine_skeleton_new ());
  g_autoptr(MarinaMachineMetrics) metrics = marina_machine_metrics_new (machine);
  g_autoptr(GVariant) good = g_variant_ref_sink (g_variant_new_parsed ("{'seconds': <@u 60>}"));
  g_autoptr(GVariant) bad = g_variant_ref_sink (g_variant_new_parsed ("{'limit': <@u 60>}"));
  g_autoptr(GVariant) samples = NULL;
  g_autoptr(GError) error = NULL;

  samples = g_variant_ref_sink (marina_machine_metrics_get_history (metrics, good, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (samples), ==, 0);
  g_assert_false (marina_machine_metrics_is_active (metrics));
  g_assert_null (marina_machine_metrics_get_history (metrics, bad, &error));
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT);
}

static void
test_net_devices_missing_count_zero (void)
{
  g_autoptr(MarinaDBusMachine) machine = MARINA_DBUS_MACHINE (marina_dbus_machine_skeleton_new ());
  g_autoptr(MarinaMachineMetrics) metrics = marina_machine_metrics_new (machine);
  guint64 value = 7;

  /* Without a QEMU nothing is sampled and the properties stay at 0. */
  marina_machine_metrics_set_net_devices (metrics, (const char *const[]) { "marina-no-such-tap", NULL });
  marina_machine_metrics_sample (metrics, TRUE);
  g_assert_null (marina_machine_metrics_get_latest (metrics));
  g_assert_cmpuint (marina_dbus_machine_get_network_received_bytes (machine), ==, 0);
  g_assert_false (marina_read_counter_file ("/sys/class/net/marina-no-such-tap/statistics/rx_bytes",
                                            &value));
  g_assert_true (marina_read_counter_file ("/proc/sys/kernel/pid_max", &value));
  g_assert_cmpuint (value, >, 0);
}

static void
test_http_respond (void)
{
  g_autofree char *ok = marina_metrics_server_respond ("GET /metrics HTTP/1.1", "a 1\n");
  g_autofree char *query = marina_metrics_server_respond ("GET /metrics?x=1 HTTP/1.1", "");
  g_autofree char *missing = marina_metrics_server_respond ("GET / HTTP/1.1", "");
  g_autofree char *post = marina_metrics_server_respond ("POST /metrics HTTP/1.1", "");
  g_autofree char *junk = marina_metrics_server_respond ("", "");

  g_assert_true (g_str_has_prefix (ok, "HTTP/1.0 200 OK\r\n"));
  g_assert_nonnull (strstr (ok, "Content-Length: 4\r\n"));
  g_assert_true (g_str_has_suffix (ok, "\r\n\r\na 1\n"));
  g_assert_true (g_str_has_prefix (query, "HTTP/1.0 200"));
  g_assert_true (g_str_has_prefix (missing, "HTTP/1.0 404"));
  g_assert_true (g_str_has_prefix (post, "HTTP/1.0 405"));
  g_assert_true (g_str_has_prefix (junk, "HTTP/1.0 400"));
}

static void
test_render_text (void)
{
  g_autoptr(MarinaDBusManager) manager = MARINA_DBUS_MANAGER (marina_dbus_manager_skeleton_new ());
  g_autoptr(MarinaDBusMachine) machine = MARINA_DBUS_MACHINE (marina_dbus_machine_skeleton_new ());
  g_autoptr(MarinaMetrics) metrics = marina_metrics_new (manager);
  g_autoptr(MarinaMachineMetrics) machine_metrics = marina_machine_metrics_new (machine);
  g_autofree char *text = NULL;

  marina_dbus_machine_set_id (machine, "0123");
  marina_dbus_machine_set_name (machine, "web \"1\"\\");
  marina_dbus_machine_set_state (machine, "off");
  marina_dbus_machine_set_memory_mi_b (machine, 256);
  marina_metrics_add_machine (metrics, machine_metrics);
  text = marina_metrics_render_text (metrics);
  /* Quotes and backslashes in a name are escaped. */
  g_assert_nonnull (strstr (text, "marina_machine_memory_bytes{id=\"0123\",name=\"web \\\"1\\\"\\\\\"} 268435456\n"));
  g_assert_nonnull (strstr (text, "# TYPE marina_machine_disk_read_bytes_total counter\n"));
  g_assert_nonnull (strstr (text, "state=\"off\"} 1\n"));
  g_assert_nonnull (strstr (text, "marina_metrics_watchers 0\n"));
  g_clear_object (&machine_metrics);
  g_clear_pointer (&text, g_free);
  /* A machine that is gone drops out. */
  text = marina_metrics_render_text (metrics);
  g_assert_null (strstr (text, "0123"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/ring/order", test_ring_keeps_order_before_wrapping);
  g_test_add_func ("/metrics/ring/wrap", test_ring_overwrites_oldest);
  g_test_add_func ("/metrics/ring/variant-since", test_ring_variant_filters_by_time);
  g_test_add_func ("/metrics/proc/pid-stat", test_parse_pid_stat);
  g_test_add_func ("/metrics/proc/read-own", test_read_own_pid_stat);
  g_test_add_func ("/metrics/proc/host-stat", test_parse_host_stat);
  g_test_add_func ("/metrics/cpu-percent", test_cpu_percent);
  g_test_add_func ("/metrics/host-busy-percent", test_host_busy_percent);
  g_test_add_func ("/metrics/blockstats-sum", test_blockstats_sum);
  g_test_add_func ("/metrics/history/options", test_history_options);
  g_test_add_func ("/metrics/net/missing-devices", test_net_devices_missing_count_zero);
  g_test_add_func ("/metrics/http/respond", test_http_respond);
  g_test_add_func ("/metrics/text/render", test_render_text);
  return g_test_run ();
}
