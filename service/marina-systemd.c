/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-systemd"
#include "config.h"

#include <string.h>

#include "marina-error.h"
#include "marina-systemd.h"

/* Where systemd is PID 1 the cgroup tree is systemd's, and groups written
 * behind its back are moved or removed. So each running machine goes into a
 * transient scope that systemd creates and sizes (CPUWeight, CPU quota), and
 * is registered with systemd-machined so that machinectl lists it. Every call
 * here is asynchronous; nothing waits on the bus. */

#define SYSTEMD_NAME "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define MACHINED_NAME "org.freedesktop.machine1"
#define MACHINED_PATH "/org/freedesktop/machine1"
#define MACHINED_MANAGER "org.freedesktop.machine1.Manager"
#define MACHINE_EXISTS "org.freedesktop.machine1.MachineExists"

#define MACHINE_NAME_MAX 64          /* machined's names are host names: HOST_NAME_MAX */
#define USEC_PER_PERCENT_SECOND 10000 /* 1% of one CPU, in µs of CPU time per second */
#define JOB_TIMEOUT_SECONDS 30

/* A machine on its way into its scope and into machined's list. */
typedef struct {
  GDBusConnection *bus;
  char *machine_id;
  char *unit;
  char *name;        /* offered to machined */
  GPid pid;
  guint subscription;
  guint timeout_id;
  char *job;         /* StartTransientUnit's answer; NULL until it comes */
  GHashTable *ended; /* job → result, for jobs that end before that answer */
} Placement;

gboolean
marina_systemd_booted (const char *root)
{
  g_autofree char *dir = g_build_filename (root, "run", "systemd", "system", NULL);

  /* sd_booted()'s test: systemd creates this directory first thing. */
  return g_file_test (dir, G_FILE_TEST_IS_DIR);
}

static char *
fallback_name (const char *machine_id)
{
  return g_strdup_printf ("marina-%s", machine_id);
}

static char *
scope_name (const char *machine_id)
{
  return g_strdup_printf ("marina-%s.scope", machine_id);
}

/* machined wants a valid host name: letters, digits and single inner hyphens
 * are always one. */
char *
marina_systemd_machine_name (const char *name, const char *machine_id)
{
  GString *out = g_string_new (NULL);

  for (const char *p = name; *p && out->len < MACHINE_NAME_MAX; p++)
    {
      if (g_ascii_isalnum (*p))
        g_string_append_c (out, *p);
      else if (out->len > 0 && out->str[out->len - 1] != '-')
        g_string_append_c (out, '-');
    }
  while (out->len > 0 && out->str[out->len - 1] == '-')
    g_string_truncate (out, out->len - 1);
  if (out->len > 0)
    return g_string_free (out, FALSE);
  g_string_free (out, TRUE);
  return fallback_name (machine_id);
}

static guint64
cpu_quota (guint maximum_percent, guint vcpus)
{
  /* As with cgroup files: a cap of a whole CPU per vCPU is no cap. */
  if (maximum_percent >= 100)
    return G_MAXUINT64;
  return (guint64) maximum_percent * vcpus * USEC_PER_PERCENT_SECOND;
}

static void
add_cpu_properties (GVariantBuilder *props, guint weight, guint maximum_percent, guint vcpus)
{
  /* CPUWeight has Virtual Server's range and default: 1 to 10000, 100. */
  g_variant_builder_add (props, "(sv)", "CPUWeight", g_variant_new_uint64 (weight));
  g_variant_builder_add (props, "(sv)", "CPUQuotaPerSecUSec",
                         g_variant_new_uint64 (cpu_quota (maximum_percent, vcpus)));
}

