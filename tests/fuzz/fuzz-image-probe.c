/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-fuzz"
#include "config.h"

#include <stdlib.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "fuzz.h"
#include "marina-image.h"

/* Disk image probing reads headers (and a VHD's footer, dynamic header and
 * parent locators) of files users hand
 * to CreateMachine and SetConfig. The input becomes the whole file. */

static char *path;

static void
remove_image (void)
{
  g_unlink (path);
}

static const char *
image_path (void)
{

  if (path == NULL)
    {
      int fd = g_file_open_tmp ("marina-fuzz-image-XXXXXX", &path, NULL);

      if (fd < 0)
        abort ();
      close (fd);
      atexit (remove_image);
    }
  return path;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *formats[] = { "raw", "qcow2", "vpc", "vhdx", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *format = NULL;
  g_autoptr(MarinaImageInfo) info = NULL;

  marina_fuzz_setup ();
  if (!g_file_set_contents (image_path (), (const char *) data, (gssize) size, &error))
    abort ();
  format = marina_image_probe_format (image_path (), &error);
  if (format == NULL || !g_strv_contains (formats, format))
    {
      g_printerr ("Probing gave %s: %s\n", format ? format : "nothing",
                  error ? error->message : "");
      abort ();
    }
  /* Reading the headers (VHD footer, dynamic header, locators; qcow2
   * backing name) may refuse the file but must never crash or overread. */
  info = marina_image_info_read (image_path (), NULL);
  return 0;
}
