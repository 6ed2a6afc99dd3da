/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-manager"
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <unistd.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "marina-disks.h"
#include "marina-error.h"
#include "marina-event-log.h"
#include "marina-image.h"
#include "marina-machine.h"
#include "marina-manager.h"
#include "marina-network.h"
#include "marina-scripts.h"
#include "marina-storage.h"

/* The root object: owns the machines, the jobs and the event log, and
 * exports them all through one ObjectManager at /org/marinavm/Marina1. */

#define JOB_LINGER_SECONDS 60

struct _MarinaManager {
  MarinaDBusManagerSkeleton parent_instance;

  GDBusConnection *connection;
  GDBusObjectManagerServer *object_manager;
  MarinaSettings *settings;
  MarinaEventLog *event_log;
  MarinaMetrics *metrics;
  MarinaCgroups *cgroups;
  MarinaAuthorizer *authorizer;
  GHashTable *scripts;  /* host event → script path */
  GHashTable *machines; /* id → MarinaMachine */
  MarinaDisks *disks;
  GHashTable *networks; /* id → MarinaNetwork */
  guint next_job_id;
};

static void marina_manager_iface_init (MarinaDBusManagerIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MarinaManager, marina_manager, MARINA_DBUS_TYPE_MANAGER_SKELETON,
                               G_IMPLEMENT_INTERFACE (MARINA_DBUS_TYPE_MANAGER,
                                                      marina_manager_iface_init))

void
marina_settings_free (MarinaSettings *settings)
{
  g_free (settings->state_dir);
  g_free (settings->runtime_dir);
  g_free (settings->qemu_binary);
  g_free (settings->storage_daemon);
  g_free (settings->accelerator);
  g_free (settings->cgroup_fs);
  g_free (settings->cgroup_name);
  g_free (settings->systemd_bus);
  g_free (settings->metrics_socket);
  g_free (settings->console_tls_dir);
  g_free (settings->qemu_img);
  g_free (settings->storage_dir);
  g_strfreev (settings->storage_paths);
  g_free (settings);
}

/* ---- services for machines -------------------------------------------------- */

MarinaAuthorizer *
marina_manager_get_authorizer (MarinaManager *self)
{
  return self->authorizer;
}

static gboolean
qemu_uid_in_use (MarinaManager *self, uid_t uid)
{
  GHashTableIter iter;
  gpointer machine;

  if (getpwuid (uid) != NULL)
    return TRUE;  /* an account of the host's, never ours to hand out */
  g_hash_table_iter_init (&iter, self->machines);
  while (g_hash_table_iter_next (&iter, NULL, &machine))
    if (marina_machine_get_qemu_uid (machine) == uid)
      return TRUE;
  return FALSE;
}

/* The lowest uid of Marina's range that no running QEMU has. */
uid_t
marina_manager_allocate_qemu_uid (MarinaManager *self, GError **error)
{
  const MarinaSettings *settings = self->settings;

  for (guint i = 0; i < settings->qemu_uid_count; i++)
    {
      uid_t uid = settings->qemu_uid_base + i;
      if (!qemu_uid_in_use (self, uid))
        return uid;
    }
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_INSUFFICIENT_RESOURCES,
               _("All %u uids for confined QEMUs (from %u, [qemu] uid-base and uid-count in "
                 "marina.conf) are taken"), settings->qemu_uid_count, settings->qemu_uid_base);
  return 0;
}

MarinaMachine *
marina_manager_find_machine_path (MarinaManager *self, const char *object_path)
{
  const char *prefix = MARINA_OBJECT_ROOT "/Machine/";

  if (object_path == NULL || !g_str_has_prefix (object_path, prefix))
    return NULL;
  return g_hash_table_lookup (self->machines, object_path + strlen (prefix));
}

static GPtrArray *
network_access (MarinaManager *self, const char *object_path, char **description)
{
  MarinaNetwork *network = g_hash_table_lookup (self->networks,
                                                object_path + strlen (MARINA_NETWORK_PATH_PREFIX));

  if (network == NULL)
    return NULL;
  if (description)
    *description = g_strdup_printf ("network '%s'", marina_network_get_config (network)->name);
  return g_ptr_array_ref (marina_network_get_access (network));
}

static GPtrArray *
disk_access (MarinaManager *self, const char *object_path, char **description)
{
  MarinaDisk *disk = marina_disks_lookup (self->disks, object_path);

  if (description)
    *description = g_strdup_printf ("disk %s", marina_disk_get_path (disk));
  return g_ptr_array_ref (marina_disk_get_access (disk));
}

/* The authorizer's view of an object: a machine or network answers for
 * itself, a job for the object it works on. */
static GPtrArray *
lookup_access (const char *object_path, char **description, gpointer user_data)
{
  MarinaManager *self = user_data;
  g_autoptr(GDBusObject) object =
    g_dbus_object_manager_get_object (G_DBUS_OBJECT_MANAGER (self->object_manager), object_path);
  g_autoptr(MarinaDBusJob) job = object ? marina_dbus_object_get_job (MARINA_DBUS_OBJECT (object))
                                        : NULL;
  MarinaMachine *machine;

  if (job != NULL)
    object_path = marina_dbus_job_get_object (job);
  if (object_path && g_str_has_prefix (object_path, MARINA_NETWORK_PATH_PREFIX))
    return network_access (self, object_path, description);
  if (object_path && marina_disks_lookup (self->disks, object_path))
    return disk_access (self, object_path, description);
  machine = marina_manager_find_machine_path (self, object_path);
  if (machine == NULL)
    return NULL;
  if (description)
    *description = g_strdup_printf ("machine '%s'", marina_machine_get_config (machine)->name);
  return g_ptr_array_ref (marina_machine_get_access (machine));
}

const MarinaSettings *
marina_manager_get_settings (MarinaManager *self)
{
  return self->settings;
}

MarinaMetrics *
marina_manager_get_metrics (MarinaManager *self)
{
  return self->metrics;
}

guint64
marina_manager_get_host_memory_mib (MarinaManager *self)
{
  return (guint64) sysconf (_SC_PHYS_PAGES) * (guint64) sysconf (_SC_PAGESIZE) / (1024 * 1024);
}

void
marina_manager_log (MarinaManager *self, const char *severity, const char *object_path,
                    const char *category, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  marina_event_log_add (self->event_log, severity, object_path, category, message);
}

static gboolean
unexport_job (gpointer user_data)
{
  MarinaJob *job = user_data;
  MarinaManager *self = g_object_get_data (G_OBJECT (job), "marina-manager");
  const char *path = g_dbus_interface_skeleton_get_object_path (G_DBUS_INTERFACE_SKELETON (job));

  g_dbus_object_manager_server_unexport (self->object_manager, path);
  return G_SOURCE_REMOVE;
}

static void
on_job_finished (MarinaJob *job, MarinaManager *self)
{
  /* Keep a finished job around for a while so that a script can still
   * Wait() for it or read its result. */
  g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, JOB_LINGER_SECONDS, unexport_job,
                              g_object_ref (job), g_object_unref);
}

