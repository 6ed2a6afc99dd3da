/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-storage-daemon"
#include "config.h"

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "marina-error.h"
#include "marina-qemu-command-line.h"
#include "marina-qemu.h"
#include "marina-storage-daemon.h"

#define SOCKET_NAME "disk0.nbd"
#define PID_NAME "storage-daemon.pid"
#define LOG_NAME "storage-daemon.log"
#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 15000

static char *
runtime_file (const char *runtime_dir, const char *name)
{
  return g_build_filename (runtime_dir, name, NULL);
}

static void
enter_identity (gpointer user_data)
{
  const MarinaQemuIdentity *identity = user_data;

  /* Its own session, like QEMU's: marinad's end must not end it. */
  setsid ();
  if (identity != NULL)
    marina_qemu_identity_enter (identity);
}

static void
reap (GPid pid, gint status, gpointer user_data)
{
  g_spawn_close_pid (pid);
}

static gboolean
is_alive (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *stat = NULL;
  const char *state;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  state = strrchr (stat, ')');
  return state != NULL && state[1] == ' ' && state[2] != 'Z' && state[2] != 'X';
}

static gboolean
socket_accepts (const char *path)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gboolean ok;

  g_strlcpy (address.sun_path, path, sizeof address.sun_path);
  ok = fd >= 0 && connect (fd, (struct sockaddr *) &address, sizeof address) == 0;
  if (fd >= 0)
    close (fd);
  return ok;
}

/* The daemon opens its socket within milliseconds; the wait is bounded so
 * that a daemon that cannot open the image fails the start with its words. */
static gboolean
wait_until_serving (GPid pid, const char *socket_path, const char *log_path, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + READY_TIMEOUT_MS * 1000;
  g_autofree char *tail = NULL;

  while (g_get_monotonic_time () < deadline && is_alive (pid))
    {
      if (socket_accepts (socket_path))
        return TRUE;
      g_usleep (10 * 1000);
    }
  tail = marina_qemu_read_log_tail (log_path, 5);
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
               "qemu-storage-daemon does not serve the disk: %s",
               tail && *tail ? tail : "it did not open its socket in time");
  return FALSE;
}

static gboolean
spawn (const char *const *argv, const char *log_path, const MarinaQemuIdentity *identity,
       GPid *pid, GError **error)
{
  int log_fd = open (log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  int null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  gboolean ok;

  ok = g_spawn_async_with_pipes_and_fds (NULL, argv, NULL,
                                         G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                         enter_identity, (gpointer) identity, null_fd, log_fd,
                                         log_fd, NULL, NULL, 0, pid, NULL, NULL, NULL, error);
  if (log_fd >= 0)
    close (log_fd);
  close (null_fd);
  if (ok)
    g_child_watch_add (*pid, reap, NULL);
  return ok;
}

/**
 * marina_storage_daemon_start:
 *
 * Returns: the socket QEMU connects to for the image, or NULL.
 */
char *
marina_storage_daemon_start (const char *binary, const char *image, const char *format,
                             const char *runtime_dir, const MarinaQemuIdentity *identity,
                             GError **error)
{
  g_autofree char *socket_path = runtime_file (runtime_dir, SOCKET_NAME);
  g_autofree char *pid_path = runtime_file (runtime_dir, PID_NAME);
  g_autofree char *log_path = runtime_file (runtime_dir, LOG_NAME);
  g_auto(GStrv) argv = marina_storage_daemon_command_line (binary, image, format, socket_path);
  g_autofree char *pid_text = NULL;
  GPid pid;

  marina_storage_daemon_stop (runtime_dir);
  if (!spawn ((const char *const *) argv, log_path, identity, &pid, error))
    return NULL;
  pid_text = g_strdup_printf ("%d\n", pid);
  g_file_set_contents (pid_path, pid_text, -1, NULL);
  if (!wait_until_serving (pid, socket_path, log_path, error))
    {
      marina_storage_daemon_stop (runtime_dir);
      return NULL;
    }
  return g_steal_pointer (&socket_path);
}

/* Only a process whose command line names our socket is ours to end. */
static GPid
our_daemon (const char *pid_path, const char *socket_path)
{
  g_autofree char *text = NULL, *cmdline_path = NULL, *cmdline = NULL;
  gsize length = 0;
  gint64 pid;

  if (!g_file_get_contents (pid_path, &text, NULL, NULL) ||
      !g_ascii_string_to_signed (g_strstrip (text), 10, 2, G_MAXINT, &pid, NULL))
    return 0;
  cmdline_path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/cmdline", pid);
  if (!g_file_get_contents (cmdline_path, &cmdline, &length, NULL) ||
      memmem (cmdline, length, socket_path, strlen (socket_path)) == NULL)
    return 0;
  return (GPid) pid;
}

/* SIGTERM lets the daemon flush the image and close it cleanly; the wait
 * is bounded, then it is killed. */
void
marina_storage_daemon_stop (const char *runtime_dir)
{
  g_autofree char *socket_path = runtime_file (runtime_dir, SOCKET_NAME);
  g_autofree char *pid_path = runtime_file (runtime_dir, PID_NAME);
  GPid pid = our_daemon (pid_path, socket_path);
  gint64 deadline = g_get_monotonic_time () + STOP_TIMEOUT_MS * 1000;

  if (pid > 0 && kill (pid, SIGTERM) == 0)
    {
      while (is_alive (pid) && g_get_monotonic_time () < deadline)
        g_usleep (10 * 1000);
      if (is_alive (pid))
        kill (pid, SIGKILL);
    }
  g_unlink (pid_path);
  g_unlink (socket_path);
}
