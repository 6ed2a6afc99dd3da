/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-machine"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gio/gunixfdlist.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "marina-authorizer.h"
#include "marina-confinement.h"
#include "marina-disk-steps.h"
#include "marina-disk.h"
#include "marina-disks.h"
#include "marina-image.h"
#include "marina-storage.h"
#include "marina-error.h"
#include "marina-image.h"
#include "marina-machine.h"
#include "marina-network.h"
#include "marina-nic-plumbing.h"
#include "marina-storage-daemon.h"
#include "marina-qemu-command-line.h"
#include "marina-qemu.h"
#include "marina-scripts.h"
#include "marina-guest-additions.h"

/* One virtual machine: its configuration, its state machine and, while it
 * runs, its QEMU process.
 *
 * Files: the machine directory (under the state directory) holds the
 * configuration (unless it was registered from elsewhere), the saved state
 * and the serial log; the runtime directory holds QEMU's sockets, pid file and
 * log, which is how a restarted marinad finds a running QEMU again. */

typedef enum {
  STATE_OFF,
  STATE_STARTING,
  STATE_RUNNING,
  STATE_PAUSED,
  STATE_SAVING,
  STATE_SAVED,
  STATE_RESTORING,
  STATE_STOPPING,
} MachineState;

static const char *const state_names[] = {
  "off", "starting", "running", "paused", "saving", "saved", "restoring", "stopping",
};

#define TURN_OFF_GRACE_MS 5000
#define MIGRATION_POLL_MS 50
#define SAVE_MAX_BANDWIDTH (G_GINT64_CONSTANT (1) << 40) /* bytes/s: no cap in practice */
#define SERIAL_CHARDEV "serial0"
/* The boot disk's undo overlay, in the machine directory. */
#define UNDO_DISK "undo-disk0.qcow2"

struct _MarinaMachine {
  MarinaDBusMachineSkeleton parent_instance;

  MarinaManager *manager; /* owns us */
  MarinaMachineConfig *config;
  char *object_path;
  char *machine_dir;
  char *config_path;
  char *runtime_dir;

  MachineState state;
  MarinaQemu *qemu;
  MarinaMachineMetrics *metrics;
  MarinaJob *job;              /* the operation in progress, if any */
  char *expected_exit_reason;  /* set when we asked QEMU to exit */
  gboolean guest_shut_down;    /* QEMU reported a guest-initiated poweroff */
  gboolean saved_ok;           /* the state file of a save is complete */
  int save_fd;                 /* our copy of the state file QEMU writes */
  guint shutdown_timeout;      /* seconds the guest gets in a Shutdown */
  guint calls_in_flight;       /* pause/resume/reset sent, not yet answered */
  gboolean stopping_for_host;  /* StopMachines: keep the was-running mark */
  guint shutdown_timeout_id;
  guint kill_timeout_id;
  guint autostart_id;
  guint fd_counter;
  GPtrArray *turn_off_waiters; /* GDBusMethodInvocation */
  GTask *host_stop_task;
  GTask *reattach_task;
  MarinaGuestAdditions *guest; /* the guest agent, while QEMU runs */
  uid_t qemu_uid;              /* the confined QEMU's own uid; 0: not confined */
  MarinaJob *undo_job;         /* committing the undo disk */
  char *undo_node;             /* while QEMU runs on an overlay: its format node */
  guint undo_overlays;         /* overlays this run made after live commits */
  gboolean live_commit;        /* undo_job commits while QEMU runs */
  char *boot_disk_socket;      /* qemu-storage-daemon serves the boot disk here (NBD), or NULL */
};

static void marina_machine_iface_init (MarinaDBusMachineIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MarinaMachine, marina_machine, MARINA_DBUS_TYPE_MACHINE_SKELETON,
                               G_IMPLEMENT_INTERFACE (MARINA_DBUS_TYPE_MACHINE,
                                                      marina_machine_iface_init))

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

/* ---- paths ---------------------------------------------------------------- */

static char *
machine_file (MarinaMachine *self, const char *name)
{
  return g_build_filename (self->machine_dir, name, NULL);
}

static char *
runtime_file (MarinaMachine *self, const char *name)
{
  return g_build_filename (self->runtime_dir, name, NULL);
}

static char *
dashed_uuid (const char *id)
{
  return g_strdup_printf ("%.8s-%.4s-%.4s-%.4s-%.12s", id, id + 8, id + 12, id + 16, id + 20);
}

static gboolean
machine_file_exists (MarinaMachine *self, const char *name)
{
  g_autofree char *path = machine_file (self, name);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
touch_machine_file (MarinaMachine *self, const char *name, gboolean present)
{
  g_autofree char *path = machine_file (self, name);

  if (present)
    g_file_set_contents (path, "", 0, NULL);
  else
    g_unlink (path);
}

/* ---- events and state ----------------------------------------------------- */

static void
log_event (MarinaMachine *self, const char *severity, const char *category,
           const char *message)
{
  marina_manager_log (self->manager, severity, self->object_path, category, "Machine '%s': %s",
                      self->config->name, message);
}

static void
update_was_running (MarinaMachine *self)
{
  /* Remembers, across host reboots, which machines ran: the "if-running"
   * autostart policy reads it. A host stop keeps it set on purpose. */
  if (self->state == STATE_RUNNING)
    touch_machine_file (self, "was-running", TRUE);
  else if ((self->state == STATE_OFF || self->state == STATE_SAVED) && !self->stopping_for_host)
    touch_machine_file (self, "was-running", FALSE);
}

static void
report_script (gpointer user_data, const char *severity, const char *message)
{
  log_event (MARINA_MACHINE (user_data), severity, "script", message);
}

/* Runs the host script attached to event, if any; it never holds us up. */
void
marina_machine_run_script (MarinaMachine *self, const char *event, const char *reason)
{
  const char *path = g_hash_table_lookup (self->config->scripts, event);
  g_autofree char *event_variable = NULL, *reason_variable = NULL, *id_variable = NULL;
  g_autofree char *name_variable = NULL, *state_variable = NULL, *path_variable = NULL;

  if (path == NULL)
    return;
  event_variable = g_strdup_printf ("MARINA_EVENT=%s", event);
  reason_variable = g_strdup_printf ("MARINA_REASON=%s", reason);
  id_variable = g_strdup_printf ("MARINA_MACHINE_ID=%s", self->config->id);
  name_variable = g_strdup_printf ("MARINA_MACHINE_NAME=%s", self->config->name);
  state_variable = g_strdup_printf ("MARINA_MACHINE_STATE=%s", state_names[self->state]);
  path_variable = g_strdup_printf ("MARINA_OBJECT_PATH=%s", self->object_path);
  marina_script_run (path, event,
                     (const char *const[]) { event_variable, reason_variable, id_variable,
                                             name_variable, state_variable, path_variable, NULL },
                     marina_manager_get_settings (self->manager)->script_timeout, report_script,
                     G_OBJECT (self));
}

/* The script event a state change stands for, if any. */
static const char *
script_event_for (MachineState old, MachineState state)
{
  if (state == STATE_RUNNING && old == STATE_STARTING)
    return "started";
  if (state == STATE_RUNNING && old == STATE_RESTORING)
    return "restored";
  if (state == STATE_SAVED && old == STATE_SAVING)
    return "saved";
  if (state == STATE_OFF && old != STATE_OFF && old != STATE_SAVED)
    return "stopped";
  return NULL;
}

static void
finish_host_stop (MarinaMachine *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->host_stop_task);

  self->stopping_for_host = FALSE;
  if (task)
    g_task_return_boolean (task, TRUE);
}

/* ---- guest additions (the guest agent) ------------------------------------ */

static void
sync_guest_properties (MarinaMachine *self)
{
  MarinaDBusMachine *iface = MARINA_DBUS_MACHINE (self);
  MarinaGuestAdditions *guest = self->guest;
  const char *const none[] = { NULL };

  marina_dbus_machine_set_agent_connected (iface, guest && marina_guest_additions_get_agent_connected (guest));
  marina_dbus_machine_set_heartbeat (iface, guest && marina_guest_additions_get_heartbeat (guest));
  marina_dbus_machine_set_guest_os_name (iface, guest ? marina_guest_additions_get_os_name (guest) : "");
  marina_dbus_machine_set_guest_addresses (iface, guest ? marina_guest_additions_get_addresses (guest) : none);
}

static void
on_guest_log (MarinaGuestAdditions *guest, const char *severity, const char *message,
              gpointer user_data)
{
  log_event (user_data, severity, "guest", message);
}

static void
on_heartbeat_lost (MarinaGuestAdditions *guest, gpointer user_data)
{
  marina_dbus_machine_emit_heartbeat_lost (MARINA_DBUS_MACHINE (user_data));
  marina_machine_run_script (MARINA_MACHINE (user_data), "heartbeat-lost", "heartbeat-lost");
}

static void
create_guest_additions (MarinaMachine *self)
{
  g_autofree char *socket_path = runtime_file (self, "agent.sock");

  self->guest = marina_guest_additions_new (socket_path);
  g_signal_connect_swapped (self->guest, "changed", G_CALLBACK (sync_guest_properties), self);
  g_signal_connect (self->guest, "log", G_CALLBACK (on_guest_log), self);
  g_signal_connect (self->guest, "heartbeat-lost", G_CALLBACK (on_heartbeat_lost), self);
}

static void
drop_guest_additions (MarinaMachine *self)
{
  if (self->guest)
    g_signal_handlers_disconnect_by_data (self->guest, self);
  g_clear_object (&self->guest);
}

/* The agent lives as long as QEMU; its heartbeat runs only while the guest
 * does, so pausing, saving or shutting down never reads as a lost agent. */
static void
follow_state_with_guest (MarinaMachine *self)
{
  gboolean stopped = self->state == STATE_OFF || self->state == STATE_SAVED;

  if (stopped && self->guest)
    {
      drop_guest_additions (self);
      sync_guest_properties (self);
    }
  if (stopped)
    return;
  if (self->guest == NULL)
    create_guest_additions (self);
  marina_guest_additions_set_active (self->guest, self->state == STATE_RUNNING);
}

static void
set_state (MarinaMachine *self, MachineState state, const char *reason)
{
  MarinaDBusMachine *iface = MARINA_DBUS_MACHINE (self);
  MachineState old = self->state;
  g_autofree char *message = NULL;

  self->state = state;
  update_was_running (self);
  follow_state_with_guest (self);
  marina_dbus_machine_set_state (iface, state_names[state]);
  marina_dbus_machine_set_state_reason (iface, reason);
  marina_dbus_machine_emit_state_changed (iface, state_names[old], state_names[state], reason);
  message = g_strdup_printf ("%s -> %s (%s)", state_names[old], state_names[state], reason);
  log_event (self, "info", "state", message);
  if (script_event_for (old, state))
    marina_machine_run_script (self, script_event_for (old, state), reason);
  if (state == STATE_OFF || state == STATE_SAVED)
    finish_host_stop (self);
}

static gboolean
state_is_one_of (MarinaMachine *self, const MachineState *allowed, guint n_allowed)
{
  for (guint i = 0; i < n_allowed; i++)
    if (self->state == allowed[i])
      return TRUE;
  return FALSE;
}

static char *
describe_states (const MachineState *allowed, guint n_allowed)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < n_allowed; i++)
    {
      if (i > 0)
        /* Translators: between the states a method allows: "off, saved or paused" */
        g_string_append (text, i + 1 == n_allowed ? C_("states", " or ") : C_("states", ", "));
      g_string_append (text, state_names[allowed[i]]);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static gboolean
check_state_impl (MarinaMachine *self, const char *action, const MachineState *allowed,
                  guint n_allowed, GError **error)
{
  g_autofree char *wanted = NULL;

  if (state_is_one_of (self, allowed, n_allowed))
    return TRUE;
  wanted = describe_states (allowed, n_allowed);
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_STATE,
               /* Translators: the states are the API's values (its State property) and
                  the third %s a method: "Machine 'web' is off; Pause needs it to be running" */
               _("Machine '%s' is %s; %s needs it to be %s"), self->config->name,
               state_names[self->state], action, wanted);
  return FALSE;
}

#define check_state(self, action, error, ...) \
  check_state_impl (self, action, (const MachineState[]) { __VA_ARGS__ }, \
                    sizeof ((const MachineState[]) { __VA_ARGS__ }) / sizeof (MachineState), error)

static gboolean
return_error (GDBusMethodInvocation *invocation, GError *error)
{
  g_dbus_method_invocation_take_error (invocation, error);
  return TRUE;
}

/* ---- properties ----------------------------------------------------------- */

/* (id, mac, model in use, network path or "/", connected) */
static GVariant *
network_adapters_variant (const MarinaMachineConfig *config)
{
  GVariantBuilder adapters;

  g_variant_builder_init (&adapters, G_VARIANT_TYPE ("a(sssob)"));
  for (guint i = 0; i < config->nics->len; i++)
    {
      MarinaNic *nic = config->nics->pdata[i];
      g_autofree char *network = nic->network ? g_strconcat (MARINA_NETWORK_PATH_PREFIX,
                                                             nic->network, NULL)
                                              : g_strdup ("/");
      const char *model = nic->model ? nic->model
                        : config->profile == MARINA_PROFILE_LEGACY ? "e1000" : "virtio";
      g_variant_builder_add (&adapters, "(sssob)", nic->id, nic->mac, model, network,
                             nic->connected);
    }
  return g_variant_builder_end (&adapters);
}

static GVariant *
drives_variant (const MarinaMachineConfig *config)
{
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(ssuu)"));

  for (guint i = 0; i < config->drives->len; i++)
    {
      const MarinaDrive *drive = config->drives->pdata[i];
      g_variant_builder_add (&builder, "(ssuu)", drive->path, marina_bus_to_string (drive->bus),
                             drive->controller, drive->unit);
    }
  return g_variant_builder_end (&builder);
}

static void
sync_config_properties (MarinaMachine *self)
{
  MarinaDBusMachine *iface = MARINA_DBUS_MACHINE (self);
  const MarinaMachineConfig *c = self->config;

  marina_dbus_machine_set_id (iface, c->id);
  marina_dbus_machine_set_name (iface, c->name);
  marina_dbus_machine_set_notes (iface, c->notes ? c->notes : "");
  marina_dbus_machine_set_memory_mi_b (iface, c->memory_mib);
  marina_dbus_machine_set_vcpus (iface, c->vcpus);
  marina_dbus_machine_set_profile (iface, marina_profile_to_string (c->profile));
  marina_dbus_machine_set_accelerator (iface, c->accelerator);
  marina_dbus_machine_set_boot_disk (iface, c->boot_disk ? c->boot_disk : "");
  marina_dbus_machine_set_cdrom (iface, c->cdrom ? c->cdrom : "");
  marina_dbus_machine_set_floppy (iface, c->floppy ? c->floppy : "");
  marina_dbus_machine_set_disks (iface, drives_variant (c));
  marina_dbus_machine_set_undo_disks (iface, c->undo_disks);
  marina_dbus_machine_set_undo_action (iface, marina_undo_action_to_string (c->undo_action));
  marina_dbus_machine_set_boot_order (iface, (const char *const *) c->boot_order);
  marina_dbus_machine_set_autostart (iface, marina_autostart_to_string (c->autostart));
  marina_dbus_machine_set_autostart_delay (iface, c->autostart_delay);
  marina_dbus_machine_set_stop_action (iface, marina_stop_action_to_string (c->stop_action));
  marina_dbus_machine_set_config_path (iface, self->config_path);
  marina_dbus_machine_set_relative_weight (iface, c->cpu_weight);
  marina_dbus_machine_set_maximum_capacity (iface, c->cpu_maximum);
  marina_dbus_machine_set_reserved_capacity (iface, c->cpu_reserve);
  marina_dbus_machine_set_network_adapters (iface, network_adapters_variant (c));
}