const char *
marina_manager_add_job (MarinaManager *self, MarinaJob *job)
{
  g_autofree char *path = g_strdup_printf (MARINA_OBJECT_ROOT "/Job/%u", ++self->next_job_id);
  g_autoptr(MarinaDBusObjectSkeleton) object = marina_dbus_object_skeleton_new (path);

  marina_dbus_object_skeleton_set_job (object, MARINA_DBUS_JOB (job));
  g_object_set_data (G_OBJECT (job), "marina-manager", self);
  g_signal_connect_object (job, "finished", G_CALLBACK (on_job_finished), self, 0);
  g_dbus_object_manager_server_export (self->object_manager, G_DBUS_OBJECT_SKELETON (object));
  return g_dbus_interface_skeleton_get_object_path (G_DBUS_INTERFACE_SKELETON (job));
}

gboolean
marina_manager_check_name_free (MarinaManager *self, const char *name, const char *except_id,
                                GError **error)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->machines);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const MarinaMachineConfig *config = marina_machine_get_config (value);
      if (g_strcmp0 (config->id, except_id) != 0 && g_str_equal (config->name, name))
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_EXISTS,
                            _("A machine named '%s' exists already (id %s); choose another name"),
                            name, config->id), FALSE;
    }
  return TRUE;
}

/* An image that does not exist yet is judged by its folder; one whose folder
 * is missing too can be opened by nobody, and is checked again at Start. */
static gboolean
check_image_confined (const char *const *roots, const char *path, GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *resolved = NULL;

  if (g_file_test (path, G_FILE_TEST_EXISTS) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    resolved = marina_storage_resolve_existing (roots, path, error);
  else if (g_file_test ((dir = g_path_get_dirname (path)), G_FILE_TEST_IS_DIR))
    resolved = marina_storage_resolve_existing (roots, dir, error);
  else
    return TRUE;
  return resolved != NULL;
}

/* A port's text file lies in storage as an image does (QEMU is given access
 * to it by path), and is none of the known disks: a guest's output must
 * never go into a disk image. A file whose folder is missing is checked
 * again at Start, which makes the file. */
static gboolean
check_port_file (MarinaManager *self, const char *port, const char *path, GError **error)
{
  const char *const *roots = (const char *const *) self->settings->storage_paths;
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *resolved = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK) &&
      !g_file_test (dir, G_FILE_TEST_IS_DIR))
    return TRUE;
  if (!(resolved = marina_storage_resolve_output (roots, path, FALSE, error)))
    return g_prefix_error (error, _("The %s file: "), port), FALSE;
  if (marina_disks_find_path (self->disks, resolved) || marina_disks_find_path (self->disks, path))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        _("The %s file '%s' is a disk image known to Marina; give the port a "
                          "text file of its own"), port, path), FALSE;
  return TRUE;
}

/**
 * marina_manager_check_storage:
 *
 * A machine's boot disk and CD/DVD image, like every image, lie in the
 * storage folders: QEMU is given access to them by path by a root service,
 * so a configuration naming /etc/shadow (or a link to it) is refused. So do
 * the text files of its COM2 and LPT1 ports.
 */
gboolean
marina_manager_check_storage (MarinaManager *self, const MarinaMachineConfig *config,
                              GError **error)
{
  const char *const images[] = { config->boot_disk, config->cdrom, config->floppy };
  const char *const *roots = (const char *const *) self->settings->storage_paths;

  for (guint i = 0; i < G_N_ELEMENTS (images); i++)
    if (images[i] && !check_image_confined (roots, images[i], error))
      return g_prefix_error (error, "Machine '%s': ", config->name), FALSE;
  if (config->boot_disk && !marina_image_check_qemu_reads (config->boot_disk, error))
    return g_prefix_error (error, "Machine '%s': ", config->name), FALSE;
  for (guint i = 0; i < config->drives->len; i++)
    {
      const char *path = ((MarinaDrive *) config->drives->pdata[i])->path;
      if (!check_image_confined (roots, path, error) ||
          !marina_image_check_qemu_reads (path, error))
        return g_prefix_error (error, "Machine '%s': ", config->name), FALSE;
    }
  if ((config->com2.path && !check_port_file (self, "COM2", config->com2.path, error)) ||
      (config->lpt1.path && !check_port_file (self, "LPT1", config->lpt1.path, error)))
    return g_prefix_error (error, "Machine '%s': ", config->name), FALSE;
  return TRUE;
}

static gboolean
check_not_a_parent (MarinaManager *self, const char *path, const MarinaMachineConfig *config,
                    GError **error)
{
  MarinaDisk *disk = marina_disks_find_path (self->disks, path);
  g_autofree char *children = NULL;

  if (disk == NULL || !marina_disks_is_parent (self->disks, disk))
    return TRUE;
  children = marina_disks_children_of (self->disks, disk);
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_STATE,
                      "Machine '%s' would write to '%s', the parent of %s: a parent with "
                      "children is read-only. Boot from a child, turn on undo disks, or merge "
                      "the children first", config->name, path, children), FALSE;
}

/* A guest writing to a parent would change what its children read. With
 * undo disks the boot disk is only read. */
gboolean
marina_manager_check_no_parents (MarinaManager *self, const MarinaMachineConfig *config,
                                 GError **error)
{
  if (config->boot_disk && !config->undo_disks &&
      !check_not_a_parent (self, config->boot_disk, config, error))
    return FALSE;
  for (guint i = 0; i < config->drives->len; i++)
    if (!check_not_a_parent (self, ((MarinaDrive *) config->drives->pdata[i])->path, config,
                             error))
      return FALSE;
  return TRUE;
}

static guint64
committed_memory_mib (MarinaManager *self, const char *except_id)
{
  GHashTableIter iter;
  gpointer value;
  guint64 total = 0;

  g_hash_table_iter_init (&iter, self->machines);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const MarinaMachineConfig *config = marina_machine_get_config (value);
      if (marina_machine_is_active (value) && g_strcmp0 (config->id, except_id) != 0)
        total += config->memory_mib + self->settings->qemu_overhead_mib;
    }
  return total;
}

/* No overcommit: a machine starts only if its memory and QEMU's overhead fit
 * beside the running machines in what the host can give (all but a reserve). */
gboolean
marina_manager_check_memory (MarinaManager *self, const char *id, GError **error)
{
  const MarinaMachineConfig *config = marina_machine_get_config (g_hash_table_lookup (self->machines, id));
  guint64 host = marina_manager_get_host_memory_mib (self);
  guint64 capacity = host > self->settings->memory_reserve_mib ? host - self->settings->memory_reserve_mib : 0;
  guint64 committed = committed_memory_mib (self, id);
  guint64 free_mib = capacity > committed ? capacity - committed : 0;
  guint64 needed = config->memory_mib + self->settings->qemu_overhead_mib;

  if (needed <= free_mib)
    return TRUE;
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_INSUFFICIENT_RESOURCES,
               "Machine '%s' needs %" G_GUINT64_FORMAT " MiB (%" G_GUINT64_FORMAT " MiB of memory "
               "and %" G_GUINT64_FORMAT " MiB for QEMU) but only %" G_GUINT64_FORMAT " MiB are free: "
               "running machines hold %" G_GUINT64_FORMAT " MiB of the host's %" G_GUINT64_FORMAT
               " MiB and %" G_GUINT64_FORMAT " MiB are kept for the host ([host] memory-reserve-mib)",
               config->name, needed, config->memory_mib, self->settings->qemu_overhead_mib, free_mib,
               committed, host, self->settings->memory_reserve_mib);
  return FALSE;
}

/* Reserves are admission-controlled: all running machines' reserves together
 * never promise more than the host's CPUs. */
