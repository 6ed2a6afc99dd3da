/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-scripts"
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>

#include "marina-error.h"
#include "marina-machine-config.h"
#include "marina-scripts.h"

/* Event scripts, as Virtual Server's: a host program run when something
 * happens to a machine or to the service. They run as marinad does, so only
 * files that nobody else can change are accepted. A script never holds up
 * the machine: it runs on its own, under a timeout, and its output goes to
 * the event log. */

#define OUTPUT_LIMIT 2000

const char *const marina_host_script_events[] = { "service-started", "service-stopping", NULL };

gboolean
marina_script_check (const char *path, GError **error)
{
  struct stat st;

  if (!g_path_is_absolute (path))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        "The script path '%s' is not absolute", path), FALSE;
  if (stat (path, &st) < 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND, "Script %s: %s", path,
                        g_strerror (errno)), FALSE;
  if (!S_ISREG (st.st_mode) || !(st.st_mode & S_IXUSR))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        "Script %s is not an executable file", path), FALSE;
  if (st.st_uid != geteuid () || (st.st_mode & (S_IWGRP | S_IWOTH)))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        "Script %s must be owned by uid %u and writable by nobody else "
                        "(it runs with marinad's rights); try chown %u and chmod go-w",
                        path, (unsigned) geteuid (), (unsigned) geteuid ()), FALSE;
  return TRUE;
}

/**
 * marina_scripts_change:
 * @scripts: the table to change (a copy the caller stores only on success)
 * @events: the events scripts may be attached to
 * @path: the script to attach to @event, or %NULL to remove its script
 * @owner: how messages name the owner, e.g. "machine 'web'"
 */
gboolean
marina_scripts_change (GHashTable *scripts, const char *const *events, const char *event,
                       const char *path, const char *owner, GError **error)
{
  if (!marina_validate_script_event (events, event, error) ||
      (path && !marina_script_check (path, error)))
    return FALSE;
  if (path == NULL && !g_hash_table_remove (scripts, event))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                        "No script is attached to the event '%s' of %s", event, owner), FALSE;
  if (path)
    g_hash_table_insert (scripts, g_strdup (event), g_strdup (path));
  return TRUE;
}

GVariant *
marina_scripts_to_variant (GHashTable *scripts)
{
  g_auto(GStrv) events = marina_scripts_sorted_events (scripts);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ss)"));
  for (guint i = 0; events[i]; i++)
    g_variant_builder_add (&builder, "(ss)", events[i], g_hash_table_lookup (scripts, events[i]));
  return g_variant_builder_end (&builder);
}

typedef struct {
  char *path;
  char *event;
  GSubprocess *process;
  guint timeout_id;
  gboolean timed_out;
  MarinaScriptReport report;
  GObject *report_object; /* kept alive until the script has been reported */
  GBytes *output;
} ScriptRun;

static void
script_run_free (ScriptRun *run)
{
  g_clear_handle_id (&run->timeout_id, g_source_remove);
  g_clear_object (&run->process);
  g_clear_object (&run->report_object);
  g_clear_pointer (&run->output, g_bytes_unref);
  g_free (run->path);
  g_free (run->event);
  g_free (run);
}

static char *
readable_output (GBytes *bytes)
{
  gsize length = 0;
  const char *data = bytes ? g_bytes_get_data (bytes, &length) : NULL;
  g_autofree char *text = data ? g_utf8_make_valid (data, MIN (length, OUTPUT_LIMIT)) : g_strdup ("");

  return g_strdup (g_strstrip (text));
}

static char *
describe_end (GSubprocess *process, ScriptRun *run, const char **severity)
{
  *severity = "warning";
  if (run->timed_out)
    return g_strdup_printf ("was stopped after its timeout");
  if (g_subprocess_get_if_exited (process) && g_subprocess_get_exit_status (process) == 0)
    {
      *severity = "info";
      return g_strdup ("succeeded");
    }
  if (g_subprocess_get_if_exited (process))
    return g_strdup_printf ("failed with exit status %d", g_subprocess_get_exit_status (process));
  return g_strdup_printf ("was killed by signal %d", g_subprocess_get_term_sig (process));
}

static void
on_script_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ScriptRun *run = user_data;
  GSubprocess *process = G_SUBPROCESS (source);
  g_autofree char *text = NULL;
  g_autofree char *end = NULL;
  g_autofree char *message = NULL;
  const char *severity;

  g_subprocess_wait_finish (process, result, NULL);
  text = readable_output (run->output);
  end = describe_end (process, run, &severity);
  message = g_strdup_printf ("Script %s for event '%s' %s%s%s", run->path, run->event, end,
                             *text ? "; its output: " : "", text);
  run->report (run->report_object, severity, message);
  script_run_free (run);
}

static void
on_script_output (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ScriptRun *run = user_data;
  GSubprocess *process = G_SUBPROCESS (source);

  g_subprocess_communicate_finish (process, result, &run->output, NULL, NULL);
  /* A script may close its output and go on running: wait for its end
   * without holding up the main loop. */
  g_subprocess_wait_async (process, NULL, on_script_exited, run);
}

static gboolean
on_script_timeout (gpointer user_data)
{
  ScriptRun *run = user_data;
  const char *identifier = g_subprocess_get_identifier (run->process);

  /* The whole process group: what the script started must not keep its
   * output open, nor run on unwatched. */
  run->timeout_id = 0;
  run->timed_out = TRUE;
  if (identifier)
    kill (-(pid_t) g_ascii_strtoll (identifier, NULL, 10), SIGKILL);
  return G_SOURCE_REMOVE;
}

static void
start_own_group (gpointer user_data)
{
  setpgid (0, 0);
}

void
marina_script_run (const char *path, const char *event, const char *const *environment,
                   guint timeout_seconds, MarinaScriptReport report, GObject *report_object)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  ScriptRun *run;

  g_subprocess_launcher_set_child_setup (launcher, start_own_group, NULL, NULL);
  for (guint i = 0; environment[i]; i++)
    {
      g_auto(GStrv) pair = g_strsplit (environment[i], "=", 2);
      g_subprocess_launcher_setenv (launcher, pair[0], pair[1] ? pair[1] : "", TRUE);
    }
  /* Checked again at each run: the file may have changed since it was attached. */
  if (!marina_script_check (path, &error) ||
      (process = g_subprocess_launcher_spawn (launcher, &error, path, NULL)) == NULL)
    {
      g_autofree char *message = g_strdup_printf ("Script %s for event '%s' did not run: %s",
                                                  path, event, error->message);
      report (report_object, "warning", message);
      return;
    }
  run = g_new0 (ScriptRun, 1);
  run->path = g_strdup (path);
  run->event = g_strdup (event);
  run->report = report;
  run->report_object = g_object_ref (report_object);
  run->process = g_object_ref (process);
  run->timeout_id = g_timeout_add_seconds (timeout_seconds, on_script_timeout, run);
  g_subprocess_communicate_async (process, NULL, NULL, on_script_output, run);
}