static void
sync_saved_state (MarinaMachine *self)
{
  marina_dbus_machine_set_has_saved_state (MARINA_DBUS_MACHINE (self),
                                           machine_file_exists (self, "saved.state"));
  marina_dbus_machine_set_has_undo_changes (MARINA_DBUS_MACHINE (self),
                                            machine_file_exists (self, UNDO_DISK));
}

/* Whether a run left changes in an undo overlay, which expects the boot
 * disk as it is. */
gboolean
marina_machine_has_undo_changes (MarinaMachine *self)
{
  return machine_file_exists (self, UNDO_DISK);
}

static void
sync_process_properties (MarinaMachine *self, const char *accelerator, gint64 started_at)
{
  MarinaDBusMachine *iface = MARINA_DBUS_MACHINE (self);

  marina_dbus_machine_set_pid (iface, self->qemu ? marina_qemu_get_pid (self->qemu) : 0);
  marina_dbus_machine_set_active_accelerator (iface, accelerator);
  marina_dbus_machine_set_started_at (iface, started_at);
}

gboolean
marina_machine_save_config (MarinaMachine *self, GError **error)
{
  g_autofree char *xml = marina_machine_config_to_xml (self->config);

  /* g_file_set_contents_full writes a temporary file, fsyncs and renames:
   * a crash leaves the old or the new configuration, never a torn one. */
  return g_file_set_contents_full (self->config_path, xml, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0640, error);
}

/* ---- jobs ----------------------------------------------------------------- */

static MarinaJob *
begin_job (MarinaMachine *self, const char *operation, gboolean cancellable)
{
  g_clear_object (&self->job);
  self->job = marina_job_new (operation, self->object_path, cancellable);
  marina_manager_add_job (self->manager, self->job);
  return self->job;
}

static void
finish_job (MarinaMachine *self, const GError *error, const char *message)
{
  g_autoptr(MarinaJob) job = g_steal_pointer (&self->job);

  if (job && !marina_job_is_finished (job))
    marina_job_complete (job, error, message);
}

static const char *
job_path (MarinaJob *job)
{
  return g_dbus_interface_skeleton_get_object_path (G_DBUS_INTERFACE_SKELETON (job));
}

/* ---- QMP helpers ---------------------------------------------------------- */

static MarinaQmp *
get_qmp (MarinaMachine *self, GError **error)
{
  MarinaQmp *qmp = self->qemu ? marina_qemu_get_qmp (self->qemu) : NULL;

  if (qmp == NULL || !marina_qmp_is_connected (qmp))
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                   _("Machine '%s' has no connection to its QEMU monitor"), self->config->name);
      return NULL;
    }
  return qmp;
}

/* Runs one QMP command; the callback gets the machine as source object. */
static void
qmp_call (MarinaMachine *self, const char *command, JsonObject *arguments, int fd,
          GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  MarinaQmp *qmp = get_qmp (self, &error);

  if (qmp == NULL)
    {
      g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  marina_qmp_execute_async (qmp, command, arguments, fd, NULL, callback, user_data);
}

static JsonNode *
qmp_call_finish (GAsyncResult *result, GError **error)
{
  GObject *qmp = g_task_get_source_object (G_TASK (result));

  /* No source object: qmp_call() failed before QEMU was asked. */
  if (qmp == NULL)
    return g_task_propagate_pointer (G_TASK (result), error);
  return marina_qmp_execute_finish (MARINA_QMP (qmp), result, error);
}

static JsonObject *
args_new (void)
{
  return json_object_new ();
}

/* ---- QEMU exit ------------------------------------------------------------ */

static void
clear_timers (MarinaMachine *self)
{
  g_clear_handle_id (&self->shutdown_timeout_id, g_source_remove);
  g_clear_handle_id (&self->kill_timeout_id, g_source_remove);
}

static void
remove_runtime_files (MarinaMachine *self)
{
  static const char *const names[] = { "qemu.pid", "qmp.sock", "serial.sock", "agent.sock",
                                       MARINA_COM2_PIPE_NAME, NULL };

  for (guint i = 0; names[i]; i++)
    {
      g_autofree char *path = runtime_file (self, names[i]);
      g_unlink (path);
    }
}

static void
answer_turn_off_waiters (MarinaMachine *self)
{
  for (guint i = 0; i < self->turn_off_waiters->len; i++)
    marina_dbus_machine_complete_turn_off (MARINA_DBUS_MACHINE (self),
                                           self->turn_off_waiters->pdata[i]);
  g_ptr_array_set_size (self->turn_off_waiters, 0);
}

static const char *
exit_reason (MarinaMachine *self)
{
  if (self->expected_exit_reason)
    return self->expected_exit_reason;
  if (self->guest_shut_down)
    return "guest-shutdown";
  return "qemu-crashed";
}

static void
report_unexpected_exit (MarinaMachine *self, const char *how, const char *tail)
{
  g_autofree char *message =
    g_strdup_printf ("QEMU ended unexpectedly: it %s.%s%s", how,
                     *tail ? " Its last output:\n" : "", tail);
  g_autoptr(GError) error = g_error_new_literal (MARINA_ERROR, MARINA_ERROR_FAILED, message);

  log_event (self, "error", "qemu", message);
  finish_job (self, error, NULL);
}

/* The job in progress ends with QEMU: a save or a shutdown has then done what
 * it was asked; anything else (a start, say) was cut short. */
static void
finish_job_for_exit (MarinaMachine *self, const char *reason)
{
  g_autoptr(GError) error = NULL;

  if (g_str_equal (reason, "saved") || g_str_equal (reason, "shutdown"))
    return finish_job (self, NULL, g_str_equal (reason, "saved") ? "The machine is saved"
                                                                  : "The machine is off");
  error = g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED,
                       "Machine '%s' stopped (%s) before the operation finished",
                       self->config->name, reason);
  finish_job (self, error, NULL);
}

/* ---- confinement: the files a confined QEMU opens by path ------------------- */

uid_t
marina_machine_get_qemu_uid (MarinaMachine *self)
{
  return self->qemu_uid;
}

#define MAX_PARENTS 8

/* Whether this run writes to an undo overlay over the boot disk. */
static gboolean
uses_undo_disk (MarinaMachine *self)
{
  return self->config->undo_disks && self->config->boot_disk &&
         marina_machine_has_undo_changes (self);
}

/* QEMU's names for the files of an x509 server, in [console] tls-dir. */
static const char *const tls_files[] = { "ca-cert.pem", "server-cert.pem", "server-key.pem" };

static void
add_grant (GArray *grants, GPtrArray *strings, char *owned_path, const char *path,
           gboolean writable)
{
  MarinaGrant grant = { owned_path ? owned_path : path, writable };

  if (owned_path)
    g_ptr_array_add (strings, owned_path);
  g_array_append_val (grants, grant);
}

/* QEMU opens a differencing disk's parents itself, read-only. Only parents in
 * a storage folder are opened to it: a qcow2 naming /etc/shadow as its
 * backing file must not get QEMU's uid an ACL entry on /etc/shadow. */
static void
add_parent_grants (MarinaMachine *self, const char *disk, GArray *grants, GPtrArray *strings)
{
  const char *const *roots =
    (const char *const *) marina_manager_get_settings (self->manager)->storage_paths;
  g_autoptr(MarinaImageInfo) info = marina_image_info_read (disk, NULL);

  for (guint n = 0; info && info->parent_path && n < MAX_PARENTS; n++)
    {
      char *parent = marina_storage_resolve_existing (roots, info->parent_path, NULL);
      if (parent == NULL)
        break;
      add_grant (grants, strings, parent, NULL, FALSE);
      marina_image_info_free (info);
      info = marina_image_info_read (parent, NULL);
    }
}

static gboolean chain_blocks_migration (const char *path);

static void
add_disk_grants (MarinaMachine *self, GArray *grants, GPtrArray *strings)
{
  const MarinaMachineConfig *config = self->config;

  if (config->boot_disk)
    {
      gboolean undo = uses_undo_disk (self);
      /* With undo disks QEMU only reads the boot disk: the run writes its overlay.
       * qemu-storage-daemon, which serves a VHD chain, opens it writable all the same. */
      add_grant (grants, strings, NULL, config->boot_disk,
                 !undo || chain_blocks_migration (config->boot_disk));
      if (undo)
        add_grant (grants, strings, machine_file (self, UNDO_DISK), NULL, TRUE);
      add_parent_grants (self, config->boot_disk, grants, strings);
    }
  for (guint i = 0; i < config->drives->len; i++)
    {
      const char *path = ((MarinaDrive *) config->drives->pdata[i])->path;
      add_grant (grants, strings, NULL, path, TRUE);
      add_parent_grants (self, path, grants, strings);
    }
  if (config->cdrom)
    add_grant (grants, strings, NULL, config->cdrom, FALSE);
  if (config->floppy)
    add_grant (grants, strings, NULL, config->floppy, TRUE);
}

/* The ports' text files (made at Start when missing): QEMU appends to them. */
static void
add_port_grants (MarinaMachine *self, GArray *grants, GPtrArray *strings)
{
  if (self->config->com2.path)
    add_grant (grants, strings, NULL, self->config->com2.path, TRUE);
  if (self->config->lpt1.path)
    add_grant (grants, strings, NULL, self->config->lpt1.path, TRUE);
}

/* What QEMU opens itself, its runtime folder (where it makes its sockets)
 * first; fds it is given (saved state, consoles) need nothing. @strings
 * keeps the paths made here. */
static GArray *
machine_grants (MarinaMachine *self, GPtrArray *strings)
{
  const char *tls_dir = marina_manager_get_settings (self->manager)->console_tls_dir;
  GArray *grants = g_array_new (FALSE, FALSE, sizeof (MarinaGrant));

  add_grant (grants, strings, NULL, self->runtime_dir, TRUE);
  add_grant (grants, strings, machine_file (self, "serial.log"), NULL, TRUE);
  add_disk_grants (self, grants, strings);
  add_port_grants (self, grants, strings);
  for (guint i = 0; self->config->remote_console_port && i < G_N_ELEMENTS (tls_files); i++)
    add_grant (grants, strings, g_build_filename (tls_dir, tls_files[i], NULL), NULL, FALSE);
  return grants;
}

static void
release_confinement (MarinaMachine *self)
{
  g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) grants = NULL;

  if (self->qemu_uid == 0)
    return;
  grants = machine_grants (self, strings);
  marina_confinement_revoke (self->qemu_uid, (MarinaGrant *) grants->data, grants->len);
  self->qemu_uid = 0;
}

/* Picks the uid and opens the machine's own files to it. */
static gboolean
prepare_confinement (MarinaMachine *self, MarinaQemuIdentity *identity, GError **error)
{
  g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) grants = NULL;
  uid_t uid = marina_manager_allocate_qemu_uid (self->manager, error);

  if (uid == 0)
    return FALSE;
  marina_qemu_identity_init (identity, uid);
  grants = machine_grants (self, strings);
  if (!marina_confinement_grant (uid, (MarinaGrant *) grants->data, grants->len, error))
    return FALSE;
  self->qemu_uid = uid;
  return TRUE;
}

static void apply_undo_action (MarinaMachine *self);
static gboolean on_block_job_event (MarinaMachine *self, const char *name, JsonObject *data);
static void live_commit_done (MarinaMachine *self, GError *error);

static void
on_qemu_exited (MarinaQemu *qemu, const char *how, const char *tail, gpointer user_data)
{
  MarinaMachine *self = user_data;
  g_autofree char *reason = g_strdup (exit_reason (self));
  MachineState next = self->saved_ok ? STATE_SAVED : STATE_OFF;

  clear_timers (self);
  if (g_str_equal (reason, "qemu-crashed"))
    report_unexpected_exit (self, how, tail);
  else if (g_str_equal (reason, "guest-shutdown"))
    log_event (self, "info", "state", "the guest powered itself off");
  if (self->state == STATE_RESTORING)
    next = STATE_SAVED; /* a failed restore keeps the saved state */
  g_signal_handlers_disconnect_by_data (qemu, self);
  g_clear_object (&self->qemu);
  marina_machine_metrics_set_qemu (self->metrics, NULL);
  g_clear_pointer (&self->expected_exit_reason, g_free);
  self->guest_shut_down = FALSE;
  self->saved_ok = FALSE;
  remove_runtime_files (self);
  /* QEMU is gone: the daemon flushes the VHD and closes it. */
  marina_storage_daemon_stop (self->runtime_dir);
  release_confinement (self);
  marina_cgroups_remove (marina_manager_get_cgroups (self->manager), self->config->id);
  sync_process_properties (self, "", 0);
  sync_saved_state (self);
  set_state (self, next, reason);
  finish_job_for_exit (self, reason);
  answer_turn_off_waiters (self);
  g_clear_pointer (&self->undo_node, g_free);
  if (self->live_commit)
    live_commit_done (self, g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED,
                                         _("Machine '%s' stopped before its undo disk was "
                                           "committed; the undo disk holds the changes"),
                                         self->config->name));
  if (next == STATE_OFF)
    apply_undo_action (self);
}

static void
on_qmp_event (MarinaQmp *qmp, const char *name, JsonObject *data, gint64 timestamp,
              gpointer user_data)
{
  MarinaMachine *self = user_data;

  if (g_str_has_prefix (name, "BLOCK_JOB_") && on_block_job_event (self, name, data))
    return;
  if (g_str_equal (name, "SHUTDOWN") && json_object_get_boolean_member_with_default (data, "guest", FALSE))
    self->guest_shut_down = TRUE;
  else if (g_str_equal (name, "RESET") && json_object_get_boolean_member_with_default (data, "guest", FALSE))
    {
      log_event (self, "info", "state", "the guest reset itself");
      marina_machine_run_script (self, "guest-reset", "guest-reset");
      marina_dbus_machine_set_state_reason (MARINA_DBUS_MACHINE (self), "guest-reset");
      marina_dbus_machine_emit_state_changed (MARINA_DBUS_MACHINE (self), state_names[self->state],
                                              state_names[self->state], "guest-reset");
    }
  else if (g_str_equal (name, "GUEST_PANICKED"))
    {
      log_event (self, "error", "qemu", "the guest operating system panicked");
      marina_machine_run_script (self, "guest-panic", "guest-panic");
    }
  else if (g_str_equal (name, "STOP") && self->state == STATE_RUNNING && self->job == NULL &&
           self->calls_in_flight == 0)
    set_state (self, STATE_PAUSED, "qemu-stopped");
}

static void
watch_qemu (MarinaMachine *self, MarinaQemu *qemu)
{
  self->qemu = qemu;
  g_signal_connect (qemu, "exited", G_CALLBACK (on_qemu_exited), self);
  marina_machine_metrics_set_qemu (self->metrics, qemu);
}

static void
watch_qmp (MarinaMachine *self)
{
  g_signal_connect_object (marina_qemu_get_qmp (self->qemu), "event",
                           G_CALLBACK (on_qmp_event), self, 0);
}

static void
request_exit (MarinaMachine *self, const char *reason);

static gboolean
on_kill_timeout (gpointer user_data)
{
  MarinaMachine *self = user_data;

  self->kill_timeout_id = 0;
  if (self->qemu)
    marina_qemu_kill (self->qemu, SIGKILL);
  return G_SOURCE_REMOVE;
}

static void
on_quit_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(JsonNode) ret = qmp_call_finish (result, NULL);
  /* Nothing to do: the process's exit is what we wait for. */
}

