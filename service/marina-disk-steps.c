/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-disk"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "marina-disk-steps.h"
#include "marina-error.h"

/* The temporary files are ".NAME.marina-XXXXXXXX" next to the image, made
 * with O_EXCL | O_NOFOLLOW so they are ours; marina-disks.c removes any a
 * marinad that died mid-job left. Each command's share of the job's
 * Progress is its weight: qemu-img's own "(12.50/100%)" marks count within
 * a qemu-img step, the size of the copy so far within a copy. */

#define OUTPUT_KEPT 4096
#define COPY_POLL_MS 250

typedef struct {
  GStrv argv;
  double weight;
  char *copy_source;  /* a copy: progress from the temporary's size */
  char *copy_target;
} Step;

typedef struct {
  int dir_fd;
  char *dir;
  char *name;
  char *path;
} Temp;

typedef struct {
  Temp *temp;         /* one of temps */
  char *name;
  gboolean replace;
} Publication;

struct _MarinaDiskSteps {
  MarinaJob *job;
  char *action;
  GPtrArray *temps;         /* Temp, removed at the end */
  GPtrArray *steps;         /* Step */
  GPtrArray *publications;  /* Publication */
  guint current;
  double done;              /* the weight of the steps finished */
  double total;
  GSubprocess *process;
  GString *output;
  guint64 copy_size;
  guint copy_poll;
  gulong cancel_handler;
};

static void
step_free (Step *step)
{
  g_strfreev (step->argv);
  g_free (step->copy_source);
  g_free (step->copy_target);
  g_free (step);
}

static void
temp_free (Temp *temp)
{
  close (temp->dir_fd);
  g_free (temp->dir);
  g_free (temp->name);
  g_free (temp->path);
  g_free (temp);
}

static void
publication_free (Publication *publication)
{
  g_free (publication->name);
  g_free (publication);
}

/**
 * marina_disk_steps_new:
 * @action: what the job does, a verb phrase for messages ("merge 'a' into 'b'")
 */
MarinaDiskSteps *
marina_disk_steps_new (MarinaJob *job, const char *action)
{
  MarinaDiskSteps *self = g_new0 (MarinaDiskSteps, 1);

  self->job = g_object_ref (job);
  self->action = g_strdup (action);
  self->temps = g_ptr_array_new_with_free_func ((GDestroyNotify) temp_free);
  self->steps = g_ptr_array_new_with_free_func ((GDestroyNotify) step_free);
  self->publications = g_ptr_array_new_with_free_func ((GDestroyNotify) publication_free);
  self->output = g_string_new (NULL);
  return self;
}

static void
remove_temps (MarinaDiskSteps *self)
{
  for (guint i = 0; i < self->temps->len; i++)
    {
      Temp *temp = self->temps->pdata[i];
      if (unlinkat (temp->dir_fd, temp->name, 0) != 0 && errno != ENOENT)
        g_warning ("Cannot remove %s: %s", temp->path, g_strerror (errno));
    }
  g_ptr_array_set_size (self->temps, 0);
}

void
marina_disk_steps_free (MarinaDiskSteps *self)
{
  if (self->cancel_handler)
    g_cancellable_disconnect (marina_job_get_cancellable (self->job), self->cancel_handler);
  g_clear_handle_id (&self->copy_poll, g_source_remove);
  remove_temps (self);
  g_object_unref (self->job);
  g_free (self->action);
  g_ptr_array_unref (self->temps);
  g_ptr_array_unref (self->steps);
  g_ptr_array_unref (self->publications);
  g_clear_object (&self->process);
  g_string_free (self->output, TRUE);
  g_free (self);
}

static void
add_temp (MarinaDiskSteps *self, int dir_fd, const char *dir, char *name)
{
  Temp *temp = g_new0 (Temp, 1);

  temp->dir_fd = fcntl (dir_fd, F_DUPFD_CLOEXEC, 0);
  temp->dir = g_strdup (dir);
  temp->name = name;
  temp->path = g_build_filename (dir, name, NULL);
  g_ptr_array_add (self->temps, temp);
}

/**
 * marina_disk_steps_temp:
 * @dir_fd: the resolved folder to make it in (duplicated)
 * @dir: its path
 * @name: the image the temporary file stands for, without folder
 *
 * Makes an empty temporary file, removed when the steps end unless it was
 * published. Returns its path.
 */
