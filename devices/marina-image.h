/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  char *path;
  char *format;          /* "vhd", "vhdx", "qcow2" or "raw" */
  char *type;            /* "fixed", "dynamic" or "differencing" */
  guint64 virtual_size;  /* bytes the guest sees; 0 where the header does not say (VHDX) */
  guint64 size_on_host;  /* bytes allocated on the host */
  char *parent_path;     /* the parent of a differencing disk, absolute; or NULL */
} MarinaImageInfo;

char            *marina_image_probe_format     (const char *path,
                                                GError    **error);
gboolean         marina_image_is_block_device  (const char *path);
const char      *marina_image_format_to_qemu   (const char *format);
const char      *marina_image_format_from_qemu (const char *driver);
MarinaImageInfo *marina_image_info_read_fd     (int         fd,
                                                const char *path,
                                                GError    **error);
MarinaImageInfo *marina_image_info_read        (const char *path,
                                                GError    **error);
void             marina_image_info_free        (MarinaImageInfo *info);
gboolean         marina_image_check_qemu_reads (const char *path,
                                                GError    **error);

/* Chains deeper than this are taken for loops. */
#define MARINA_IMAGE_MAX_CHAIN 64

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MarinaImageInfo, marina_image_info_free)

G_END_DECLS