static void
request_exit (MarinaMachine *self, const char *reason)
{
  g_autoptr(GError) error = NULL;

  g_free (self->expected_exit_reason);
  self->expected_exit_reason = g_strdup (reason);
  if (get_qmp (self, &error))
    qmp_call (self, "quit", NULL, -1, on_quit_sent, NULL);
  else if (self->qemu)
    marina_qemu_kill (self->qemu, SIGTERM);
  if (self->kill_timeout_id == 0)
    self->kill_timeout_id = g_timeout_add (TURN_OFF_GRACE_MS, on_kill_timeout, self);
}

/* ---- CPU allocation ---------------------------------------------------------- */

static void
on_cpu_applied (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(GError) error = NULL;

  /* A machine without its cgroup still runs; it just shares the CPU evenly. */
  if (!marina_cgroups_finish (MARINA_CGROUPS (source), result, &error))
    log_event (self, "warning", "resources", error->message);
}

static void
place_in_cgroup (MarinaMachine *self)
{
  marina_cgroups_place_async (marina_manager_get_cgroups (self->manager), self->config,
                              marina_qemu_get_pid (self->qemu), on_cpu_applied, g_object_ref (self));
}

static gboolean
check_cpu_change (MarinaMachine *self, const MarinaMachineConfig *config, GError **error)
{
  if (!marina_machine_is_active (self) || config->cpu_reserve <= self->config->cpu_reserve)
    return TRUE;
  return marina_manager_check_cpu_reserve (self->manager, config->id, config->vcpus,
                                           config->cpu_reserve, error);
}

static gboolean
cpu_allocation_differs (const MarinaMachineConfig *a, const MarinaMachineConfig *b)
{
  return a->cpu_weight != b->cpu_weight || a->cpu_maximum != b->cpu_maximum ||
         a->cpu_reserve != b->cpu_reserve;
}

/* After a configuration change: a running machine gets the new allocation at once. */
static void
reapply_cpu_allocation (MarinaMachine *self, gboolean changed)
{
  if (changed && self->qemu)
    marina_cgroups_set_cpu_async (marina_manager_get_cgroups (self->manager), self->config,
                                  on_cpu_applied, g_object_ref (self));
}

/* ---- configuration changes ----------------------------------------------------- */

/* Stores a new configuration and makes it current; nothing changes unless it
 * is stored. Takes config. */
static gboolean
replace_config (MarinaMachine *self, MarinaMachineConfig *config, GError **error)
{
  MarinaMachineConfig *old = self->config;
  gboolean cpu_changed = cpu_allocation_differs (old, config);

  self->config = config;
  if (!marina_machine_save_config (self, error))
    {
      marina_machine_config_free (self->config);
      self->config = old;
      return FALSE;
    }
  marina_machine_config_free (old);
  sync_config_properties (self);
  reapply_cpu_allocation (self, cpu_changed);
  marina_manager_sync_disks (self->manager);
  marina_manager_refresh_network_users (self->manager);
  return TRUE;
}

static gboolean
handle_set_cpu_allocation (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                           guint weight, guint maximum, guint reserve)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_copy (self->config);
  GError *error = NULL;
  g_autofree char *message = NULL;

  config->cpu_weight = weight;
  config->cpu_maximum = maximum;
  config->cpu_reserve = reserve;
  if (!marina_validate_cpu_allocation (weight, maximum, reserve, &error) ||
      !check_cpu_change (self, config, &error) ||
      !replace_config (self, g_steal_pointer (&config), &error))
    return return_error (invocation, error);
  message = g_strdup_printf ("CPU allocation set to weight %u, maximum %u%%, reserve %u%%",
                             weight, maximum, reserve);
  log_event (self, "info", "config", message);
  marina_machine_run_script (self, "config-changed", "user");
  marina_dbus_machine_complete_set_cpu_allocation (iface, invocation);
  return TRUE;
}

/* ---- event scripts ----------------------------------------------------------- */

static gboolean
change_script (MarinaMachine *self, const char *event, const char *path, GError **error)
{
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_copy (self->config);
  g_autofree char *owner = g_strdup_printf ("machine '%s'", self->config->name);

  return marina_scripts_change (config->scripts, marina_machine_script_events, event, path,
                                owner, error) &&
         replace_config (self, g_steal_pointer (&config), error);
}

static gboolean
handle_attach_script (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                      const char *event, const char *path)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;
  g_autofree char *message = NULL;

  if (!change_script (self, event, path, &error))
    return return_error (invocation, error);
  message = g_strdup_printf ("script %s attached to the event '%s'", path, event);
  log_event (self, "info", "config", message);
  marina_dbus_machine_complete_attach_script (iface, invocation);
  return TRUE;
}

static gboolean
handle_remove_script (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                      const char *event)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;
  g_autofree char *message = NULL;

  if (!change_script (self, event, NULL, &error))
    return return_error (invocation, error);
  message = g_strdup_printf ("script removed from the event '%s'", event);
  log_event (self, "info", "config", message);
  marina_dbus_machine_complete_remove_script (iface, invocation);
  return TRUE;
}

static gboolean
handle_list_scripts (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);

  marina_dbus_machine_complete_list_scripts (iface, invocation,
                                             marina_scripts_to_variant (self->config->scripts));
  return TRUE;
}

/* ---- access ---------------------------------------------------------------- */

static gboolean
handle_get_access (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);

  marina_dbus_machine_complete_get_access (
    iface, invocation, marina_access_list_to_variant (self->config->access));
  return TRUE;
}

static gboolean
handle_set_access (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                   GVariant *access)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_copy (self->config);
  GError *error = NULL;

  g_ptr_array_unref (config->access);
  config->access = marina_access_list_from_variant (access);
  if (!marina_access_list_validate (config->access, MARINA_ACCESS_SCOPE_OBJECT, &error) ||
      !marina_access_list_check_accounts (config->access, &error) ||
      !replace_config (self, g_steal_pointer (&config), &error))
    return return_error (invocation, error);
  log_event (self, "info", "access", "access list changed");
  marina_dbus_machine_complete_set_access (iface, invocation);
  return TRUE;
}

/* ---- network adapters ---------------------------------------------------- */

static void
on_link_set (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);

  if (error)
    log_event (self, "warning", "network", error->message);
}

static void
set_link (MarinaMachine *self, const MarinaNic *nic, gboolean up)
{
  g_autoptr(JsonObject) args = args_new ();

  json_object_set_string_member (args, "name", nic->id);
  json_object_set_boolean_member (args, "up", up);
  qmp_call (self, "set_link", args, -1, on_link_set, g_object_ref (self));
}

/* A cable unplugged in the configuration is unplugged before the guest
 * runs (QEMU has no command-line switch for it). */
static void
apply_cables (MarinaMachine *self)
{
  for (guint i = 0; i < self->config->nics->len; i++)
    {
      MarinaNic *nic = self->config->nics->pdata[i];
      if (!nic->connected)
        set_link (self, nic, FALSE);
    }
}

static gboolean
option_type_error (const char *key, const char *type, GError **error)
{
  return marina_error_invalid (error, "Network adapter option '%s' must be of type '%s'", key,
                               type);
}

/* "network" is a Network object path, or "/" for none. */
static gboolean
parse_network_option (MarinaMachine *self, GVariant *value, char **network, GError **error)
{
  const char *path;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH))
    return option_type_error ("network", "o", error);
  path = g_variant_get_string (value, NULL);
  g_clear_pointer (network, g_free);
  if (g_str_equal (path, "/"))
    return TRUE;
  if (!g_str_has_prefix (path, MARINA_NETWORK_PATH_PREFIX) ||
      marina_manager_get_network (self->manager, path + strlen (MARINA_NETWORK_PATH_PREFIX)) == NULL)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                        "There is no network at %s (see Manager.ListNetworks)", path), FALSE;
  *network = g_strdup (path + strlen (MARINA_NETWORK_PATH_PREFIX));
  return TRUE;
}

static gboolean
apply_adapter_option (MarinaMachine *self, MarinaNic *nic, const char *key, GVariant *value,
                      gboolean adding, GError **error)
{
  if (g_str_equal (key, "network"))
    return parse_network_option (self, value, &nic->network, error);
  if (g_str_equal (key, "connected"))
    {
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        return option_type_error (key, "b", error);
      nic->connected = g_variant_get_boolean (value);
      return TRUE;
    }
  if (adding && (g_str_equal (key, "mac") || g_str_equal (key, "model")))
    {
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        return option_type_error (key, "s", error);
      g_free (key[1] == 'a' ? nic->mac : nic->model);
      *(key[1] == 'a' ? &nic->mac : &nic->model) = g_variant_dup_string (value, NULL);
      return TRUE;
    }
  return marina_error_invalid (error, adding ? "Network adapter option '%s' is not known; use "
                               "network, mac, model or connected"
                               : "Network adapter option '%s' cannot change here; use network "
                               "or connected (mac and model: remove and add the adapter)", key);
}

static gboolean
apply_adapter_options (MarinaMachine *self, MarinaNic *nic, GVariant *options, gboolean adding,
                       GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr(GVariant) owned = value;
      if (!apply_adapter_option (self, nic, key, value, adding, error))
        return FALSE;
    }
  return TRUE;
}

/* A MAC is unique on the host: two adapters with one address on a bridge
 * break both. A given one is normalised; none given, one is generated. */
static gboolean
settle_mac (MarinaMachine *self, MarinaNic *nic, GError **error)
{
  g_autofree char *normal = NULL;

  while (nic->mac == NULL)
    {
      nic->mac = marina_mac_generate ();
      if (marina_manager_mac_owner (self->manager, nic->mac, NULL) != NULL ||
          marina_nic_list_find_mac (self->config->nics, nic->mac) != NULL)
        g_clear_pointer (&nic->mac, g_free);
    }
  normal = marina_mac_normalize (nic->mac, error);
  if (normal == NULL)
    return FALSE;
  g_free (nic->mac);
  nic->mac = g_steal_pointer (&normal);
  return TRUE;
}

static gboolean
check_off_for_adapters (MarinaMachine *self, const char *what, GError **error)
{
  if (self->state == STATE_OFF)
    return TRUE;
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_STATE,
                      "Cannot %s network adapters of machine '%s' while it is %s: adapters are "
                      "PCI devices; %s first", what, self->config->name,
                      state_names[self->state],
                      self->state == STATE_SAVED ? "discard the saved state" : "turn it off"),
         FALSE;
}

static gboolean
handle_add_network_adapter (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                            GVariant *options)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_copy (self->config);
  g_autoptr(MarinaNic) nic = marina_nic_new ();
  g_autofree char *id = NULL;
  GError *error = NULL;

  if (!check_off_for_adapters (self, "add", &error))
    return return_error (invocation, error);
  nic->id = marina_nic_list_free_id (config->nics);
  if (nic->id == NULL)
    return return_error (invocation, g_error_new (MARINA_ERROR, MARINA_ERROR_INSUFFICIENT_RESOURCES,
                         "Machine '%s' has %d network adapters already, the most a machine can "
                         "have; remove one first", self->config->name, MARINA_NIC_MAX));
  if (!apply_adapter_options (self, nic, options, TRUE, &error) ||
      !marina_validate_nic_model (nic->model, &error) || !settle_mac (self, nic, &error))
    return return_error (invocation, error);
  id = g_strdup (nic->id);
  g_ptr_array_add (config->nics, g_steal_pointer (&nic));
  if (!marina_nic_list_validate (config->nics, &error) ||
      !marina_manager_check_macs_free (self->manager, config, &error) ||
      !replace_config (self, g_steal_pointer (&config), &error))
    return return_error (invocation, error);
  log_event (self, "info", "config", "network adapter added");
  marina_dbus_machine_complete_add_network_adapter (iface, invocation, id);
  return TRUE;
}

static MarinaNic *
find_adapter (MarinaMachine *self, MarinaMachineConfig *config, const char *id, GError **error)
{
  MarinaNic *nic = marina_nic_list_find (config->nics, id);

  if (nic == NULL)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                 "Machine '%s' has no network adapter '%s'", self->config->name, id);
  return nic;
}

static gboolean
handle_remove_network_adapter (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                               const char *id)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_copy (self->config);
  GError *error = NULL;
  MarinaNic *nic = find_adapter (self, config, id, &error);

  if (nic == NULL || !check_off_for_adapters (self, "remove", &error))
    return return_error (invocation, error);
  g_ptr_array_remove (config->nics, nic);
  if (!replace_config (self, g_steal_pointer (&config), &error))
    return return_error (invocation, error);
  log_event (self, "info", "config", "network adapter removed");
  marina_dbus_machine_complete_remove_network_adapter (iface, invocation);
  return TRUE;
}

/* Live: the tap moves to the other bridge, or the link goes down. A move
 * bounces the link so that the guest asks for a new address. */
static gboolean
apply_adapter_live (MarinaMachine *self, const MarinaNic *old, const MarinaNic *nic,
                    GError **error)
{
  gboolean moved = g_strcmp0 (old->network, nic->network) != 0;

  if (self->qemu == NULL || !marina_machine_is_active (self))
    return TRUE;
  if (moved && !marina_nic_replug (self->manager, self->config->id, nic, error))
    return FALSE;
  if (moved && nic->connected && old->connected)
    set_link (self, nic, FALSE);
  if (moved || old->connected != nic->connected)
    set_link (self, nic, nic->connected);
  return TRUE;
}

static gboolean
handle_configure_network_adapter (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                                  const char *id, GVariant *options)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_copy (self->config);
  GError *error = NULL;
  MarinaNic *nic = find_adapter (self, config, id, &error);
  g_autoptr(MarinaNic) old = nic ? marina_nic_copy (nic) : NULL;

  if (nic == NULL || !apply_adapter_options (self, nic, options, FALSE, &error) ||
      !apply_adapter_live (self, old, nic, &error))
    return return_error (invocation, error);
  if (!replace_config (self, g_steal_pointer (&config), &error))
    return return_error (invocation, error);
  log_event (self, "info", "network", "network adapter changed");
  marina_dbus_machine_complete_configure_network_adapter (iface, invocation);
  return TRUE;
}

GPtrArray *
marina_machine_get_access (MarinaMachine *self)
{
  return self->config->access;
}

/* ---- remote console password ------------------------------------------------ */

/* VNC authentication uses DES with an 8-byte key: longer passwords would be
 * cut silently, so they are refused. */
#define CONSOLE_PASSWORD_MAX 8

static void
on_console_password_set (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);

  if (error)
    log_event (self, "warning", "console", "the remote console password was not applied");
}

/* Hands QEMU the stored password (none stored: QEMU's VNC stays locked). */
static void
apply_console_password (MarinaMachine *self, const char *password)
{
  g_autofree char *path = machine_file (self, "console.password");
  g_autofree char *stored = NULL;
  g_autoptr(JsonObject) args = args_new ();

  if (self->config->remote_console_port == 0 ||
      g_strcmp0 (self->config->remote_console_auth, "sasl") == 0)
    return;
  if (password == NULL && !g_file_get_contents (path, &stored, NULL, NULL))
    return;
  json_object_set_string_member (args, "protocol", "vnc");
  json_object_set_string_member (args, "password", password ? password : stored);
  qmp_call (self, "set_password", args, -1, on_console_password_set, g_object_ref (self));
}

static gboolean
validate_console_password (const char *password, GError **error)
{
  gsize length = strlen (password);

  if (length == 0 || length > CONSOLE_PASSWORD_MAX)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        _("A console password has 1 to %d characters (VNC's limit), not %zu"),
                        CONSOLE_PASSWORD_MAX, length), FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isgraph (password[i]))
      return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                          _("A console password holds printable ASCII characters only, "
                            "without spaces")), FALSE;
  return TRUE;
}

static gboolean
handle_set_console_password (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                             const char *password)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  g_autofree char *path = machine_file (self, "console.password");
  GError *error = NULL;

  if (!validate_console_password (password, &error) ||
      !g_file_set_contents_full (path, password, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                 &error))
    return return_error (invocation, error);
  if (self->qemu != NULL && self->state != STATE_STARTING && self->state != STATE_RESTORING)
    apply_console_password (self, password);
  log_event (self, "info", "console", "remote console password changed");
  marina_dbus_machine_complete_set_console_password (iface, invocation);
  return TRUE;
}