const char *
marina_disk_steps_temp (MarinaDiskSteps *self, int dir_fd, const char *dir, const char *name,
                        GError **error)
{
  for (guint attempt = 0; attempt < 16; attempt++)
    {
      g_autofree char *temp = g_strdup_printf (".%s.marina-%08x", name, g_random_int ());
      int fd = openat (dir_fd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0 && errno == EEXIST)
        continue;
      if (fd < 0)
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                            "Cannot create a file in '%s': %s", dir, g_strerror (errno)), NULL;
      close (fd);
      add_temp (self, dir_fd, dir, g_steal_pointer (&temp));
      return ((Temp *) self->temps->pdata[self->temps->len - 1])->path;
    }
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                      "Cannot find a free temporary name in '%s'", dir), NULL;
}

void
marina_disk_steps_add (MarinaDiskSteps *self, double weight, const char *const *argv)
{
  Step *step = g_new0 (Step, 1);

  step->argv = g_strdupv ((char **) argv);
  step->weight = weight;
  self->total += weight;
  g_ptr_array_add (self->steps, step);
}

/* A copy that shares blocks where the file system can (reflink) and keeps
 * holes as holes but written zeros as written (--sparse=auto: a fixed
 * image stays allocated), so a copy of a sparse image costs what it holds. */
void
marina_disk_steps_add_copy (MarinaDiskSteps *self, double weight, const char *source,
                            const char *temp)
{
  const char *argv[] = { "cp", "--reflink=auto", "--sparse=auto", "--", source, temp, NULL };
  Step *step;

  marina_disk_steps_add (self, weight, argv);
  step = self->steps->pdata[self->steps->len - 1];
  step->copy_source = g_strdup (source);
  step->copy_target = g_strdup (temp);
}

static Temp *
find_temp (MarinaDiskSteps *self, const char *path)
{
  for (guint i = 0; i < self->temps->len; i++)
    if (g_str_equal (((Temp *) self->temps->pdata[i])->path, path))
      return self->temps->pdata[i];
  g_return_val_if_reached (NULL);
}

/**
 * marina_disk_steps_publish:
 * @temp: a path marina_disk_steps_temp() gave
 * @name: the image's name in the temporary file's folder
 * @replace: rename over @name, keeping its mode and owner; else link, which
 *   fails if @name exists
 *
 * Publications happen in the order given, after every step succeeded.
 */
void
marina_disk_steps_publish (MarinaDiskSteps *self, const char *temp, const char *name,
                           gboolean replace)
{
  Publication *publication = g_new0 (Publication, 1);

  publication->temp = find_temp (self, temp);
  publication->name = g_strdup (name);
  publication->replace = replace;
  g_ptr_array_add (self->publications, publication);
}

