/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

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

G_END_DECLS
