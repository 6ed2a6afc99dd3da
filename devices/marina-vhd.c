/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-devices"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "marina-error.h"
#include "marina-vhd.h"

/* Reads VHD footers and dynamic headers without trusting them: every offset
 * and length is checked against the file before it is followed, because
 * people bring VHDs from elsewhere and a crafted one must not make marinad
 * read outside the file or allocate without bound.
 *
 * The size rule Marina writes by: `qemu-img create -f vpc -o
 * force_size=on,subformat=dynamic|fixed`, so that current_size is exactly the
 * size asked for (a multiple of 512 bytes), creator application "qem2", and
 * the CHS geometry is the marker 65535/16/255 that tells readers to go by
 * current_size rather than by cylinders × heads × sectors. QEMU, Hyper-V and
 * Windows' own VHD driver read such disks at their exact size; a reader that
 * goes by geometry alone (Virtual PC 2007 guests' BIOS) sees at most the
 * geometry's 127 GiB. Without force_size QEMU would round the size down to
 * whole CHS cylinders, and the disk would be smaller than asked. */

#define FOOTER_CHECKSUM_OFFSET 64
#define HEADER_CHECKSUM_OFFSET 36
#define LOCATORS_OFFSET 576
#define LOCATOR_SIZE 24
#define MAX_LOCATOR_DATA 4096  /* a path; Windows' longest is 32767 UTF-16 units, VHDs use 512 */
#define NO_DATA_OFFSET G_GUINT64_CONSTANT (0xffffffffffffffff)
#define PLATFORM_W2KU 0x57326b75  /* "W2ku": absolute Windows path, UTF-16LE */
#define PLATFORM_W2RU 0x57327275  /* "W2ru": relative Windows path, UTF-16LE */
#define PLATFORM_MACX 0x4d616358  /* "MacX": file URL, UTF-8 */

static guint16
get_be16 (const guint8 *p)
{
  return (guint16) (p[0] << 8 | p[1]);
}

static guint32
get_be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

static guint64
get_be64 (const guint8 *p)
{
  return (guint64) get_be32 (p) << 32 | get_be32 (p + 4);
}

/**
 * marina_vhd_checksum:
 * @checksum_offset: where the 4-byte checksum field lies in @data; its bytes
 *   do not count
 *
 * Returns: the one's complement of the sum of all other bytes, as the VHD
 * specification defines it for the footer and the dynamic header.
 */
guint32
marina_vhd_checksum (const guint8 *data, gsize length, gsize checksum_offset)
{
  guint32 sum = 0;

  for (gsize i = 0; i < length; i++)
    if (i < checksum_offset || i >= checksum_offset + 4)
      sum += data[i];
  return ~sum;
}

static void
copy_tag (char out[5], const guint8 *p)
{
  memcpy (out, p, 4);
  out[4] = '\0';
}

static gboolean
check_footer (const MarinaVhdFooter *footer, guint32 computed, GError **error)
{
  if (footer->checksum != computed)
    return marina_error_invalid (error, "the VHD footer's checksum is 0x%08x but its contents sum "
                                 "to 0x%08x: the footer is damaged", footer->checksum, computed);
  if (footer->disk_type != MARINA_VHD_TYPE_FIXED && footer->disk_type != MARINA_VHD_TYPE_DYNAMIC &&
      footer->disk_type != MARINA_VHD_TYPE_DIFFERENCING)
    return marina_error_invalid (error, "the VHD disk type %u is not fixed (2), dynamic (3) or "
                                 "differencing (4)", footer->disk_type);
  if (footer->current_size == 0 || footer->current_size % 512 != 0)
    return marina_error_invalid (error, "the VHD's size of %" G_GUINT64_FORMAT " bytes is not a "
                                 "positive multiple of 512", footer->current_size);
  /* Readers that go by geometry (BIOSes of old guests) need all three. */
  if (footer->cylinders == 0 || footer->heads == 0 || footer->sectors == 0)
    return marina_error_invalid (error, "the VHD's CHS geometry %u/%u/%u has a zero in it",
                                 footer->cylinders, footer->heads, footer->sectors);
  if ((footer->disk_type == MARINA_VHD_TYPE_FIXED) != (footer->data_offset == NO_DATA_OFFSET))
    return marina_error_invalid (error, "a %s VHD %s a dynamic header offset",
                                 marina_vhd_type_to_string (footer->disk_type),
                                 footer->disk_type == MARINA_VHD_TYPE_FIXED ? "must not have"
                                                                            : "needs");
  return TRUE;
}

