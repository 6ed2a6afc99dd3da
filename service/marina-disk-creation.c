/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-disk"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "marina-disk-creation.h"
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

#define OUTPUT_KEPT 4096

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
  if (spec->dir_fd >= 0)
    close (spec->dir_fd);
  g_free (spec->name);
  g_free (spec->path);
  g_free (spec);
}

typedef struct {
  MarinaDiskSpec *spec;
  MarinaJob *job;
  char *temp_name;
  char *temp_path;
  char *stage_name;      /* the raw staging copy of a differencing VHD chain, if any */
  GSubprocess *process;
  GString *output;
  gulong cancel_handler;
} Creation;

static void
creation_free (Creation *creation)
{
  if (creation->cancel_handler)
    g_cancellable_disconnect (marina_job_get_cancellable (creation->job), creation->cancel_handler);
  /* The staging copy of a differencing chain served its purpose, or failed. */
  if (creation->stage_name)
    unlinkat (creation->spec->dir_fd, creation->stage_name, 0);
  marina_disk_spec_free (creation->spec);
  g_object_unref (creation->job);
  g_free (creation->stage_name);
  g_free (creation->temp_name);
  g_free (creation->temp_path);
  g_clear_object (&creation->process);
  g_string_free (creation->output, TRUE);
  g_free (creation);
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

static void
add_create_options (GPtrArray *argv, const MarinaDiskSpec *spec)
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
  else if (spec->parent_path && spec->flatten_vhd == NULL)
    add_args (argv, "-b", spec->parent_path, "-F",
              marina_image_format_to_qemu (spec->parent_format), NULL);
}

/* The qemu-img command line that writes @target. */
static GPtrArray *
command_line (const MarinaDiskSpec *spec, const char *target)
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
      add_create_options (argv, spec);
      /* -B: only what differs from the parent is written to the child. */
      if (spec->keep_parent)
        add_args (argv, "-B", spec->parent_path, "-F",
                  marina_image_format_to_qemu (spec->parent_format), NULL);
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
      add_create_options (argv, spec);
      add_args (argv, target, NULL);
      if (spec->size)
        g_ptr_array_add (argv, size_text (spec->size));
    }
  g_ptr_array_add (argv, NULL);
  return argv;
}

/* The file qemu-img writes to: ours alone, made with O_EXCL in the resolved folder. */
static gboolean
make_temp_file (Creation *creation, GError **error)
{
  MarinaDiskSpec *spec = creation->spec;

  for (guint attempt = 0; attempt < 16; attempt++)
    {
      g_autofree char *name = g_strdup_printf (".%s.marina-%08x", spec->name, g_random_int ());
      int fd = openat (spec->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0600);
      if (fd < 0 && errno == EEXIST)
        continue;
      if (fd < 0)
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                            "Cannot create a file next to '%s': %s", spec->path,
                            g_strerror (errno)), FALSE;
      close (fd);
      creation->temp_name = g_steal_pointer (&name);
      {
        g_autofree char *dir = g_path_get_dirname (spec->path);
        creation->temp_path = g_build_filename (dir, creation->temp_name, NULL);
      }
      return TRUE;
    }
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                      "Cannot find a free temporary name next to '%s'", spec->path), FALSE;
}

/* "(12.50/100%)" → 0.125; the last one in @text counts. */
static gboolean
last_progress (const char *text, double *progress)
{
  const char *mark = g_strrstr (text, "/100%)");
  const char *open;

  if (mark == NULL)
    return FALSE;
  for (open = mark; open > text && *open != '('; open--)
    ;
  if (*open != '(')
    return FALSE;
  *progress = g_ascii_strtod (open + 1, NULL) / 100.0;
  return TRUE;
}

/* What qemu-img said, without its progress marks, for an error message. */
static char *
plain_output (const GString *output)
{
  g_autoptr(GRegex) marks = g_regex_new ("\\s*\\([0-9.]+/100%\\)\\s*", 0, 0, NULL);
  g_autofree char *text = g_regex_replace_literal (marks, output->str, -1, 0, " ", 0, NULL);

  return g_strdup (g_strstrip (text));
}

