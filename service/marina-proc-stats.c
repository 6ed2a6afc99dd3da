/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-metrics"
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "marina-proc-stats.h"

/* Fields of /proc/<pid>/stat counted after the ")" that ends the command
 * name, which may itself hold spaces and parentheses: field 3 is index 0. */
#define PID_STAT_UTIME     11
#define PID_STAT_STIME     12
#define PID_STAT_STARTTIME 19
#define PID_STAT_RSS       21

static gboolean
parse_u64 (const char *text, guint64 *value)
{
  return g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, value, NULL);
}

gboolean
marina_proc_parse_pid_stat (const char *text, MarinaProcPidStat *out)
{
  const char *end_of_name = text ? strrchr (text, ')') : NULL;
  g_autofree char *rest = NULL;
  g_auto(GStrv) fields = NULL;
  guint64 utime, stime;

  if (end_of_name == NULL)
    return FALSE;
  rest = g_strstrip (g_strdup (end_of_name + 1));
  fields = g_strsplit (rest, " ", -1);
  if (g_strv_length (fields) <= PID_STAT_RSS ||
      !parse_u64 (fields[PID_STAT_UTIME], &utime) ||
      !parse_u64 (fields[PID_STAT_STIME], &stime) ||
      !parse_u64 (fields[PID_STAT_STARTTIME], &out->start_ticks) ||
      !parse_u64 (fields[PID_STAT_RSS], &out->rss_pages))
    return FALSE;
  out->cpu_ticks = utime + stime;
  return TRUE;
}

gboolean
marina_proc_read_pid_stat (GPid pid, MarinaProcPidStat *out)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;

  return pid > 0 && g_file_get_contents (path, &text, NULL, NULL) &&
         marina_proc_parse_pid_stat (text, out);
}

gboolean
marina_proc_parse_host_stat (const char *text, MarinaProcHostStat *out)
{
  g_auto(GStrv) fields = NULL;
  g_autofree char *line = NULL;
  guint64 value;
  guint n = 0;

  /* "cpu  user nice system idle iowait irq softirq steal guest guest_nice":
   * guest time is counted in user already, so the first eight make the total. */
  if (text == NULL || !g_str_has_prefix (text, "cpu "))
    return FALSE;
  line = g_strndup (text, strcspn (text, "\n"));
  fields = g_strsplit_set (line + 4, " ", -1);
  out->busy_ticks = out->total_ticks = 0;
  for (guint i = 0; fields[i] && n < 8; i++)
    {
      if (*fields[i] == '\0')
        continue;
      if (!parse_u64 (fields[i], &value))
        return FALSE;
      out->total_ticks += value;
      if (n != 3 && n != 4) /* idle, iowait */
        out->busy_ticks += value;
      n++;
    }
  return n >= 5;
}

gboolean
marina_proc_read_host_stat (MarinaProcHostStat *out)
{
  g_autofree char *text = NULL;

  return g_file_get_contents ("/proc/stat", &text, NULL, NULL) &&
         marina_proc_parse_host_stat (text, out);
}

double
marina_proc_read_boot_uptime (void)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents ("/proc/uptime", &text, NULL, NULL))
    return 0;
  return g_ascii_strtod (text, NULL);
}

gboolean
marina_read_counter_file (const char *path, guint64 *value)
{
  g_autofree char *text = NULL;

  return g_file_get_contents (path, &text, NULL, NULL) && parse_u64 (g_strstrip (text), value);
}

double
marina_cpu_percent (guint64 ticks_delta, gint64 usec_delta, long ticks_per_second)
{
  if (usec_delta <= 0 || ticks_per_second <= 0)
    return 0;
  return 100.0 * ((double) ticks_delta / ticks_per_second) / (usec_delta / (double) G_USEC_PER_SEC);
}

double
marina_host_busy_percent (const MarinaProcHostStat *before, const MarinaProcHostStat *after)
{
  /* Counters only grow; anything else means a reset we cannot measure across. */
  if (after->total_ticks <= before->total_ticks || after->busy_ticks < before->busy_ticks)
    return 0;
  return 100.0 * (after->busy_ticks - before->busy_ticks) /
         (double) (after->total_ticks - before->total_ticks);
}

long
marina_clock_ticks_per_second (void)
{
  static long ticks;

  if (ticks == 0)
    ticks = sysconf (_SC_CLK_TCK);
  return ticks;
}