/**
 * marina_vhd_footer_parse:
 *
 * Parses and validates a footer: cookie "conectix", checksum, disk type,
 * a size that is a positive multiple of 512, and a data offset that fits
 * the type.
 */
gboolean
marina_vhd_footer_parse (const guint8 *data, gsize length, MarinaVhdFooter *footer,
                         GError **error)
{
  if (length < MARINA_VHD_FOOTER_SIZE || memcmp (data, "conectix", 8) != 0)
    return marina_error_invalid (error, "there is no VHD footer (cookie \"conectix\") in the last "
                                 "512 bytes");
  memset (footer, 0, sizeof *footer);
  footer->features = get_be32 (data + 8);
  footer->version = get_be32 (data + 12);
  footer->data_offset = get_be64 (data + 16);
  footer->timestamp = get_be32 (data + 24);
  copy_tag (footer->creator_app, data + 28);
  footer->creator_version = get_be32 (data + 32);
  copy_tag (footer->creator_os, data + 36);
  footer->original_size = get_be64 (data + 40);
  footer->current_size = get_be64 (data + 48);
  footer->cylinders = get_be16 (data + 56);
  footer->heads = data[58];
  footer->sectors = data[59];
  footer->disk_type = get_be32 (data + 60);
  footer->checksum = get_be32 (data + 64);
  memcpy (footer->uuid, data + 68, 16);
  footer->saved_state = data[84] != 0;
  return check_footer (footer, marina_vhd_checksum (data, MARINA_VHD_FOOTER_SIZE,
                                                    FOOTER_CHECKSUM_OFFSET), error);
}

/* The parent unicode name: up to 256 UTF-16BE units, NUL-terminated if shorter. */
static char *
parent_name_from_utf16be (const guint8 *p)
{
  gunichar2 units[256];
  glong n = 0;
  char *name;

  while (n < 256 && (p[2 * n] != 0 || p[2 * n + 1] != 0))
    {
      units[n] = (gunichar2) get_be16 (p + 2 * n);
      n++;
    }
  name = g_utf16_to_utf8 (units, n, NULL, NULL, NULL);
  return name ? name : g_strdup ("");
}

static void
parse_locators (const guint8 *data, MarinaVhdDynamicHeader *header)
{
  for (guint i = 0; i < MARINA_VHD_LOCATOR_COUNT; i++)
    {
      const guint8 *p = data + LOCATORS_OFFSET + i * LOCATOR_SIZE;
      header->locators[i].platform_code = get_be32 (p);
      header->locators[i].data_space = get_be32 (p + 4);
      header->locators[i].data_length = get_be32 (p + 8);
      header->locators[i].data_offset = get_be64 (p + 16);
    }
}

/**
 * marina_vhd_dynamic_header_parse:
 *
 * Parses and validates a dynamic header (cookie "cxsparse", checksum, a
 * block size that is a power of two of at least 512 bytes). Free what it
 * fills in with marina_vhd_dynamic_header_clear().
 */
gboolean
marina_vhd_dynamic_header_parse (const guint8 *data, gsize length,
                                 MarinaVhdDynamicHeader *header, GError **error)
{
  guint32 computed;

  memset (header, 0, sizeof *header);
  if (length < MARINA_VHD_DYNAMIC_HEADER_SIZE || memcmp (data, "cxsparse", 8) != 0)
    return marina_error_invalid (error, "the VHD's dynamic header has no cookie \"cxsparse\"");
  header->table_offset = get_be64 (data + 16);
  header->max_table_entries = get_be32 (data + 28);
  header->block_size = get_be32 (data + 32);
  header->checksum = get_be32 (data + 36);
  memcpy (header->parent_uuid, data + 40, 16);
  header->parent_timestamp = get_be32 (data + 56);
  computed = marina_vhd_checksum (data, MARINA_VHD_DYNAMIC_HEADER_SIZE, HEADER_CHECKSUM_OFFSET);
  if (header->checksum != computed)
    return marina_error_invalid (error, "the VHD dynamic header's checksum is 0x%08x but its "
                                 "contents sum to 0x%08x: the header is damaged",
                                 header->checksum, computed);
  if (header->block_size < 512 || (header->block_size & (header->block_size - 1)) != 0)
    return marina_error_invalid (error, "the VHD's block size of %u bytes is not a power of two "
                                 "of at least 512", header->block_size);
  header->parent_name = parent_name_from_utf16be (data + 64);
  parse_locators (data, header);
  return TRUE;
}