gboolean
marina_manager_check_cpu_reserve (MarinaManager *self, const char *id, guint vcpus, guint reserve,
                                  GError **error)
{
  GHashTableIter iter;
  gpointer value;
  guint64 capacity = 100 * (guint64) g_get_num_processors ();
  guint64 reserved = 0;
  guint64 wanted = (guint64) reserve * vcpus;

  g_hash_table_iter_init (&iter, self->machines);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const MarinaMachineConfig *config = marina_machine_get_config (value);
      if (marina_machine_is_active (value) && g_strcmp0 (config->id, id) != 0)
        reserved += (guint64) config->cpu_reserve * config->vcpus;
    }
  if (reserved + wanted <= capacity)
    return TRUE;
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_INSUFFICIENT_RESOURCES,
               "A CPU reserve of %u%% for each of %u virtual processors (%" G_GUINT64_FORMAT
               "%% of a CPU) does not fit: running machines reserve %" G_GUINT64_FORMAT
               "%% of the host's %" G_GUINT64_FORMAT "%% (%u CPUs)",
               reserve, vcpus, wanted, reserved, capacity, g_get_num_processors ());
  return FALSE;
}

MarinaCgroups *
marina_manager_get_cgroups (MarinaManager *self)
{
  return self->cgroups;
}

static GPtrArray *
machines_as_array (MarinaManager *self)
{
  GPtrArray *machines = g_ptr_array_new_full (g_hash_table_size (self->machines), NULL);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->machines);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (machines, value);
  return machines;
}

static gboolean
check_disk_idle (MarinaManager *self, const char *path, GError **error)
{
  MarinaDisk *disk = marina_disks_find_path (self->disks, path);

  if (disk == NULL || (!marina_disk_is_busy (disk) && !marina_disk_get_task (disk)))
    return TRUE;
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                      "Disk '%s' is %s; wait for its job to end (or cancel it)", path,
                      marina_disk_is_busy (disk) ? "being created" : marina_disk_get_task (disk)),
         FALSE;
}

/**
 * marina_manager_check_disks_idle:
 *
 * A machine starts only when no job (a merge, a compaction) is rewriting
 * one of its disks.
 */
gboolean
marina_manager_check_disks_idle (MarinaManager *self, const MarinaMachineConfig *config,
                                 GError **error)
{
  const char *const images[] = { config->boot_disk, config->cdrom, config->floppy };

  for (guint i = 0; i < G_N_ELEMENTS (images); i++)
    if (images[i] && !check_disk_idle (self, images[i], error))
      return g_prefix_error (error, "Machine '%s': ", config->name), FALSE;
  for (guint i = 0; i < config->drives->len; i++)
    if (!check_disk_idle (self, ((MarinaDrive *) config->drives->pdata[i])->path, error))
      return g_prefix_error (error, "Machine '%s': ", config->name), FALSE;
  return TRUE;
}

/* The known disk at @path (imported if need be), for a machine attaching it. */
MarinaDisk *
marina_manager_import_disk (MarinaManager *self, const char *path, GError **error)
{
  return marina_disks_import (self->disks, path, error);
}

MarinaDisk *
marina_manager_lookup_disk (MarinaManager *self, const char *object_path)
{
  return marina_disks_lookup (self->disks, object_path);
}

/* After a machine came, went or changed its configuration: its disks are
 * known disks, attached to it. */
void
marina_manager_sync_disks (MarinaManager *self)
{
  g_autoptr(GPtrArray) machines = machines_as_array (self);

  marina_disks_sync (self->disks, machines);
}

void
marina_manager_forget_machine (MarinaManager *self, const char *id)
{
  g_autofree char *path = g_strconcat (MARINA_MACHINE_PATH_PREFIX, id, NULL);

  g_dbus_object_manager_server_unexport (self->object_manager, path);
  g_hash_table_remove (self->machines, id);
  marina_manager_sync_disks (self);
}

/* ---- machines ------------------------------------------------------------------ */

static char *
machine_dir_for (MarinaManager *self, const char *id)
{
  return g_build_filename (self->settings->state_dir, "machines", id, NULL);
}

static MarinaMachine *
add_machine (MarinaManager *self, MarinaMachineConfig *config, const char *config_path)
{
  g_autofree char *dir = machine_dir_for (self, config->id);
  g_autofree char *id = g_strdup (config->id);
  MarinaMachine *machine = marina_machine_new (self, config, dir, config_path);
  g_autoptr(MarinaDBusObjectSkeleton) object =
    marina_dbus_object_skeleton_new (marina_machine_get_object_path (machine));

  marina_dbus_object_skeleton_set_machine (object, MARINA_DBUS_MACHINE (machine));
  g_dbus_object_manager_server_export (self->object_manager, G_DBUS_OBJECT_SKELETON (object));
  g_hash_table_insert (self->machines, g_steal_pointer (&id), machine);
  marina_metrics_add_machine (self->metrics, marina_machine_get_metrics (machine));
  marina_manager_sync_disks (self);
  return machine;
}

static gboolean
make_machine_dir (MarinaManager *self, const char *id, GError **error)
{
  g_autofree char *dir = machine_dir_for (self, id);

  if (g_mkdir_with_parents (dir, 0750) < 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                        _("Cannot create the machine directory %s: %s"), dir,
                        g_strerror (errno)), FALSE;
  return TRUE;
}

/* Stores a new machine's configuration in the state directory and publishes
 * it. On failure nothing is left behind. */
static MarinaMachine *
create_machine (MarinaManager *self, MarinaMachineConfig *config, GError **error)
{
  g_autoptr(MarinaMachineConfig) owned = config;
  g_autofree char *dir = machine_dir_for (self, config->id);
  g_autofree char *path = g_build_filename (dir, "config.xml", NULL);
  g_autofree char *xml = NULL;
  MarinaMachine *machine;

  if (!marina_machine_config_validate (config, marina_manager_get_host_memory_mib (self), error) ||
      !marina_manager_check_name_free (self, config->name, NULL, error) ||
      !marina_manager_check_macs_free (self, config, error) ||
      !marina_manager_check_storage (self, config, error) ||
      !marina_machine_config_probe_formats (config, error) ||
      !make_machine_dir (self, config->id, error))
    return NULL;
  xml = marina_machine_config_to_xml (config);
  if (!g_file_set_contents_full (path, xml, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0640, error))
    {
      g_rmdir (dir);
      return NULL;
    }
  machine = add_machine (self, g_steal_pointer (&owned), path);
  marina_manager_log (self, "info", marina_machine_get_object_path (machine), "config",
                      "Machine '%s' created", marina_machine_get_config (machine)->name);
  return machine;
}

static gboolean
return_error (GDBusMethodInvocation *invocation, GError *error)
{
  g_dbus_method_invocation_take_error (invocation, error);
  return TRUE;
}

/* A non-root caller who makes a machine may do everything with it. */
static void
grant_creator (MarinaManager *self, GDBusMethodInvocation *invocation,
               MarinaMachineConfig *config)
{
  uid_t uid;
  struct passwd *user;

  if (!marina_authorizer_get_caller_uid (invocation, &uid) || uid == 0)
    return;
  user = getpwuid (uid);
  if (user == NULL)
    return;
  for (guint i = 0; i < config->access->len; i++)
    {
      MarinaAccessEntry *entry = g_ptr_array_index (config->access, i);
      if (g_str_equal (entry->kind, "user") && g_str_equal (entry->name, user->pw_name))
        {
          g_free (entry->level);
          entry->level = g_strdup ("full");
          return;
        }
    }
  marina_access_list_add (config->access, "user", user->pw_name, "full");
}

