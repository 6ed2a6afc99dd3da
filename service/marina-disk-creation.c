/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-disk"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "marina-disk-creation.h"
#include "marina-disk-steps.h"
#include "marina-error.h"
#include "marina-image.h"
#include "marina-vhd.h"

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
  g_free (spec->flatten_vhd);
  g_free (spec->flatten_parent);
  g_free (spec->flatten_parent_format);
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

/* ---- a differencing VHD, which QEMU cannot read with its parent ---- */

typedef struct {
  MarinaDiskSpec *spec;
  MarinaDiskSteps *steps;
  const char *temp;   /* the new image, owned by steps */
  const char *stage;  /* the raw staging copy of the chain, owned by steps */
  GAsyncReadyCallback callback;
  gpointer user_data;
} Staging;

static void
staging_free (Staging *staging)
{
  g_clear_pointer (&staging->spec, marina_disk_spec_free);
  g_clear_pointer (&staging->steps, marina_disk_steps_free);  /* removes the temporary files */
  g_free (staging);
}

/* The parent as the chain reads it, raw: a VHD parent by Marina's own
 * reader (exact size), any other through qemu-img (it is no differencing
 * VHD, so QEMU reads it right). */
static gboolean
copy_parent (const MarinaDiskSpec *spec, const char *stage, int stage_fd,
             GCancellable *cancellable, GError **error)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autofree char *said = NULL;

  if (g_str_equal (spec->flatten_parent_format, "vhd"))
    return marina_vhd_copy_sectors (spec->flatten_parent, stage_fd, cancellable, error);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                              error, spec->qemu_img, "convert", "-n", "-f",
                              marina_image_format_to_qemu (spec->flatten_parent_format), "-O",
                              "raw", spec->flatten_parent, stage, NULL);
  if (process == NULL)
    return FALSE;
  if (!g_subprocess_communicate_utf8 (process, NULL, cancellable, NULL, &said, error))
    {
      g_subprocess_force_exit (process);
      return FALSE;
    }
  if (!g_subprocess_get_successful (process))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                        "qemu-img could not read the parent '%s': %s", spec->flatten_parent,
                        g_strstrip (said)), FALSE;
  return TRUE;
}

/* Sized as the child says; the parent's data then the child's own go in. */
static void
stage_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Staging *staging = task_data;
  GError *error = NULL;
  int fd = open (staging->stage, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  gboolean ok;

  if (fd < 0)
    return g_task_return_new_error (task, MARINA_ERROR, MARINA_ERROR_FAILED,
                                    "Cannot open the staging file %s: %s", staging->stage,
                                    g_strerror (errno));
  ok = ftruncate (fd, (off_t) staging->spec->size) == 0;
  if (!ok)
    g_set_error (&error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot size the staging file: %s",
                 g_strerror (errno));
  ok = ok && copy_parent (staging->spec, staging->stage, fd, cancellable, &error) &&
       marina_vhd_copy_sectors (staging->spec->flatten_vhd, fd, cancellable, &error);
  close (fd);
  if (!ok)
    return g_task_return_error (task, error);
  g_task_return_boolean (task, TRUE);
}

static void
run_copy (MarinaDiskSpec *spec, MarinaDiskSteps *steps, const char *temp,
          GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GPtrArray) argv = marina_disk_command_line (spec, temp);

  marina_disk_steps_add (steps, 1.0, (const char *const *) argv->pdata);
  marina_disk_steps_publish (steps, temp, spec->name, FALSE);
  marina_disk_steps_run_async (steps, callback, user_data);
}

static void
on_staged (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Staging *staging = user_data;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_prefix_error (&error, "Conversion of '%s' cancelled; no file was left behind: ",
                        staging->spec->path);
      g_task_report_error (NULL, staging->callback, staging->user_data,
                           marina_disk_create_async, error);
      return staging_free (staging);
    }
  g_free (staging->spec->source_path);
  staging->spec->source_path = g_strdup (staging->stage);
  g_free (staging->spec->source_format);
  staging->spec->source_format = g_strdup ("raw");
  run_copy (staging->spec, g_steal_pointer (&staging->steps), staging->temp, staging->callback,
            staging->user_data);
  staging_free (staging);
}

static void
stage_then_copy (MarinaDiskSpec *spec, MarinaDiskSteps *steps, MarinaJob *job, const char *temp,
                 const char *dir, GAsyncReadyCallback callback, gpointer user_data)
{
  Staging *staging = g_new0 (Staging, 1);
  g_autoptr(GTask) task = NULL;
  g_autofree char *stage_name = g_strconcat (spec->name, ".stage", NULL);
  GError *error = NULL;

  staging->spec = spec;
  staging->steps = steps;
  staging->temp = temp;
  staging->callback = callback;
  staging->user_data = user_data;
  staging->stage = marina_disk_steps_temp (steps, spec->dir_fd, dir, stage_name, &error);
  if (staging->stage == NULL)
    {
      g_task_report_error (NULL, callback, user_data, marina_disk_create_async, error);
      return staging_free (staging);
    }
  task = g_task_new (NULL, marina_job_get_cancellable (job), on_staged, staging);
  g_task_set_task_data (task, staging, NULL);
  g_task_set_return_on_cancel (task, FALSE);
  g_task_run_in_thread (task, stage_in_thread);
}

/**
 * marina_disk_create_async:
 * @spec: (transfer full): what to create
 *
 * Runs qemu-img for @spec and reports progress and the end to @job, whose
 * cancellable stops it. A differencing VHD is first laid over its parent in
 * a raw staging copy (marina_vhd_copy_sectors()), which is then converted.
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
  GError *error = NULL;

  temp = marina_disk_steps_temp (steps, spec->dir_fd, dir, spec->name, &error);
  if (temp == NULL)
    return g_task_report_error (NULL, callback, user_data, marina_disk_create_async, error);
  if (spec->flatten_vhd != NULL)
    return stage_then_copy (g_steal_pointer (&owned), g_steal_pointer (&steps), job, temp, dir,
                            callback, user_data);
  run_copy (spec, g_steal_pointer (&steps), temp, callback, user_data);
}

gboolean
marina_disk_create_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
