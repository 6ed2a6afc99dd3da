/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-devices"
#include "config.h"

#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "marina-error.h"
#include "marina-image.h"
#include "marina-vhd.h"

/* Disk image formats, recognised by their headers. Marina always tells QEMU
 * the format instead of letting it guess: a guest that writes a qcow2 header
 * into a raw disk must not make QEMU open a backing file of its choosing on
 * the host. The probe is meant for images a person hands to Marina, before a
 * guest has ever written to them. */

#define VHD_FOOTER_SIZE 512

static gboolean
read_at (int fd, off_t offset, guint8 *buffer, gsize size, gsize *got)
{
  ssize_t n;

  do
    n = pread (fd, buffer, size, offset);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return FALSE;
  *got = (gsize) n;
  return TRUE;
}

static gboolean
has_magic (const guint8 *buffer, gsize length, const char *magic)
{
  gsize magic_length = strlen (magic);

  return length >= magic_length && memcmp (buffer, magic, magic_length) == 0;
}

/* A fixed VHD is raw data followed by a 512-byte footer; a dynamic one
 * starts with a copy of that footer (checked by the caller). */
static gboolean
has_vhd_footer (int fd, gboolean *found)
{
  guint8 footer[VHD_FOOTER_SIZE];
  off_t end = lseek (fd, 0, SEEK_END);
  gsize got;

  *found = FALSE;
  if (end < 0)
    return FALSE;
  if (end < VHD_FOOTER_SIZE)
    return TRUE;
  if (!read_at (fd, end - VHD_FOOTER_SIZE, footer, sizeof footer, &got))
    return FALSE;
  *found = has_magic (footer, got, "conectix");
  return TRUE;
}

static const char *
format_from_header (const guint8 *header, gsize length)
{
  if (has_magic (header, length, "QFI\xfb"))
    return "qcow2";
  if (has_magic (header, length, "vhdxfile"))
    return "vhdx";
  if (has_magic (header, length, "conectix"))
    return "vpc";
  return NULL;
}

static char *
read_failed (const char *path, GError **error)
{
  int saved_errno = errno;

  g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
               "Cannot read disk image '%s': %s", path, g_strerror (saved_errno));
  return NULL;
}

static char *
probe_open_image (int fd, const char *path, GError **error)
{
  guint8 header[8];
  gsize got;
  const char *format;
  gboolean vhd_footer;

  if (!read_at (fd, 0, header, sizeof header, &got))
    return read_failed (path, error);
  format = format_from_header (header, got);
  if (format != NULL)
    return g_strdup (format);
  if (!has_vhd_footer (fd, &vhd_footer))
    return read_failed (path, error);
  return g_strdup (vhd_footer ? "vpc" : "raw");
}

/* O_NONBLOCK keeps a FIFO at @path from hanging us in open(). Block
 * devices are fine: Virtual Server could give a machine a physical disk. */
static int
open_image (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  int saved_errno = errno;
  struct stat st;

  if (fd < 0 && saved_errno == ENOENT)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                 "Disk image '%s' does not exist", path);
  else if (fd < 0)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                 "Cannot open disk image '%s': %s", path, g_strerror (saved_errno));
  if (fd < 0)
    return -1;
  if (fstat (fd, &st) != 0 || !(S_ISREG (st.st_mode) || S_ISBLK (st.st_mode)))
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "Disk image '%s' is not a regular file or a block device", path);
      close (fd);
      return -1;
    }
  return fd;
}

/**
 * marina_image_probe_format:
 * @path: a disk image
 *
 * Reads the header (and for VHD the last 512 bytes) of @path.
 *
 * Returns: "qcow2", "vhdx", "vpc" or "raw"
 */
char *
marina_image_probe_format (const char *path, GError **error)
{
  char *format;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  fd = open_image (path, error);
  if (fd < 0)
    return NULL;
  format = probe_open_image (fd, path, error);
  close (fd);
  return format;
}

/* ---- what an image is: format, type, sizes and parent ---------------------- */