static gboolean
handle_create_machine (MarinaDBusManager *iface, GDBusMethodInvocation *invocation,
                       const char *name, GVariant *options)
{
  MarinaManager *self = MARINA_MANAGER (iface);
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_new ();
  GError *error = NULL;
  MarinaMachine *machine;

  if (!marina_validate_machine_name (name, &error) ||
      !marina_machine_config_apply_options (config, options, &error))
    return return_error (invocation, error);
  g_free (config->name);
  config->name = g_strdup (name);
  grant_creator (self, invocation, config);
  machine = create_machine (self, g_steal_pointer (&config), &error);
  if (machine == NULL)
    return return_error (invocation, error);
  marina_dbus_manager_complete_create_machine (iface, invocation,
                                               marina_machine_get_object_path (machine));
  return TRUE;
}

static gboolean
handle_define_machine (MarinaDBusManager *iface, GDBusMethodInvocation *invocation,
                       const char *xml)
{
  MarinaManager *self = MARINA_MANAGER (iface);
  GError *error = NULL;
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_from_xml (xml, -1, &error);
  MarinaMachine *machine;

  if (config == NULL)
    return return_error (invocation, error);
  if (g_hash_table_contains (self->machines, config->id))
    {
      /* A copy of an existing machine: it gets an identity of its own. */
      g_free (config->id);
      config->id = marina_machine_id_new ();
    }
  grant_creator (self, invocation, config);
  machine = create_machine (self, g_steal_pointer (&config), &error);
  if (machine == NULL)
    return return_error (invocation, error);
  marina_dbus_manager_complete_define_machine (iface, invocation,
                                               marina_machine_get_object_path (machine));
  return TRUE;
}

static gboolean
link_registered_config (MarinaManager *self, const MarinaMachineConfig *config,
                        const char *config_path, GError **error)
{
  g_autofree char *dir = machine_dir_for (self, config->id);
  g_autofree char *own = g_build_filename (dir, "config.xml", NULL);
  g_autofree char *marker = g_build_filename (dir, "unregistered", NULL);
  g_autofree char *link = g_build_filename (dir, "registered-path", NULL);

  if (!make_machine_dir (self, config->id, error))
    return FALSE;
  g_unlink (marker);
  /* A configuration elsewhere stays where it is; we remember its path. */
  if (g_str_equal (own, config_path))
    return TRUE;
  return g_file_set_contents_full (link, config_path, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                   0640, error);
}

static MarinaMachine *
register_machine (MarinaManager *self, const char *config_path, GError **error)
{
  g_autoptr(MarinaMachineConfig) config = NULL;
  MarinaMachine *machine;

  if (!g_path_is_absolute (config_path))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        _("'%s' is not an absolute path"), config_path), NULL;
  config = marina_machine_config_load_file (config_path, error);
  if (config == NULL)
    return NULL;
  if (g_hash_table_contains (self->machines, config->id))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_EXISTS,
                        _("A machine with id %s is registered already"), config->id), NULL;
  if (!marina_machine_config_validate (config, marina_manager_get_host_memory_mib (self), error) ||
      !marina_manager_check_name_free (self, config->name, NULL, error) ||
      !marina_manager_check_storage (self, config, error) ||
      !link_registered_config (self, config, config_path, error))
    return NULL;
  machine = add_machine (self, g_steal_pointer (&config), config_path);
  marina_manager_log (self, "info", marina_machine_get_object_path (machine), "config",
                      "Machine '%s' registered from %s",
                      marina_machine_get_config (machine)->name, config_path);
  return machine;
}

static gboolean
handle_register_machine (MarinaDBusManager *iface, GDBusMethodInvocation *invocation,
                         const char *config_path)
{
  GError *error = NULL;
  MarinaMachine *machine = register_machine (MARINA_MANAGER (iface), config_path, &error);

  if (machine == NULL)
    return return_error (invocation, error);
  marina_dbus_manager_complete_register_machine (iface, invocation,
                                                 marina_machine_get_object_path (machine));
  return TRUE;
}

static int
compare_machine_names (gconstpointer a, gconstpointer b)
{
  MarinaMachine *ma = *(MarinaMachine **) a;
  MarinaMachine *mb = *(MarinaMachine **) b;

  return g_utf8_collate (marina_machine_get_config (ma)->name,
                         marina_machine_get_config (mb)->name);
}

static gboolean
handle_list_machines (MarinaDBusManager *iface, GDBusMethodInvocation *invocation)
{
  MarinaManager *self = MARINA_MANAGER (iface);
  g_autoptr(GPtrArray) machines = machines_as_array (self);
  g_autofree const char **paths = g_new0 (const char *, machines->len + 1);

  g_ptr_array_sort (machines, compare_machine_names);
  for (guint i = 0; i < machines->len; i++)
    paths[i] = marina_machine_get_object_path (machines->pdata[i]);
  marina_dbus_manager_complete_list_machines (iface, invocation, paths);
  return TRUE;
}

static MarinaMachine *
find_machine (MarinaManager *self, const char *name_or_id)
{
  GHashTableIter iter;
  gpointer value;
  MarinaMachine *machine = g_hash_table_lookup (self->machines, name_or_id);

  if (machine)
    return machine;
  g_hash_table_iter_init (&iter, self->machines);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_str_equal (marina_machine_get_config (value)->name, name_or_id))
      return value;
  return NULL;
}

static gboolean
handle_find_machine (MarinaDBusManager *iface, GDBusMethodInvocation *invocation,
                     const char *name_or_id)
{
  MarinaMachine *machine = find_machine (MARINA_MANAGER (iface), name_or_id);

  if (machine == NULL)
    return return_error (invocation, g_error_new (MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                                                  _("No machine is named '%s' or has that id"),
                                                  name_or_id));
  marina_dbus_manager_complete_find_machine (iface, invocation,
                                             marina_machine_get_object_path (machine));
  return TRUE;
}

static gboolean
handle_get_events (MarinaDBusManager *iface, GDBusMethodInvocation *invocation,
                   GVariant *filter)
{
  MarinaManager *self = MARINA_MANAGER (iface);
  GError *error = NULL;
  GVariant *events = marina_event_log_query (self->event_log, filter, &error);

  if (events == NULL)
    return return_error (invocation, error);
  marina_dbus_manager_complete_get_events (iface, invocation, events);
  return TRUE;
}

typedef struct {
  GDBusMethodInvocation *invocation;
  guint pending;
} StopAll;

static void
on_machine_stopped_for_host (GObject *source, GAsyncResult *result, gpointer user_data)
{
  StopAll *stop = user_data;

  if (--stop->pending > 0)
    return;
  g_dbus_method_invocation_return_value (stop->invocation, NULL);
  g_free (stop);
}

static gboolean
handle_stop_machines (MarinaDBusManager *iface, GDBusMethodInvocation *invocation)
{
  MarinaManager *self = MARINA_MANAGER (iface);
  g_autoptr(GPtrArray) machines = machines_as_array (self);
  StopAll *stop = g_new0 (StopAll, 1);

  marina_manager_log (self, "info", MARINA_MANAGER_PATH, "service",
                      "Stopping all machines by their stop action");
  stop->invocation = invocation;
  stop->pending = machines->len + 1; /* +1 so that it cannot finish while we loop */
  for (guint i = 0; i < machines->len; i++)
    marina_machine_stop_for_host (machines->pdata[i], on_machine_stopped_for_host, stop);
  on_machine_stopped_for_host (NULL, NULL, stop);
  return TRUE;
}

