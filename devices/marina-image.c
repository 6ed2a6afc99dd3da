/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-devices"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "marina-error.h"
#include "marina-image.h"

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
