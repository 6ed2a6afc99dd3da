/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marinad"
#include "config.h"

#include <malloc.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "marina-error.h"
#include "marina-i18n.h"
#include "marina-image.h"
#include "marina-manager.h"
#include "marina-systemd.h"

#define BUS_NAME "org.marinavm.Marina1"
#define TRIM_INTERVAL_SECONDS 5

typedef struct {
  gboolean session;
  char *bus_address;
  char *state_dir;
  char *runtime_dir;
  char *config_file;
  gboolean verbose;
} Options;

typedef struct {
  GMainLoop *loop;
  GDBusConnection *connection;
  MarinaManager *manager;
  guint owner_id;
  gboolean stopping;
  int exit_code;
} Daemon;

static gboolean
parse_options (int *argc, char ***argv, Options *options, GError **error)
{
  const GOptionEntry entries[] = {
    { "session", 0, 0, G_OPTION_ARG_NONE, &options->session,
      N_("Use the session bus and per-user directories"), NULL },
    { "bus-address", 0, 0, G_OPTION_ARG_STRING, &options->bus_address,
      N_("Connect to the bus at ADDRESS"), N_("ADDRESS") },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &options->state_dir,
      N_("Keep configurations, saved states and the event log in DIR"), N_("DIR") },
    { "runtime-dir", 0, 0, G_OPTION_ARG_FILENAME, &options->runtime_dir,
      N_("Keep sockets and pid files in DIR (default: STATE-DIR/run with --state-dir)"),
      N_("DIR") },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &options->config_file,
      N_("Read settings from FILE instead of marina.conf"), N_("FILE") },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &options->verbose, N_("Log debug messages"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("— the Marina virtual server"));
  g_autofree char *summary = g_strdup_printf (_("Runs virtual machines with QEMU and offers them "
                                                "on D-Bus as %s."), BUS_NAME);

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, summary);
  return g_option_context_parse (context, argc, argv, error);
}

static char *
default_dir (const Options *options, const char *system_dir, const char *user_base)
{
  if (!options->session)
    return g_strdup (system_dir);
  return g_build_filename (user_base, "marina", NULL);
}

static char *
user_runtime_base (void)
{
  const char *xdg = g_getenv ("XDG_RUNTIME_DIR");

  if (xdg && *xdg)
    return g_strdup (xdg);
  return g_strdup_printf ("/tmp/marina-%u", (unsigned) getuid ());
}

static char *
keyfile_string (GKeyFile *keyfile, const char *group, const char *key, const char *fallback)
{
  char *value = g_key_file_get_string (keyfile, group, key, NULL);

  if (value)
    return g_strstrip (value);
  return g_strdup (fallback);
}

static guint
keyfile_uint (GKeyFile *keyfile, const char *group, const char *key, guint fallback)
{
  g_autoptr(GError) error = NULL;
  guint64 value = g_key_file_get_uint64 (keyfile, group, key, &error);

  return error || value == 0 || value > G_MAXUINT ? fallback : (guint) value;
}

static gboolean
keyfile_bool (GKeyFile *keyfile, const char *group, const char *key, gboolean fallback)
{
  g_autoptr(GError) error = NULL;
  gboolean value = g_key_file_get_boolean (keyfile, group, key, &error);

  return error ? fallback : value;
}

static gboolean
load_config_file (const Options *options, GKeyFile *keyfile, GError **error)
{
  g_autofree char *path = NULL;
  g_autoptr(GError) local_error = NULL;

  if (options->config_file)
    path = g_strdup (options->config_file);
  else
    path = options->session
             ? g_build_filename (g_get_user_config_dir (), "marina", "marina.conf", NULL)
             : g_strdup (MARINA_SYSCONFDIR "/marina.conf");
  if (g_key_file_load_from_file (keyfile, path, G_KEY_FILE_NONE, &local_error))
    return TRUE;
  /* A missing default file means defaults; a named one must exist. */
  if (!options->config_file && g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return TRUE;
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT, _("Cannot read %s: %s"), path,
               local_error->message);
  return FALSE;
}

static gboolean
check_accelerator (const char *accelerator, GError **error)
{
  if (g_strv_contains ((const char *const[]) { "auto", "kvm", "tcg", NULL }, accelerator))
    return TRUE;
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
               _("[qemu] accelerator=%s is unknown; use auto, kvm or tcg"), accelerator);
  return FALSE;
}

/* [storage] devices= names host block devices machines may use as linked
 * disks; each is confined like a folder holding just itself. */
static void
add_storage_devices (GStrvBuilder *all, GKeyFile *keyfile)
{
  g_auto(GStrv) devices = g_key_file_get_string_list (keyfile, "storage", "devices", NULL, NULL);

  for (guint i = 0; devices && devices[i]; i++)
    {
      g_strstrip (devices[i]);
      if (g_path_is_absolute (devices[i]) && marina_image_is_block_device (devices[i]))
        g_strv_builder_add (all, devices[i]);
      else if (*devices[i])
        g_warning ("[storage] devices=: '%s' is not a block device and is ignored", devices[i]);
    }
}