static gboolean
handle_watch_metrics (MarinaDBusManager *iface, GDBusMethodInvocation *invocation)
{
  marina_metrics_watch (MARINA_MANAGER (iface)->metrics,
                        g_dbus_method_invocation_get_connection (invocation),
                        g_dbus_method_invocation_get_sender (invocation));
  marina_dbus_manager_complete_watch_metrics (iface, invocation);
  return TRUE;
}

static gboolean
handle_unwatch_metrics (MarinaDBusManager *iface, GDBusMethodInvocation *invocation)
{
  GError *error = NULL;

  if (!marina_metrics_unwatch (MARINA_MANAGER (iface)->metrics,
                               g_dbus_method_invocation_get_sender (invocation), &error))
    return return_error (invocation, error);
  marina_dbus_manager_complete_unwatch_metrics (iface, invocation);
  return TRUE;
}

/* ---- disks ------------------------------------------------------------------------ */

static gboolean
handle_create_disk (MarinaDBusManager *iface, GDBusMethodInvocation *invocation,
                    const char *path, GVariant *options)
{
  MarinaManager *self = MARINA_MANAGER (iface);
  GError *error = NULL;
  MarinaJob *job = NULL;
  MarinaDisk *disk = marina_disks_create (self->disks, path, options, &job, &error);

  if (disk == NULL)
    return return_error (invocation, error);
  marina_dbus_manager_complete_create_disk (iface, invocation, marina_disk_get_object_path (disk),
                                            marina_manager_add_job (self, job));
  return TRUE;
}

static gboolean
handle_import_disk (MarinaDBusManager *iface, GDBusMethodInvocation *invocation,
                    const char *path)
{
  GError *error = NULL;
  MarinaDisk *disk = marina_disks_import (MARINA_MANAGER (iface)->disks, path, &error);

  if (disk == NULL)
    return return_error (invocation, error);
  marina_dbus_manager_complete_import_disk (iface, invocation, marina_disk_get_object_path (disk));
  return TRUE;
}

static gboolean
handle_list_disks (MarinaDBusManager *iface, GDBusMethodInvocation *invocation)
{
  g_autoptr(GPtrArray) disks = marina_disks_list (MARINA_MANAGER (iface)->disks);
  g_autofree const char **paths = g_new0 (const char *, disks->len + 1);

  for (guint i = 0; i < disks->len; i++)
    paths[i] = marina_disk_get_object_path (disks->pdata[i]);
  marina_dbus_manager_complete_list_disks (iface, invocation, paths);
  return TRUE;
}

/* ---- host event scripts ----------------------------------------------------------- */

static char *
host_scripts_path (MarinaManager *self)
{
  return g_build_filename (self->settings->state_dir, "host-scripts.conf", NULL);
}

static void
load_host_scripts (MarinaManager *self)
{
  g_autofree char *path = host_scripts_path (self);
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_auto(GStrv) events = NULL;

  if (!g_key_file_load_from_file (keyfile, path, G_KEY_FILE_NONE, NULL))
    return;
  events = g_key_file_get_keys (keyfile, "scripts", NULL, NULL);
  for (guint i = 0; events && events[i]; i++)
    if (g_strv_contains (marina_host_script_events, events[i]))
      g_hash_table_insert (self->scripts, g_strdup (events[i]),
                           g_key_file_get_string (keyfile, "scripts", events[i], NULL));
}

static gboolean
store_host_scripts (MarinaManager *self, GHashTable *scripts, GError **error)
{
  g_autofree char *path = host_scripts_path (self);
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autofree char *text = NULL;
  GHashTableIter iter;
  gpointer event, script;

  g_hash_table_iter_init (&iter, scripts);
  while (g_hash_table_iter_next (&iter, &event, &script))
    g_key_file_set_string (keyfile, "scripts", event, script);
  text = g_key_file_to_data (keyfile, NULL, NULL);
  if (!g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0640, error))
    return FALSE;
  g_hash_table_unref (self->scripts);
  self->scripts = g_hash_table_ref (scripts);
  return TRUE;
}

static gboolean
change_host_script (MarinaManager *self, const char *event, const char *path, GError **error)
{
  g_autoptr(GHashTable) scripts = marina_scripts_copy (self->scripts);

  return marina_scripts_change (scripts, marina_host_script_events, event, path, "the service",
                                error) &&
         store_host_scripts (self, scripts, error);
}

static gboolean
handle_attach_script (MarinaDBusManager *iface, GDBusMethodInvocation *invocation,
                      const char *event, const char *path)
{
  GError *error = NULL;

  if (!change_host_script (MARINA_MANAGER (iface), event, path, &error))
    return return_error (invocation, error);
  marina_manager_log (MARINA_MANAGER (iface), "info", MARINA_MANAGER_PATH, "config",
                      "Script %s attached to the service event '%s'", path, event);
  marina_dbus_manager_complete_attach_script (iface, invocation);
  return TRUE;
}

static gboolean
handle_remove_script (MarinaDBusManager *iface, GDBusMethodInvocation *invocation,
                      const char *event)
{
  GError *error = NULL;

  if (!change_host_script (MARINA_MANAGER (iface), event, NULL, &error))
    return return_error (invocation, error);
  marina_manager_log (MARINA_MANAGER (iface), "info", MARINA_MANAGER_PATH, "config",
                      "Script removed from the service event '%s'", event);
  marina_dbus_manager_complete_remove_script (iface, invocation);
  return TRUE;
}

static gboolean
handle_get_access (MarinaDBusManager *iface, GDBusMethodInvocation *invocation)
{
  MarinaManager *self = MARINA_MANAGER (iface);
  GPtrArray *access = marina_authorizer_get_server_access (self->authorizer);

  marina_dbus_manager_complete_get_access (iface, invocation,
                                           marina_access_list_to_variant (access));
  return TRUE;
}

static gboolean
handle_set_access (MarinaDBusManager *iface, GDBusMethodInvocation *invocation,
                   GVariant *entries)
{
  MarinaManager *self = MARINA_MANAGER (iface);
  g_autoptr(GPtrArray) access = marina_access_list_from_variant (entries);
  GError *error = NULL;

  if (!marina_authorizer_set_server_access (self->authorizer, access, &error))
    return return_error (invocation, error);
  marina_manager_log (self, "info", MARINA_MANAGER_PATH, "access",
                      "server access list changed (%u entries)", access->len);
  marina_dbus_manager_complete_set_access (iface, invocation);
  return TRUE;
}

static gboolean
handle_list_scripts (MarinaDBusManager *iface, GDBusMethodInvocation *invocation)
{
  marina_dbus_manager_complete_list_scripts (iface, invocation,
                                             marina_scripts_to_variant (MARINA_MANAGER (iface)->scripts));
  return TRUE;
}

static void
report_host_script (gpointer user_data, const char *severity, const char *message)
{
  GTask *task = user_data;
  MarinaManager *self = g_task_get_source_object (task);

  marina_manager_log (self, severity, MARINA_MANAGER_PATH, "script", "%s", message);
  g_task_return_boolean (task, TRUE);
}

