/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "marina-job.h"

G_BEGIN_DECLS

/* What CreateDisk or Disk.Convert was asked for, once checked. */
typedef struct {
  char *qemu_img;
  char *format;         /* vhd, vhdx, qcow2, raw */
  char *type;           /* dynamic, fixed, differencing */
  guint64 size;         /* 0: the parent's (differencing only) */
  char *parent_path;    /* resolved; differencing only */
  char *parent_format;  /* Marina's name of the parent's format */
  char *source_path;    /* Convert: the image (chain) to copy; NULL for a new, empty disk */
  char *source_format;
  char *flatten_vhd;    /* Convert of a differencing VHD: the child whose own sectors go
                         * over its parent's in a raw staging copy, which is then copied */
  char *flatten_parent; /* that parent, and its format (Marina's name) */
  char *flatten_parent_format;
  gboolean keep_parent; /* the result is a qcow2 child of parent_path, holding only
                         * what differs from it */
  int dir_fd;           /* the new image's folder, resolved and open */
  char *name;           /* the new image's name in it */
  char *path;           /* the resolved path of the new image */
} MarinaDiskSpec;

void     marina_disk_spec_free       (MarinaDiskSpec *spec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MarinaDiskSpec, marina_disk_spec_free)

GPtrArray *marina_disk_command_line (const MarinaDiskSpec *spec,
                                     const char           *target);
void     marina_disk_create_async    (MarinaDiskSpec     *spec,
                                      MarinaJob          *job,
                                      GAsyncReadyCallback callback,
                                      gpointer            user_data);
gboolean marina_disk_create_finish   (GAsyncResult *result,
                                      GError      **error);

G_END_DECLS