/* The storage directory comes first; [storage] paths= adds folders. */
static void
set_storage (MarinaSettings *settings, GKeyFile *keyfile)
{
  g_autofree char *fallback = g_build_filename (settings->state_dir, "disks", NULL);
  g_auto(GStrv) paths = g_key_file_get_string_list (keyfile, "storage", "paths", NULL, NULL);
  g_autoptr(GStrvBuilder) all = g_strv_builder_new ();

  settings->storage_dir = keyfile_string (keyfile, "storage", "directory", fallback);
  g_strv_builder_add (all, settings->storage_dir);
  for (guint i = 0; paths && paths[i]; i++)
    {
      g_strstrip (paths[i]);
      if (g_path_is_absolute (paths[i]))
        g_strv_builder_add (all, paths[i]);
      else if (*paths[i])
        g_warning ("[storage] paths=: '%s' is not an absolute path and is ignored", paths[i]);
    }
  add_storage_devices (all, keyfile);
  settings->storage_paths = g_strv_builder_end (all);
}

static MarinaSettings *
make_settings (const Options *options, GError **error)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(MarinaSettings) settings = g_new0 (MarinaSettings, 1);
  g_autofree char *runtime_base = user_runtime_base ();

  if (!load_config_file (options, keyfile, error))
    return NULL;
  settings->state_dir = options->state_dir
                          ? g_canonicalize_filename (options->state_dir, NULL)
                          : default_dir (options, MARINA_LOCALSTATEDIR, g_get_user_state_dir ());
  if (options->runtime_dir)
    settings->runtime_dir = g_canonicalize_filename (options->runtime_dir, NULL);
  else if (options->state_dir)
    settings->runtime_dir = g_build_filename (settings->state_dir, "run", NULL);
  else
    settings->runtime_dir = default_dir (options, MARINA_RUNSTATEDIR, runtime_base);
  settings->qemu_binary = keyfile_string (keyfile, "qemu", "binary", "qemu-system-x86_64");
  settings->accelerator = keyfile_string (keyfile, "qemu", "accelerator", "auto");
  settings->shutdown_timeout = keyfile_uint (keyfile, "machines", "shutdown-timeout", 120);
  settings->event_log_max = keyfile_uint (keyfile, "events", "max-events", 10000);
  settings->memory_reserve_mib = keyfile_uint (keyfile, "host", "memory-reserve-mib", 512);
  settings->qemu_overhead_mib = keyfile_uint (keyfile, "host", "qemu-overhead-mib", 128);
  settings->metrics_socket = keyfile_string (keyfile, "metrics", "socket", NULL);
  settings->cgroup_fs = keyfile_string (keyfile, "host", "cgroup-fs", "/sys/fs/cgroup");
  settings->cgroup_name = keyfile_string (keyfile, "host", "cgroup-name", "marina");
  settings->systemd_bus = keyfile_string (keyfile, "host", "systemd-bus", NULL);
  settings->script_timeout = keyfile_uint (keyfile, "scripts", "timeout", 60);
  /* On the session bus only its user can call us; elsewhere every call is
   * authorized (marina-authorizer.c). */
  settings->enforce_access = !options->session;
  /* Bridges and taps need root; a session service gets QEMU's own NAT. */
  settings->user_networking = options->session || geteuid () != 0;
  /* Only root can hand QEMU a uid of its own. */
  settings->confine_qemu = keyfile_bool (keyfile, "qemu", "confine", TRUE) &&
                           geteuid () == 0 && !options->session;
  settings->qemu_uid_base = keyfile_uint (keyfile, "qemu", "uid-base", 62000);
  settings->qemu_uid_count = keyfile_uint (keyfile, "qemu", "uid-count", 1000);
  settings->console_tls_dir = keyfile_string (keyfile, "console", "tls-dir",
                                              MARINA_SYSCONFDIR "/tls");
  settings->qemu_img = keyfile_string (keyfile, "qemu", "img-binary", "qemu-img");
  settings->storage_daemon = keyfile_string (keyfile, "qemu", "storage-daemon-binary",
                                             "qemu-storage-daemon");
  set_storage (settings, keyfile);
  if (!check_accelerator (settings->accelerator, error))
    return NULL;
  return g_steal_pointer (&settings);
}

static GDBusConnection *
connect_to (const char *address, GBusType otherwise, GError **error)
{
  if (address)
    return g_dbus_connection_new_for_address_sync (address,
                                                   G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                   G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                   NULL, NULL, error);
  return g_bus_get_sync (otherwise, NULL, error);
}

static GDBusConnection *
connect_bus (const Options *options, GError **error)
{
  return connect_to (options->bus_address,
                     options->session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, error);
}

