/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-cgroups"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "marina-cgroups.h"
#include "marina-error.h"
#include "marina-systemd.h"

/* CPU weight and cap of each machine through the cpu controller: one group
 * per machine below a group of Marina's own, in cgroup v2 (cpu.weight,
 * cpu.max) or v1 (cpu.shares, cpu.cfs_quota_us). Everything is a small write
 * to a kernel file, which never blocks for long. Where systemd is PID 1 the
 * tree is systemd's, and machines go into its transient scopes instead. */

#define CFS_PERIOD_US 100000
#define V1_SHARES_PER_WEIGHT_100 1024

struct _MarinaCgroups {
  GObject parent_instance;
  MarinaCgroupVersion version;
  char *group_dir; /* <hierarchy>/<group name>, NULL when there is no cpu controller */
  GDBusConnection *systemd; /* set: systemd does it all, through scopes */
};

G_DEFINE_FINAL_TYPE (MarinaCgroups, marina_cgroups, G_TYPE_OBJECT)

static gboolean
file_has_word (const char *path, const char *word)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) words = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  words = g_strsplit_set (g_strstrip (contents), " \n", -1);
  return g_strv_contains ((const char *const *) words, word);
}

static gboolean
write_file (const char *path, const char *text, GError **error)
{
  /* Kernel files: one plain write, no temporary file and rename. */
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  gboolean ok = fd >= 0 && write (fd, text, strlen (text)) == (ssize_t) strlen (text);
  int saved_errno = errno;
  g_autofree char *shown = NULL;

  if (fd >= 0)
    close (fd);
  if (ok)
    return TRUE;
  shown = g_strstrip (g_strdup (text));
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot write '%s' to %s: %s",
               shown, path, g_strerror (saved_errno));
  return FALSE;
}

static char *
find_v2_root (const char *fs_root)
{
  /* Pure v2 mounts the unified hierarchy at the root; hybrid setups below. */
  const char *candidates[] = { "", "unified" };

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      g_autofree char *dir = g_build_filename (fs_root, candidates[i], NULL);
      g_autofree char *controllers = g_build_filename (dir, "cgroup.controllers", NULL);
      if (file_has_word (controllers, "cpu"))
        return g_steal_pointer (&dir);
    }
  return NULL;
}

static char *
find_v1_root (const char *fs_root)
{
  const char *candidates[] = { "cpu", "cpu,cpuacct", "cpuacct,cpu" };

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      g_autofree char *dir = g_build_filename (fs_root, candidates[i], NULL);
      g_autofree char *shares = g_build_filename (dir, "cpu.shares", NULL);
      if (g_file_test (shares, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&dir);
    }
  return NULL;
}

static gboolean
enable_v2_cpu (const char *dir, GError **error)
{
  g_autofree char *control = g_build_filename (dir, "cgroup.subtree_control", NULL);

  if (file_has_word (control, "cpu"))
    return TRUE;
  return write_file (control, "+cpu", error);
}

static gboolean
prepare_group (MarinaCgroups *self, GError **error)
{
  g_autofree char *parent = g_path_get_dirname (self->group_dir);

  if (g_mkdir (self->group_dir, 0755) < 0 && errno != EEXIST)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot create %s: %s",
                        self->group_dir, g_strerror (errno)), FALSE;
  if (self->version != MARINA_CGROUP_V2)
    return TRUE;
  /* v2 hands a controller down level by level. */
  return enable_v2_cpu (parent, error) && enable_v2_cpu (self->group_dir, error);
}

MarinaCgroups *
marina_cgroups_new (const char *fs_root, const char *group_name)
{
  MarinaCgroups *self = g_object_new (MARINA_TYPE_CGROUPS, NULL);
  g_autofree char *v2 = find_v2_root (fs_root);
  g_autofree char *v1 = v2 ? NULL : find_v1_root (fs_root);

  self->version = v2 ? MARINA_CGROUP_V2 : v1 ? MARINA_CGROUP_V1 : MARINA_CGROUP_NONE;
  if (v2 || v1)
    self->group_dir = g_build_filename (v2 ? v2 : v1, group_name, NULL);
  return self;
}

MarinaCgroupVersion
marina_cgroups_get_version (MarinaCgroups *self)
{
  return self->version;
}

const char *
marina_cgroups_describe (MarinaCgroups *self)
{
  if (self->systemd)
    return "systemd scopes in machine.slice";
  switch (self->version)
    {
    case MARINA_CGROUP_V2:
      return "cgroup v2";
    case MARINA_CGROUP_V1:
      return "cgroup v1";
    case MARINA_CGROUP_NONE:
    default:
      return "no cpu cgroup controller";
    }
}

static char *
machine_dir (MarinaCgroups *self, const char *machine_id)
{
  return g_build_filename (self->group_dir, machine_id, NULL);
}

static gboolean
no_controller (MarinaCgroups *self, GError **error)
{
  if (self->version != MARINA_CGROUP_NONE)
    return FALSE;
  g_set_error_literal (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                       "This host has no cpu cgroup controller: CPU weights and caps "
                       "cannot be enforced");
  return TRUE;
}

gboolean
marina_cgroups_place (MarinaCgroups *self, const char *machine_id, GPid pid, GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *procs = NULL;
  g_autofree char *text = g_strdup_printf ("%d\n", pid);

  if (no_controller (self, error) || !prepare_group (self, error))
    return FALSE;
  dir = machine_dir (self, machine_id);
  procs = g_build_filename (dir, "cgroup.procs", NULL);
  if (g_mkdir (dir, 0755) < 0 && errno != EEXIST)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot create %s: %s", dir,
                        g_strerror (errno)), FALSE;
  /* cgroup.procs moves the whole process, every thread of QEMU included. */
  return write_file (procs, text, error);
}

