/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-disk"
#include "config.h"

#include <unistd.h>

#include "marina-disk-creation.h"
#include "marina-disk-steps.h"
#include "marina-error.h"
#include "marina-image.h"

/* Makes a new image with qemu-img, as a job. The image is written under a
 * temporary name in its folder (created here with O_EXCL | O_NOFOLLOW, so it
 * is ours) and linked to its real name only when complete, with linkat(),
 * which never replaces an existing file: a failed or cancelled creation
 * leaves nothing, and nothing half-made is ever seen under the real name.
 *
 * Dynamic images are made with `qemu-img create`, at once. Fixed ones are
 * written in full, as Virtual Server's were (space is really taken, no
 * surprises when the host fills up): `qemu-img convert -p -S 0` from QEMU's
 * null-co zero source, whose progress output "(12.50/100%)" feeds the job's
 * Progress. VHDs get force_size=on: see devices/marina-vhd.c for the size
 * rule. */

void
marina_disk_spec_free (MarinaDiskSpec *spec)
{
  g_free (spec->qemu_img);
  g_free (spec->format);
  g_free (spec->type);
  g_free (spec->parent_path);
  g_free (spec->parent_format);
  g_free (spec->source_path);
  g_free (spec->source_format);
  if (spec->dir_fd >= 0)
    close (spec->dir_fd);
  g_free (spec->name);
  g_free (spec->path);
  g_free (spec);
}

static char *
size_text (guint64 size)
{
  return g_strdup_printf ("%" G_GUINT64_FORMAT, size);
}

static gboolean
is_fixed_copy (const MarinaDiskSpec *spec)
{
  return g_str_equal (spec->type, "fixed") &&
         (g_str_equal (spec->format, "vhd") || g_str_equal (spec->format, "raw"));
}

static void add_args (GPtrArray *argv, const char *first, ...) G_GNUC_NULL_TERMINATED;

static void
add_args (GPtrArray *argv, const char *first, ...)
{
  va_list args;

  va_start (args, first);
  for (const char *arg = first; arg; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (args);
}

/* @copy: for `qemu-img convert`, which names the backing file with -B. */
static void
add_create_options (GPtrArray *argv, const MarinaDiskSpec *spec, gboolean copy)
{
  if (g_str_equal (spec->format, "vhd"))
    {
      g_ptr_array_add (argv, g_strdup ("-o"));
      g_ptr_array_add (argv, g_strdup_printf ("subformat=%s,force_size=on", spec->type));
    }
  else if (g_str_equal (spec->format, "vhdx"))
    {
      g_ptr_array_add (argv, g_strdup ("-o"));
      g_ptr_array_add (argv, g_strdup_printf ("subformat=%s", spec->type));
    }
  else if (spec->parent_path)
    add_args (argv, copy ? "-B" : "-b", spec->parent_path, "-F",
              marina_image_format_to_qemu (spec->parent_format), NULL);
}

/**
 * marina_disk_command_line:
 *
 * The qemu-img command line that writes @target as @spec says. A copy with
 * a parent (a qcow2 child compacted) copies only what the child holds over
 * that parent.
 */
GPtrArray *
marina_disk_command_line (const MarinaDiskSpec *spec, const char *target)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  const char *driver = marina_image_format_to_qemu (spec->format);

  g_ptr_array_add (argv, g_strdup (spec->qemu_img));
  if (spec->source_path || is_fixed_copy (spec))
    {
      /* -S 0: a fixed disk has every sector written, zeros too. */
      add_args (argv, "convert", "-p", NULL);
      if (is_fixed_copy (spec))
        add_args (argv, "-S", "0", NULL);
      add_args (argv, "-O", driver, NULL);
      add_create_options (argv, spec, TRUE);
      if (spec->source_path)
        add_args (argv, "-f", marina_image_format_to_qemu (spec->source_format), spec->source_path,
                  NULL);
      else
        {
          g_ptr_array_add (argv, g_strdup ("--image-opts"));
          g_ptr_array_add (argv, g_strdup_printf ("driver=null-co,size=%" G_GUINT64_FORMAT
                                                  ",read-zeroes=on", spec->size));
        }
      add_args (argv, target, NULL);
    }
  else
    {
      add_args (argv, "create", "-q", "-f", driver, NULL);
      add_create_options (argv, spec, FALSE);
      add_args (argv, target, NULL);
      if (spec->size)
        g_ptr_array_add (argv, size_text (spec->size));
    }
  g_ptr_array_add (argv, NULL);
  return argv;
}

/**
 * marina_disk_create_async:
 * @spec: (transfer full): what to create
 *
 * Runs qemu-img for @spec and reports progress and the end to @job, whose
 * cancellable stops it.
 */
void
marina_disk_create_async (MarinaDiskSpec *spec, MarinaJob *job, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_autoptr(MarinaDiskSpec) owned = spec;
  g_autofree char *dir = g_path_get_dirname (spec->path);
  g_autofree char *action = g_strdup_printf ("create '%s'", spec->path);
  g_autoptr(MarinaDiskSteps) steps = marina_disk_steps_new (job, action);
  const char *temp;
  g_autoptr(GPtrArray) argv = NULL;
  GError *error = NULL;

  temp = marina_disk_steps_temp (steps, spec->dir_fd, dir, spec->name, &error);
  if (temp == NULL)
    return g_task_report_error (NULL, callback, user_data, marina_disk_create_async, error);
  argv = marina_disk_command_line (spec, temp);
  marina_disk_steps_add (steps, 1.0, (const char *const *) argv->pdata);
  marina_disk_steps_publish (steps, temp, spec->name, FALSE);
  marina_disk_steps_run_async (g_steal_pointer (&steps), callback, user_data);
}

gboolean
marina_disk_create_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