static void
remove_temp_file (Creation *creation)
{
  if (unlinkat (creation->spec->dir_fd, creation->temp_name, 0) != 0 && errno != ENOENT)
    g_warning ("Cannot remove %s: %s", creation->temp_path, g_strerror (errno));
}

/* linkat() fails with EEXIST rather than replace a file that appeared meanwhile. */
static gboolean
publish (Creation *creation, GError **error)
{
  MarinaDiskSpec *spec = creation->spec;
  int saved_errno;

  if (linkat (spec->dir_fd, creation->temp_name, spec->dir_fd, spec->name, 0) == 0)
    {
      remove_temp_file (creation);
      return TRUE;
    }
  saved_errno = errno;
  remove_temp_file (creation);
  return g_set_error (error, MARINA_ERROR,
                      saved_errno == EEXIST ? MARINA_ERROR_EXISTS : MARINA_ERROR_FAILED,
                      "Cannot put the new image at '%s': %s", spec->path,
                      saved_errno == EEXIST ? "a file appeared there meanwhile"
                                            : g_strerror (saved_errno)), FALSE;
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Creation *creation = g_task_get_task_data (task);
  GError *error = NULL;
  g_autofree char *said = NULL;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  if (g_cancellable_is_cancelled (marina_job_get_cancellable (creation->job)))
    {
      remove_temp_file (creation);
      return g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                      "Creation of '%s' cancelled; no file was left behind",
                                      creation->spec->path);
    }
  if (!g_subprocess_get_successful (G_SUBPROCESS (source)))
    {
      said = plain_output (creation->output);
      remove_temp_file (creation);
      return g_task_return_new_error (task, MARINA_ERROR, MARINA_ERROR_FAILED,
                                      "qemu-img could not create '%s': %s", creation->spec->path,
                                      said);
    }
  if (!publish (creation, &error))
    return g_task_return_error (task, error);
  g_task_return_boolean (task, TRUE);
}

static void read_output (GTask *task);

static void
on_output (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Creation *creation = g_task_get_task_data (task);
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, NULL);
  double progress;

  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      g_subprocess_wait_async (creation->process, NULL, on_exited, task);
      return;
    }
  g_string_append_len (creation->output, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  if (last_progress (creation->output->str, &progress))
    marina_job_set_progress (creation->job, progress);
  if (creation->output->len > OUTPUT_KEPT)
    g_string_erase (creation->output, 0, creation->output->len - OUTPUT_KEPT);
  read_output (task);
}

static void
read_output (GTask *task)
{
  Creation *creation = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (g_subprocess_get_stdout_pipe (creation->process), 4096,
                                   G_PRIORITY_DEFAULT, NULL, on_output, task);
}

static void
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  Creation *creation = user_data;

  /* qemu-img has no clean stop; its temporary file is removed once it exits. */
  if (creation->process)
    g_subprocess_force_exit (creation->process);
}

static void
run_qemu_img (GTask *task)
{
  Creation *creation = g_task_get_task_data (task);
  MarinaDiskSpec *spec = creation->spec;
  g_autoptr(GPtrArray) argv = NULL;
  g_autofree char *command = NULL;
  GError *error = NULL;

  if (!make_temp_file (creation, &error))
    return g_task_return_error (task, error);
  argv = command_line (spec, creation->temp_path);
  command = g_strjoinv (" ", (char **) argv->pdata);
  g_debug ("Creating %s: %s", spec->path, command);
  creation->process = g_subprocess_newv ((const char *const *) argv->pdata,
                                         G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                         G_SUBPROCESS_FLAGS_STDERR_MERGE, &error);
  if (creation->process == NULL)
    {
      remove_temp_file (creation);
      return g_task_return_error (task, error);
    }
  creation->cancel_handler = g_cancellable_connect (marina_job_get_cancellable (creation->job),
                                                    G_CALLBACK (on_cancelled), creation, NULL);
  read_output (task);
}

/* ---- a differencing VHD, which QEMU cannot read with its parent ---- */

static int
open_stage_file (Creation *creation, GError **error)
{
  MarinaDiskSpec *spec = creation->spec;

  for (guint attempt = 0; attempt < 16; attempt++)
    {
      g_autofree char *name = g_strdup_printf (".%s.marina-stage-%08x", spec->name,
                                               g_random_int ());
      int fd = openat (spec->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0600);
      if (fd >= 0)
        {
          creation->stage_name = g_steal_pointer (&name);
          return fd;
        }
      if (errno != EEXIST)
        break;
    }
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                      "Cannot make a staging file next to '%s': %s", spec->path,
                      g_strerror (errno)), -1;
}