/* The image replaced was the administrator's: it keeps its mode and owner. */
static void
take_over_mode (const Temp *temp, const char *name)
{
  struct stat st;

  if (fstatat (temp->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return;
  if (fchmodat (temp->dir_fd, temp->name, st.st_mode & 07777, 0) != 0 ||
      (fchownat (temp->dir_fd, temp->name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0 &&
       errno != EPERM))
    g_warning ("Cannot give %s the mode and owner of %s: %s", temp->path, name,
               g_strerror (errno));
}

static gboolean
publish_one (MarinaDiskSteps *self, const Publication *publication, GError **error)
{
  const Temp *temp = publication->temp;
  int saved_errno;

  if (publication->replace)
    take_over_mode (temp, publication->name);
  if (publication->replace
        ? renameat (temp->dir_fd, temp->name, temp->dir_fd, publication->name) == 0
        : linkat (temp->dir_fd, temp->name, temp->dir_fd, publication->name, 0) == 0)
    return TRUE;
  saved_errno = errno;
  return g_set_error (error, MARINA_ERROR,
                      saved_errno == EEXIST ? MARINA_ERROR_EXISTS : MARINA_ERROR_FAILED,
                      "Cannot put the new image at '%s/%s': %s", temp->dir, publication->name,
                      saved_errno == EEXIST ? "a file appeared there meanwhile"
                                            : g_strerror (saved_errno)), FALSE;
}

static gboolean
publish_all (MarinaDiskSteps *self, GError **error)
{
  for (guint i = 0; i < self->publications->len; i++)
    if (!publish_one (self, self->publications->pdata[i], error))
      return FALSE;
  return TRUE;
}

/* ---- running ---------------------------------------------------------------------- */

static void
set_progress (MarinaDiskSteps *self, double within)
{
  Step *step = self->steps->pdata[self->current];

  if (self->total > 0)
    marina_job_set_progress (self->job, (self->done + step->weight * CLAMP (within, 0, 1)) /
                                        self->total);
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

/* What the command said, without qemu-img's progress marks, for an error message. */
static char *
plain_output (const GString *output)
{
  g_autoptr(GRegex) marks = g_regex_new ("\\s*\\([0-9.]+/100%\\)\\s*", 0, 0, NULL);
  g_autofree char *text = g_regex_replace_literal (marks, output->str, -1, 0, " ", 0, NULL);

  return g_strdup (g_strstrip (text));
}

static guint64
allocated (const char *path)
{
  struct stat st;

  return stat (path, &st) == 0 ? (guint64) st.st_blocks * 512 : 0;
}

static gboolean
poll_copy (gpointer user_data)
{
  MarinaDiskSteps *self = g_task_get_task_data (user_data);
  Step *step = self->steps->pdata[self->current];

  if (self->copy_size > 0)
    set_progress (self, (double) allocated (step->copy_target) / self->copy_size);
  return G_SOURCE_CONTINUE;
}

static void run_step (GTask *task);

static void
finish (GTask *task)
{
  MarinaDiskSteps *self = g_task_get_task_data (task);
  GError *error = NULL;

  if (!publish_all (self, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  remove_temps (self);
  g_object_unref (task);
}

static void
fail_cancelled (GTask *task)
{
  MarinaDiskSteps *self = g_task_get_task_data (task);

  remove_temps (self);
  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           "Cancelled: did not %s; no disk was changed and no file was left behind",
                           self->action);
  g_object_unref (task);
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  MarinaDiskSteps *self = g_task_get_task_data (task);
  Step *step = self->steps->pdata[self->current];
  g_autofree char *said = NULL;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  g_clear_handle_id (&self->copy_poll, g_source_remove);
  if (g_cancellable_is_cancelled (marina_job_get_cancellable (self->job)))
    return fail_cancelled (task);
  if (!g_subprocess_get_successful (G_SUBPROCESS (source)))
    {
      said = plain_output (self->output);
      remove_temps (self);
      g_task_return_new_error (task, MARINA_ERROR, MARINA_ERROR_FAILED, "Could not %s: %s said: %s",
                               self->action, step->argv[0], said);
      g_object_unref (task);
      return;
    }
  self->done += step->weight;
  self->current++;
  run_step (task);
}

static void read_output (GTask *task);

static void
on_output (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  MarinaDiskSteps *self = g_task_get_task_data (task);
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, NULL);
  double progress;

  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      g_subprocess_wait_async (self->process, NULL, on_exited, task);
      return;
    }
  g_string_append_len (self->output, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  if (last_progress (self->output->str, &progress))
    set_progress (self, progress);
  if (self->output->len > OUTPUT_KEPT)
    g_string_erase (self->output, 0, self->output->len - OUTPUT_KEPT);
  read_output (task);
}

static void
read_output (GTask *task)
{
  MarinaDiskSteps *self = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (g_subprocess_get_stdout_pipe (self->process), 4096,
                                   G_PRIORITY_DEFAULT, NULL, on_output, task);
}

static void
run_step (GTask *task)
{
  MarinaDiskSteps *self = g_task_get_task_data (task);
  g_autofree char *command = NULL;
  GError *error = NULL;
  Step *step;

  if (g_cancellable_is_cancelled (marina_job_get_cancellable (self->job)))
    return fail_cancelled (task);
  if (self->current == self->steps->len)
    return finish (task);
  set_progress (self, 0);
  step = self->steps->pdata[self->current];
  command = g_strjoinv (" ", step->argv);
  g_debug ("To %s: %s", self->action, command);
  g_string_truncate (self->output, 0);
  g_clear_object (&self->process);
  self->process = g_subprocess_newv ((const char *const *) step->argv,
                                     G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                     G_SUBPROCESS_FLAGS_STDERR_MERGE, &error);
  if (self->process == NULL)
    {
      remove_temps (self);
      g_prefix_error (&error, "Could not %s: ", self->action);
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (step->copy_source)
    {
      self->copy_size = allocated (step->copy_source);
      self->copy_poll = g_timeout_add (COPY_POLL_MS, poll_copy, task);
    }
  read_output (task);
}

static void
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  MarinaDiskSteps *self = user_data;

  /* qemu-img has no clean stop; the temporary files are removed once it exits. */
  if (self->process)
    g_subprocess_force_exit (self->process);
}

/**
 * marina_disk_steps_run_async:
 * @self: (transfer full): the steps, freed when they end
 *
 * Runs the steps one after the other, then publishes. The job's cancellable
 * stops them; the job itself is left for the caller to complete.
 */
void
marina_disk_steps_run_async (MarinaDiskSteps *self, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_task_data (task, self, (GDestroyNotify) marina_disk_steps_free);
  self->cancel_handler = g_cancellable_connect (marina_job_get_cancellable (self->job),
                                                G_CALLBACK (on_cancelled), self, NULL);
  run_step (task);
}

gboolean
marina_disk_steps_run_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
