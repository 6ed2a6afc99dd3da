/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-fuzz"
#include "config.h"

#include <stdio.h>

#include "fuzz.h"

/* A main() for the fuzz targets without libFuzzer: feeds every file of the
 * directories (or files) given to the target once. This is how the seed
 * corpus and the inputs of past crashes run as ordinary unit tests.
 *
 *   fuzz-replay-TARGET CORPUS... [--optional DIR...]
 *
 * Directories after --optional may be missing: a target whose fuzzing never
 * found a crash has no regressions folder, and git keeps no empty folders. */

static gboolean
replay_file (const char *path, guint *count)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize length;

  if (!g_file_get_contents (path, &contents, &length, &error))
    {
      g_printerr ("%s\n", error->message);
      return FALSE;
    }
  printf ("replaying %s\n", path);
  fflush (stdout);
  LLVMFuzzerTestOneInput ((const uint8_t *) contents, length);
  (*count)++;
  return TRUE;
}

static gboolean
replay_dir (const char *path, guint *count)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  while (dir && (name = g_dir_read_name (dir)))
    g_ptr_array_add (names, g_build_filename (path, name, NULL));
  for (guint i = 0; i < names->len; i++)
    if (!replay_file (names->pdata[i], count))
      return FALSE;
  return TRUE;
}

int
main (int argc, char **argv)
{
  guint count = 0;
  gboolean optional = FALSE;

  for (int i = 1; i < argc; i++)
    {
      gboolean ok;

      if (g_str_equal (argv[i], "--optional"))
        {
          optional = TRUE;
          continue;
        }
      if (optional && !g_file_test (argv[i], G_FILE_TEST_EXISTS))
        continue;
      ok = g_file_test (argv[i], G_FILE_TEST_IS_DIR) ? replay_dir (argv[i], &count)
                                                        : replay_file (argv[i], &count);
      if (!ok)
        return 1;
    }
  printf ("%u inputs replayed without a crash\n", count);
  return count > 0 ? 0 : 1;
}