/* ---- start and restore ----------------------------------------------------- */

static const char *
resolve_accelerator (MarinaMachine *self)
{
  const char *accel = self->config->accelerator;

  if (g_strcmp0 (accel, "auto") == 0)
    accel = marina_manager_get_settings (self->manager)->accelerator;
  if (g_strcmp0 (accel, "auto") == 0)
    accel = g_access ("/dev/kvm", R_OK | W_OK) == 0 ? "kvm" : "tcg";
  return accel;
}

static GStrv
build_command_line (MarinaMachine *self, gboolean incoming, const MarinaNicRuntime *nics,
                    const char *nbd_socket, GError **error)
{
  g_autofree char *qmp = runtime_file (self, "qmp.sock");
  g_autofree char *serial = runtime_file (self, "serial.sock");
  g_autofree char *serial_log = machine_file (self, "serial.log");
  g_autofree char *agent = runtime_file (self, "agent.sock");
  g_autofree char *com2 = runtime_file (self, MARINA_COM2_PIPE_NAME);
  g_autofree char *overlay = uses_undo_disk (self) ? machine_file (self, UNDO_DISK) : NULL;
  MarinaQemuRuntime runtime = {
    .qemu_binary = marina_manager_get_settings (self->manager)->qemu_binary,
    .accelerator = resolve_accelerator (self),
    .qmp_socket_path = qmp,
    .serial_socket_path = serial,
    .serial_log_path = serial_log,
    .agent_socket_path = agent,
    .com2_socket_path = com2,
    .incoming = incoming,
    .console_tls_dir = marina_manager_get_settings (self->manager)->console_tls_dir,
    .nic_backends = (const char *const *) nics->backends->pdata,
    .boot_disk_nbd_socket = nbd_socket,
    .boot_disk_overlay = overlay,
  };

  return marina_qemu_command_line (self->config, &runtime, error);
}

static gboolean
write_pid_file (MarinaMachine *self, GError **error)
{
  g_autofree char *path = runtime_file (self, "qemu.pid");
  g_autofree char *text = g_strdup_printf ("%d\n", marina_qemu_get_pid (self->qemu));

  return g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/* A remote console speaks TLS only: without its certificates, say which
 * files are missing rather than let QEMU fail on the first. */
static gboolean
check_remote_console_files (MarinaMachine *self, GError **error)
{
  const char *tls_dir = marina_manager_get_settings (self->manager)->console_tls_dir;

  for (guint i = 0; self->config->remote_console_port && i < G_N_ELEMENTS (tls_files); i++)
    {
      g_autofree char *path = g_build_filename (tls_dir, tls_files[i], NULL);
      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                            _("Machine '%s' has a remote console on port %u, which needs TLS "
                              "certificates: %s is missing (put ca-cert.pem, server-cert.pem and "
                              "server-key.pem in [console] tls-dir of marina.conf)"),
                            self->config->name, self->config->remote_console_port, path), FALSE;
    }
  return TRUE;
}

/* A VHD or VHDX anywhere in the chain (a qcow2 child of a VHD too) would
 * make QEMU refuse to save the machine. */
static gboolean
chain_blocks_migration (const char *path)
{
  g_autofree char *current = g_strdup (path);

  for (guint depth = 0; current != NULL && depth < 16; depth++)
    {
      g_autoptr(MarinaImageInfo) info = marina_image_info_read (current, NULL);
      if (info == NULL)
        return FALSE;
      if (marina_image_format_blocks_migration (marina_image_format_to_qemu (info->format)))
        return TRUE;
      g_free (current);
      current = g_steal_pointer (&info->parent_path);
    }
  return FALSE;
}

/* A VHD or VHDX boot disk is served by qemu-storage-daemon, so that QEMU
 * (which blocks saving a machine with one open) sees plain NBD. */
static gboolean
serve_vhd (MarinaMachine *self, const MarinaQemuIdentity *identity, char **socket_path,
           GError **error)
{
  const MarinaSettings *settings = marina_manager_get_settings (self->manager);

  *socket_path = NULL;
  if (self->config->boot_disk == NULL || !chain_blocks_migration (self->config->boot_disk))
    return TRUE;
  *socket_path = marina_storage_daemon_start (settings->storage_daemon, self->config->boot_disk,
                                              self->config->boot_disk_format, self->runtime_dir,
                                              identity, error);
  return *socket_path != NULL;
}

/* QEMU appends to a port's text file; made here when missing, so that a
 * confined QEMU can be given access to it. */
static gboolean
make_port_files (MarinaMachine *self, GError **error)
{
  const char *const *roots =
    (const char *const *) marina_manager_get_settings (self->manager)->storage_paths;
  const char *const paths[] = { self->config->com2.path, self->config->lpt1.path };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autofree char *resolved = NULL;
      if (paths[i] && !(resolved = marina_storage_resolve_output (roots, paths[i], TRUE, error)))
        return g_prefix_error (error, _("Machine '%s' cannot start: the %s file: "),
                               self->config->name, i == 0 ? "COM2" : "LPT1"), FALSE;
    }
  return TRUE;
}

static gboolean
spawn_qemu (MarinaMachine *self, gboolean incoming, GError **error)
{
  g_auto(GStrv) argv = NULL;
  g_autofree char *log_path = runtime_file (self, "qemu.log");
  g_autofree char *serial_log = machine_file (self, "serial.log");
  g_auto(MarinaNicRuntime) nics = { 0 };
  g_autofree char *nbd_socket = NULL;
  MarinaQemuIdentity identity;
  gboolean confine = marina_manager_get_settings (self->manager)->confine_qemu;
  MarinaQemu *qemu;

  if (!check_remote_console_files (self, error) ||
      !marina_nic_runtime_prepare (&nics, self->manager, self->config, error))
    return FALSE;
  /* Again at each start: a link may have been put in an image's place. */
  if (!marina_manager_check_storage (self->manager, self->config, error) ||
      !marina_manager_check_no_parents (self->manager, self->config, error) ||
      !make_port_files (self, error))
    return FALSE;
  /* Checks that the disks exist, naming any that are missing. */
  argv = build_command_line (self, incoming, &nics, NULL, error);
  if (argv == NULL)
    return FALSE;
  if (g_mkdir_with_parents (self->runtime_dir, 0700) < 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, _("Cannot create %s: %s"),
                        self->runtime_dir, g_strerror (errno)), FALSE;
  remove_runtime_files (self);
  /* Each run gets a fresh serial log; QEMU appends to it. */
  g_file_set_contents (serial_log, "", 0, NULL);
  if (confine && !prepare_confinement (self, &identity, error))
    return FALSE;
  if (!serve_vhd (self, confine ? &identity : NULL, &nbd_socket, error))
    {
      release_confinement (self);
      return FALSE;
    }
  if (nbd_socket != NULL)
    {
      g_strfreev (argv);
      argv = build_command_line (self, incoming, &nics, nbd_socket, error);
    }
  qemu = argv ? marina_qemu_spawn ((const char *const *) argv, log_path,
                                   confine ? &identity : NULL,
                                   (const int *) nics.source_fds->data,
                                   (const int *) nics.target_fds->data, nics.source_fds->len,
                                   error)
              : NULL;
  if (qemu == NULL)
    {
      marina_storage_daemon_stop (self->runtime_dir);
      release_confinement (self);
      return FALSE;
    }
  watch_qemu (self, qemu);
  g_free (self->undo_node);
  self->undo_node = uses_undo_disk (self) ? g_strdup ("disk0-format") : NULL;
  g_free (self->boot_disk_socket);
  self->boot_disk_socket = g_strdup (nbd_socket);
  self->undo_overlays = 0;
  return write_pid_file (self, error);
}

static void
fail_start (MarinaMachine *self, GError *error)
{
  g_autoptr(GError) owned = error;

  if (self->job == NULL)
    return; /* QEMU's exit was reported already, with its output */
  log_event (self, "error", "error", error->message);
  finish_job (self, error, NULL);
  /* The job is answered; QEMU's exit then brings the state back. */
  if (self->qemu)
    request_exit (self, self->state == STATE_RESTORING ? "restore-failed" : "start-failed");
}

static void
become_running (MarinaMachine *self, const char *reason, gboolean paused)
{
  sync_process_properties (self, resolve_accelerator (self), g_get_real_time ());
  set_state (self, paused ? STATE_PAUSED : STATE_RUNNING, reason);
  finish_job (self, NULL, paused ? "The machine is paused" : "The machine is running");
}

static void
on_cont_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);
  gboolean restored = self->state == STATE_RESTORING;

  if (error)
    return fail_start (self, g_steal_pointer (&error));
  if (restored)
    {
      g_autofree char *state_file = machine_file (self, "saved.state");
      g_unlink (state_file);
      sync_saved_state (self);
      marina_guest_additions_sync_time (self->guest); /* its clock stood still */
    }
  become_running (self, restored ? "restored" : "user", FALSE);
}

static void
send_cont (MarinaMachine *self)
{
  qmp_call (self, "cont", NULL, -1, on_cont_done, g_object_ref (self));
}

/* Restore: QEMU waits with "-incoming defer"; we hand it the state file as an
 * fd, start the incoming migration and poll until it completes. */

static void poll_migration (MarinaMachine *self);

static gboolean
saved_while_paused (MarinaMachine *self)
{
  return machine_file_exists (self, "saved.paused");
}

static void
on_incoming_done (MarinaMachine *self)
{
  if (saved_while_paused (self))
    {
      g_autofree char *state_file = machine_file (self, "saved.state");
      g_unlink (state_file);
      touch_machine_file (self, "saved.paused", FALSE);
      sync_saved_state (self);
      marina_guest_additions_sync_time (self->guest); /* once it runs again */
      become_running (self, "restored", TRUE);
    }
  else
    send_cont (self);
}

static void
on_save_done (MarinaMachine *self);

static void
migration_finished (MarinaMachine *self, GError *error)
{
  gboolean restoring = self->state == STATE_RESTORING;

  if (error && restoring)
    return fail_start (self, error);
  if (restoring)
    return on_incoming_done (self);
  on_save_done (self); /* error handling of a save is in its own path */
  g_clear_error (&error);
}

static void on_save_failed (MarinaMachine *self, GError *error);

static void
on_query_migrate (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);
  JsonObject *info, *ram;
  const char *status;

  if (error)
    return self->state == STATE_SAVING ? on_save_failed (self, g_steal_pointer (&error))
                                       : migration_finished (self, g_steal_pointer (&error));
  info = json_node_get_object (ret);
  status = json_object_get_string_member_with_default (info, "status", "none");
  ram = json_object_has_member (info, "ram") ? json_object_get_object_member (info, "ram") : NULL;
  if (ram && self->job && json_object_get_int_member_with_default (ram, "total", 0) > 0)
    marina_job_set_progress (self->job,
                             (double) json_object_get_int_member_with_default (ram, "transferred", 0) /
                             json_object_get_int_member (ram, "total"));
  if (g_str_equal (status, "completed"))
    migration_finished (self, NULL);
  else if (g_str_equal (status, "failed") || g_str_equal (status, "cancelled"))
    {
      g_autoptr(GError) failed = g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED,
                                              "QEMU's migration %s: %s", status,
                                              json_object_get_string_member_with_default (info, "error-desc", "no reason given"));
      if (self->state == STATE_SAVING)
        on_save_failed (self, g_steal_pointer (&failed));
      else
        migration_finished (self, g_steal_pointer (&failed));
    }
  else
    poll_migration (self);
}

static gboolean
poll_migration_now (gpointer user_data)
{
  MarinaMachine *self = user_data;

  qmp_call (self, "query-migrate", NULL, -1, on_query_migrate, self); /* ref passes on */
  return G_SOURCE_REMOVE;
}

static void
poll_migration (MarinaMachine *self)
{
  g_timeout_add (MIGRATION_POLL_MS, poll_migration_now, g_object_ref (self));
}

typedef struct {
  MarinaMachine *self;
  char *uri;
  const char *command;
} MigrateStep;

static void
on_migrate_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);

  if (error && self->state == STATE_SAVING)
    return on_save_failed (self, g_steal_pointer (&error));
  if (error)
    return fail_start (self, g_steal_pointer (&error));
  poll_migration (self);
}

static void
on_migration_fd_passed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MigrateStep *step = user_data;
  g_autoptr(MarinaMachine) self = step->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);
  g_autoptr(JsonObject) args = args_new ();
  const char *command = step->command;

  json_object_set_string_member (args, "uri", step->uri);
  g_free (step->uri);
  g_free (step);
  if (error && self->state == STATE_SAVING)
    return on_save_failed (self, g_steal_pointer (&error));
  if (error)
    return fail_start (self, g_steal_pointer (&error));
  qmp_call (self, command, args, -1, on_migrate_started, g_object_ref (self));
}

/* Passes fd to QEMU under a fresh name and runs "migrate" or
 * "migrate-incoming" on it. The caller keeps and closes its own fd. */
static void
start_migration (MarinaMachine *self, const char *command, int fd)
{
  MigrateStep *step = g_new0 (MigrateStep, 1);
  g_autoptr(JsonObject) args = args_new ();
  g_autofree char *name = g_strdup_printf ("migration%u", ++self->fd_counter);

  step->self = g_object_ref (self);
  step->uri = g_strdup_printf ("fd:%s", name);
  step->command = command;
  json_object_set_string_member (args, "fdname", name);
  qmp_call (self, "getfd", args, fd, on_migration_fd_passed, step);
}

static void
start_incoming (MarinaMachine *self)
{
  g_autofree char *path = machine_file (self, "saved.state");
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

  if (fd < 0)
    return fail_start (self, g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED,
                                          "Cannot open the saved state %s: %s", path,
                                          g_strerror (errno)));
  start_migration (self, "migrate-incoming", fd);
  close (fd);
}

static void
on_start_qmp_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!marina_qemu_connect_qmp_finish (MARINA_QEMU (source), result, &error))
    return fail_start (self, g_steal_pointer (&error));
  if (self->qemu != MARINA_QEMU (source))
    return;
  watch_qmp (self);
  apply_console_password (self, NULL);
  apply_cables (self);
  if (self->state == STATE_RESTORING)
    start_incoming (self);
  else
    send_cont (self);
}

/* ---- additional disks and removable media ------------------------------------ */

/* "disk" (o) or "path" (s), and "bus" (s); the disk is imported if need be. */
static MarinaDisk *
parse_attach_options (MarinaMachine *self, GVariant *options, MarinaBus *bus, gboolean *shared,
                      GError **error)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (options);
  const char *disk_path = NULL;
  const char *path = NULL;
  const char *bus_name = NULL;
  MarinaDisk *disk;
  static const MarinaOptionType known[] = {
    { "disk", "o" }, { "path", "s" }, { "bus", "s" }, { "shared", "b" }, { NULL, NULL },
  };

  if (!marina_disks_check_options (options, "AttachDisk", known,
                                   "disk (o) or path (s), bus (s) and shared (b)", error))
    return NULL;
  *shared = FALSE;
  g_variant_dict_lookup (&dict, "shared", "b", shared);
  g_variant_dict_lookup (&dict, "disk", "&o", &disk_path);
  g_variant_dict_lookup (&dict, "path", "&s", &path);
  if (disk_path == NULL && path == NULL)
    return marina_error_invalid (error, "AttachDisk needs the disk: option disk (a Disk object "
                                 "path, o) or path (s)"), NULL;
  *bus = self->config->profile == MARINA_PROFILE_LEGACY ? MARINA_BUS_IDE : MARINA_BUS_VIRTIO;
  if (g_variant_dict_lookup (&dict, "bus", "&s", &bus_name) &&
      !marina_bus_from_string (bus_name, bus, error))
    return NULL;
  if (disk_path && !(disk = marina_manager_lookup_disk (self->manager, disk_path)))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND, "There is no disk %s",
                        disk_path), NULL;
  if (disk_path == NULL && !(disk = marina_manager_import_disk (self->manager, path, error)))
    return NULL;
  if (marina_disk_is_busy (disk) || marina_disk_get_task (disk))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY, "Disk '%s' is %s; wait for its "
                        "job", marina_disk_get_path (disk),
                        marina_disk_is_busy (disk) ? "being created" : marina_disk_get_task (disk)),
           NULL;
  return disk;
}

