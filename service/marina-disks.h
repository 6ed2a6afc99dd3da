/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "marina-disk.h"
#include "marina-job.h"

G_BEGIN_DECLS

/* The disks marinad knows: their registry under the state directory, their
 * D-Bus objects, which machines use them and which are parents. */

typedef struct _MarinaManager MarinaManager;

/* A key of an a{sv} of options and its type. */
typedef struct {
  const char *key;
  const char *type;
} MarinaOptionType;

MarinaDisks  *marina_disks_new               (MarinaManager            *manager,
                                              GDBusObjectManagerServer *object_manager);
void          marina_disks_free              (MarinaDisks *self);
void          marina_disks_load              (MarinaDisks *self);
gboolean      marina_disks_save              (MarinaDisks *self,
                                              GError     **error);
const char *const *marina_disks_get_roots    (MarinaDisks *self);
const char   *marina_disks_get_qemu_img      (MarinaDisks *self);
const char   *marina_disks_add_job           (MarinaDisks *self,
                                              MarinaJob   *job);
MarinaDisk   *marina_disks_find_path         (MarinaDisks *self,
                                              const char  *path);
MarinaDisk   *marina_disks_lookup            (MarinaDisks *self,
                                              const char  *object_path);
GPtrArray    *marina_disks_list              (MarinaDisks *self);
MarinaDisk   *marina_disks_import            (MarinaDisks *self,
                                              const char  *path,
                                              GError     **error);
MarinaDisk   *marina_disks_create            (MarinaDisks *self,
                                              const char  *path,
                                              GVariant    *options,
                                              MarinaJob  **job,
                                              GError     **error);
MarinaDisk   *marina_disks_convert           (MarinaDisks *self,
                                              MarinaDisk  *source,
                                              const char  *path,
                                              GVariant    *options,
                                              MarinaJob  **job,
                                              GError     **error);
MarinaDisk   *marina_disks_merge_to          (MarinaDisks *self,
                                              MarinaDisk  *source,
                                              const char  *path,
                                              MarinaJob  **job,
                                              GError     **error);
gboolean      marina_disks_check_chain       (MarinaDisks *self,
                                              const char  *path,
                                              GError     **error);
gboolean      marina_disks_delete            (MarinaDisks *self,
                                              MarinaDisk  *disk,
                                              GError     **error);
void          marina_disks_sync              (MarinaDisks *self,
                                              GPtrArray   *machines);
void          marina_disks_update_relations  (MarinaDisks *self);
void          marina_disks_store             (MarinaDisks *self);
gboolean      marina_disks_check_options     (GVariant               *options,
                                              const char             *method,
                                              const MarinaOptionType *known,
                                              const char             *names,
                                              GError                **error);
gboolean      marina_disks_is_parent         (MarinaDisks *self,
                                              MarinaDisk  *parent);
char         *marina_disks_children_of       (MarinaDisks *self,
                                              MarinaDisk  *parent);
gboolean      marina_disks_check_idle        (MarinaDisks *self,
                                              MarinaDisk  *disk,
                                              gboolean     writes,
                                              const char  *doing,
                                              GError     **error);
MarinaManager *marina_disks_get_manager      (MarinaDisks *self);

/* marina-disk-maintenance.c: jobs that rewrite a disk in place. */
MarinaJob    *marina_disks_merge             (MarinaDisks *self,
                                              MarinaDisk  *child,
                                              GError     **error);
MarinaJob    *marina_disks_compact           (MarinaDisks *self,
                                              MarinaDisk  *disk,
                                              GError     **error);
MarinaJob    *marina_disks_resize            (MarinaDisks *self,
                                              MarinaDisk  *disk,
                                              guint64      size,
                                              GError     **error);

G_END_DECLS