void
marina_vhd_dynamic_header_clear (MarinaVhdDynamicHeader *header)
{
  g_clear_pointer (&header->parent_name, g_free);
}

const char *
marina_vhd_type_to_string (MarinaVhdType type)
{
  switch (type)
    {
    case MARINA_VHD_TYPE_FIXED:
      return "fixed";
    case MARINA_VHD_TYPE_DYNAMIC:
      return "dynamic";
    case MARINA_VHD_TYPE_DIFFERENCING:
      return "differencing";
    default:
      return "unknown";
    }
}

/* Written as VHD tools show it: 8-4-4-4-12 lowercase hex digits. */
char *
marina_vhd_uuid_to_string (const guint8 uuid[16])
{
  return g_strdup_printf ("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                          uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7],
                          uuid[8], uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14],
                          uuid[15]);
}

gint64
marina_vhd_time_to_unix (guint32 timestamp)
{
  return MARINA_VHD_EPOCH_OFFSET + timestamp;
}

/* ---- reading a file ---------------------------------------------------------- */

static gboolean
read_exact (int fd, guint64 offset, guint8 *buffer, gsize size, const char *name,
            GError **error)
{
  gsize done = 0;

  while (done < size)
    {
      ssize_t n = pread (fd, buffer + done, size - done, (off_t) (offset + done));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                            "Cannot read %s: %s", name,
                            n < 0 ? g_strerror (errno) : "the file ends early"), FALSE;
      done += (gsize) n;
    }
  return TRUE;
}

static char *
decode_locator (const MarinaVhdLocator *locator, const guint8 *data)
{
  g_autofree gunichar2 *units = NULL;

  if (locator->platform_code == PLATFORM_MACX)
    return g_utf8_make_valid ((const char *) data, locator->data_length);
  /* W2ku and W2ru: UTF-16LE, no terminator needed. */
  units = g_new (gunichar2, locator->data_length / 2 + 1);
  for (guint32 i = 0; i < locator->data_length / 2; i++)
    units[i] = (gunichar2) (data[2 * i] | data[2 * i + 1] << 8);
  return g_utf16_to_utf8 (units, locator->data_length / 2, NULL, NULL, NULL);
}

/* Locators that point outside the file or are unreasonably long are skipped:
 * the parent's UUID, not the path, is what identifies it. */
static void
read_locators (MarinaVhd *vhd, int fd, guint64 file_size)
{
  for (guint i = 0; i < MARINA_VHD_LOCATOR_COUNT; i++)
    {
      const MarinaVhdLocator *locator = &vhd->header->locators[i];
      g_autofree guint8 *data = NULL;
      char *path;

      if ((locator->platform_code != PLATFORM_W2KU && locator->platform_code != PLATFORM_W2RU &&
           locator->platform_code != PLATFORM_MACX) ||
          locator->data_length == 0 || locator->data_length > MAX_LOCATOR_DATA ||
          locator->data_offset > file_size || locator->data_length > file_size - locator->data_offset)
        continue;
      data = g_malloc (locator->data_length);
      if (!read_exact (fd, locator->data_offset, data, locator->data_length, "", NULL))
        continue;
      path = decode_locator (locator, data);
      if (path)
        g_ptr_array_add (vhd->parent_locators, path);
    }
}

static gboolean
read_dynamic_header (MarinaVhd *vhd, int fd, guint64 file_size, const char *name,
                     GError **error)
{
  guint8 data[MARINA_VHD_DYNAMIC_HEADER_SIZE];
  guint64 offset = vhd->footer.data_offset;

  if (offset > file_size || file_size - offset < MARINA_VHD_DYNAMIC_HEADER_SIZE + MARINA_VHD_FOOTER_SIZE)
    return marina_error_invalid (error, "%s: the VHD's dynamic header offset %" G_GUINT64_FORMAT
                                 " lies outside the file", name, offset);
  if (!read_exact (fd, offset, data, sizeof data, name, error))
    return FALSE;
  vhd->header = g_new0 (MarinaVhdDynamicHeader, 1);
  if (!marina_vhd_dynamic_header_parse (data, sizeof data, vhd->header, error))
    return g_prefix_error (error, "%s: ", name), FALSE;
  read_locators (vhd, fd, file_size);
  return TRUE;
}