/* Checks, stores and applies a changed configuration; takes @config. */
static gboolean
apply_config (MarinaMachine *self, MarinaMachineConfig *config, GError **error)
{
  g_autoptr(MarinaMachineConfig) owned = config;

  if (!marina_machine_config_validate (config, marina_manager_get_host_memory_mib (self->manager),
                                       error) ||
      !marina_manager_check_storage (self->manager, config, error))
    return FALSE;
  return replace_config (self, g_steal_pointer (&owned), error);
}

/* One machine per disk, unless each attaches it shared (a cluster's
 * quorum disk); QEMU's image locks then let them all write. */
static gboolean
check_sharing (MarinaMachine *self, MarinaDisk *disk, gboolean shared, GError **error)
{
  const char *const *users = marina_dbus_disk_get_attached_to (MARINA_DBUS_DISK (disk));

  for (guint i = 0; users && users[i]; i++)
    {
      if (g_str_equal (users[i], self->object_path) || shared)
        continue;
      return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                          "Disk '%s' is attached to another machine (%s); attach it with "
                          "shared=true to share it (raw disks only)", marina_disk_get_path (disk),
                          users[i]), FALSE;
    }
  return TRUE;
}

static gboolean
handle_attach_disk (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  g_autoptr(MarinaMachineConfig) config = NULL;
  g_autoptr(MarinaDrive) drive = marina_drive_new ();
  GError *error = NULL;
  MarinaDisk *disk = NULL;
  MarinaBus bus;

  if (!check_state (self, "AttachDisk", &error, STATE_OFF) ||
      !(disk = parse_attach_options (self, options, &bus, &drive->shared, &error)) ||
      !check_sharing (self, disk, drive->shared, &error))
    return return_error (invocation, error);
  drive->path = g_strdup (marina_disk_get_path (disk));
  if (g_strcmp0 (drive->path, self->config->boot_disk) == 0 ||
      marina_drive_list_find (self->config->drives, drive->path))
    return return_error (invocation, g_error_new (MARINA_ERROR, MARINA_ERROR_EXISTS,
                                                  "Disk '%s' is attached to machine '%s' already",
                                                  drive->path, self->config->name));
  config = marina_machine_config_copy (self->config);
  if (!marina_drive_list_place (config->drives, config->profile == MARINA_PROFILE_LEGACY, bus,
                                drive, &error) ||
      !(drive->format = marina_image_probe_format (drive->path, &error)))
    return return_error (invocation, error);
  g_ptr_array_add (config->drives, g_steal_pointer (&drive));
  if (!apply_config (self, g_steal_pointer (&config), &error))
    return return_error (invocation, error);
  log_event (self, "info", "config", "disk attached");
  marina_dbus_machine_complete_attach_disk (iface, invocation, marina_disk_get_object_path (disk));
  return TRUE;
}

static gboolean
handle_detach_disk (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                    const char *disk_path)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  MarinaDisk *disk = marina_manager_lookup_disk (self->manager, disk_path);
  g_autoptr(MarinaMachineConfig) config = NULL;
  GError *error = NULL;
  MarinaDrive *drive;

  if (!check_state (self, "DetachDisk", &error, STATE_OFF))
    return return_error (invocation, error);
  if (disk && g_strcmp0 (marina_disk_get_path (disk), self->config->boot_disk) == 0)
    return return_error (invocation, g_error_new (MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                                                  "Disk '%s' is the boot disk of machine '%s'; "
                                                  "change the boot disk with SetConfig",
                                                  marina_disk_get_path (disk), self->config->name));
  config = marina_machine_config_copy (self->config);
  drive = disk ? marina_drive_list_find (config->drives, marina_disk_get_path (disk)) : NULL;
  if (drive == NULL)
    return return_error (invocation, g_error_new (MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                                                  "Disk %s is not attached to machine '%s'",
                                                  disk ? marina_disk_get_path (disk) : disk_path,
                                                  self->config->name));
  g_ptr_array_remove (config->drives, drive);
  if (!apply_config (self, g_steal_pointer (&config), &error))
    return return_error (invocation, error);
  log_event (self, "info", "config", "disk detached");
  marina_dbus_machine_complete_detach_disk (iface, invocation);
  return TRUE;
}

/* The CD/DVD drive ("cd0") or the floppy drive ("fd0") and its setting. */
typedef struct {
  const char *name;
  const char *qdev;
  gboolean writable;
} MediaDrive;

static const MediaDrive media_drives[] = {
  { "cdrom", "cd0", FALSE },
  { "floppy", "fd0", TRUE },
};

static char **
media_field (MarinaMachineConfig *config, const MediaDrive *drive)
{
  return drive->writable ? &config->floppy : &config->cdrom;
}

static const MediaDrive *
find_media_drive (MarinaMachine *self, const char *name, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (media_drives); i++)
    if (g_str_equal (media_drives[i].name, name))
      {
        if (media_drives[i].writable && self->config->profile != MARINA_PROFILE_LEGACY)
          return marina_error_invalid (error, "Machine '%s' has no floppy drive: only the legacy "
                                       "profile has one", self->config->name), NULL;
        return &media_drives[i];
      }
  return marina_error_invalid (error, "Unknown drive '%s'; use cdrom or floppy", name), NULL;
}

typedef struct {
  MarinaMachine *self;
  GDBusMethodInvocation *invocation;
  const MediaDrive *drive;
  char *path;   /* the new medium, or NULL: ejected */
  guint nodes_deleted;
} MediaChange;

static void
media_change_free (MediaChange *change)
{
  g_object_unref (change->self);
  g_free (change->path);
  g_free (change);
}

/* A confined QEMU opens a medium by path: it gets access to the new one,
 * and loses it to the old one. */
static gboolean
regrant_media (MarinaMachine *self, const MediaDrive *drive, const char *old, const char *new,
               GError **error)
{
  MarinaGrant grant = { new, drive->writable };
  MarinaGrant previous = { old, drive->writable };

  if (self->qemu_uid == 0)
    return TRUE;
  if (new && !marina_confinement_grant (self->qemu_uid, &grant, 1, error))
    return FALSE;
  if (old && g_strcmp0 (old, new) != 0)
    marina_confinement_revoke (self->qemu_uid, &previous, 1);
  return TRUE;
}

static gboolean
store_medium (MarinaMachine *self, const MediaDrive *drive, const char *path, GError **error)
{
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_copy (self->config);
  char **field = media_field (config, drive);

  g_free (*field);
  *field = g_strdup (path);
  return apply_config (self, g_steal_pointer (&config), error);
}

static void
complete_media_change (MediaChange *change, GError *error)
{
  MarinaMachine *self = change->self;

  if (error == NULL)
    store_medium (self, change->drive, change->path, &error);
  if (error)
    {
      g_dbus_method_invocation_take_error (change->invocation, error);
      return media_change_free (change);
    }
  log_event (self, "info", "config", change->path ? "medium inserted" : "medium ejected");
  if (change->path)
    marina_dbus_machine_complete_insert_media (MARINA_DBUS_MACHINE (self), change->invocation);
  else
    marina_dbus_machine_complete_eject_media (MARINA_DBUS_MACHINE (self), change->invocation);
  media_change_free (change);
}

static void
finish_live_change (MediaChange *change)
{
  MarinaMachine *self = change->self;
  const char *old = *media_field (self->config, change->drive);

  if (g_strcmp0 (old, change->path) != 0)
    regrant_media (self, change->drive, old, NULL, NULL);
  complete_media_change (change, NULL);
}

static void delete_start_node (MediaChange *change);

static void
on_start_node_deleted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MediaChange *change = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);

  /* Gone already after an earlier change: the nodes QEMU makes for a medium
   * changed by QMP go with the medium. */
  if (error || ++change->nodes_deleted == 2)
    return finish_live_change (change);
  delete_start_node (change);
}

/* The medium given at start is in named nodes ("cd0-format" over
 * "cd0-file") that stay, with the image open, once out of the drive. */
static void
delete_start_node (MediaChange *change)
{
  g_autoptr(JsonObject) args = args_new ();
  g_autofree char *node = g_strconcat (change->drive->qdev,
                                       change->nodes_deleted == 0 ? "-format" : "-file", NULL);

  json_object_set_string_member (args, "node-name", node);
  qmp_call (change->self, "blockdev-del", args, -1, on_start_node_deleted, change);
}

static void
on_medium_changed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MediaChange *change = user_data;
  MarinaMachine *self = change->self;
  g_autofree char *old = g_strdup (*media_field (self->config, change->drive));
  GError *error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);

  if (error == NULL)
    return delete_start_node (change);
  regrant_media (self, change->drive, change->path, old, NULL);
  g_prefix_error (&error, "QEMU did not change the medium: ");
  complete_media_change (change, error);
}

/* While QEMU runs: blockdev-change-medium opens the new image (after the
 * old medium is ejected, as a drive's door would), eject takes it out. */
static void
change_medium_live (MediaChange *change)
{
  MarinaMachine *self = change->self;
  g_autoptr(JsonObject) args = args_new ();
  GError *error = NULL;

  json_object_set_string_member (args, "id", change->drive->qdev);
  if (change->path == NULL)
    {
      json_object_set_boolean_member (args, "force", TRUE);
      qmp_call (self, "eject", args, -1, on_medium_changed, change);
      return;
    }
  if (!regrant_media (self, change->drive, NULL, change->path, &error))
    return complete_media_change (change, error);
  json_object_set_string_member (args, "filename", change->path);
  json_object_set_string_member (args, "format", "raw");
  json_object_set_string_member (args, "read-only-mode",
                                 change->drive->writable ? "read-write" : "read-only");
  qmp_call (self, "blockdev-change-medium", args, -1, on_medium_changed, change);
}

static void
change_medium (MarinaMachine *self, GDBusMethodInvocation *invocation, const char *method,
               const char *name, const char *path)
{
  MediaChange *change;
  GError *error = NULL;
  const MediaDrive *drive;

  if (!check_state (self, method, &error, STATE_OFF, STATE_RUNNING, STATE_PAUSED) ||
      !(drive = find_media_drive (self, name, &error)))
    {
      g_dbus_method_invocation_take_error (invocation, error);
      return;
    }
  change = g_new0 (MediaChange, 1);
  change->self = g_object_ref (self);
  change->invocation = invocation;
  change->drive = drive;
  change->path = g_strdup (path);
  if (self->state == STATE_OFF)
    complete_media_change (change, NULL);
  else
    change_medium_live (change);
}

static gboolean
handle_insert_media (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                     const char *drive, const char *path)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  const char *const *roots =
    (const char *const *) marina_manager_get_settings (self->manager)->storage_paths;
  g_autofree char *resolved = NULL;
  GError *error = NULL;

  /* QEMU (confined or root) opens it by path: it must be an image in storage. */
  if (!(resolved = marina_storage_resolve_existing (roots, path, &error)))
    return return_error (invocation, error);
  change_medium (self, invocation, "InsertMedia", drive, resolved);
  return TRUE;
}

static gboolean
handle_eject_media (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                    const char *drive)
{
  change_medium (MARINA_MACHINE (iface), invocation, "EjectMedia", drive, NULL);
  return TRUE;
}

/* ---- undo disks ------------------------------------------------------------- */

/* As Virtual Server's undo disks: with UndoDisks on, a run writes to a qcow2
 * overlay over the boot disk (UNDO_DISK in the machine directory), made
 * before the first run that needs one; the boot disk is opened read-only.
 * At power-off UndoAction keeps it for the next run, commits it into the boot
 * disk or discards it; a saved machine keeps it with its saved state. The
 * overlay's own header is never trusted for its backing file (a confined
 * QEMU may write the overlay): commit names the boot disk explicitly. */

/* "undo disk committed into /path/boot.img" */
static void
log_about_undo_disk (MarinaMachine *self, const char *what)
{
  g_autofree char *message = g_strdup_printf ("undo disk %s %s", what, self->config->boot_disk);

  log_event (self, "info", "disk", message);
}

static void
fail_undo_start (MarinaMachine *self, GError *error)
{
  g_autoptr(GError) owned = error;
  g_autofree char *overlay = machine_file (self, UNDO_DISK);

  /* The overlay was made for this start and holds nothing yet. */
  g_unlink (overlay);
  sync_saved_state (self);
  log_event (self, "error", "error", error->message);
  finish_job (self, error, NULL);
  set_state (self, STATE_OFF, "start-failed");
}

static gboolean
launch (MarinaMachine *self, gboolean restore, GError **error)
{
  g_autofree char *qmp = runtime_file (self, "qmp.sock");

  if (!spawn_qemu (self, restore, error))
    return FALSE;
  place_in_cgroup (self);
  sync_process_properties (self, "", 0);
  marina_qemu_connect_qmp_async (self->qemu, qmp, NULL, on_start_qmp_connected,
                                 g_object_ref (self));
  return TRUE;
}

static void
on_undo_disk_made (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  GError *error = NULL;

  if (!marina_disk_steps_run_finish (result, &error))
    return fail_undo_start (self, error);
  sync_saved_state (self);
  log_about_undo_disk (self, "made over");
  if (!launch (self, FALSE, &error))
    fail_undo_start (self, error);
}

static const char *
boot_disk_driver (MarinaMachine *self, GError **error)
{
  if (self->config->boot_disk_format == NULL &&
      !marina_machine_config_probe_formats (self->config, error))
    return NULL;
  return self->config->boot_disk_format;
}

/* The overlay is made under a temporary name and linked in place when whole. */
static gboolean
add_undo_disk_steps (MarinaMachine *self, MarinaDiskSteps *steps, GError **error)
{
  const char *driver = boot_disk_driver (self, error);
  g_autoptr(MarinaImageInfo) info = NULL;
  g_autofree char *size = NULL;
  int dir_fd;
  const char *temp;

  if (driver == NULL)
    return FALSE;
  dir_fd = open (self->machine_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd < 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, _("Cannot open %s: %s"),
                        self->machine_dir, g_strerror (errno)), FALSE;
  temp = marina_disk_steps_temp (steps, dir_fd, self->machine_dir, UNDO_DISK, error);
  close (dir_fd);
  if (temp == NULL)
    return FALSE;
  /* With the size given (-u), qemu-img does not open the boot disk, which a
   * running QEMU may hold locked (a new overlay after a live commit). */
  info = marina_image_info_read (self->config->boot_disk, NULL);
  size = info && info->virtual_size ? g_strdup_printf ("%" G_GUINT64_FORMAT, info->virtual_size)
                                    : NULL;
  marina_disk_steps_add (steps, 1.0, (const char *const[]) {
    marina_manager_get_settings (self->manager)->qemu_img, "create", "-q", "-f", "qcow2",
    "-b", self->config->boot_disk, "-F", driver, size ? "-u" : temp, size ? temp : size, size,
    NULL });
  marina_disk_steps_publish (steps, temp, UNDO_DISK, FALSE);
  return TRUE;
}