/* Completes once the script (if any) has ended and been reported. */
void
marina_manager_run_host_script (MarinaManager *self, const char *event,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  const char *path = g_hash_table_lookup (self->scripts, event);
  g_autofree char *event_variable = g_strdup_printf ("MARINA_EVENT=%s", event);
  g_autofree char *count = g_strdup_printf ("MARINA_MACHINES=%u", g_hash_table_size (self->machines));
  const char *const environment[] = { event_variable, count, NULL };

  if (path == NULL)
    return g_task_return_boolean (task, TRUE);
  marina_script_run (path, event, environment, self->settings->script_timeout,
                     report_host_script, G_OBJECT (task));
}

/* ---- networks ------------------------------------------------------------------- */

static char *
networks_dir (MarinaManager *self)
{
  return g_build_filename (self->settings->state_dir, "networks", NULL);
}

static MarinaNetwork *
add_network (MarinaManager *self, MarinaNetworkConfig *config)
{
  g_autofree char *id = g_strdup (config->id);
  MarinaNetwork *network = marina_network_new (self, config, self->settings->state_dir);
  g_autoptr(MarinaDBusObjectSkeleton) object =
    marina_dbus_object_skeleton_new (marina_network_get_object_path (network));

  marina_dbus_object_skeleton_set_network (object, MARINA_DBUS_NETWORK (network));
  g_dbus_object_manager_server_export (self->object_manager, G_DBUS_OBJECT_SKELETON (object));
  g_hash_table_insert (self->networks, g_steal_pointer (&id), network);
  return network;
}

void
marina_manager_forget_network (MarinaManager *self, const char *id)
{
  g_autofree char *path = g_strconcat (MARINA_NETWORK_PATH_PREFIX, id, NULL);

  g_dbus_object_manager_server_unexport (self->object_manager, path);
  g_hash_table_remove (self->networks, id);
}

MarinaNetwork *
marina_manager_get_network (MarinaManager *self, const char *id)
{
  return id ? g_hash_table_lookup (self->networks, id) : NULL;
}

gboolean
marina_manager_check_network_name_free (MarinaManager *self, const char *name,
                                        const char *except_id, GError **error)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->networks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const MarinaNetworkConfig *config = marina_network_get_config (value);
      if (g_strcmp0 (config->id, except_id) != 0 && g_str_equal (config->name, name))
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_EXISTS,
                            "A network named '%s' exists already (id %s); choose another name",
                            name, config->id), FALSE;
    }
  return TRUE;
}

/* Names of the machines with an adapter on network @id (only those whose
 * QEMU runs, if @running_only), sorted. */
GStrv
marina_manager_network_users (MarinaManager *self, const char *id, gboolean running_only)
{
  g_autoptr(GPtrArray) machines = machines_as_array (self);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();

  g_ptr_array_sort (machines, compare_machine_names);
  for (guint i = 0; i < machines->len; i++)
    {
      const MarinaMachineConfig *config = marina_machine_get_config (machines->pdata[i]);
      gboolean on_it = FALSE;
      for (guint j = 0; j < config->nics->len; j++)
        on_it |= g_strcmp0 (((MarinaNic *) config->nics->pdata[j])->network, id) == 0;
      if (on_it && (!running_only || marina_machine_is_active (machines->pdata[i])))
        g_ptr_array_add (names, g_strdup (config->name));
    }
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* Machine paths per network, for each network's AttachedMachines. */
void
marina_manager_refresh_network_users (MarinaManager *self)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, self->networks);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_autoptr(GPtrArray) machines = machines_as_array (self);
      g_autoptr(GPtrArray) paths = g_ptr_array_new ();
      g_ptr_array_sort (machines, compare_machine_names);
      for (guint i = 0; i < machines->len; i++)
        {
          const MarinaMachineConfig *config = marina_machine_get_config (machines->pdata[i]);
          for (guint j = 0; j < config->nics->len; j++)
            if (g_strcmp0 (((MarinaNic *) config->nics->pdata[j])->network, key) == 0)
              {
                g_ptr_array_add (paths, (gpointer) marina_machine_get_object_path (machines->pdata[i]));
                break;
              }
        }
      g_ptr_array_add (paths, NULL);
      marina_network_set_attached (value, (const char *const *) paths->pdata);
    }
}

/* The machine that has an adapter with @mac, other than @except_id, or NULL. */
const char *
marina_manager_mac_owner (MarinaManager *self, const char *mac, const char *except_id)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->machines);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const MarinaMachineConfig *config = marina_machine_get_config (value);
      if (g_strcmp0 (config->id, except_id) == 0)
        continue;
      for (guint j = 0; j < config->nics->len; j++)
        if (g_str_equal (((MarinaNic *) config->nics->pdata[j])->mac, mac))
          return config->name;
    }
  return NULL;
}

gboolean
marina_manager_check_macs_free (MarinaManager *self, const MarinaMachineConfig *config,
                                GError **error)
{
  for (guint i = 0; i < config->nics->len; i++)
    {
      const char *mac = ((MarinaNic *) config->nics->pdata[i])->mac;
      const char *owner = marina_manager_mac_owner (self, mac, config->id);
      if (owner != NULL)
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_EXISTS,
                            "The MAC address %s belongs to an adapter of machine '%s' already; "
                            "MAC addresses are unique on the host", mac, owner), FALSE;
    }
  return TRUE;
}

/* The first 10.77.N.0/24 no other network of ours has. */
static guint
free_subnet_number (MarinaManager *self)
{
  for (guint n = 1; n < 255; n++)
    {
      g_autofree char *address = g_strdup_printf ("10.77.%u.1", n);
      GHashTableIter iter;
      gpointer value;
      gboolean taken = FALSE;

      g_hash_table_iter_init (&iter, self->networks);
      while (!taken && g_hash_table_iter_next (&iter, NULL, &value))
        taken = marina_network_config_same_subnet (marina_network_get_config (value), address);
      if (!taken)
        return n;
    }
  return 255;
}

static gboolean
check_kind_allowed (MarinaManager *self, const MarinaNetworkConfig *config, GError **error)
{
  if (self->settings->user_networking && config->kind != MARINA_NETWORK_NAT)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        "A %s network needs bridges and taps, which only the system service "
                        "(marinad as root, without --session) can make; here only nat networks "
                        "work, through QEMU's user-mode networking",
                        marina_network_kind_to_string (config->kind)), FALSE;
  return TRUE;
}

static gboolean
check_subnet_free (MarinaManager *self, const MarinaNetworkConfig *config, GError **error)
{
  GHashTableIter iter;
  gpointer value;

  if (config->address == NULL)
    return TRUE;
  g_hash_table_iter_init (&iter, self->networks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const MarinaNetworkConfig *other = marina_network_get_config (value);
      if (other->address && marina_network_config_same_subnet (other, config->address))
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_EXISTS,
                            "Network '%s' uses the subnet of %s already; choose another address",
                            other->name, config->address), FALSE;
    }
  return TRUE;
}

static gboolean
lookup_boolean (GVariant *options, const char *key, gboolean fallback, gboolean *value,
                GError **error)
{
  g_autoptr(GVariant) found = g_variant_lookup_value (options, key, NULL);

  *value = fallback;
  if (found == NULL)
    return TRUE;
  if (!g_variant_is_of_type (found, G_VARIANT_TYPE_BOOLEAN))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        "Network option '%s' must be of type 'b'", key), FALSE;
  *value = g_variant_get_boolean (found);
  return TRUE;
}

