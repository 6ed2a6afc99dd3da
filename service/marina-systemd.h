/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* systemd as the keeper of the cgroup tree: each running machine in a
 * transient scope marina-<id>.scope in machine.slice, registered with
 * systemd-machined. All calls go to the bus given, the system bus in
 * production. */

gboolean  marina_systemd_booted              (const char *root);
char     *marina_systemd_machine_name        (const char *name,
                                              const char *machine_id);
void      marina_systemd_start_machine_async (GDBusConnection    *bus,
                                              const char         *machine_id,
                                              const char         *name,
                                              GPid                pid,
                                              guint               weight,
                                              guint               maximum_percent,
                                              guint               vcpus,
                                              GAsyncReadyCallback callback,
                                              gpointer            user_data);
void      marina_systemd_set_cpu_async       (GDBusConnection    *bus,
                                              const char         *machine_id,
                                              guint               weight,
                                              guint               maximum_percent,
                                              guint               vcpus,
                                              GAsyncReadyCallback callback,
                                              gpointer            user_data);
/* Finishes either of the calls above. */
gboolean  marina_systemd_finish              (GAsyncResult *result,
                                              GError      **error);

G_END_DECLS