static char *
v2_max (guint maximum_percent, guint vcpus)
{
  if (maximum_percent >= 100)
    return g_strdup_printf ("max %d", CFS_PERIOD_US);
  return g_strdup_printf ("%" G_GUINT64_FORMAT " %d",
                          (guint64) CFS_PERIOD_US * maximum_percent * vcpus / 100, CFS_PERIOD_US);
}

static gboolean
set_v2 (const char *dir, guint weight, guint maximum_percent, guint vcpus, GError **error)
{
  g_autofree char *weight_path = g_build_filename (dir, "cpu.weight", NULL);
  g_autofree char *max_path = g_build_filename (dir, "cpu.max", NULL);
  g_autofree char *weight_text = g_strdup_printf ("%u\n", weight);
  g_autofree char *max_text = v2_max (maximum_percent, vcpus);

  /* cpu.weight has Virtual Server's range and default: 1 to 10000, 100. */
  return write_file (weight_path, weight_text, error) && write_file (max_path, max_text, error);
}

static gboolean
set_v1 (const char *dir, guint weight, guint maximum_percent, guint vcpus, GError **error)
{
  g_autofree char *shares_path = g_build_filename (dir, "cpu.shares", NULL);
  g_autofree char *period_path = g_build_filename (dir, "cpu.cfs_period_us", NULL);
  g_autofree char *quota_path = g_build_filename (dir, "cpu.cfs_quota_us", NULL);
  /* cpu.shares defaults to 1024 where Virtual Server's weight defaults to 100. */
  g_autofree char *shares = g_strdup_printf ("%u\n", MAX (2u, weight * V1_SHARES_PER_WEIGHT_100 / 100));
  g_autofree char *period = g_strdup_printf ("%d\n", CFS_PERIOD_US);
  g_autofree char *quota = maximum_percent >= 100
                             ? g_strdup ("-1\n")
                             : g_strdup_printf ("%" G_GUINT64_FORMAT "\n",
                                                (guint64) CFS_PERIOD_US * maximum_percent * vcpus / 100);

  return write_file (shares_path, shares, error) && write_file (period_path, period, error) &&
         write_file (quota_path, quota, error);
}

gboolean
marina_cgroups_set_cpu (MarinaCgroups *self, const char *machine_id, guint weight,
                        guint maximum_percent, guint vcpus, GError **error)
{
  g_autofree char *dir = NULL;

  if (no_controller (self, error))
    return FALSE;
  dir = machine_dir (self, machine_id);
  if (self->version == MARINA_CGROUP_V2)
    return set_v2 (dir, weight, maximum_percent, vcpus, error);
  return set_v1 (dir, weight, maximum_percent, vcpus, error);
}

void
marina_cgroups_remove (MarinaCgroups *self, const char *machine_id)
{
  g_autofree char *dir = NULL;

  /* systemd removes a scope itself once QEMU has exited. */
  if (self->version == MARINA_CGROUP_NONE || self->systemd)
    return;
  dir = machine_dir (self, machine_id);
  /* Empty once QEMU has exited; a group still in use is left alone. */
  g_rmdir (dir);
}

void
marina_cgroups_use_systemd (MarinaCgroups *self, GDBusConnection *bus)
{
  g_set_object (&self->systemd, bus);
}

/* Takes task and *error: the outcome of work already done. error is passed by
 * address because arguments are evaluated in no fixed order. */
static void
return_sync (GTask *task, gboolean ok, GError **error)
{
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, g_steal_pointer (error));
  g_object_unref (task);
}

static void
on_systemd_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GError *error = NULL;

  return_sync (user_data, marina_systemd_finish (result, &error), &error);
}

void
marina_cgroups_place_async (MarinaCgroups *self, const MarinaMachineConfig *config, GPid pid,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  GError *error = NULL;

  if (self->systemd)
    marina_systemd_start_machine_async (self->systemd, config->id, config->name, pid,
                                        config->cpu_weight, config->cpu_maximum, config->vcpus,
                                        on_systemd_done, task);
  else
    return_sync (task, marina_cgroups_place (self, config->id, pid, &error) &&
                         marina_cgroups_set_cpu (self, config->id, config->cpu_weight,
                                                 config->cpu_maximum, config->vcpus, &error),
                 &error);
}

void
marina_cgroups_set_cpu_async (MarinaCgroups *self, const MarinaMachineConfig *config,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  GError *error = NULL;

  if (self->systemd)
    marina_systemd_set_cpu_async (self->systemd, config->id, config->cpu_weight, config->cpu_maximum,
                                  config->vcpus, on_systemd_done, task);
  else
    return_sync (task, marina_cgroups_set_cpu (self, config->id, config->cpu_weight,
                                               config->cpu_maximum, config->vcpus, &error),
                 &error);
}

gboolean
marina_cgroups_finish (MarinaCgroups *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
marina_cgroups_finalize (GObject *object)
{
  MarinaCgroups *self = MARINA_CGROUPS (object);

  g_free (self->group_dir);
  g_clear_object (&self->systemd);
  G_OBJECT_CLASS (marina_cgroups_parent_class)->finalize (object);
}

static void
marina_cgroups_class_init (MarinaCgroupsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = marina_cgroups_finalize;
}

static void
marina_cgroups_init (MarinaCgroups *self)
{
}