/**
 * marina_vhd_read_fd:
 * @name: how to name the file in messages
 *
 * Reads and validates the footer at the end of the file open at @fd and,
 * for dynamic and differencing disks, the dynamic header and parent locators.
 */
MarinaVhd *
marina_vhd_read_fd (int fd, const char *name, GError **error)
{
  g_autoptr(MarinaVhd) vhd = g_new0 (MarinaVhd, 1);
  guint8 data[MARINA_VHD_FOOTER_SIZE];
  struct stat st;

  vhd->parent_locators = g_ptr_array_new_with_free_func (g_free);
  if (fstat (fd, &st) != 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot read %s: %s", name,
                        g_strerror (errno)), NULL;
  if (st.st_size < MARINA_VHD_FOOTER_SIZE)
    return marina_error_invalid (error, "%s is too short to be a VHD", name), NULL;
  if (!read_exact (fd, (guint64) st.st_size - MARINA_VHD_FOOTER_SIZE, data, sizeof data, name,
                   error))
    return NULL;
  if (!marina_vhd_footer_parse (data, sizeof data, &vhd->footer, error))
    return g_prefix_error (error, "%s: ", name), NULL;
  if (vhd->footer.disk_type != MARINA_VHD_TYPE_FIXED &&
      !read_dynamic_header (vhd, fd, (guint64) st.st_size, name, error))
    return NULL;
  return g_steal_pointer (&vhd);
}

MarinaVhd *
marina_vhd_read (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  MarinaVhd *vhd;

  if (fd < 0)
    return g_set_error (error, MARINA_ERROR,
                        errno == ENOENT ? MARINA_ERROR_NOT_FOUND : MARINA_ERROR_FAILED,
                        "Cannot open %s: %s", path, g_strerror (errno)), NULL;
  vhd = marina_vhd_read_fd (fd, path, error);
  close (fd);
  return vhd;
}

void
marina_vhd_free (MarinaVhd *vhd)
{
  if (vhd->header)
    marina_vhd_dynamic_header_clear (vhd->header);
  g_free (vhd->header);
  g_clear_pointer (&vhd->parent_locators, g_ptr_array_unref);
  g_free (vhd);
}

/* ---- a differencing VHD's own sectors ------------------------------------------ */

#define SECTOR 512
#define UNALLOCATED G_MAXUINT32
/* Blocks of the specification are 2 MiB; anything past 256 MiB is no VHD
 * another program wrote, and would make us allocate without bound. */
#define MAX_BLOCK_SIZE (256u * 1024 * 1024)

static gboolean
write_exact (int fd, guint64 offset, const guint8 *buffer, gsize size, GError **error)
{
  gsize done = 0;

  while (done < size)
    {
      ssize_t n = pwrite (fd, buffer + done, size - done, (off_t) (offset + done));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                            "Cannot write the flattened image: %s", g_strerror (errno)), FALSE;
      done += (gsize) n;
    }
  return TRUE;
}

static gboolean
sector_present (const guint8 *bitmap, guint sector)
{
  return (bitmap[sector / 8] & (0x80 >> (sector % 8))) != 0;
}

/* Writes the runs of sectors the block's bitmap marks as the child's own. */
static gboolean
copy_block_sectors (int out_fd, guint64 block_start, const guint8 *bitmap, const guint8 *data,
                    guint sectors, GError **error)
{
  for (guint s = 0; s < sectors;)
    {
      guint run = 0;
      if (!sector_present (bitmap, s))
        {
          s++;
          continue;
        }
      while (s + run < sectors && sector_present (bitmap, s + run))
        run++;
      if (!write_exact (out_fd, block_start + (guint64) s * SECTOR, data + (gsize) s * SECTOR,
                        (gsize) run * SECTOR, error))
        return FALSE;
      s += run;
    }
  return TRUE;
}