/* A start that needs a new overlay makes it first, as part of the start job. */
static MarinaJob *
start_on_new_undo_disk (MarinaMachine *self, GError **error)
{
  g_autofree char *action = g_strdup_printf ("make the undo disk of machine '%s'",
                                             self->config->name);
  g_autoptr(MarinaDiskSteps) steps = NULL;

  /* qemu-img reads the boot disk's chain: it must lie in storage, as QEMU's would. */
  if (!marina_manager_check_storage (self->manager, self->config, error) ||
      !boot_disk_driver (self, error))
    return NULL;
  begin_job (self, "start", FALSE);
  steps = marina_disk_steps_new (self->job, action);
  if (!add_undo_disk_steps (self, steps, error))
    {
      finish_job (self, *error, NULL);
      return NULL;
    }
  set_state (self, STATE_STARTING, "user");
  marina_disk_steps_run_async (g_steal_pointer (&steps), on_undo_disk_made, g_object_ref (self));
  return self->job;
}

static gboolean
check_undo_idle (MarinaMachine *self, GError **error)
{
  if (self->undo_job == NULL)
    return TRUE;
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                      _("The undo disk of machine '%s' is being committed into its boot disk; "
                        "wait for job %s"), self->config->name, job_path (self->undo_job)), FALSE;
}

static gboolean
check_undo_changes (MarinaMachine *self, const char *method, GError **error)
{
  if (!check_state (self, method, error, STATE_OFF) || !check_undo_idle (self, error))
    return FALSE;
  if (marina_machine_has_undo_changes (self))
    return TRUE;
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_STATE,
                      _("Machine '%s' has no undo changes to commit or discard"),
                      self->config->name), FALSE;
}

/* A run that began on an overlay, started by this marinad (which knows its nodes). */
static gboolean
check_live_undo (MarinaMachine *self, GError **error)
{
  if (self->undo_node)
    return TRUE;
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_STATE,
                      _("Machine '%s' is not running on an undo disk (it has undo disks off, or "
                        "was started before marinad restarted); commit when it is off"),
                      self->config->name), FALSE;
}

static gboolean
discard_undo_disk (MarinaMachine *self, GError **error)
{
  g_autofree char *overlay = machine_file (self, UNDO_DISK);

  if (g_unlink (overlay) != 0 && errno != ENOENT)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                        _("Cannot delete the undo disk %s: %s"), overlay, g_strerror (errno)), FALSE;
  sync_saved_state (self);
  log_about_undo_disk (self, "discarded, leaving as it was");
  return TRUE;
}

static void
on_undo_committed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(MarinaJob) job = g_steal_pointer (&self->undo_job);
  g_autoptr(GError) error = NULL;
  g_autofree char *overlay = machine_file (self, UNDO_DISK);

  if (marina_disk_steps_run_finish (result, &error) && g_unlink (overlay) != 0)
    error = g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED,
                         _("Cannot delete the committed undo disk %s: %s"), overlay,
                         g_strerror (errno));
  sync_saved_state (self);
  if (error)
    log_event (self, "error", "disk", error->message);
  else
    log_about_undo_disk (self, "committed into");
  marina_job_complete (job, error, error ? NULL : "The changes are in the boot disk");
}

/* qemu-img commit, with the overlay's backing named here, not read from it. */
static MarinaJob *
begin_undo_commit (MarinaMachine *self, GError **error)
{
  g_autofree char *overlay = machine_file (self, UNDO_DISK);
  g_autofree char *action = g_strdup_printf ("commit the undo disk of machine '%s' into '%s'",
                                             self->config->name, self->config->boot_disk);
  g_autofree char *escaped_overlay = marina_qemu_escape_option_value (overlay);
  g_autofree char *escaped_base = NULL;
  g_autofree char *image = NULL;
  const char *driver = boot_disk_driver (self, error);
  MarinaDiskSteps *steps;

  if (driver == NULL || !marina_manager_check_storage (self->manager, self->config, error))
    return NULL;
  escaped_base = marina_qemu_escape_option_value (self->config->boot_disk);
  image = g_strdup_printf ("driver=qcow2,file.driver=file,file.filename=%s,backing.driver=%s,"
                           "backing.file.driver=file,backing.file.filename=%s", escaped_overlay,
                           driver, escaped_base);
  self->undo_job = marina_job_new ("commit-undo-disks", self->object_path, FALSE);
  marina_manager_add_job (self->manager, self->undo_job);
  steps = marina_disk_steps_new (self->undo_job, action);
  marina_disk_steps_add (steps, 1.0, (const char *const[]) {
    marina_manager_get_settings (self->manager)->qemu_img, "commit", "-p", "-d", "--image-opts",
    image, NULL });
  marina_disk_steps_run_async (steps, on_undo_committed, g_object_ref (self));
  return self->undo_job;
}

/* ---- undo disks: commit while running ---------------------------------------- */

/* QEMU's active commit: the boot disk is reopened writable, the overlay's
 * data mirrored into it (block-commit) until QEMU says BLOCK_JOB_READY, then
 * the device pivots to the boot disk (block-job-complete). The old overlay
 * goes, and a new, empty one is put over the boot disk (blockdev-snapshot),
 * so the rest of the run is undoable again. */

#define UNDO_COMMIT_JOB "undo-commit"

static void
live_commit_done (MarinaMachine *self, GError *error)
{
  g_autoptr(MarinaJob) job = g_steal_pointer (&self->undo_job);
  g_autoptr(GError) owned = error;

  self->live_commit = FALSE;
  sync_saved_state (self);
  if (error)
    log_event (self, "error", "disk", error->message);
  else
    log_about_undo_disk (self, "committed while running into");
  if (job)
    marina_job_complete (job, error, error ? NULL : "The changes are in the boot disk");
}

static void
on_live_commit_call (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  GError *error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);

  if (error == NULL)
    return;
  g_prefix_error (&error, _("Cannot commit the undo disk of machine '%s' while it runs: "),
                  self->config->name);
  live_commit_done (self, error);
}

static char *
file_node_of (const char *format_node)
{
  g_autofree char *stem = g_strndup (format_node, strlen (format_node) - strlen ("-format"));

  return g_strconcat (stem, "-file", NULL);
}

static void
on_new_overlay_attached (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  GError *error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);

  if (error)
    g_prefix_error (&error, _("The undo disk of machine '%s' is committed, but the new one "
                              "could not be put in place (the rest of this run writes the boot "
                              "disk): "), self->config->name);
  live_commit_done (self, error);
}

static void
snapshot_onto_new_overlay (MarinaMachine *self)
{
  g_autoptr(JsonObject) args = args_new ();

  json_object_set_string_member (args, "node", "disk0-base-format");
  json_object_set_string_member (args, "overlay", self->undo_node);
  qmp_call (self, "blockdev-snapshot", args, -1, on_new_overlay_attached, g_object_ref (self));
}

static void
on_new_overlay_added (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  GError *error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);

  if (error)
    return on_new_overlay_attached (source, result, g_steal_pointer (&self));
  snapshot_onto_new_overlay (self);
}

static void
add_new_overlay_node (MarinaMachine *self)
{
  g_autoptr(JsonObject) args = args_new ();
  g_autoptr(JsonObject) file = args_new ();
  g_autofree char *path = machine_file (self, UNDO_DISK);
  g_autofree char *file_node = NULL;
  MarinaGrant grant = { path, TRUE };
  GError *error = NULL;

  if (self->qemu_uid && !marina_confinement_grant (self->qemu_uid, &grant, 1, &error))
    return live_commit_done (self, error);
  g_free (self->undo_node);
  self->undo_node = g_strdup_printf ("undo%u-format", ++self->undo_overlays);
  file_node = file_node_of (self->undo_node);
  json_object_set_string_member (file, "driver", "file");
  json_object_set_string_member (file, "node-name", file_node);
  json_object_set_string_member (file, "filename", path);
  json_object_set_string_member (args, "driver", "qcow2");
  json_object_set_string_member (args, "node-name", self->undo_node);
  json_object_set_object_member (args, "file", g_steal_pointer (&file));
  json_object_set_null_member (args, "backing");
  qmp_call (self, "blockdev-add", args, -1, on_new_overlay_added, g_object_ref (self));
}

static void
on_new_overlay_made (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  GError *error = NULL;

  if (!marina_disk_steps_run_finish (result, &error))
    return live_commit_done (self, error);
  add_new_overlay_node (self);
}

static void
make_new_overlay (MarinaMachine *self)
{
  g_autofree char *overlay = machine_file (self, UNDO_DISK);
  g_autofree char *action = g_strdup_printf ("make a new undo disk for machine '%s'",
                                             self->config->name);
  g_autoptr(MarinaDiskSteps) steps = marina_disk_steps_new (self->undo_job, action);
  GError *error = NULL;

  g_unlink (overlay);
  if (!add_undo_disk_steps (self, steps, &error))
    return live_commit_done (self, error);
  marina_disk_steps_run_async (g_steal_pointer (&steps), on_new_overlay_made, g_object_ref (self));
}

static void
on_old_overlay_deleted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  GError *error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);
  g_autoptr(JsonObject) args = NULL;
  g_autofree char *file_node = NULL;

  if (error)
    return live_commit_done (self, error);
  if (g_str_has_suffix (self->undo_node, "-file"))
    return make_new_overlay (self);
  /* The format node went first; now its file node, which holds the file open. */
  file_node = file_node_of (self->undo_node);
  g_free (self->undo_node);
  self->undo_node = g_steal_pointer (&file_node);
  args = args_new ();
  json_object_set_string_member (args, "node-name", self->undo_node);
  qmp_call (self, "blockdev-del", args, -1, on_old_overlay_deleted, g_object_ref (self));
}

/* The device uses the boot disk now: the old overlay's nodes go. */
static void
on_live_commit_completed (MarinaMachine *self, JsonObject *data)
{
  g_autoptr(JsonObject) args = args_new ();
  const char *failure = json_object_get_string_member_with_default (data, "error", NULL);

  if (failure)
    return live_commit_done (self, g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED,
                                                _("QEMU could not commit the undo disk of "
                                                  "machine '%s': %s"), self->config->name,
                                                failure));
  json_object_set_string_member (args, "node-name", self->undo_node);
  qmp_call (self, "blockdev-del", args, -1, on_old_overlay_deleted, g_object_ref (self));
}

static gboolean
on_block_job_event (MarinaMachine *self, const char *name, JsonObject *data)
{
  g_autoptr(JsonObject) args = NULL;

  if (self->undo_job == NULL ||
      g_strcmp0 (json_object_get_string_member_with_default (data, "device", NULL),
                 UNDO_COMMIT_JOB) != 0)
    return FALSE;
  if (g_str_equal (name, "BLOCK_JOB_COMPLETED"))
    on_live_commit_completed (self, data);
  else if (g_str_equal (name, "BLOCK_JOB_READY"))
    {
      args = args_new ();
      json_object_set_string_member (args, "device", UNDO_COMMIT_JOB);
      qmp_call (self, "block-job-complete", args, -1, on_live_commit_call, g_object_ref (self));
    }
  return TRUE;
}

static void
start_block_commit (MarinaMachine *self)
{
  g_autoptr(JsonObject) args = args_new ();

  json_object_set_string_member (args, "job-id", UNDO_COMMIT_JOB);
  json_object_set_string_member (args, "device", self->undo_node);
  json_object_set_string_member (args, "base-node", "disk0-base-format");
  qmp_call (self, "block-commit", args, -1, on_live_commit_call, g_object_ref (self));
}

static void
on_boot_disk_writable (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  GError *error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);

  if (error)
    {
      g_prefix_error (&error, _("Cannot commit the undo disk of machine '%s' while it runs: "),
                      self->config->name);
      return live_commit_done (self, error);
    }
  start_block_commit (self);
}

static JsonObject *
reopen_options (const char *driver, const char *node, const char *child_key, const char *child)
{
  JsonObject *options = args_new ();

  json_object_set_string_member (options, "driver", driver);
  json_object_set_string_member (options, "node-name", node);
  json_object_set_string_member (options, child_key, child);
  json_object_set_boolean_member (options, "read-only", FALSE);
  return options;
}

/* A boot disk qemu-storage-daemon serves (its export is writable) under the
 * overlay: QEMU's NBD client node, read-only for the run. */
static JsonObject *
nbd_reopen_options (const char *socket_path)
{
  JsonObject *options = args_new ();
  JsonObject *server = args_new ();

  json_object_set_string_member (server, "type", "unix");
  json_object_set_string_member (server, "path", socket_path);
  json_object_set_string_member (options, "driver", "nbd");
  json_object_set_string_member (options, "node-name", "disk0-base-format");
  json_object_set_object_member (options, "server", server);
  json_object_set_string_member (options, "export", "disk0");
  json_object_set_boolean_member (options, "read-only", FALSE);
  return options;
}

/* The boot disk was opened read-only for the run; the commit writes it. */
static MarinaJob *
begin_live_commit (MarinaMachine *self, GError **error)
{
  MarinaGrant grant = { self->config->boot_disk, TRUE };
  g_autoptr(JsonObject) args = args_new ();
  JsonArray *options = json_array_new ();
  const char *driver = boot_disk_driver (self, error);

  if (driver == NULL || (self->qemu_uid && !marina_confinement_grant (self->qemu_uid, &grant, 1,
                                                                       error)))
    {
      json_array_unref (options);
      return NULL;
    }
  if (self->boot_disk_socket)
    json_array_add_object_element (options, nbd_reopen_options (self->boot_disk_socket));
  else
    {
      json_array_add_object_element (options, reopen_options (driver, "disk0-base-format", "file",
                                                              "disk0-base-file"));
      json_array_add_object_element (options, reopen_options ("file", "disk0-base-file",
                                                              "filename", self->config->boot_disk));
    }
  json_object_set_array_member (args, "options", options);
  self->undo_job = marina_job_new ("commit-undo-disks", self->object_path, FALSE);
  self->live_commit = TRUE;
  marina_manager_add_job (self->manager, self->undo_job);
  qmp_call (self, "blockdev-reopen", args, -1, on_boot_disk_writable, g_object_ref (self));
  return self->undo_job;
}

/* At power-off (and when a saved state is discarded): the run is over. */
static void
apply_undo_action (MarinaMachine *self)
{
  g_autoptr(GError) error = NULL;

  if (!marina_machine_has_undo_changes (self))
    return;
  switch (self->config->undo_action)
    {
    case MARINA_UNDO_ACTION_KEEP:
      log_event (self, "info", "disk", "undo disk kept for the next run");
      return;
    case MARINA_UNDO_ACTION_DISCARD:
      discard_undo_disk (self, &error);
      break;
    case MARINA_UNDO_ACTION_COMMIT:
      begin_undo_commit (self, &error);
      break;
    }
  if (error)
    log_event (self, "error", "disk", error->message);
}

static gboolean
handle_commit_undo_disks (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;
  MarinaJob *job = NULL;

  if (self->state == STATE_RUNNING || self->state == STATE_PAUSED)
    {
      if (!check_undo_idle (self, &error) || !check_live_undo (self, &error) ||
          !(job = begin_live_commit (self, &error)))
        return return_error (invocation, error);
    }
  else if (!check_undo_changes (self, "CommitUndoDisks", &error) ||
           !(job = begin_undo_commit (self, &error)))
    return return_error (invocation, error);
  marina_dbus_machine_complete_commit_undo_disks (iface, invocation, job_path (job));
  return TRUE;
}

static gboolean
handle_discard_undo_disks (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;

  if (!check_undo_changes (self, "DiscardUndoDisks", &error) || !discard_undo_disk (self, &error))
    return return_error (invocation, error);
  marina_dbus_machine_complete_discard_undo_disks (iface, invocation);
  return TRUE;
}