static MarinaNetworkConfig *
network_config_from_options (MarinaManager *self, const char *name, GVariant *options,
                             GError **error)
{
  g_autoptr(MarinaNetworkConfig) config = marina_network_config_new ();
  g_autoptr(GVariantDict) dict = g_variant_dict_new (options);

  config->name = g_strdup (name);
  marina_network_config_set_defaults (config, free_subnet_number (self));
  g_variant_dict_remove (dict, "start");
  if (!marina_network_config_apply_options (config, g_variant_dict_end (dict), error) ||
      !marina_network_config_validate (config, error) ||
      !check_kind_allowed (self, config, error) ||
      !marina_manager_check_network_name_free (self, name, NULL, error) ||
      !check_subnet_free (self, config, error))
    return NULL;
  return g_steal_pointer (&config);
}

static MarinaNetwork *
create_network (MarinaManager *self, const char *name, GVariant *options, GError **error)
{
  g_autoptr(MarinaNetworkConfig) config = network_config_from_options (self, name, options, error);
  g_autofree char *dir = networks_dir (self);
  MarinaNetwork *network;
  gboolean start, force;

  if (config == NULL || !lookup_boolean (options, "start", TRUE, &start, error) ||
      !lookup_boolean (options, "force", FALSE, &force, error))
    return NULL;
  if (g_mkdir_with_parents (dir, 0750) != 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot create %s: %s", dir,
                        g_strerror (errno)), NULL;
  network = add_network (self, g_steal_pointer (&config));
  if (!marina_network_save (network, error) ||
      (start && !marina_network_start (network, force, error)))
    {
      g_autofree char *id = g_strdup (marina_network_get_config (network)->id);
      g_autofree char *path = g_strconcat (dir, "/", id, ".xml", NULL);
      g_unlink (path);  /* nothing half-made stays */
      marina_manager_forget_network (self, id);
      return NULL;
    }
  marina_manager_log (self, "info", marina_network_get_object_path (network), "network",
                      "Network '%s' created", name);
  return network;
}

static gboolean
handle_create_network (MarinaDBusManager *iface, GDBusMethodInvocation *invocation,
                       const char *name, GVariant *options)
{
  MarinaManager *self = MARINA_MANAGER (iface);
  GError *error = NULL;
  MarinaNetwork *network;

  if (!marina_validate_name ("network", name, &error))
    return return_error (invocation, error);
  network = create_network (self, name, options, &error);
  if (network == NULL)
    return return_error (invocation, error);
  marina_manager_refresh_network_users (self);
  marina_dbus_manager_complete_create_network (iface, invocation,
                                               marina_network_get_object_path (network));
  return TRUE;
}

static GPtrArray *
networks_as_array (MarinaManager *self)
{
  GPtrArray *networks = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->networks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (networks, value);
  return networks;
}

static int
compare_network_names (gconstpointer a, gconstpointer b)
{
  return g_utf8_collate (marina_network_get_config (*(MarinaNetwork **) a)->name,
                         marina_network_get_config (*(MarinaNetwork **) b)->name);
}

static gboolean
handle_list_networks (MarinaDBusManager *iface, GDBusMethodInvocation *invocation)
{
  MarinaManager *self = MARINA_MANAGER (iface);
  g_autoptr(GPtrArray) networks = networks_as_array (self);
  g_autofree const char **paths = g_new0 (const char *, networks->len + 1);

  g_ptr_array_sort (networks, compare_network_names);
  for (guint i = 0; i < networks->len; i++)
    paths[i] = marina_network_get_object_path (networks->pdata[i]);
  marina_dbus_manager_complete_list_networks (iface, invocation, paths);
  return TRUE;
}

static MarinaNetwork *
find_network (MarinaManager *self, const char *name_or_id)
{
  GHashTableIter iter;
  gpointer value;
  MarinaNetwork *network = g_hash_table_lookup (self->networks, name_or_id);

  g_hash_table_iter_init (&iter, self->networks);
  while (network == NULL && g_hash_table_iter_next (&iter, NULL, &value))
    if (g_str_equal (marina_network_get_config (value)->name, name_or_id))
      network = value;
  return network;
}

static gboolean
handle_find_network (MarinaDBusManager *iface, GDBusMethodInvocation *invocation,
                     const char *name_or_id)
{
  MarinaNetwork *network = find_network (MARINA_MANAGER (iface), name_or_id);

  if (network == NULL)
    return return_error (invocation, g_error_new (MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                                                  "No network is named '%s' or has that id",
                                                  name_or_id));
  marina_dbus_manager_complete_find_network (iface, invocation,
                                             marina_network_get_object_path (network));
  return TRUE;
}

static void
load_network_file (MarinaManager *self, const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaNetworkConfig) config = marina_network_config_load_file (path, &error);
  g_autofree char *base = g_path_get_basename (path);

  if (config && !g_str_has_prefix (base, config->id))
    g_set_error (&error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                 "its id %s does not match its file name", config->id);
  if (error)
    {
      marina_manager_log (self, "error", MARINA_MANAGER_PATH, "network",
                          "Cannot load the network configuration %s: %s; the file is left as "
                          "it is", path, error->message);
      return;
    }
  add_network (self, g_steal_pointer (&config));
}

/* Networks come back as they were: those that were active are made sure of
 * (after a reboot the bridges are gone; after a restart of marinad they
 * are still there, with machines on them). */
static void
load_networks (MarinaManager *self)
{
  g_autofree char *root = networks_dir (self);
  g_autoptr(GDir) dir = g_dir_open (root, 0, NULL);
  GHashTableIter iter;
  gpointer value;
  const char *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *path = g_build_filename (root, name, NULL);
      if (g_str_has_suffix (name, ".xml"))
        load_network_file (self, path);
    }
  g_hash_table_iter_init (&iter, self->networks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (marina_network_was_active (value))
      marina_network_resume (value);
  marina_manager_refresh_network_users (self);
}

static void
marina_manager_iface_init (MarinaDBusManagerIface *iface)
{
  iface->handle_attach_script = handle_attach_script;
  iface->handle_remove_script = handle_remove_script;
  iface->handle_list_scripts = handle_list_scripts;
  iface->handle_get_access = handle_get_access;
  iface->handle_set_access = handle_set_access;
  iface->handle_create_machine = handle_create_machine;
  iface->handle_define_machine = handle_define_machine;
  iface->handle_register_machine = handle_register_machine;
  iface->handle_list_machines = handle_list_machines;
  iface->handle_find_machine = handle_find_machine;
  iface->handle_get_events = handle_get_events;
  iface->handle_stop_machines = handle_stop_machines;
  iface->handle_watch_metrics = handle_watch_metrics;
  iface->handle_unwatch_metrics = handle_unwatch_metrics;
  iface->handle_create_disk = handle_create_disk;
  iface->handle_import_disk = handle_import_disk;
  iface->handle_list_disks = handle_list_disks;
  iface->handle_create_network = handle_create_network;
  iface->handle_list_networks = handle_list_networks;
  iface->handle_find_network = handle_find_network;
}

/* ---- loading at start ------------------------------------------------------------ */

static char *
config_path_in_dir (const char *dir)
{
  g_autofree char *link = g_build_filename (dir, "registered-path", NULL);
  char *target = NULL;

  if (g_file_get_contents (link, &target, NULL, NULL))
    return target;
  return g_build_filename (dir, "config.xml", NULL);
}

