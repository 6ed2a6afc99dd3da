/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "marina-dbus-generated.h"
#include "marina-image.h"

G_BEGIN_DECLS

#define MARINA_DISK_PATH_PREFIX "/org/marinavm/Marina1/Disk/"

typedef struct _MarinaDisks MarinaDisks;

#define MARINA_TYPE_DISK (marina_disk_get_type ())
G_DECLARE_FINAL_TYPE (MarinaDisk, marina_disk, MARINA, DISK, MarinaDBusDiskSkeleton)

MarinaDisk  *marina_disk_new             (MarinaDisks *owner,
                                          const char  *id,
                                          const char  *path);
const char  *marina_disk_get_id          (MarinaDisk *self);
const char  *marina_disk_get_object_path (MarinaDisk *self);
const char  *marina_disk_get_path        (MarinaDisk *self);
gboolean     marina_disk_refresh         (MarinaDisk *self,
                                          GError    **error);
GPtrArray   *marina_disk_get_access      (MarinaDisk *self);
void         marina_disk_set_access      (MarinaDisk *self,
                                          GPtrArray  *access);
void         marina_disk_set_busy        (MarinaDisk *self,
                                          gboolean    busy);
gboolean     marina_disk_is_busy         (MarinaDisk *self);
void         marina_disk_add_reader      (MarinaDisk *self,
                                          int         change);
gboolean     marina_disk_is_read         (MarinaDisk *self);
void         marina_disk_set_task        (MarinaDisk *self,
                                          const char *task);
const char  *marina_disk_get_task        (MarinaDisk *self);

G_END_DECLS
