/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-console-launcher.h"

/* A machine's console, opened from the manager: marina-console in a window
 * of its own, reaching the same marinad the same way the manager does (the
 * same bus, or the same ssh host). One console per machine: the manager
 * remembers which are open, and says so rather than opening a second. A
 * console that ends in failure (it could not connect, the machine is gone)
 * is reported through "ended"; its own messages go where the manager's go. */

struct _MarinaConsoleLauncher {
  GObject parent_instance;
  GStrv bus_args;       /* marina-console's options that name marinad's bus */
  GHashTable *running;  /* machine id → GSubprocess */
};

G_DEFINE_FINAL_TYPE (MarinaConsoleLauncher, marina_console_launcher, G_TYPE_OBJECT)

enum { ENDED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
marina_console_launcher_finalize (GObject *object)
{
  MarinaConsoleLauncher *self = MARINA_CONSOLE_LAUNCHER (object);

  g_strfreev (self->bus_args);
  g_hash_table_unref (self->running);
  G_OBJECT_CLASS (marina_console_launcher_parent_class)->finalize (object);
}

static void
marina_console_launcher_class_init (MarinaConsoleLauncherClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = marina_console_launcher_finalize;
  /* ended (machine name, what went wrong): a console that failed. */
  signals[ENDED] = g_signal_new ("ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                 NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
marina_console_launcher_init (MarinaConsoleLauncher *self)
{
  self->running = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

/* bus_args: --session, --address ADDR, --connect URL … as marina-console
 * takes them. */
MarinaConsoleLauncher *
marina_console_launcher_new (const char * const *bus_args)
{
  MarinaConsoleLauncher *self = g_object_new (MARINA_TYPE_CONSOLE_LAUNCHER, NULL);

  self->bus_args = g_strdupv ((char **) bus_args);
  return self;
}

/* $MARINA_CONSOLE, else the marina-console beside this program (the build
 * tree and an installation both keep the two together), else the one on
 * PATH; NULL when there is none. */
char *
marina_console_launcher_find_program (void)
{
  const char *chosen = g_getenv ("MARINA_CONSOLE");
  g_autofree char *self_path = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *directory = self_path ? g_path_get_dirname (self_path) : NULL;
  g_autofree char *beside = directory ? g_build_filename (directory, "marina-console", NULL)
                                      : NULL;

  if (chosen && *chosen)
    return g_strdup (chosen);
  if (beside && g_file_test (beside, G_FILE_TEST_IS_EXECUTABLE))
    return g_steal_pointer (&beside);
  return g_find_program_in_path ("marina-console");
}

typedef struct {
  MarinaConsoleLauncher *launcher;  /* a reference */
  char *machine_id;
  char *machine_name;
} Opened;

static void
opened_free (Opened *opened)
{
  g_object_unref (opened->launcher);
  g_free (opened->machine_id);
  g_free (opened->machine_name);
  g_free (opened);
}

static char *
failure_message (GSubprocess *console, const char *machine_name)
{
  if (g_subprocess_get_if_signaled (console))
    /* Translators: %s is a machine's name, %d a signal number */
    return g_strdup_printf (_("The console of %s was killed (signal %d)."), machine_name,
                            g_subprocess_get_term_sig (console));
  if (g_subprocess_get_exit_status (console) != 0)
    /* Translators: %s is a machine's name, %d a program's exit status */
    return g_strdup_printf (_("The console of %s failed (exit status %d); its messages say "
                              "why."), machine_name, g_subprocess_get_exit_status (console));
  return NULL;
}

static void
on_console_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Opened *opened = user_data;
  GSubprocess *console = G_SUBPROCESS (source);
  g_autofree char *message = NULL;

  g_subprocess_wait_finish (console, result, NULL);
  g_debug ("console of %s closed", opened->machine_name);
  message = failure_message (console, opened->machine_name);
  if (g_hash_table_lookup (opened->launcher->running, opened->machine_id) == console)
    g_hash_table_remove (opened->launcher->running, opened->machine_id);
  if (message)
    g_signal_emit (opened->launcher, signals[ENDED], 0, opened->machine_name, message);
  opened_free (opened);
}

static GStrv
console_argv (MarinaConsoleLauncher *self, const char *program, const char *machine_id)
{
  g_autoptr(GStrvBuilder) argv = g_strv_builder_new ();

  g_strv_builder_add (argv, program);
  g_strv_builder_addv (argv, (const char **) self->bus_args);
  /* The id, not the name: a name may look like an option, and may change. */
  g_strv_builder_add_many (argv, "--", machine_id, NULL);
  return g_strv_builder_end (argv);
}

gboolean
marina_console_launcher_open (MarinaConsoleLauncher *self, const char *machine_id,
                              const char *machine_name, GError **error)
{
  g_autofree char *program = marina_console_launcher_find_program ();
  g_auto(GStrv) argv = NULL;
  GSubprocess *console;
  Opened *opened;

  if (g_hash_table_contains (self->running, machine_id))
    {
      /* Translators: %s is a machine's name */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, _("The console of %s is already open."),
                   machine_name);
      return FALSE;
    }
  if (program == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           _("marina-console is not installed: install it next to marina, or "
                             "name it in MARINA_CONSOLE."));
      return FALSE;
    }
  argv = console_argv (self, program, machine_id);
  console = g_subprocess_newv ((const char * const *) argv, G_SUBPROCESS_FLAGS_NONE, error);
  if (console == NULL)
    return FALSE;
  g_debug ("console of %s opened (pid %s)", machine_name, g_subprocess_get_identifier (console));
  g_hash_table_insert (self->running, g_strdup (machine_id), console);
  opened = g_new0 (Opened, 1);
  opened->launcher = g_object_ref (self);
  opened->machine_id = g_strdup (machine_id);
  opened->machine_name = g_strdup (machine_name);
  g_subprocess_wait_async (console, NULL, on_console_exited, opened);
  return TRUE;
}