static GVariant *
scope_properties (const char *name, GPid pid, guint weight, guint maximum_percent, guint vcpus)
{
  GVariantBuilder props = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(sv)"));
  guint32 pids[] = { (guint32) pid };
  g_autofree char *description = g_strdup_printf ("Marina virtual machine %s", name);

  g_variant_builder_add (&props, "(sv)", "Description", g_variant_new_string (description));
  g_variant_builder_add (&props, "(sv)", "Slice", g_variant_new_string ("machine.slice"));
  g_variant_builder_add (&props, "(sv)", "PIDs",
                         g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, pids, 1, sizeof pids[0]));
  /* The subtree below the scope is QEMU's and ours to divide, not systemd's. */
  g_variant_builder_add (&props, "(sv)", "Delegate", g_variant_new_boolean (TRUE));
  /* A failed scope would keep its name loaded and refuse the next Start. */
  g_variant_builder_add (&props, "(sv)", "CollectMode", g_variant_new_string ("inactive-or-failed"));
  add_cpu_properties (&props, weight, maximum_percent, vcpus);
  return g_variant_builder_end (&props);
}

/* "GDBus.Error:org.freedesktop.…: " tells a reader of the event log nothing. */
static void
return_remote_error (GTask *task, GError *error, const char *what, const char *subject)
{
  g_dbus_error_strip_remote_error (error);
  g_prefix_error (&error, "%s %s: ", what, subject);
  g_task_return_error (task, error);
}

/* ---- into the scope, then into machined's list ---------------------------------- */

static void
placement_free (gpointer data)
{
  Placement *p = data;

  g_object_unref (p->bus);
  g_free (p->machine_id);
  g_free (p->unit);
  g_free (p->name);
  g_free (p->job);
  g_hash_table_unref (p->ended);
  g_free (p);
}

static void
stop_waiting (Placement *p)
{
  if (p->subscription)
    g_dbus_connection_signal_unsubscribe (p->bus, p->subscription);
  p->subscription = 0;
  g_clear_handle_id (&p->timeout_id, g_source_remove);
}

static GVariant *
machine_id_bytes (const char *machine_id)
{
  guint8 bytes[16];
  gsize n = strlen (machine_id) == 2 * sizeof bytes ? sizeof bytes : 0;

  for (gsize i = 0; i < n; i++)
    {
      int high = g_ascii_xdigit_value (machine_id[2 * i]);
      int low = g_ascii_xdigit_value (machine_id[2 * i + 1]);
      if (high < 0 || low < 0)
        return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes, 0, 1); /* no id */
      bytes[i] = (guint8) (high << 4 | low);
    }
  return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes, n, 1);
}

static void register_machine (GTask *task);

static void
on_registered (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Placement *p = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (p->bus, result, &error);
  g_autofree char *remote = error ? g_dbus_error_get_remote_error (error) : NULL;
  g_autofree char *fallback = fallback_name (p->machine_id);

  if (reply)
    g_task_return_boolean (task, TRUE);
  /* A container, or a machine whose name cleans up the same, has it already. */
  else if (g_strcmp0 (remote, MACHINE_EXISTS) == 0 && !g_str_equal (p->name, fallback))
    {
      g_free (p->name);
      p->name = g_steal_pointer (&fallback);
      register_machine (task);
    }
  else
    return_remote_error (task, g_steal_pointer (&error), "Cannot register with systemd-machined as", p->name);
}

/* Only once QEMU is in its scope: machined takes the leader's unit as the machine's. */
static void
register_machine (GTask *task)
{
  Placement *p = g_task_get_task_data (task);

  g_dbus_connection_call (p->bus, MACHINED_NAME, MACHINED_PATH, MACHINED_MANAGER, "RegisterMachine",
                          g_variant_new ("(s@ayssus)", p->name, machine_id_bytes (p->machine_id),
                                         "marina", "vm", (guint32) p->pid, ""),
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_registered,
                          g_object_ref (task));
}

static void
job_ended (GTask *task, const char *result)
{
  g_autoptr(GTask) hold = g_object_ref (task); /* stop_waiting drops the other refs */
  Placement *p = g_task_get_task_data (task);

  stop_waiting (p);
  if (g_str_equal (result, "done"))
    register_machine (task);
  else
    g_task_return_new_error (task, MARINA_ERROR, MARINA_ERROR_FAILED,
                             "systemd could not start %s: its job ended with \"%s\"", p->unit, result);
}

