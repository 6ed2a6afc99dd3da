/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Counters the kernel keeps about a process and the host, read from /proc and
 * /sys. Parsing is apart from reading so that tests can feed text. These
 * files live in kernel memory: reading them never waits on a disk. */

typedef struct {
  guint64 cpu_ticks;       /* utime + stime, in clock ticks */
  guint64 start_ticks;     /* when the process started, ticks after boot */
  guint64 rss_pages;
} MarinaProcPidStat;

typedef struct {
  guint64 busy_ticks;      /* all but idle and iowait, summed over CPUs */
  guint64 total_ticks;
} MarinaProcHostStat;

gboolean marina_proc_parse_pid_stat   (const char         *text,
                                       MarinaProcPidStat  *out);
gboolean marina_proc_read_pid_stat    (GPid                pid,
                                       MarinaProcPidStat  *out);
gboolean marina_proc_parse_host_stat  (const char         *text,
                                       MarinaProcHostStat *out);
gboolean marina_proc_read_host_stat   (MarinaProcHostStat *out);
/* Seconds since boot, from /proc/uptime; 0 if unreadable. */
double   marina_proc_read_boot_uptime (void);
/* A decimal counter in a file such as /sys/class/net/tap0/statistics/rx_bytes. */
gboolean marina_read_counter_file     (const char         *path,
                                       guint64            *value);

/* Percent of one host CPU used by ticks_delta CPU ticks over usec_delta of
 * wall time; 0 for an empty or backwards interval. */
double   marina_cpu_percent           (guint64             ticks_delta,
                                       gint64              usec_delta,
                                       long                ticks_per_second);
/* Percent of all host CPUs busy between two readings of /proc/stat. */
double   marina_host_busy_percent     (const MarinaProcHostStat *before,
                                       const MarinaProcHostStat *after);
long     marina_clock_ticks_per_second (void);

G_END_DECLS