/* Our API may be on a private or the session bus; systemd is on the system
 * bus, or where [host] systemd-bus= says ("none": never, use cgroup files). */
static void
use_systemd (MarinaManager *manager, const char *address)
{
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GError) error = NULL;

  if (address && !*address)
    address = NULL;
  if (g_strcmp0 (address, "none") == 0 || (!address && !marina_systemd_booted ("/")))
    return;
  bus = connect_to (address, G_BUS_TYPE_SYSTEM, &error);
  if (!bus)
    {
      g_warning ("Cannot reach systemd's bus (%s): CPU allocation goes through cgroup files",
                 error->message);
      return;
    }
  /* A lost system bus costs CPU allocation its means, not the service its life. */
  g_dbus_connection_set_exit_on_close (bus, FALSE);
  marina_cgroups_use_systemd (marina_manager_get_cgroups (manager), bus);
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  g_message ("Serving %s", name);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  Daemon *daemon = user_data;

  g_printerr (_("marinad: cannot own %s on this bus (is another marinad running?)\n"), name);
  daemon->exit_code = EXIT_FAILURE;
  g_main_loop_quit (daemon->loop);
}

/* GLib 2.74's slice allocator never returns memory to the system; plain
 * malloc does, with malloc_trim(). GLib reads G_SLICE in its constructors,
 * before main() runs, hence the one re-exec at start. */
static void
use_plain_malloc (char **argv)
{
  if (getenv ("G_SLICE") != NULL)
    return;
  setenv ("G_SLICE", "always-malloc", 1);
  execv ("/proc/self/exe", argv);
  /* Should exec fail, the slice allocator merely costs some memory. */
}

static gboolean
on_trim_memory (gpointer user_data)
{
  /* Replies such as GetManagedObjects for a thousand machines are built and
   * freed in one go; give that memory back instead of keeping it forever. */
  malloc_trim (0);
  return G_SOURCE_CONTINUE;
}

static void
on_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Daemon *daemon = user_data;

  /* Only now, with every machine's state known, do clients find us. */
  daemon->owner_id = g_bus_own_name_on_connection (daemon->connection, BUS_NAME,
                                                   G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                                   on_name_acquired, on_name_lost, daemon, NULL);
}

static void
on_stopping_script_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Daemon *daemon = user_data;

  g_main_loop_quit (daemon->loop);
}

static gboolean
on_quit_signal (gpointer user_data)
{
  Daemon *daemon = user_data;

  /* Machines keep running: a restarted marinad finds them again. A second
   * signal does not wait for the service-stopping script. */
  if (daemon->stopping)
    {
      g_main_loop_quit (daemon->loop);
      return G_SOURCE_CONTINUE;
    }
  daemon->stopping = TRUE;
  g_message ("Stopping; running machines are left running");
  marina_manager_run_host_script (daemon->manager, "service-stopping", on_stopping_script_done,
                                  daemon);
  return G_SOURCE_CONTINUE;
}

static void
on_connection_closed (GDBusConnection *connection, gboolean remote_peer_vanished,
                      GError *error, gpointer user_data)
{
  Daemon *daemon = user_data;

  g_printerr (_("marinad: lost the bus connection\n"));
  daemon->exit_code = EXIT_FAILURE;
  g_main_loop_quit (daemon->loop);
}

int
main (int argc, char **argv)
{
  Options options = { 0 };
  Daemon daemon = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  MarinaSettings *settings;

  use_plain_malloc (argv);
  marina_i18n_init ();
  if (!parse_options (&argc, &argv, &options, &error) ||
      (settings = make_settings (&options, &error)) == NULL ||
      (connection = connect_bus (&options, &error)) == NULL)
    {
      g_printerr ("marinad: %s\n", error->message);
      return EXIT_FAILURE;
    }
  if (options.verbose)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  (void) marina_error_quark (); /* registers the D-Bus error names */
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  daemon.loop = g_main_loop_new (NULL, FALSE);
  daemon.manager = marina_manager_new (connection, settings);
  use_systemd (daemon.manager, settings->systemd_bus);
  daemon.connection = connection;
  g_signal_connect (connection, "closed", G_CALLBACK (on_connection_closed), &daemon);
  marina_manager_load_async (daemon.manager, on_loaded, &daemon);
  g_timeout_add_seconds (TRIM_INTERVAL_SECONDS, on_trim_memory, NULL);
  g_unix_signal_add (SIGTERM, on_quit_signal, &daemon);
  g_unix_signal_add (SIGINT, on_quit_signal, &daemon);
  g_main_loop_run (daemon.loop);
  if (daemon.owner_id)
    g_bus_unown_name (daemon.owner_id);
  g_dbus_connection_flush_sync (connection, NULL, NULL);
  g_clear_object (&daemon.manager);
  g_main_loop_unref (daemon.loop);
  return daemon.exit_code;
}
