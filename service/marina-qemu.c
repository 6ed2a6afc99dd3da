/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-qemu"
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "marina-error.h"
#include "marina-qemu.h"

/* One QEMU process. marinad either spawned it (then it is our child and we
 * learn its exit status) or adopted it after a restart of marinad (then a
 * pidfd tells us when it exits, without a status). QEMU runs in a session of
 * its own with its output in a log file, so that it outlives marinad. */

#define QMP_CONNECT_TIMEOUT_MS 15000
#define QMP_RETRY_INTERVAL_MS 20

struct _MarinaQemu {
  GObject parent_instance;
  GPid pid;
  char *log_path;
  guint watch_id;
  int pidfd;
  gboolean exited;
  MarinaQmp *qmp;
};

enum { SIGNAL_EXITED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (MarinaQemu, marina_qemu, G_TYPE_OBJECT)

char *
marina_qemu_read_log_tail (const char *log_path, guint max_lines)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  guint n, first;

  if (!g_file_get_contents (log_path, &contents, NULL, NULL))
    return g_strdup ("");
  g_strchomp (contents);
  lines = g_strsplit (contents, "\n", -1);
  n = g_strv_length (lines);
  first = n > max_lines ? n - max_lines : 0;
  return g_strjoinv ("\n", lines + first);
}

static char *
describe_wait_status (int status)
{
  if (WIFEXITED (status))
    return g_strdup_printf ("exited with status %d", WEXITSTATUS (status));
  if (WIFSIGNALED (status))
    return g_strdup_printf ("was killed by signal %d (%s)", WTERMSIG (status),
                            g_strsignal (WTERMSIG (status)));
  return g_strdup_printf ("ended with wait status %d", status);
}

static void
mark_exited (MarinaQemu *self, const char *how)
{
  g_autofree char *tail = marina_qemu_read_log_tail (self->log_path, 5);

  self->exited = TRUE;
  if (self->qmp)
    marina_qmp_close (self->qmp);
  g_signal_emit (self, signals[SIGNAL_EXITED], 0, how, tail);
}

static void
on_child_exited (GPid pid, int status, gpointer user_data)
{
  g_autoptr(MarinaQemu) self = g_object_ref (user_data);
  g_autofree char *how = describe_wait_status (status);

  self->watch_id = 0;
  g_spawn_close_pid (pid);
  mark_exited (self, how);
}

static gboolean
on_pidfd_ready (int fd, GIOCondition condition, gpointer user_data)
{
  g_autoptr(MarinaQemu) self = g_object_ref (user_data);

  self->watch_id = 0;
  mark_exited (self, "exited (its status is unknown: it was started by an earlier marinad)");
  return G_SOURCE_REMOVE;
}

static void
child_setup (gpointer user_data)
{
  const MarinaQemuIdentity *identity = user_data;

  /* A session of its own: a terminal's Ctrl+C or marinad's death must not
   * reach QEMU. */
  setsid ();
  if (identity != NULL)
    marina_qemu_identity_enter (identity);
}

static int
open_log (const char *log_path, GError **error)
{
  int fd = open (log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                 "Cannot create QEMU's log %s: %s", log_path, g_strerror (errno));
  return fd;
}

MarinaQemu *
marina_qemu_spawn (const char *const *argv, const char *log_path,
                   const MarinaQemuIdentity *identity, const int *source_fds,
                   const int *target_fds, guint n_fds, GError **error)
{
  g_autoptr(MarinaQemu) self = g_object_new (MARINA_TYPE_QEMU, NULL);
  g_autoptr(GError) local_error = NULL;
  int log_fd = open_log (log_path, error);
  int null_fd;
  gboolean ok;

  if (log_fd < 0)
    return NULL;
  null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  ok = g_spawn_async_with_pipes_and_fds (NULL, argv, NULL,
                                         G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                         child_setup, (gpointer) identity,
                                         null_fd, log_fd, log_fd,
                                         source_fds, target_fds, n_fds,
                                         &self->pid, NULL, NULL, NULL,
                                         &local_error);
  close (log_fd);
  close (null_fd);
  if (!ok)
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot start %s: %s",
                   argv[0], local_error->message);
      return NULL;
    }
  self->log_path = g_strdup (log_path);
  self->watch_id = g_child_watch_add (self->pid, on_child_exited, self);
  return g_steal_pointer (&self);
}

MarinaQemu *
marina_qemu_adopt (GPid pid, const char *log_path, GError **error)
{
  g_autoptr(MarinaQemu) self = g_object_new (MARINA_TYPE_QEMU, NULL);

  self->pidfd = syscall (SYS_pidfd_open, pid, 0);
  if (self->pidfd < 0)
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                   "QEMU process %d is gone: %s", pid, g_strerror (errno));
      return NULL;
    }
  self->pid = pid;
  self->log_path = g_strdup (log_path);
  self->watch_id = g_unix_fd_add (self->pidfd, G_IO_IN, on_pidfd_ready, self);
  return g_steal_pointer (&self);
}