static void
on_job_removed (GDBusConnection *bus, const char *sender, const char *path, const char *interface,
                const char *signal, GVariant *parameters, gpointer user_data)
{
  GTask *task = user_data;
  Placement *p = g_task_get_task_data (task);
  const char *job, *result;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(uoss)")))
    return;
  g_variant_get (parameters, "(u&o&s&s)", NULL, &job, NULL, &result);
  if (!p->job)
    g_hash_table_insert (p->ended, g_strdup (job), g_strdup (result));
  else if (g_str_equal (job, p->job))
    job_ended (task, result);
}

static gboolean
on_job_timeout (gpointer user_data)
{
  Placement *p = g_task_get_task_data (user_data);

  p->timeout_id = 0;
  job_ended (user_data, "timeout");
  return G_SOURCE_REMOVE;
}

/* The answer names the job that moves QEMU into the scope; it runs afterwards. */
static void
on_unit_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Placement *p = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (p->bus, result, &error);
  const char *ended;

  if (!reply)
    {
      stop_waiting (p);
      return_remote_error (task, g_steal_pointer (&error), "Cannot start", p->unit);
      return;
    }
  g_variant_get (reply, "(o)", &p->job);
  ended = g_hash_table_lookup (p->ended, p->job);
  if (ended)
    job_ended (task, ended);
  else
    p->timeout_id = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, JOB_TIMEOUT_SECONDS, on_job_timeout,
                                                g_object_ref (task), g_object_unref);
}

static Placement *
placement_new (GDBusConnection *bus, const char *machine_id, const char *name, GPid pid)
{
  Placement *p = g_new0 (Placement, 1);

  p->bus = g_object_ref (bus);
  p->machine_id = g_strdup (machine_id);
  p->unit = scope_name (machine_id);
  p->name = marina_systemd_machine_name (name, machine_id);
  p->pid = pid;
  p->ended = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return p;
}

/* Completes once QEMU (pid) runs in marina-<id>.scope with its CPU allocation
 * and machined knows the machine, or with the first thing that failed. */
void
marina_systemd_start_machine_async (GDBusConnection *bus, const char *machine_id, const char *name,
                                    GPid pid, guint weight, guint maximum_percent, guint vcpus,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  Placement *p = placement_new (bus, machine_id, name, pid);
  GVariant *aux = g_variant_new_array (G_VARIANT_TYPE ("(sa(sv))"), NULL, 0);

  g_task_set_source_tag (task, marina_systemd_start_machine_async);
  g_task_set_task_data (task, p, placement_free);
  /* Subscribed before asking: the job may end before its path comes back. */
  p->subscription = g_dbus_connection_signal_subscribe (bus, SYSTEMD_NAME, SYSTEMD_MANAGER, "JobRemoved",
                                                        SYSTEMD_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                        on_job_removed, g_object_ref (task), g_object_unref);
  g_dbus_connection_call (bus, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER, "StartTransientUnit",
                          g_variant_new ("(ss@a(sv)@a(sa(sv)))", p->unit, "fail",
                                         scope_properties (name, pid, weight, maximum_percent, vcpus), aux),
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_unit_started, task);
}

/* ---- changes while running -------------------------------------------------------- */

static void
on_properties_set (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  if (reply)
    g_task_return_boolean (task, TRUE);
  else
    return_remote_error (task, g_steal_pointer (&error), "Cannot change the CPU allocation of",
                         g_task_get_task_data (task));
}

void
marina_systemd_set_cpu_async (GDBusConnection *bus, const char *machine_id, guint weight,
                              guint maximum_percent, guint vcpus, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  char *unit = scope_name (machine_id);
  GVariantBuilder props = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(sv)"));

  g_task_set_source_tag (task, marina_systemd_set_cpu_async);
  g_task_set_task_data (task, unit, g_free);
  add_cpu_properties (&props, weight, maximum_percent, vcpus);
  /* runtime: the scope, and so what it was given, ends with QEMU anyway. */
  g_dbus_connection_call (bus, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER, "SetUnitProperties",
                          g_variant_new ("(sba(sv))", unit, TRUE, &props), NULL,
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_properties_set, task);
}

gboolean
marina_systemd_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