static MarinaJob *
begin_start (MarinaMachine *self, GError **error)
{
  gboolean restore = self->state == STATE_SAVED;
  g_autofree char *qmp = runtime_file (self, "qmp.sock");

  if (!check_state (self, "Start", error, STATE_OFF, STATE_SAVED) ||
      !check_undo_idle (self, error) ||
      !marina_manager_check_disks_idle (self->manager, self->config, error) ||
      !marina_manager_check_memory (self->manager, self->config->id, error) ||
      !marina_manager_check_cpu_reserve (self->manager, self->config->id, self->config->vcpus,
                                         self->config->cpu_reserve, error))
    return NULL;
  if (!restore && self->config->undo_disks && self->config->boot_disk &&
      !marina_machine_has_undo_changes (self))
    return start_on_new_undo_disk (self, error);
  if (!spawn_qemu (self, restore, error))
    return NULL;
  place_in_cgroup (self);
  begin_job (self, restore ? "restore" : "start", FALSE);
  set_state (self, restore ? STATE_RESTORING : STATE_STARTING, "user");
  sync_process_properties (self, "", 0);
  marina_qemu_connect_qmp_async (self->qemu, qmp, NULL, on_start_qmp_connected,
                                 g_object_ref (self));
  return self->job;
}

static gboolean
handle_start (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;
  MarinaJob *job = begin_start (self, &error);

  if (job == NULL)
    return return_error (invocation, error);
  marina_dbus_machine_complete_start (iface, invocation, job_path (job));
  return TRUE;
}

/* ---- pause, resume, reset ------------------------------------------------- */

typedef struct {
  MarinaMachine *self;
  GDBusMethodInvocation *invocation;
  MachineState next;
  const char *what;
} SimpleCall;

static void
on_simple_call_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SimpleCall *call = user_data;
  g_autoptr(MarinaMachine) self = call->self;
  GDBusMethodInvocation *invocation = call->invocation;
  GError *error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);
  MachineState next = call->next;
  const char *what = call->what;

  g_free (call);
  self->calls_in_flight--;
  if (error)
    {
      g_dbus_method_invocation_take_error (invocation, error);
      return;
    }
  if (next != self->state)
    set_state (self, next, "user");
  else
    log_event (self, "info", "state", what);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
simple_qmp_call (MarinaMachine *self, GDBusMethodInvocation *invocation, const char *command,
                 MachineState next, const char *what)
{
  SimpleCall *call = g_new0 (SimpleCall, 1);

  call->self = g_object_ref (self);
  call->invocation = invocation;
  call->next = next;
  call->what = what;
  self->calls_in_flight++;
  qmp_call (self, command, NULL, -1, on_simple_call_done, call);
}

static gboolean
handle_pause (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;

  if (!check_state (self, "Pause", &error, STATE_RUNNING))
    return return_error (invocation, error);
  simple_qmp_call (self, invocation, "stop", STATE_PAUSED, "paused");
  return TRUE;
}

static gboolean
handle_resume (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;

  if (!check_state (self, "Resume", &error, STATE_PAUSED))
    return return_error (invocation, error);
  simple_qmp_call (self, invocation, "cont", STATE_RUNNING, "resumed");
  return TRUE;
}

static gboolean
handle_reset (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;

  if (!check_state (self, "Reset", &error, STATE_RUNNING, STATE_PAUSED))
    return return_error (invocation, error);
  simple_qmp_call (self, invocation, "system_reset", self->state, "reset by the user");
  return TRUE;
}

/* ---- save ----------------------------------------------------------------- */

static void
on_save_failed (MarinaMachine *self, GError *error)
{
  g_autoptr(GError) owned = error;
  g_autofree char *part = machine_file (self, "saved.state.part");
  gboolean was_paused = machine_file_exists (self, "saved.paused");

  close_fd (&self->save_fd);
  g_unlink (part);
  touch_machine_file (self, "saved.paused", FALSE);
  log_event (self, "error", "error", error->message);
  finish_job (self, error, NULL);
  set_state (self, was_paused ? STATE_PAUSED : STATE_RUNNING, "save-failed");
  if (!was_paused)
    qmp_call (self, "cont", NULL, -1, on_quit_sent, NULL);
}

static void
on_save_done (MarinaMachine *self)
{
  g_autofree char *part = machine_file (self, "saved.state.part");
  g_autofree char *final = machine_file (self, "saved.state");
  g_autoptr(GError) error = NULL;

  /* QEMU has written everything; make it durable before it counts. */
  if (self->save_fd >= 0 && fsync (self->save_fd) < 0)
    error = g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot write the saved state: %s",
                         g_strerror (errno));
  close_fd (&self->save_fd);
  if (error == NULL && g_rename (part, final) < 0)
    error = g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot store the saved state %s: %s",
                         final, g_strerror (errno));
  if (error)
    return on_save_failed (self, g_steal_pointer (&error));
  self->saved_ok = TRUE;
  request_exit (self, "saved");
}

static void
on_save_bandwidth_set (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);
  g_autofree char *part = machine_file (self, "saved.state.part");

  if (error)
    return on_save_failed (self, g_steal_pointer (&error));
  self->save_fd = open (part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (self->save_fd < 0)
    return on_save_failed (self, g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED,
                                              "Cannot create the saved state %s: %s", part,
                                              g_strerror (errno)));
  start_migration (self, "migrate", self->save_fd);
}

static void
on_stopped_for_save (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);
  g_autoptr(JsonObject) args = args_new ();

  if (error)
    return on_save_failed (self, g_steal_pointer (&error));
  /* QEMU caps migration at 128 MiB/s by default, meant for networks; a save
   * to a local file should go as fast as the disk allows. */
  json_object_set_int_member (args, "max-bandwidth", SAVE_MAX_BANDWIDTH);
  qmp_call (self, "migrate-set-parameters", args, -1, on_save_bandwidth_set, g_object_ref (self));
}

static MarinaJob *
begin_save (MarinaMachine *self, GError **error)
{
  if (!check_state (self, "Save", error, STATE_RUNNING, STATE_PAUSED) ||
      !check_undo_idle (self, error))
    return NULL;
  touch_machine_file (self, "saved.paused", self->state == STATE_PAUSED);
  begin_job (self, "save", FALSE);
  set_state (self, STATE_SAVING, "user");
  /* Stop the guest first so that what is saved is one consistent moment. */
  qmp_call (self, "stop", NULL, -1, on_stopped_for_save, g_object_ref (self));
  return self->job;
}

static gboolean
handle_save (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;
  MarinaJob *job = begin_save (self, &error);

  if (job == NULL)
    return return_error (invocation, error);
  marina_dbus_machine_complete_save (iface, invocation, job_path (job));
  return TRUE;
}

static gboolean
handle_discard_saved_state (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;
  g_autofree char *path = machine_file (self, "saved.state");

  if (!check_state (self, "DiscardSavedState", &error, STATE_SAVED))
    return return_error (invocation, error);
  if (g_unlink (path) < 0 && errno != ENOENT)
    return return_error (invocation, g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED,
                                                  _("Cannot delete the saved state %s: %s"),
                                                  path, g_strerror (errno)));
  touch_machine_file (self, "saved.paused", FALSE);
  sync_saved_state (self);
  set_state (self, STATE_OFF, "saved-state-discarded");
  apply_undo_action (self);
  marina_dbus_machine_complete_discard_saved_state (iface, invocation);
  return TRUE;
}

/* ---- shutdown and turn off ------------------------------------------------- */

static gboolean
on_shutdown_timeout (gpointer user_data)
{
  MarinaMachine *self = user_data;
  g_autofree char *message = NULL;
  g_autoptr(GError) error = NULL;

  self->shutdown_timeout_id = 0;
  message = g_strdup_printf ("the guest did not shut down within %u s; the machine keeps running",
                             self->shutdown_timeout);
  g_clear_pointer (&self->expected_exit_reason, g_free);
  error = g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED, "Machine '%s': %s",
                       self->config->name, message);
  log_event (self, "warning", "state", message);
  finish_job (self, error, NULL);
  set_state (self, STATE_RUNNING, "shutdown-timeout");
  if (self->stopping_for_host)
    request_exit (self, "turned-off"); /* the host is stopping: no more waiting */
  return G_SOURCE_REMOVE;
}

static void
on_powerdown_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);

  if (error)
    {
      clear_timers (self);
      g_clear_pointer (&self->expected_exit_reason, g_free);
      finish_job (self, error, NULL);
      set_state (self, STATE_RUNNING, "shutdown-failed");
    }
}

static gboolean
parse_shutdown_options (MarinaMachine *self, GVariant *options, guint *timeout, GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  *timeout = marina_manager_get_settings (self->manager)->shutdown_timeout;
  g_variant_iter_init (&iter, options);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      if (!g_str_equal (key, "timeout") || !g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
        {
          g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                       _("Unknown option '%s' of type '%s'; Shutdown knows timeout (u, seconds)"),
                       key, g_variant_get_type_string (value));
          g_variant_unref (value);
          return FALSE;
        }
      *timeout = g_variant_get_uint32 (value);
    }
  if (*timeout == 0 || *timeout > 3600)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        _("A shutdown timeout of %u s is out of range; use 1 to 3600 seconds"),
                        *timeout), FALSE;
  return TRUE;
}

static void
press_power_button (MarinaMachine *self, const char *why)
{
  g_autofree char *message = g_strdup_printf ("%s; shutting down through ACPI (power button)",
                                              why);

  log_event (self, "info", "state", message);
  qmp_call (self, "system_powerdown", NULL, -1, on_powerdown_sent, g_object_ref (self));
}

static void
on_agent_shutdown (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *why = NULL;

  if (marina_guest_additions_shutdown_finish (MARINA_GUEST_ADDITIONS (source), result, &error))
    return log_event (self, "info", "state", "shutting down through the guest agent");
  if (self->state != STATE_STOPPING)
    return; /* turned off or timed out meanwhile */
  why = g_strdup_printf ("the guest agent could not shut the guest down (%s)", error->message);
  press_power_button (self, why);
}

/* The agent shuts down guests that ignore the power button (no acpid, a
 * screen saver's prompt); ACPI remains for guests without one. */
static void
request_powerdown (MarinaMachine *self)
{
  if (self->guest == NULL || !marina_guest_additions_get_heartbeat (self->guest))
    return press_power_button (self, "no guest agent answers");
  marina_guest_additions_shutdown_async (self->guest, on_agent_shutdown, g_object_ref (self));
}

static MarinaJob *
begin_shutdown (MarinaMachine *self, guint timeout, GError **error)
{
  if (!check_state (self, "Shutdown", error, STATE_RUNNING))
    return NULL;
  begin_job (self, "shutdown", FALSE);
  self->shutdown_timeout = timeout;
  g_free (self->expected_exit_reason);
  self->expected_exit_reason = g_strdup ("shutdown");
  set_state (self, STATE_STOPPING, "user");
  self->shutdown_timeout_id = g_timeout_add_seconds (timeout, on_shutdown_timeout, self);
  request_powerdown (self);
  return self->job;
}

static gboolean
handle_shutdown (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;
  guint timeout;
  MarinaJob *job;

  if (!parse_shutdown_options (self, options, &timeout, &error))
    return return_error (invocation, error);
  job = begin_shutdown (self, timeout, &error);
  if (job == NULL)
    return return_error (invocation, error);
  marina_dbus_machine_complete_shutdown (iface, invocation, job_path (job));
  return TRUE;
}

static gboolean
handle_turn_off (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;

  if (!check_state (self, "TurnOff", &error, STATE_RUNNING, STATE_PAUSED, STATE_STARTING,
                    STATE_STOPPING))
    return return_error (invocation, error);
  g_ptr_array_add (self->turn_off_waiters, invocation);
  clear_timers (self);
  request_exit (self, "turned-off");
  return TRUE;
}

/* ---- remove and delete ----------------------------------------------------- */

static gboolean
handle_remove (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  g_autoptr(MarinaMachine) keep = g_object_ref (self);
  GError *error = NULL;
  g_autofree char *message = NULL;

  if (!check_state (self, "Remove", &error, STATE_OFF, STATE_SAVED))
    return return_error (invocation, error);
  touch_machine_file (self, "unregistered", TRUE);
  message = g_strdup_printf ("removed; its configuration stays at %s "
                             "(RegisterMachine brings it back)", self->config_path);
  log_event (self, "info", "config", message);
  marina_dbus_machine_complete_remove (iface, invocation);
  marina_manager_forget_machine (self->manager, self->config->id);
  return TRUE;
}

static void
delete_machine_files (MarinaMachine *self)
{
  static const char *const names[] = {
    "saved.state", "saved.state.part", "saved.paused", "serial.log", "was-running",
    "unregistered", "registered-path", "config.xml", UNDO_DISK, NULL,
  };

  g_unlink (self->config_path);
  for (guint i = 0; names[i]; i++)
    {
      g_autofree char *path = machine_file (self, names[i]);
      g_unlink (path);
    }
  g_rmdir (self->machine_dir);
  g_rmdir (self->runtime_dir);
}

static gboolean
handle_delete (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  g_autoptr(MarinaMachine) keep = g_object_ref (self);
  GError *error = NULL;

  if (!check_state (self, "Delete", &error, STATE_OFF, STATE_SAVED))
    return return_error (invocation, error);
  delete_machine_files (self);
  log_event (self, "info", "config", "deleted with its configuration and saved state");
  marina_dbus_machine_complete_delete (iface, invocation);
  marina_manager_forget_machine (self->manager, self->config->id);
  return TRUE;
}

/* ---- configuration ---------------------------------------------------------- */

static gboolean
handle_get_config (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  g_autofree char *xml = marina_machine_config_to_xml (self->config);

  marina_dbus_machine_complete_get_config (iface, invocation, xml);
  return TRUE;
}

static gboolean
check_config_change (MarinaMachine *self, const MarinaMachineConfig *config, GError **error)
{
  const char *changed;

  if (g_strcmp0 (config->id, self->config->id) != 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        _("The id of machine '%s' cannot change (it is %s, not %s)"),
                        self->config->name, self->config->id, config->id), FALSE;
  if (!marina_machine_config_validate (config, marina_manager_get_host_memory_mib (self->manager), error))
    return FALSE;
  /* SetConfig needs only configure; the list it would change needs full. */
  if (!marina_access_list_equal (config->access, self->config->access))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        _("The access list of machine '%s' changes only through "
                          "Machine.SetAccess (which needs full access); leave <access> as "
                          "GetConfig returned it"), self->config->name), FALSE;
  if (!marina_manager_check_name_free (self->manager, config->name, config->id, error))
    return FALSE;
  /* The overlay holds changes over this boot disk, which must stay. */
  if (marina_machine_has_undo_changes (self) &&
      (!config->undo_disks || g_strcmp0 (config->boot_disk, self->config->boot_disk) != 0))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_STATE,
                        _("Machine '%s' has undo changes over its boot disk; commit or discard "
                          "them (CommitUndoDisks, DiscardUndoDisks) before changing the boot "
                          "disk or turning undo disks off"), self->config->name), FALSE;
  changed = self->state == STATE_OFF ? NULL
                                     : marina_machine_config_hardware_differs (self->config, config);
  if (changed)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_STATE,
                        "Cannot change %s of machine '%s' while it is %s; %s first", changed,
                        self->config->name, state_names[self->state],
                        self->state == STATE_SAVED ? "discard the saved state" : "turn it off"), FALSE;
  return TRUE;
}

static gboolean
handle_set_config (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation, const char *xml)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_from_xml (xml, -1, &error);

  if (config == NULL || !marina_manager_check_storage (self->manager, config, &error) ||
      !marina_machine_config_probe_formats (config, &error) ||
      !marina_manager_check_macs_free (self->manager, config, &error) ||
      !check_config_change (self, config, &error) || !check_cpu_change (self, config, &error) ||
      !replace_config (self, g_steal_pointer (&config), &error))
    return return_error (invocation, error);
  log_event (self, "info", "config", "configuration changed");
  marina_machine_run_script (self, "config-changed", "user");
  marina_dbus_machine_complete_set_config (iface, invocation);
  return TRUE;
}