gboolean
marina_qemu_pid_matches (GPid pid, const char *uuid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", pid);
  g_autofree char *cmdline = NULL;
  gsize length;

  /* Guard against a recycled pid: the process must be QEMU running this
   * machine's UUID. */
  if (!g_file_get_contents (path, &cmdline, &length, NULL))
    return FALSE;
  for (gsize i = 0; i + 1 < length; i++)
    if (cmdline[i] == '\0')
      cmdline[i] = ' ';
  return strstr (cmdline, "qemu") != NULL && strstr (cmdline, uuid) != NULL;
}

typedef struct {
  char *socket_path;
  gint64 deadline;
  guint retry_id;
  guint deadline_id;
  GCancellable *attempt; /* cancelled at the deadline */
} ConnectData;

static void
connect_data_free (ConnectData *data)
{
  g_clear_handle_id (&data->retry_id, g_source_remove);
  g_clear_handle_id (&data->deadline_id, g_source_remove);
  g_clear_object (&data->attempt);
  g_free (data->socket_path);
  g_free (data);
}

static gboolean
on_connect_deadline (gpointer user_data)
{
  ConnectData *data = user_data;

  /* QEMU may accept the connection but hold back its greeting (while another
   * client is attached): the handshake must not wait forever. */
  data->deadline_id = 0;
  g_cancellable_cancel (data->attempt);
  return G_SOURCE_REMOVE;
}

static void try_connect (GTask *task);

static gboolean
retry_connect (gpointer user_data)
{
  GTask *task = user_data;
  ConnectData *data = g_task_get_task_data (task);

  data->retry_id = 0;
  try_connect (task);
  return G_SOURCE_REMOVE;
}

static void
on_qmp_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  MarinaQemu *self = g_task_get_source_object (task);
  ConnectData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  MarinaQmp *qmp = marina_qmp_connect_finish (result, &error);

  if (qmp)
    {
      g_clear_object (&self->qmp);
      self->qmp = qmp;
      g_task_return_boolean (task, TRUE);
    }
  else if (g_task_return_error_if_cancelled (task))
    return;
  else if (self->exited || g_get_monotonic_time () > data->deadline ||
           g_cancellable_is_cancelled (data->attempt))
    g_task_return_new_error (task, MARINA_ERROR, MARINA_ERROR_FAILED,
                             "QEMU did not answer on its monitor socket %s within %d s: %s",
                             data->socket_path, QMP_CONNECT_TIMEOUT_MS / 1000, error->message);
  else
    /* QEMU creates the socket a few milliseconds after it starts. */
    data->retry_id = g_timeout_add (QMP_RETRY_INTERVAL_MS, retry_connect, g_steal_pointer (&task));
}

static void
try_connect (GTask *task)
{
  ConnectData *data = g_task_get_task_data (task);

  marina_qmp_connect_async (data->socket_path, data->attempt, on_qmp_connected, task);
}

void
marina_qemu_connect_qmp_async (MarinaQemu         *self,
                               const char         *socket_path,
                               GCancellable       *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer            user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  ConnectData *data = g_new0 (ConnectData, 1);

  data->socket_path = g_strdup (socket_path);
  data->deadline = g_get_monotonic_time () + QMP_CONNECT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  data->attempt = g_cancellable_new ();
  data->deadline_id = g_timeout_add (QMP_CONNECT_TIMEOUT_MS, on_connect_deadline, data);
  g_task_set_task_data (task, data, (GDestroyNotify) connect_data_free);
  try_connect (task);
}

gboolean
marina_qemu_connect_qmp_finish (MarinaQemu *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

MarinaQmp *
marina_qemu_get_qmp (MarinaQemu *self)
{
  return self->qmp;
}

GPid
marina_qemu_get_pid (MarinaQemu *self)
{
  return self->pid;
}

gboolean
marina_qemu_has_exited (MarinaQemu *self)
{
  return self->exited;
}

void
marina_qemu_kill (MarinaQemu *self, int signum)
{
  if (!self->exited && self->pid > 0)
    kill (self->pid, signum);
}

static void
marina_qemu_dispose (GObject *object)
{
  MarinaQemu *self = MARINA_QEMU (object);

  g_clear_handle_id (&self->watch_id, g_source_remove);
  if (self->qmp)
    marina_qmp_close (self->qmp);
  g_clear_object (&self->qmp);
  G_OBJECT_CLASS (marina_qemu_parent_class)->dispose (object);
}

static void
marina_qemu_finalize (GObject *object)
{
  MarinaQemu *self = MARINA_QEMU (object);

  if (self->pidfd >= 0)
    close (self->pidfd);
  g_free (self->log_path);
  G_OBJECT_CLASS (marina_qemu_parent_class)->finalize (object);
}

static void
marina_qemu_class_init (MarinaQemuClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = marina_qemu_dispose;
  object_class->finalize = marina_qemu_finalize;
  /* exited (how, last lines of QEMU's output) */
  signals[SIGNAL_EXITED] =
    g_signal_new ("exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
marina_qemu_init (MarinaQemu *self)
{
  self->pidfd = -1;
}