static gboolean
check_geometry (const MarinaVhd *vhd, const char *name, GError **error)
{
  const MarinaVhdDynamicHeader *header = vhd->header;
  guint64 blocks_needed;

  if (vhd->footer.disk_type == MARINA_VHD_TYPE_FIXED || header == NULL)
    return marina_error_invalid (error, "%s is not a dynamic or differencing VHD", name);
  if (header->block_size < SECTOR || header->block_size > MAX_BLOCK_SIZE ||
      header->block_size % SECTOR != 0)
    return marina_error_invalid (error, "%s: block size %u is not a multiple of 512 up to "
                                 "256 MiB", name, header->block_size);
  blocks_needed = (vhd->footer.current_size + header->block_size - 1) / header->block_size;
  if (header->max_table_entries < blocks_needed || header->max_table_entries > 16 * 1024 * 1024)
    return marina_error_invalid (error, "%s: its block table (%u entries) does not fit its "
                                 "size", name, header->max_table_entries);
  return TRUE;
}

/* A fixed VHD is its data followed by the footer. */
static gboolean
copy_fixed (const MarinaVhd *vhd, int fd, const char *path, int out_fd,
            GCancellable *cancellable, GError **error)
{
  g_autofree guint8 *buffer = g_malloc (1024 * 1024);

  for (guint64 offset = 0; offset < vhd->footer.current_size; offset += 1024 * 1024)
    {
      gsize size = (gsize) MIN ((guint64) 1024 * 1024, vhd->footer.current_size - offset);
      if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
          !read_exact (fd, offset, buffer, size, path, error) ||
          !write_exact (out_fd, offset, buffer, size, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
copy_blocks (const MarinaVhd *vhd, int fd, guint64 file_size, const char *path, int out_fd,
             GCancellable *cancellable, GError **error)
{
  guint32 block_size = vhd->header->block_size;
  guint32 sectors = block_size / SECTOR;
  guint32 bitmap_size = ((sectors + 7) / 8 + SECTOR - 1) / SECTOR * SECTOR;
  g_autofree guint8 *table = g_malloc ((gsize) vhd->header->max_table_entries * 4);
  g_autofree guint8 *block = g_malloc ((gsize) bitmap_size + block_size);
  gboolean ok = read_exact (fd, vhd->header->table_offset, table,
                            (gsize) vhd->header->max_table_entries * 4, path, error);

  for (guint32 i = 0; ok && i < vhd->header->max_table_entries; i++)
    {
      guint32 entry = GUINT32_FROM_BE (((guint32 *) table)[i]);
      guint64 start = (guint64) entry * SECTOR, first = (guint64) i * block_size;
      if (entry == UNALLOCATED || first >= vhd->footer.current_size)
        continue;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        ok = FALSE;
      else if (start + bitmap_size + block_size > file_size)
        ok = marina_error_invalid (error, "%s: block %u lies past the end of the file", path, i);
      else
        ok = read_exact (fd, start, block, (gsize) bitmap_size + block_size, path, error) &&
             copy_block_sectors (out_fd, first, block, block + bitmap_size,
                                 (guint) MIN ((guint64) sectors,
                                              (vhd->footer.current_size - first) / SECTOR),
                                 error);
    }
  return ok;
}

/**
 * marina_vhd_copy_sectors:
 * @path: a VHD of any type
 * @out_fd: a raw image as large as the VHD's current size, or larger
 *
 * Writes over @out_fd every sector the VHD holds itself: all of a fixed
 * one; those its block bitmaps mark for a dynamic or differencing one. So
 * a raw copy of the parent with the child's sectors over it reads as the
 * chain does — what QEMU's VHD driver cannot do (it ignores the parent, and
 * sizes disks of Virtual PC by their CHS geometry, a little short of what
 * the footer says). The exact current size is used here.
 */
gboolean
marina_vhd_copy_sectors (const char *path, int out_fd, GCancellable *cancellable,
                         GError **error)
{
  g_autoptr(MarinaVhd) vhd = marina_vhd_read (path, error);
  struct stat st;
  gboolean ok;
  int fd;

  if (vhd == NULL ||
      (vhd->footer.disk_type != MARINA_VHD_TYPE_FIXED && !check_geometry (vhd, path, error)))
    return FALSE;
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot open %s: %s", path,
                        g_strerror (errno)), FALSE;
  if (fstat (fd, &st) != 0)
    ok = (g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot read %s: %s", path,
                       g_strerror (errno)), FALSE);
  else if (vhd->footer.disk_type == MARINA_VHD_TYPE_FIXED)
    ok = copy_fixed (vhd, fd, path, out_fd, cancellable, error);
  else
    ok = copy_blocks (vhd, fd, (guint64) st.st_size, path, out_fd, cancellable, error);
  close (fd);
  return ok;
}