#define QCOW2_HEADER_SIZE 32
#define MAX_BACKING_NAME 4096

/* The format names of Marina's API, next to QEMU's driver names. */
const char *
marina_image_format_to_qemu (const char *format)
{
  return g_strcmp0 (format, "vhd") == 0 ? "vpc" : format;
}

const char *
marina_image_format_from_qemu (const char *driver)
{
  return g_strcmp0 (driver, "vpc") == 0 ? "vhd" : driver;
}

static guint64
be64 (const guint8 *p)
{
  guint64 value = 0;

  for (guint i = 0; i < 8; i++)
    value = value << 8 | p[i];
  return value;
}

static guint32
be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

/* A parent named relative to its child is found next to the child. */
static char *
resolve_beside (const char *child, const char *name)
{
  g_autofree char *dir = NULL;

  if (g_path_is_absolute (name))
    return g_canonicalize_filename (name, NULL);
  dir = g_path_get_dirname (child);
  return g_canonicalize_filename (name, dir);
}

static gboolean
read_qcow2 (int fd, MarinaImageInfo *info, GError **error)
{
  guint8 header[QCOW2_HEADER_SIZE];
  g_autofree char *name = NULL;
  guint64 offset;
  guint32 length;
  gsize got;

  if (!read_at (fd, 0, header, sizeof header, &got) || got < sizeof header)
    return read_failed (info->path, error), FALSE;
  info->virtual_size = be64 (header + 24);
  offset = be64 (header + 8);
  length = be32 (header + 16);
  info->type = g_strdup (offset != 0 ? "differencing" : "dynamic");
  if (offset == 0)
    return TRUE;
  if (length == 0 || length > MAX_BACKING_NAME)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        "The qcow2 image '%s' names a backing file of %u bytes", info->path,
                        length), FALSE;
  name = g_malloc0 (length + 1);
  if (!read_at (fd, (off_t) offset, (guint8 *) name, length, &got) || got < length)
    return read_failed (info->path, error), FALSE;
  info->parent_path = resolve_beside (info->path, name);
  return TRUE;
}

/* Windows paths of a parent (".\base.vhd", "C:\VMs\base.vhd"): the file
 * name is looked for next to the child, where copied chains keep it. */