/* ---- console, serial and screenshot ---------------------------------------- */

typedef struct {
  MarinaMachine *self;
  GDBusMethodInvocation *invocation;
  int client_fd;
  char *protocol;
  char *fdname;
  gboolean serial;
} ClientCall;

static void
client_call_free (ClientCall *call)
{
  close_fd (&call->client_fd);
  g_free (call->protocol);
  g_free (call->fdname);
  g_object_unref (call->self);
  g_free (call);
}

static void
on_client_added (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ClientCall *call = user_data;
  GError *error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);
  g_autoptr(GUnixFDList) fds = NULL;

  if (error)
    {
      if (call->serial)
        {
          g_clear_error (&error);
          error = g_error_new (MARINA_ERROR, MARINA_ERROR_BUSY,
                               "The serial port of machine '%s' is in use by another client",
                               call->self->config->name);
        }
      g_dbus_method_invocation_take_error (call->invocation, error);
      return client_call_free (call);
    }
  fds = g_unix_fd_list_new_from_array (&call->client_fd, 1);
  call->client_fd = -1; /* the list owns it now */
  g_dbus_method_invocation_return_value_with_unix_fd_list (call->invocation,
                                                           g_variant_new ("(h)", 0), fds);
  client_call_free (call);
}

static void
on_client_fd_passed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ClientCall *call = user_data;
  GError *error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);
  g_autoptr(JsonObject) args = args_new ();

  if (error)
    {
      g_dbus_method_invocation_take_error (call->invocation, error);
      return client_call_free (call);
    }
  json_object_set_string_member (args, "protocol", call->protocol);
  json_object_set_string_member (args, "fdname", call->fdname);
  json_object_set_boolean_member (args, "skipauth", TRUE);
  qmp_call (call->self, "add_client", args, -1, on_client_added, call);
}

/* Hands one end of a socket pair to QEMU as a client of protocol (the VNC
 * server or a chardev) and the other end to the caller: no TCP port. */
static gboolean
open_client (MarinaMachine *self, GDBusMethodInvocation *invocation, const char *action,
             const char *protocol)
{
  GError *error = NULL;
  g_autoptr(JsonObject) args = args_new ();
  ClientCall *call;
  int pair[2];

  if (!check_state (self, action, &error, STATE_RUNNING, STATE_PAUSED))
    return return_error (invocation, error);
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
    return return_error (invocation, g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED,
                                                  _("Cannot make a socket: %s"), g_strerror (errno)));
  call = g_new0 (ClientCall, 1);
  call->self = g_object_ref (self);
  call->invocation = invocation;
  call->client_fd = pair[1];
  call->protocol = g_strdup (protocol);
  call->fdname = g_strdup_printf ("client%u", ++self->fd_counter);
  call->serial = !g_str_equal (protocol, "vnc");
  json_object_set_string_member (args, "fdname", call->fdname);
  qmp_call (self, "getfd", args, pair[0], on_client_fd_passed, call);
  close (pair[0]);
  return TRUE;
}

static gboolean
handle_open_console (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                     GUnixFDList *fd_list)
{
  return open_client (MARINA_MACHINE (iface), invocation, "OpenConsole", "vnc");
}

static gboolean
handle_open_serial (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                    GUnixFDList *fd_list)
{
  return open_client (MARINA_MACHINE (iface), invocation, "OpenSerial", SERIAL_CHARDEV);
}

typedef struct {
  MarinaMachine *self;
  GDBusMethodInvocation *invocation;
  char *path;
} ScreenshotCall;

static void
on_screenshot_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ScreenshotCall *call = user_data;
  GError *error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);
  g_autofree char *data = NULL;
  gsize length = 0;

  if (error == NULL)
    g_file_get_contents (call->path, &data, &length, &error);
  g_unlink (call->path);
  if (error)
    g_dbus_method_invocation_take_error (call->invocation, error);
  else
    marina_dbus_machine_complete_screenshot (MARINA_DBUS_MACHINE (call->self), call->invocation,
                                             g_variant_new_from_data (G_VARIANT_TYPE ("ay"),
                                                                      g_steal_pointer (&data),
                                                                      length, TRUE, g_free,
                                                                      data));
  g_object_unref (call->self);
  g_free (call->path);
  g_free (call);
}

static gboolean
handle_screenshot (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation)
{
  MarinaMachine *self = MARINA_MACHINE (iface);
  GError *error = NULL;
  g_autoptr(JsonObject) args = args_new ();
  g_autofree char *name = NULL;
  ScreenshotCall *call;

  if (!check_state (self, "Screenshot", &error, STATE_RUNNING, STATE_PAUSED))
    return return_error (invocation, error);
  name = g_strdup_printf ("screen%u.png", ++self->fd_counter);
  call = g_new0 (ScreenshotCall, 1);
  call->self = g_object_ref (self);
  call->invocation = invocation;
  call->path = runtime_file (self, name);
  json_object_set_string_member (args, "filename", call->path);
  json_object_set_string_member (args, "format", "png");
  qmp_call (self, "screendump", args, -1, on_screenshot_done, call);
  return TRUE;
}

/* ---- reattach after a restart of marinad ------------------------------------ */

static MachineState
state_for_qemu_status (const char *status)
{
  if (g_str_equal (status, "running"))
    return STATE_RUNNING;
  if (g_str_equal (status, "prelaunch") || g_str_equal (status, "postmigrate") ||
      g_str_equal (status, "finish-migrate"))
    return STATE_STARTING; /* marinad died mid-operation: let the guest run on */
  return STATE_PAUSED;
}

static void
finish_reattach (MarinaMachine *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->reattach_task);

  if (task)
    g_task_return_boolean (task, TRUE);
}

static void
give_up_reattach (MarinaMachine *self, const GError *error)
{
  log_event (self, "error", "qemu", error->message);
  request_exit (self, "turned-off");
  finish_reattach (self);
}

static void
on_reattach_status (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = qmp_call_finish (result, &error);
  MachineState state;

  if (error)
    return give_up_reattach (self, error);
  state = state_for_qemu_status (json_object_get_string_member_with_default (
                                   json_node_get_object (ret), "status", "paused"));
  if (state == STATE_STARTING)
    {
      g_autofree char *part = machine_file (self, "saved.state.part");
      g_unlink (part);
      self->state = STATE_STARTING;
      begin_job (self, "start", FALSE);
      send_cont (self);
      return finish_reattach (self);
    }
  become_running (self, "reattached", state == STATE_PAUSED);
  finish_reattach (self);
}

static void
on_reattach_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachine) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!marina_qemu_connect_qmp_finish (MARINA_QEMU (source), result, &error))
    return give_up_reattach (self, error);
  watch_qmp (self);
  qmp_call (self, "query-status", NULL, -1, on_reattach_status, g_object_ref (self));
}

static GPid
read_pid_file (MarinaMachine *self)
{
  g_autofree char *path = runtime_file (self, "qemu.pid");
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  return (GPid) g_ascii_strtoll (text, NULL, 10);
}

/* Finds this machine's QEMU again after a restart of marinad. Completes once
 * the machine's state is known, so that no client sees it "off" meanwhile. */
void
marina_machine_reattach_async (MarinaMachine *self, GAsyncReadyCallback callback,
                               gpointer user_data)
{
  GPid pid = read_pid_file (self);
  g_autofree char *uuid = dashed_uuid (self->config->id);
  g_autofree char *log_path = runtime_file (self, "qemu.log");
  g_autofree char *qmp = runtime_file (self, "qmp.sock");
  MarinaQemu *qemu;

  self->reattach_task = g_task_new (self, NULL, callback, user_data);
  if (pid <= 0)
    return finish_reattach (self);
  if (!marina_qemu_pid_matches (pid, uuid) ||
      (qemu = marina_qemu_adopt (pid, log_path, NULL)) == NULL)
    {
      if (machine_file_exists (self, "was-running"))
        log_event (self, "warning", "qemu", "its QEMU ended while marinad was not running");
      remove_runtime_files (self);
      return finish_reattach (self);
    }
  watch_qemu (self, qemu);
  self->qemu_uid = marina_confinement_process_uid (pid);
  marina_qemu_connect_qmp_async (qemu, qmp, NULL, on_reattach_connected, g_object_ref (self));
}

/* ---- host start and stop ------------------------------------------------------ */

static gboolean
on_autostart (gpointer user_data)
{
  MarinaMachine *self = user_data;
  g_autoptr(GError) error = NULL;

  self->autostart_id = 0;
  if (self->state != STATE_OFF && self->state != STATE_SAVED)
    return G_SOURCE_REMOVE;
  log_event (self, "info", "state", "starting automatically");
  if (begin_start (self, &error) == NULL)
    log_event (self, "error", "error", error->message);
  return G_SOURCE_REMOVE;
}

void
marina_machine_autostart (MarinaMachine *self)
{
  MarinaAutostart policy = self->config->autostart;

  if (policy == MARINA_AUTOSTART_NEVER || self->qemu ||
      (policy == MARINA_AUTOSTART_IF_RUNNING && !machine_file_exists (self, "was-running")))
    return;
  self->autostart_id = g_timeout_add_seconds (self->config->autostart_delay, on_autostart, self);
}

gboolean
marina_machine_is_active (MarinaMachine *self)
{
  return self->state != STATE_OFF && self->state != STATE_SAVED;
}

void
marina_machine_stop_for_host (MarinaMachine *self, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  guint timeout = marina_manager_get_settings (self->manager)->shutdown_timeout;

  g_return_if_fail (self->host_stop_task == NULL);
  self->host_stop_task = g_task_new (self, NULL, callback, user_data);
  if (!marina_machine_is_active (self))
    return finish_host_stop (self);
  self->stopping_for_host = TRUE;
  if (self->state == STATE_RUNNING && self->config->stop_action == MARINA_STOP_ACTION_SHUTDOWN &&
      begin_shutdown (self, timeout, &error))
    return;
  if ((self->state == STATE_RUNNING || self->state == STATE_PAUSED) &&
      self->config->stop_action == MARINA_STOP_ACTION_SAVE && begin_save (self, &error))
    return;
  request_exit (self, "turned-off");
}

/* ---- object ------------------------------------------------------------------ */

const char *
marina_machine_get_object_path (MarinaMachine *self)
{
  return self->object_path;
}

const MarinaMachineConfig *
marina_machine_get_config (MarinaMachine *self)
{
  return self->config;
}

MarinaMachineMetrics *
marina_machine_get_metrics (MarinaMachine *self)
{
  return self->metrics;
}

static gboolean
handle_get_history (MarinaDBusMachine *iface, GDBusMethodInvocation *invocation,
                    GVariant *options)
{
  GError *error = NULL;
  GVariant *samples = marina_machine_metrics_get_history (MARINA_MACHINE (iface)->metrics,
                                                          options, &error);

  if (samples == NULL)
    return return_error (invocation, error);
  marina_dbus_machine_complete_get_history (iface, invocation, samples);
  return TRUE;
}

static void
marina_machine_iface_init (MarinaDBusMachineIface *iface)
{
  iface->handle_start = handle_start;
  iface->handle_pause = handle_pause;
  iface->handle_resume = handle_resume;
  iface->handle_save = handle_save;
  iface->handle_discard_saved_state = handle_discard_saved_state;
  iface->handle_shutdown = handle_shutdown;
  iface->handle_turn_off = handle_turn_off;
  iface->handle_reset = handle_reset;
  iface->handle_remove = handle_remove;
  iface->handle_delete = handle_delete;
  iface->handle_get_config = handle_get_config;
  iface->handle_set_config = handle_set_config;
  iface->handle_open_console = handle_open_console;
  iface->handle_open_serial = handle_open_serial;
  iface->handle_screenshot = handle_screenshot;
  iface->handle_get_history = handle_get_history;
  iface->handle_set_cpu_allocation = handle_set_cpu_allocation;
  iface->handle_attach_script = handle_attach_script;
  iface->handle_remove_script = handle_remove_script;
  iface->handle_list_scripts = handle_list_scripts;
  iface->handle_get_access = handle_get_access;
  iface->handle_set_access = handle_set_access;
  iface->handle_set_console_password = handle_set_console_password;
  iface->handle_add_network_adapter = handle_add_network_adapter;
  iface->handle_remove_network_adapter = handle_remove_network_adapter;
  iface->handle_configure_network_adapter = handle_configure_network_adapter;
  iface->handle_commit_undo_disks = handle_commit_undo_disks;
  iface->handle_attach_disk = handle_attach_disk;
  iface->handle_detach_disk = handle_detach_disk;
  iface->handle_insert_media = handle_insert_media;
  iface->handle_eject_media = handle_eject_media;
  iface->handle_discard_undo_disks = handle_discard_undo_disks;
}

static void
marina_machine_dispose (GObject *object)
{
  MarinaMachine *self = MARINA_MACHINE (object);

  clear_timers (self);
  g_clear_handle_id (&self->autostart_id, g_source_remove);
  if (self->qemu)
    g_signal_handlers_disconnect_by_data (self->qemu, self);
  g_clear_object (&self->qemu);
  g_clear_object (&self->job);
  g_clear_object (&self->undo_job);
  g_clear_object (&self->metrics);
  drop_guest_additions (self);
  G_OBJECT_CLASS (marina_machine_parent_class)->dispose (object);
}

static void
marina_machine_finalize (GObject *object)
{
  MarinaMachine *self = MARINA_MACHINE (object);

  marina_machine_config_free (self->config);
  g_free (self->object_path);
  g_free (self->machine_dir);
  g_free (self->config_path);
  g_free (self->runtime_dir);
  g_free (self->expected_exit_reason);
  g_free (self->undo_node);
  g_free (self->boot_disk_socket);
  g_ptr_array_unref (self->turn_off_waiters);
  G_OBJECT_CLASS (marina_machine_parent_class)->finalize (object);
}

static void
marina_machine_class_init (MarinaMachineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = marina_machine_dispose;
  object_class->finalize = marina_machine_finalize;
  marina_authorizer_guard_class (G_DBUS_INTERFACE_SKELETON_CLASS (klass));
}

static void
marina_machine_init (MarinaMachine *self)
{
  self->turn_off_waiters = g_ptr_array_new ();
  self->save_fd = -1;
}

MarinaMachine *
marina_machine_new (MarinaManager       *manager,
                    MarinaMachineConfig *config,
                    const char          *machine_dir,
                    const char          *config_path)
{
  MarinaMachine *self = g_object_new (MARINA_TYPE_MACHINE, NULL);
  const MarinaSettings *settings = marina_manager_get_settings (manager);
  g_autofree char *serial_log = NULL;

  self->manager = manager;
  self->config = config;
  self->object_path = g_strconcat (MARINA_MACHINE_PATH_PREFIX, config->id, NULL);
  self->machine_dir = g_strdup (machine_dir);
  self->config_path = g_strdup (config_path);
  self->runtime_dir = g_build_filename (settings->runtime_dir, "machines", config->id, NULL);
  self->state = machine_file_exists (self, "saved.state") ? STATE_SAVED : STATE_OFF;
  serial_log = machine_file (self, "serial.log");
  marina_dbus_machine_set_state (MARINA_DBUS_MACHINE (self), state_names[self->state]);
  marina_dbus_machine_set_state_reason (MARINA_DBUS_MACHINE (self), "loaded");
  marina_dbus_machine_set_serial_log_path (MARINA_DBUS_MACHINE (self), serial_log);
  self->metrics = marina_machine_metrics_new (MARINA_DBUS_MACHINE (self));
  sync_config_properties (self);
  sync_saved_state (self);
  sync_process_properties (self, "", 0);
  return self;
}