/* The parent as the chain reads it, raw, into the staging file: a VHD
 * parent by Marina's own reader (exact size), any other through qemu-img
 * (the parent is no differencing VHD, so QEMU reads it right). */
static gboolean
copy_parent (Creation *creation, const char *stage_path, int stage_fd,
             GCancellable *cancellable, GError **error)
{
  MarinaDiskSpec *spec = creation->spec;
  g_autoptr(GSubprocess) process = NULL;
  g_autofree char *said = NULL;

  if (g_str_equal (spec->parent_format, "vhd"))
    return marina_vhd_copy_sectors (spec->parent_path, stage_fd, cancellable, error);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                              error, spec->qemu_img, "convert", "-n", "-f",
                              marina_image_format_to_qemu (spec->parent_format), "-O", "raw",
                              spec->parent_path, stage_path, NULL);
  if (process == NULL)
    return FALSE;
  if (!g_subprocess_communicate_utf8 (process, NULL, cancellable, NULL, &said, error))
    {
      g_subprocess_force_exit (process);
      return FALSE;
    }
  if (!g_subprocess_get_successful (process))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                        "qemu-img could not read the parent '%s': %s", spec->parent_path,
                        g_strstrip (said)), FALSE;
  return TRUE;
}

static void
stage_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Creation *creation = task_data;
  MarinaDiskSpec *spec = creation->spec;
  g_autofree char *dir = g_path_get_dirname (spec->path);
  g_autofree char *stage_path = NULL;
  GError *error = NULL;
  int fd = open_stage_file (creation, &error);
  gboolean ok;

  if (fd < 0)
    return g_task_return_error (task, error);
  stage_path = g_build_filename (dir, creation->stage_name, NULL);
  /* Sized as the child says; the parent's data then the child's own go in. */
  ok = ftruncate (fd, (off_t) spec->size) == 0 &&
       copy_parent (creation, stage_path, fd, cancellable, &error) &&
       marina_vhd_copy_sectors (spec->flatten_vhd, fd, cancellable, &error);
  if (!ok && error == NULL)
    g_set_error (&error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot size the staging file: %s",
                 g_strerror (errno));
  close (fd);
  if (!ok)
    return g_task_return_error (task, error);
  g_free (spec->source_path);
  spec->source_path = g_steal_pointer (&stage_path);
  g_free (spec->source_format);
  spec->source_format = g_strdup ("raw");
  g_task_return_boolean (task, TRUE);
}

static void
on_staged (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Creation *creation = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_prefix_error (&error, "Conversion of '%s' cancelled; no file was left behind: ",
                        creation->spec->path);
      return g_task_return_error (task, error);
    }
  marina_job_set_progress (creation->job, 0.5);
  run_qemu_img (g_steal_pointer (&task));
}

/**
 * marina_disk_create_async:
 * @spec: (transfer full): what to create
 *
 * Runs qemu-img for @spec and reports progress and the end to @job, whose
 * cancellable stops it. A differencing VHD is first flattened into a raw
 * staging copy of its chain (marina_vhd_copy_sectors()).
 */
void
marina_disk_create_async (MarinaDiskSpec *spec, MarinaJob *job, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  Creation *creation = g_new0 (Creation, 1);
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_autoptr(GTask) stage = NULL;

  creation->spec = spec;
  creation->job = g_object_ref (job);
  creation->output = g_string_new (NULL);
  g_task_set_task_data (task, creation, (GDestroyNotify) creation_free);
  if (spec->flatten_vhd == NULL)
    return run_qemu_img (g_steal_pointer (&task));
  stage = g_task_new (NULL, marina_job_get_cancellable (job), on_staged, g_steal_pointer (&task));
  g_task_set_task_data (stage, creation, NULL);
  g_task_set_return_on_cancel (stage, FALSE);
  g_task_run_in_thread (stage, stage_in_thread);
}

gboolean
marina_disk_create_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