static void
load_machine_dir (MarinaManager *self, const char *dir)
{
  g_autofree char *marker = g_build_filename (dir, "unregistered", NULL);
  g_autofree char *path = config_path_in_dir (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaMachineConfig) config = NULL;

  if (g_file_test (marker, G_FILE_TEST_EXISTS))
    return;
  config = marina_machine_config_load_file (path, &error);
  if (config && g_hash_table_contains (self->machines, config->id))
    g_set_error (&error, MARINA_ERROR, MARINA_ERROR_EXISTS, "its id %s is used twice", config->id);
  else if (config && !g_str_has_suffix (dir, config->id))
    g_set_error (&error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                 "its id %s does not match its directory", config->id);
  if (error)
    {
      /* Reported and skipped, never overwritten: the other machines load. */
      marina_manager_log (self, "error", MARINA_MANAGER_PATH, "config",
                          "Cannot load the machine configuration %s: %s; the file is left as it is",
                          path, error->message);
      return;
    }
  add_machine (self, g_steal_pointer (&config), path);
}

static void
load_machines (MarinaManager *self)
{
  g_autofree char *root = g_build_filename (self->settings->state_dir, "machines", NULL);
  g_autoptr(GDir) dir = g_dir_open (root, 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *path = g_build_filename (root, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        load_machine_dir (self, path);
    }
}

static gboolean
first_start_since_boot (MarinaManager *self)
{
  g_autofree char *marker = g_build_filename (self->settings->runtime_dir, "autostart-done", NULL);

  /* The runtime directory is emptied at boot: autostart runs once per boot,
   * never on a mere restart of marinad. */
  if (g_file_test (marker, G_FILE_TEST_EXISTS))
    return FALSE;
  g_mkdir_with_parents (self->settings->runtime_dir, 0700);
  g_file_set_contents (marker, "", 0, NULL);
  return TRUE;
}

typedef struct {
  guint pending;
  gboolean autostart;
  GTask *task;
} LoadData;

static void
on_machine_reattached (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LoadData *load = user_data;
  MarinaManager *self = g_task_get_source_object (load->task);

  if (source && load->autostart)
    marina_machine_autostart (MARINA_MACHINE (source));
  if (--load->pending > 0)
    return;
  marina_manager_log (self, "info", MARINA_MANAGER_PATH, "service",
                      "marinad %s started with %u machines; CPU allocation through %s",
                      PACKAGE_VERSION, g_hash_table_size (self->machines),
                      marina_cgroups_describe (self->cgroups));
  marina_manager_run_host_script (self, "service-started", NULL, NULL);
  g_task_return_boolean (load->task, TRUE);
  g_object_unref (load->task);
  g_free (load);
}

/* Loads every machine and finds running ones again; completes when each
 * machine's state is known, which is when marinad should take its name. */
void
marina_manager_load_async (MarinaManager *self, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GPtrArray) machines = NULL;
  LoadData *load = g_new0 (LoadData, 1);

  load->task = g_task_new (self, NULL, callback, user_data);
  load->autostart = first_start_since_boot (self);
  marina_disks_load (self->disks);
  load_machines (self);
  load_networks (self);
  machines = machines_as_array (self);
  load->pending = machines->len + 1; /* +1: cannot finish while we loop */
  for (guint i = 0; i < machines->len; i++)
    marina_machine_reattach_async (machines->pdata[i], on_machine_reattached, load);
  on_machine_reattached (NULL, NULL, load);
}

/* ---- object -------------------------------------------------------------------------- */

static void
on_event_logged (MarinaEventLog *log, gint64 time, const char *severity, const char *object,
                 const char *category, const char *message, MarinaManager *self)
{
  marina_dbus_manager_emit_event_logged (MARINA_DBUS_MANAGER (self), time, severity, object,
                                         category, message);
}

/* A metrics socket that cannot be opened costs the exporter, not the service. */
static void
serve_metrics (MarinaManager *self)
{
  g_autoptr(GError) error = NULL;
  const char *path = self->settings->metrics_socket;

  if (path && *path && !marina_metrics_listen (self->metrics, path, &error))
    marina_manager_log (self, "error", MARINA_MANAGER_PATH, "service", "%s", error->message);
}

static void
set_host_properties (MarinaManager *self)
{
  MarinaDBusManager *iface = MARINA_DBUS_MANAGER (self);

  marina_dbus_manager_set_version (iface, PACKAGE_VERSION);
  marina_dbus_manager_set_host_memory_mi_b (iface, marina_manager_get_host_memory_mib (self));
  marina_dbus_manager_set_host_cpus (iface, g_get_num_processors ());
  marina_dbus_manager_set_default_accelerator (iface, self->settings->accelerator);
  marina_dbus_manager_set_state_directory (iface, self->settings->state_dir);
  marina_dbus_manager_set_storage_directory (iface, self->settings->storage_dir);
  marina_dbus_manager_set_storage_paths (iface, (const char *const *) self->settings->storage_paths);
}

static void
marina_manager_finalize (GObject *object)
{
  MarinaManager *self = MARINA_MANAGER (object);

  g_clear_object (&self->metrics);
  g_hash_table_unref (self->machines);
  g_clear_pointer (&self->disks, marina_disks_free);
  g_hash_table_unref (self->networks);
  g_clear_object (&self->event_log);
  g_clear_object (&self->cgroups);
  g_clear_pointer (&self->scripts, g_hash_table_unref);
  g_clear_object (&self->authorizer);
  g_clear_object (&self->object_manager);
  g_clear_object (&self->connection);
  g_clear_pointer (&self->settings, marina_settings_free);
  G_OBJECT_CLASS (marina_manager_parent_class)->finalize (object);
}

static void
marina_manager_class_init (MarinaManagerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = marina_manager_finalize;
  marina_authorizer_guard_class (G_DBUS_INTERFACE_SKELETON_CLASS (klass));
}

static void
marina_manager_init (MarinaManager *self)
{
  self->machines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->networks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

MarinaManager *
marina_manager_new (GDBusConnection *connection, MarinaSettings *settings)
{
  MarinaManager *self = g_object_new (MARINA_TYPE_MANAGER, NULL);
  g_autofree char *log_path = g_build_filename (settings->state_dir, "events.log", NULL);
  g_autoptr(MarinaDBusObjectSkeleton) object = marina_dbus_object_skeleton_new (MARINA_MANAGER_PATH);

  self->connection = g_object_ref (connection);
  self->settings = settings;
  g_mkdir_with_parents (settings->state_dir, 0750);
  self->authorizer = marina_authorizer_new (settings->state_dir, settings->enforce_access,
                                            lookup_access, self);
  marina_authorizer_set_default (self->authorizer);
  self->event_log = marina_event_log_new (log_path, settings->event_log_max);
  g_signal_connect_object (self->event_log, "logged", G_CALLBACK (on_event_logged), self, 0);
  self->cgroups = marina_cgroups_new (settings->cgroup_fs, settings->cgroup_name);
  self->scripts = marina_scripts_new ();
  load_host_scripts (self);
  set_host_properties (self);
  self->metrics = marina_metrics_new (MARINA_DBUS_MANAGER (self));
  serve_metrics (self);
  self->object_manager = g_dbus_object_manager_server_new (MARINA_OBJECT_ROOT);
  marina_dbus_object_skeleton_set_manager (object, MARINA_DBUS_MANAGER (self));
  g_dbus_object_manager_server_export (self->object_manager, G_DBUS_OBJECT_SKELETON (object));
  self->disks = marina_disks_new (self, self->object_manager);
  g_dbus_object_manager_server_set_connection (self->object_manager, connection);
  return self;
}