static char *
vhd_parent_path (const char *child, const MarinaVhd *vhd)
{
  const char *best = vhd->header->parent_name;

  for (guint i = 0; i < vhd->parent_locators->len; i++)
    {
      g_autofree char *slashed = g_strdelimit (g_strdup (vhd->parent_locators->pdata[i]), "\\", '/');
      g_autofree char *base = g_path_get_basename (slashed);
      g_autofree char *candidate = resolve_beside (child, base);
      if (g_file_test (candidate, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&candidate);
    }
  if (best == NULL || *best == '\0')
    return NULL;
  {
    g_autofree char *slashed = g_strdelimit (g_strdup (best), "\\", '/');
    g_autofree char *base = g_path_get_basename (slashed);
    return resolve_beside (child, base);
  }
}

static gboolean
read_vhd (int fd, MarinaImageInfo *info, GError **error)
{
  g_autoptr(MarinaVhd) vhd = marina_vhd_read_fd (fd, info->path, error);

  if (vhd == NULL)
    return FALSE;
  info->virtual_size = vhd->footer.current_size;
  info->type = g_strdup (marina_vhd_type_to_string (vhd->footer.disk_type));
  if (vhd->footer.disk_type == MARINA_VHD_TYPE_DIFFERENCING)
    info->parent_path = vhd_parent_path (info->path, vhd);
  return TRUE;
}

static gboolean
fill_info (int fd, MarinaImageInfo *info, GError **error)
{
  struct stat st;

  if (fstat (fd, &st) != 0)
    return read_failed (info->path, error), FALSE;
  /* A host block device is a linked disk (Virtual Server's term): its
   * contents are the guest's disk as they are; lseek gives its size. */
  if (S_ISBLK (st.st_mode))
    {
      off_t end = lseek (fd, 0, SEEK_END);
      info->virtual_size = info->size_on_host = end > 0 ? (guint64) end : 0;
      info->type = g_strdup ("linked");
      g_free (info->format);
      info->format = g_strdup ("raw");
      return TRUE;
    }
  info->size_on_host = (guint64) st.st_blocks * 512;
  if (g_str_equal (info->format, "qcow2"))
    return read_qcow2 (fd, info, error);
  if (g_str_equal (info->format, "vhd"))
    return read_vhd (fd, info, error);
  if (g_str_equal (info->format, "raw"))
    {
      off_t end = lseek (fd, 0, SEEK_END);
      info->virtual_size = end > 0 ? (guint64) end : 0;
      /* Raw has no type of its own: a sparse file is as good as dynamic. */
      info->type = g_strdup (info->size_on_host >= info->virtual_size ? "fixed" : "dynamic");
      return TRUE;
    }
  /* VHDX keeps its size in a metadata region; Disk.Inspect asks qemu-img. */
  info->type = g_strdup ("dynamic");
  return TRUE;
}

/**
 * marina_image_info_read_fd:
 * @path: the name of the file open at @fd, for messages and to find a
 *   parent named relative to it
 *
 * Reads what the image's own headers say: format ("vhd", "vhdx", "qcow2" or
 * "raw"), type, size for the guest, space used on the host, and the parent
 * of a differencing disk.
 */
MarinaImageInfo *
marina_image_info_read_fd (int fd, const char *path, GError **error)
{
  g_autoptr(MarinaImageInfo) info = g_new0 (MarinaImageInfo, 1);
  g_autofree char *driver = NULL;

  info->path = g_strdup (path);
  driver = probe_open_image (fd, path, error);
  if (driver == NULL)
    return NULL;
  info->format = g_strdup (marina_image_format_from_qemu (driver));
  if (!fill_info (fd, info, error))
    return NULL;
  return g_steal_pointer (&info);
}

MarinaImageInfo *
marina_image_info_read (const char *path, GError **error)
{
  int fd = open_image (path, error);
  MarinaImageInfo *info;

  if (fd < 0)
    return NULL;
  info = marina_image_info_read_fd (fd, path, error);
  close (fd);
  return info;
}

void
marina_image_info_free (MarinaImageInfo *info)
{
  g_free (info->path);
  g_free (info->format);
  g_free (info->type);
  g_free (info->parent_path);
  g_free (info);
}

/**
 * marina_image_check_qemu_reads:
 * @path: a disk image, the top of its chain
 *
 * QEMU's VHD driver opens a differencing VHD as if it stood alone, reading
 * zeros where the parent holds data: a guest, a copy or a child made
 * through QEMU from such a chain would see other data than the disk holds.
 * Until Marina serves such chains itself, they are refused.
 */
gboolean
marina_image_check_qemu_reads (const char *path, GError **error)
{
  g_autofree char *current = g_strdup (path);

  for (guint depth = 0; current != NULL && depth < MARINA_IMAGE_MAX_CHAIN; depth++)
    {
      g_autoptr(MarinaImageInfo) info = marina_image_info_read (current, NULL);

      if (info == NULL)
        return TRUE;  /* unreadable images are reported where they are opened */
      if (g_str_equal (info->format, "vhd") && g_str_equal (info->type, "differencing"))
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                            "'%s' is a differencing VHD%s%s%s, which QEMU would read as if it had "
                            "no parent (zeros where the parent holds data); Marina does not run, "
                            "copy or extend such chains yet", current,
                            info->parent_path ? " (parent '" : "",
                            info->parent_path ? info->parent_path : "",
                            info->parent_path ? "')" : ""), FALSE;
      g_free (current);
      current = g_steal_pointer (&info->parent_path);
    }
  return TRUE;
}

/* A host block device: a linked disk, opened with QEMU's host_device driver. */
gboolean
marina_image_is_block_device (const char *path)
{
  GStatBuf st;

  return path != NULL && g_stat (path, &st) == 0 && S_ISBLK (st.st_mode);
}
