/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "marina-machine-config.h"

G_BEGIN_DECLS

typedef enum {
  MARINA_CGROUP_NONE,
  MARINA_CGROUP_V1,
  MARINA_CGROUP_V2,
} MarinaCgroupVersion;

#define MARINA_TYPE_CGROUPS (marina_cgroups_get_type ())
G_DECLARE_FINAL_TYPE (MarinaCgroups, marina_cgroups, MARINA, CGROUPS, GObject)

MarinaCgroups       *marina_cgroups_new         (const char *fs_root,
                                                 const char *group_name);
MarinaCgroupVersion  marina_cgroups_get_version (MarinaCgroups *self);
const char          *marina_cgroups_describe    (MarinaCgroups *self);
gboolean             marina_cgroups_place       (MarinaCgroups *self,
                                                 const char    *machine_id,
                                                 GPid           pid,
                                                 GError       **error);
gboolean             marina_cgroups_set_cpu     (MarinaCgroups *self,
                                                 const char    *machine_id,
                                                 guint          weight,
                                                 guint          maximum_percent,
                                                 guint          vcpus,
                                                 GError       **error);
void                 marina_cgroups_remove      (MarinaCgroups *self,
                                                 const char    *machine_id);

/* With systemd as PID 1: scopes through systemd on bus instead of files. */
void                 marina_cgroups_use_systemd (MarinaCgroups   *self,
                                                 GDBusConnection *bus);
/* Place and size a machine's QEMU, or resize it while running, by whichever
 * means this host has; both finish with marina_cgroups_finish(). */
void                 marina_cgroups_place_async   (MarinaCgroups             *self,
                                                   const MarinaMachineConfig *config,
                                                   GPid                       pid,
                                                   GAsyncReadyCallback        callback,
                                                   gpointer                   user_data);
void                 marina_cgroups_set_cpu_async (MarinaCgroups             *self,
                                                   const MarinaMachineConfig *config,
                                                   GAsyncReadyCallback        callback,
                                                   gpointer                   user_data);
gboolean             marina_cgroups_finish        (MarinaCgroups *self,
                                                   GAsyncResult  *result,
                                                   GError       **error);

G_END_DECLS
