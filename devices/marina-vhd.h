/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The Virtual Hard Disk format (Microsoft's VHD specification, 2006): a
 * 512-byte footer at the end of every VHD (copied at the start of a dynamic
 * one) and, for dynamic and differencing disks, a 1024-byte dynamic header.
 * All fields are big-endian on disk. */

#define MARINA_VHD_FOOTER_SIZE 512
#define MARINA_VHD_DYNAMIC_HEADER_SIZE 1024
#define MARINA_VHD_LOCATOR_COUNT 8
/* The largest disk the specification allows (2040 GiB: 65535 × 16 × 255 sectors, rounded). */
#define MARINA_VHD_MAX_SIZE (G_GUINT64_CONSTANT (2040) * 1024 * 1024 * 1024)
/* Seconds from the Unix epoch to VHD's (2000-01-01 00:00:00 UTC). */
#define MARINA_VHD_EPOCH_OFFSET G_GINT64_CONSTANT (946684800)

typedef enum {
  MARINA_VHD_TYPE_FIXED = 2,
  MARINA_VHD_TYPE_DYNAMIC = 3,
  MARINA_VHD_TYPE_DIFFERENCING = 4,
} MarinaVhdType;

typedef struct {
  guint32 features;
  guint32 version;
  guint64 data_offset;      /* the dynamic header; all ones for a fixed disk */
  guint32 timestamp;        /* seconds since 2000-01-01 UTC */
  char creator_app[5];      /* "qem2" for QEMU, "vpc " Virtual PC, "vs  " Virtual Server, "win " Hyper-V */
  guint32 creator_version;
  char creator_os[5];       /* "Wi2k", "Mac " */
  guint64 original_size;
  guint64 current_size;     /* bytes the guest sees */
  guint16 cylinders;
  guint8 heads;
  guint8 sectors;
  MarinaVhdType disk_type;
  guint32 checksum;
  guint8 uuid[16];
  gboolean saved_state;
} MarinaVhdFooter;

typedef struct {
  guint32 platform_code;    /* "W2ku" absolute, "W2ru" relative (UTF-16LE Windows paths), … */
  guint32 data_space;
  guint32 data_length;
  guint64 data_offset;
} MarinaVhdLocator;

typedef struct {
  guint64 table_offset;
  guint32 max_table_entries;
  guint32 block_size;
  guint32 checksum;
  guint8 parent_uuid[16];
  guint32 parent_timestamp;
  char *parent_name;        /* UTF-8, from the UTF-16BE parent unicode name; "" if none */
  MarinaVhdLocator locators[MARINA_VHD_LOCATOR_COUNT];
} MarinaVhdDynamicHeader;

/* A VHD file as read: its footer, and for dynamic and differencing disks the
 * dynamic header and the parent paths its locators name. */
typedef struct {
  MarinaVhdFooter footer;
  MarinaVhdDynamicHeader *header;  /* NULL for a fixed disk */
  GPtrArray *parent_locators;      /* char *: decoded W2ku/W2ru paths, as written */
} MarinaVhd;

guint32      marina_vhd_checksum              (const guint8 *data,
                                               gsize         length,
                                               gsize         checksum_offset);
gboolean     marina_vhd_footer_parse          (const guint8    *data,
                                               gsize            length,
                                               MarinaVhdFooter *footer,
                                               GError         **error);
gboolean     marina_vhd_dynamic_header_parse  (const guint8           *data,
                                               gsize                   length,
                                               MarinaVhdDynamicHeader *header,
                                               GError                **error);
void         marina_vhd_dynamic_header_clear  (MarinaVhdDynamicHeader *header);
const char  *marina_vhd_type_to_string        (MarinaVhdType type);
char        *marina_vhd_uuid_to_string        (const guint8 uuid[16]);
gint64       marina_vhd_time_to_unix          (guint32 timestamp);

MarinaVhd   *marina_vhd_read_fd               (int         fd,
                                               const char *name,
                                               GError    **error);
MarinaVhd   *marina_vhd_read                  (const char *path,
                                               GError    **error);
void         marina_vhd_free                  (MarinaVhd *vhd);
gboolean     marina_vhd_copy_sectors          (const char   *path,
                                               int           out_fd,
                                               GCancellable *cancellable,
                                               GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MarinaVhd, marina_vhd_free)

G_END_DECLS
