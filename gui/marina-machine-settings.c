/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-gui-util.h"
#include "marina-job-row.h"
#include "marina-machine-config.h"
#include "marina-machine-settings.h"

/* Machine settings, grouped as Virtual Server grouped them: general,
 * memory and processors, hard disks, CD/DVD, floppy, network adapters, COM
 * and LPT ports, undo disks, host startup and shutdown, CPU resources and
 * notes. The
 * configuration comes from GetConfig and goes back, edited, through
 * SetConfig (on a fresh GetConfig, so that what changed at once meanwhile
 * stays); CPU resources through SetCpuAllocation; a medium changed while the
 * machine runs through InsertMedia or EjectMedia. Network adapters and
 * additional disks change at once (AddNetworkAdapter and friends,
 * AttachDisk, DetachDisk), as do undo disks' commit and discard. What cannot
 * change in the machine's state is greyed out, and its group says why. */

#define NETWORK_IFACE "org.marinavm.Marina1.Network"

struct _MarinaMachineSettings {
  AdwWindow parent_instance;
  AdwToastOverlay *toast_overlay;
  AdwPreferencesGroup *general_group;
  AdwEntryRow *name_row;
  AdwComboRow *profile_row;
  AdwComboRow *accelerator_row;
  AdwPreferencesGroup *memory_group;
  GtkSpinButton *memory_spin;
  GtkSpinButton *vcpus_spin;
  AdwPreferencesGroup *disk_group;
  AdwEntryRow *disk_row;
  GtkListBox *drive_list;
  AdwExpanderRow *attach_row;
  AdwEntryRow *new_disk_row;
  AdwComboRow *new_bus_row;
  GtkSwitch *new_shared_switch;
  AdwPreferencesGroup *cdrom_group;
  AdwEntryRow *cdrom_row;
  AdwPreferencesGroup *floppy_group;
  AdwEntryRow *floppy_row;
  AdwPreferencesGroup *ports_group;
  AdwComboRow *com2_row;
  AdwEntryRow *com2_file_row;
  AdwComboRow *lpt1_row;
  AdwEntryRow *lpt1_file_row;
  AdwPreferencesGroup *undo_group;
  GtkSwitch *undo_switch;
  AdwComboRow *undo_action_row;
  AdwActionRow *undo_changes_row;
  GtkListBox *undo_job_list;
  AdwPreferencesGroup *adapters_group;
  GtkListBox *adapter_list;
  AdwComboRow *autostart_row;
  GtkSpinButton *delay_spin;
  AdwComboRow *stop_row;
  GtkSpinButton *weight_spin;
  GtkSpinButton *maximum_spin;
  GtkSpinButton *reserve_spin;
  GtkTextView *notes_view;

  MarinaDBusMachine *machine;
  GDBusObjectManager *objects;
  MarinaMachineConfig *config;  /* as GetConfig gave it */
  GPtrArray *network_paths;     /* "/" first, then each network, as the drop-downs list them */
  GtkStringList *network_names;
  GPtrArray *media_changes;     /* of MediaChange: what Apply puts in a running machine */
  gboolean applying;
  gboolean filling_adapters;
  gboolean committing;          /* an undo commit's job runs */
};

G_DEFINE_FINAL_TYPE (MarinaMachineSettings, marina_machine_settings, ADW_TYPE_WINDOW)

/* As the models list them. */
static const char *const accelerators[] = { "auto", "kvm", "tcg" };
static const MarinaUndoAction undo_actions[] = {
  MARINA_UNDO_ACTION_COMMIT, MARINA_UNDO_ACTION_DISCARD, MARINA_UNDO_ACTION_KEEP,
};
static const MarinaBus legacy_buses[] = { MARINA_BUS_IDE, MARINA_BUS_SCSI };
static const MarinaBus modern_buses[] = { MARINA_BUS_VIRTIO };

/* A medium that Apply puts in (path) or takes out of (NULL) a drive. */
typedef struct {
  char *drive;  /* "cdrom" or "floppy" */
  char *path;
} MediaChange;

static void
media_change_free (MediaChange *change)
{
  g_free (change->drive);
  g_free (change->path);
  g_free (change);
}

static void
show_message (MarinaMachineSettings *self, const char *message)
{
  g_debug ("settings: %s", message);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

static void
show_error (MarinaMachineSettings *self, const GError *error)
{
  g_autofree char *message = marina_gui_error_message (error);

  show_message (self, message);
}

static gboolean
machine_off (MarinaMachineSettings *self)
{
  return g_strcmp0 (marina_dbus_machine_get_state (self->machine), "off") == 0;
}

/* Running or paused: QEMU is there to take a medium. */
static gboolean
machine_live (MarinaMachineSettings *self)
{
  const char *state = marina_dbus_machine_get_state (self->machine);

  return g_strcmp0 (state, "running") == 0 || g_strcmp0 (state, "paused") == 0;
}

static gboolean
legacy_selected (MarinaMachineSettings *self)
{
  return adw_combo_row_get_selected (self->profile_row) == MARINA_PROFILE_LEGACY;
}

/* The CD/DVD and the floppy change while off, and while the machine runs
 * or is paused too: Apply then changes the medium in the drive. */
static void
sync_media_locks (MarinaMachineSettings *self)
{
  gboolean live, changeable, legacy = legacy_selected (self);
  const char *reason;

  /* The profile's drop-down is filled before the machine is known. */
  if (self->machine == NULL)
    return;
  live = machine_live (self);
  changeable = live || machine_off (self);
  reason = live ? _("Apply changes the medium in the drive at once.")
           : changeable ? NULL
           : _("Turn the machine off (or discard its saved state) to change this.");
  gtk_widget_set_sensitive (GTK_WIDGET (self->cdrom_row), changeable);
  adw_preferences_group_set_description (self->cdrom_group, reason);
  gtk_widget_set_sensitive (GTK_WIDGET (self->floppy_row), changeable && legacy);
  adw_preferences_group_set_description (self->floppy_group,
                                         legacy ? reason
                                                : _("Only the legacy profile has a floppy drive."));
  g_debug ("settings: floppy %s", !legacy ? "unavailable (modern profile)"
                                  : changeable ? "changeable" : "locked while not off");
}

/* COM2 and LPT1 are ISA devices: they change only while the machine is
 * off. LPT1 is the legacy profile's; a file row only for a file. */
static void
sync_port_locks (MarinaMachineSettings *self)
{
  gboolean off, legacy = legacy_selected (self);
  gboolean com2_file = adw_combo_row_get_selected (self->com2_row) == MARINA_PORT_FILE;
  gboolean lpt1_file = adw_combo_row_get_selected (self->lpt1_row) == MARINA_PORT_FILE;

  if (self->machine == NULL)
    return;
  off = machine_off (self);
  gtk_widget_set_sensitive (GTK_WIDGET (self->com2_row), off);
  gtk_widget_set_sensitive (GTK_WIDGET (self->com2_file_row), off && com2_file);
  gtk_widget_set_sensitive (GTK_WIDGET (self->lpt1_row), off && legacy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->lpt1_file_row), off && legacy && lpt1_file);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->com2_row),
                               adw_combo_row_get_selected (self->com2_row) == MARINA_PORT_PIPE
                                 ? _("A socket, com2.sock in the machine's runtime folder, for "
                                     "a program on the host to connect to")
                                 : NULL);
  adw_preferences_group_set_description (
    self->ports_group,
    !off ? _("Turn the machine off (or discard its saved state) to change the ports.")
    : !legacy ? _("Only the legacy profile has a parallel port (LPT1).")
    : _("Text files lie in a storage folder; the guest's output is added at their end."));
  g_debug ("settings: ports %s, LPT1 %s", off ? "changeable" : "locked while not off",
           legacy ? "available" : "unavailable (modern profile)");
}

/* What follows the profile chosen, before it is applied. */
static void
sync_profile_locks (MarinaMachineSettings *self)
{
  sync_media_locks (self);
  sync_port_locks (self);
}

/* Undo disks turn on or off while off; the action at turn-off any time.
 * Commit works while off and, live, while running or paused; discard only
 * while off. */
static void
sync_undo (MarinaMachineSettings *self)
{
  gboolean off = machine_off (self);
  gboolean changes = marina_dbus_machine_get_has_undo_changes (self->machine);

  gtk_widget_set_sensitive (GTK_WIDGET (self->undo_switch), off);
  adw_preferences_group_set_description (self->undo_group,
                                         off ? NULL : _("Undo disks turn on or off only while "
                                                        "the machine is off; what happens at "
                                                        "turn-off changes at any time."));
  adw_action_row_set_subtitle (self->undo_changes_row,
                               self->committing ? _("Being committed into the boot disk")
                               : changes ? _("Changes since the last commit or discard")
                               : _("None"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "settings.commit-undo",
                                 changes && !self->committing && (off || machine_live (self)));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "settings.discard-undo",
                                 changes && !self->committing && off);
  g_debug ("settings: undo changes %s", changes ? "present" : "none");
}

/* Hardware (profile, accelerator, memory, processors, disks and adapters)
 * changes only while the machine is off: not running, paused or saved,
 * which marinad refuses. */
static void
sync_locks (MarinaMachineSettings *self)
{
  gboolean off = machine_off (self);
  const char *reason = off ? NULL : _("Turn the machine off (or discard its saved state) to "
                                      "change these.");
  GVariant *adapters = marina_dbus_machine_get_network_adapters (self->machine);
  gsize n_adapters = adapters ? g_variant_n_children (adapters) : 0;

  /* Only the rows grey out: the group's title and reason stay readable. */
  adw_preferences_group_set_description (self->memory_group, reason);
  adw_preferences_group_set_description (self->disk_group, reason);
  gtk_widget_set_sensitive (GTK_WIDGET (self->memory_spin), off);
  gtk_widget_set_sensitive (GTK_WIDGET (self->vcpus_spin), off);
  gtk_widget_set_sensitive (GTK_WIDGET (self->disk_row), off);
  gtk_widget_set_sensitive (GTK_WIDGET (self->attach_row), off);
  gtk_widget_set_sensitive (GTK_WIDGET (self->profile_row), off);
  gtk_widget_set_sensitive (GTK_WIDGET (self->accelerator_row), off);
  adw_preferences_group_set_description (self->general_group,
                                         off ? NULL : _("The profile and accelerator change "
                                                        "only while the machine is off."));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "settings.add-adapter",
                                 off && n_adapters < MARINA_NIC_MAX);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "settings.attach-disk",
                                 off && self->config != NULL);
  sync_profile_locks (self);
  sync_undo (self);
  g_debug ("settings: hardware %s", off ? "changeable" : "locked while not off");
}

/* ---- network adapters ------------------------------------------------------------- */

static void refresh_hardware (MarinaMachineSettings *self);

static void
on_call_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachineSettings) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (reply == NULL)
    return show_error (self, error);
  g_debug ("settings: hardware changed");
  refresh_hardware (self);
}

/* A change that applies at once (adapters, disks). */
static void
call_machine (MarinaMachineSettings *self, const char *method, GVariant *parameters)
{
  g_debug ("settings: %s", method);
  g_dbus_proxy_call (G_DBUS_PROXY (self->machine), method, parameters, G_DBUS_CALL_FLAGS_NONE, -1,
                     NULL, on_call_done, g_object_ref (self));
}

static void
configure_adapter (MarinaMachineSettings *self, const char *id, const char *key, GVariant *value)
{
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);

  if (self->filling_adapters)
    return;
  g_variant_dict_insert_value (&options, key, value);
  call_machine (self, "ConfigureNetworkAdapter",
                g_variant_new ("(s@a{sv})", id, g_variant_dict_end (&options)));
}

static void
on_adapter_network (GtkDropDown *drop_down, GParamSpec *pspec, MarinaMachineSettings *self)
{
  guint selected = gtk_drop_down_get_selected (drop_down);

  if (selected < self->network_paths->len)
    configure_adapter (self, g_object_get_data (G_OBJECT (drop_down), "adapter"), "network",
                       g_variant_new_object_path (self->network_paths->pdata[selected]));
}

static void
on_adapter_cable (GtkSwitch *cable, GParamSpec *pspec, MarinaMachineSettings *self)
{
  configure_adapter (self, g_object_get_data (G_OBJECT (cable), "adapter"), "connected",
                     g_variant_new_boolean (gtk_switch_get_active (cable)));
}

static void
on_adapter_remove (GtkButton *button, MarinaMachineSettings *self)
{
  call_machine (self, "RemoveNetworkAdapter",
                g_variant_new ("(s)", (const char *) g_object_get_data (G_OBJECT (button),
                                                                        "adapter")));
}

static guint
network_position (MarinaMachineSettings *self, const char *path)
{
  for (guint i = 0; i < self->network_paths->len; i++)
    if (g_strcmp0 (self->network_paths->pdata[i], path) == 0)
      return i;
  return 0;
}

static GtkWidget *
new_adapter_row (MarinaMachineSettings *self, const char *id, const char *mac, const char *model,
                 const char *network, gboolean connected)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *networks = gtk_drop_down_new (g_object_ref (G_LIST_MODEL (self->network_names)),
                                           NULL);
  GtkWidget *cable = gtk_switch_new ();
  GtkWidget *remove = gtk_button_new_from_icon_name ("list-remove-symbolic");
  g_autofree char *subtitle = g_strdup_printf ("%s, %s", model, mac);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), id);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_drop_down_set_selected (GTK_DROP_DOWN (networks), network_position (self, network));
  gtk_switch_set_active (GTK_SWITCH (cable), connected);
  gtk_widget_set_tooltip_text (cable, _("Cable connected"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (cable), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Cable connected"), -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (networks), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Network"), -1);
  gtk_widget_set_tooltip_text (remove, _("Remove Adapter"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (remove), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Remove Adapter"), -1);
  gtk_widget_set_sensitive (remove, machine_off (self));
  for (GtkWidget *w = networks; w; w = w == networks ? cable : w == cable ? remove : NULL)
    {
      gtk_widget_set_valign (w, GTK_ALIGN_CENTER);
      g_object_set_data_full (G_OBJECT (w), "adapter", g_strdup (id), g_free);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), w);
    }
  gtk_widget_add_css_class (remove, "flat");
  g_signal_connect (networks, "notify::selected", G_CALLBACK (on_adapter_network), self);
  g_signal_connect (cable, "notify::active", G_CALLBACK (on_adapter_cable), self);
  g_signal_connect (remove, "clicked", G_CALLBACK (on_adapter_remove), self);
  return row;
}

static void
show_adapters (MarinaMachineSettings *self)
{
  GVariant *adapters = marina_dbus_machine_get_network_adapters (self->machine);
  GVariantIter iter;
  const char *id, *mac, *model, *network;
  gboolean connected;
  GtkWidget *add;

  self->filling_adapters = TRUE;
  marina_gui_list_box_clear (self->adapter_list);
  if (adapters)
    {
      g_variant_iter_init (&iter, adapters);
      while (g_variant_iter_next (&iter, "(&s&s&s&ob)", &id, &mac, &model, &network, &connected))
        gtk_list_box_append (self->adapter_list,
                             new_adapter_row (self, id, mac, model, network, connected));
    }
  add = gtk_button_new_with_mnemonic (_("A_dd Adapter"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (add), "settings.add-adapter");
  gtk_widget_set_margin_top (add, 6);
  gtk_widget_set_margin_bottom (add, 6);
  gtk_list_box_append (self->adapter_list, add);
  self->filling_adapters = FALSE;
  g_debug ("settings: %zu adapters", adapters ? g_variant_n_children (adapters) : 0);
  sync_locks (self);
}

static void
action_add_adapter (GtkWidget *widget, const char *action, GVariant *parameter)
{
  call_machine (MARINA_MACHINE_SETTINGS (widget), "AddNetworkAdapter",
                g_variant_new_parsed ("(@a{sv} {},)"));
}

static void
load_networks (MarinaMachineSettings *self)
{
  g_autolist(GDBusObject) objects = g_dbus_object_manager_get_objects (self->objects);

  for (GList *l = objects; l; l = l->next)
    {
      MarinaDBusNetwork *network = marina_dbus_object_peek_network (MARINA_DBUS_OBJECT (l->data));
      if (network == NULL)
        continue;
      g_ptr_array_add (self->network_paths, g_strdup (g_dbus_object_get_object_path (l->data)));
      gtk_string_list_append (self->network_names, marina_dbus_network_get_name (network));
    }
}

/* ---- additional hard disks ---------------------------------------------------------- */

static char *
drive_slot (const MarinaDrive *drive)
{
  switch (drive->bus)
    {
    case MARINA_BUS_IDE:
      return g_strdup_printf (_("IDE, channel %u, unit %u"), drive->controller, drive->unit);
    case MARINA_BUS_SCSI:
      return g_strdup_printf (_("SCSI, controller %u, ID %u"), drive->controller, drive->unit);
    case MARINA_BUS_VIRTIO:
      break;
    }
  return g_strdup_printf (_("VirtIO, disk %u"), drive->unit);
}

static MarinaDBusDisk *
find_disk (MarinaMachineSettings *self, const char *path, const char **object_path)
{
  g_autolist(GDBusObject) objects = g_dbus_object_manager_get_objects (self->objects);

  for (GList *l = objects; l; l = l->next)
    {
      MarinaDBusDisk *disk = marina_dbus_object_peek_disk (MARINA_DBUS_OBJECT (l->data));
      if (disk && g_strcmp0 (marina_dbus_disk_get_path (disk), path) == 0)
        {
          *object_path = g_dbus_proxy_get_object_path (G_DBUS_PROXY (disk));
          return disk;
        }
    }
  return NULL;
}

static void
on_drive_remove (GtkButton *button, MarinaMachineSettings *self)
{
  const char *path = g_object_get_data (G_OBJECT (button), "drive");
  const char *object_path = NULL;
  g_autofree char *message = NULL;

  if (find_disk (self, path, &object_path))
    return call_machine (self, "DetachDisk", g_variant_new ("(o)", object_path));
  message = g_strdup_printf (_("marinad lists no disk %s; reopen the settings and try again"),
                             path);
  show_message (self, message);
}

static GtkWidget *
new_drive_row (MarinaMachineSettings *self, const MarinaDrive *drive)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *remove = gtk_button_new_from_icon_name ("list-remove-symbolic");
  g_autofree char *slot = drive_slot (drive);
  g_autofree char *subtitle = drive->shared ? g_strdup_printf (_("%s; shared with other "
                                                                 "machines"), slot)
                                            : g_strdup (slot);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), drive->path);
  adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 1);
  gtk_widget_set_tooltip_text (row, drive->path);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_widget_set_tooltip_text (remove, _("Detach Disk"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (remove), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Detach Disk"), -1);
  gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (remove, "flat");
  gtk_widget_set_sensitive (remove, machine_off (self));
  g_object_set_data_full (G_OBJECT (remove), "drive", g_strdup (drive->path), g_free);
  g_object_set_data (G_OBJECT (row), "remove", remove);
  g_signal_connect (remove, "clicked", G_CALLBACK (on_drive_remove), self);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), remove);
  return row;
}

/* The buses of the stored profile, which AttachDisk goes by. */
static const MarinaBus *
profile_buses (MarinaMachineSettings *self, gsize *n)
{
  gboolean legacy = self->config && self->config->profile == MARINA_PROFILE_LEGACY;

  *n = legacy ? G_N_ELEMENTS (legacy_buses) : G_N_ELEMENTS (modern_buses);
  return legacy ? legacy_buses : modern_buses;
}

static void
show_buses (MarinaMachineSettings *self)
{
  g_autoptr(GtkStringList) names = gtk_string_list_new (NULL);
  gsize n;
  const MarinaBus *buses = profile_buses (self, &n);
  const char *const labels[] = { [MARINA_BUS_IDE] = N_("IDE"), [MARINA_BUS_SCSI] = N_("SCSI"),
                                 [MARINA_BUS_VIRTIO] = N_("VirtIO") };

  for (gsize i = 0; i < n; i++)
    gtk_string_list_append (names, _(labels[buses[i]]));
  adw_combo_row_set_model (self->new_bus_row, G_LIST_MODEL (names));
}

/* The additional disks, then the row that attaches one. */
static void
show_drives (MarinaMachineSettings *self)
{
  GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->drive_list));
  GPtrArray *drives = self->config ? self->config->drives : NULL;

  while (child)
    {
      GtkWidget *next = gtk_widget_get_next_sibling (child);
      if (child != GTK_WIDGET (self->attach_row))
        gtk_list_box_remove (self->drive_list, child);
      child = next;
    }
  for (guint i = 0; drives && i < drives->len; i++)
    gtk_list_box_insert (self->drive_list, new_drive_row (self, drives->pdata[i]), i);
  g_debug ("settings: %u additional disks", drives ? drives->len : 0);
}

static void
action_attach_disk (GtkWidget *widget, const char *action, GVariant *parameter)
{
  MarinaMachineSettings *self = MARINA_MACHINE_SETTINGS (widget);
  const char *path = gtk_editable_get_text (GTK_EDITABLE (self->new_disk_row));
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  gsize n;
  const MarinaBus *buses = profile_buses (self, &n);
  MarinaBus bus = buses[MIN (adw_combo_row_get_selected (self->new_bus_row), n - 1)];

  if (*path == '\0')
    return show_message (self, _("Give the path of the disk image to attach."));
  g_variant_dict_insert (&options, "path", "s", path);
  g_variant_dict_insert (&options, "bus", "s", marina_bus_to_string (bus));
  g_variant_dict_insert (&options, "shared", "b", gtk_switch_get_active (self->new_shared_switch));
  call_machine (self, "AttachDisk", g_variant_new ("(@a{sv})", g_variant_dict_end (&options)));
}

static void
on_hardware_config (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachineSettings) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;
  g_autoptr(MarinaMachineConfig) config = NULL;

  if (!marina_dbus_machine_call_get_config_finish (MARINA_DBUS_MACHINE (source), &xml, result,
                                                   &error) ||
      !(config = marina_machine_config_from_xml (xml, -1, &error)))
    return show_error (self, error);
  if (self->config == NULL)
    return;
  /* What changed at once; the fields the dialog shows keep what is typed. */
  g_ptr_array_unref (self->config->drives);
  self->config->drives = g_steal_pointer (&config->drives);
  g_ptr_array_unref (self->config->nics);
  self->config->nics = g_steal_pointer (&config->nics);
  /* Attached: the field is free for the next one. */
  if (marina_drive_list_find (self->config->drives,
                              gtk_editable_get_text (GTK_EDITABLE (self->new_disk_row))))
    {
      gtk_editable_set_text (GTK_EDITABLE (self->new_disk_row), "");
      gtk_switch_set_active (self->new_shared_switch, FALSE);
    }
  show_drives (self);
}

static void
refresh_hardware (MarinaMachineSettings *self)
{
  marina_dbus_machine_call_get_config (self->machine, NULL, on_hardware_config,
                                       g_object_ref (self));
}

/* ---- undo disks -------------------------------------------------------------------- */

static void
on_commit_finished (MarinaJobRow *row, const char *status, const char *message,
                    MarinaMachineSettings *self)
{
  self->committing = FALSE;
  show_message (self, g_str_equal (status, "completed")
                        ? _("The undo disk is committed into the boot disk.") : message);
  gtk_list_box_remove (self->undo_job_list, GTK_WIDGET (row));
  gtk_widget_set_visible (GTK_WIDGET (self->undo_job_list), FALSE);
  sync_undo (self);
}

/* The commit's progress, as the disks page shows a disk's jobs. */
static void
on_commit_job (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachineSettings) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaDBusJob) job = marina_dbus_job_proxy_new_finish (result, &error);
  MarinaJobRow *row;

  /* Gone already: a finished job may go at once; HasUndoChanges tells. */
  if (job == NULL)
    {
      self->committing = FALSE;
      return sync_undo (self);
    }
  row = marina_job_row_new (job, _("Committing the undo disk into the boot disk"));
  g_signal_connect_object (row, "finished", G_CALLBACK (on_commit_finished), self, 0);
  gtk_list_box_append (self->undo_job_list, GTK_WIDGET (row));
  gtk_widget_set_visible (GTK_WIDGET (self->undo_job_list), TRUE);
}

static void
on_commit_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachineSettings) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *job = NULL;

  if (!marina_dbus_machine_call_commit_undo_disks_finish (MARINA_DBUS_MACHINE (source), &job,
                                                          result, &error))
    return show_error (self, error);
  self->committing = TRUE;
  sync_undo (self);
  marina_dbus_job_proxy_new (g_dbus_proxy_get_connection (G_DBUS_PROXY (source)),
                             G_DBUS_PROXY_FLAGS_NONE, g_dbus_proxy_get_name (G_DBUS_PROXY (source)),
                             job, NULL, on_commit_job, g_object_ref (self));
}

static void
action_commit_undo (GtkWidget *widget, const char *action, GVariant *parameter)
{
  MarinaMachineSettings *self = MARINA_MACHINE_SETTINGS (widget);

  g_debug ("settings: CommitUndoDisks");
  marina_dbus_machine_call_commit_undo_disks (self->machine, NULL, on_commit_started,
                                              g_object_ref (self));
}

static void
on_discarded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachineSettings) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!marina_dbus_machine_call_discard_undo_disks_finish (MARINA_DBUS_MACHINE (source), result,
                                                           &error))
    return show_error (self, error);
  show_message (self, _("The undo changes are discarded; the boot disk is as it was."));
}

static void
action_discard_undo (GtkWidget *widget, const char *action, GVariant *parameter)
{
  MarinaMachineSettings *self = MARINA_MACHINE_SETTINGS (widget);

  g_debug ("settings: DiscardUndoDisks");
  marina_dbus_machine_call_discard_undo_disks (self->machine, NULL, on_discarded,
                                               g_object_ref (self));
}

/* ---- the configuration --------------------------------------------------------------- */

static void
select_value (AdwComboRow *row, const char *const *values, gsize n, const char *value)
{
  for (gsize i = 0; i < n; i++)
    if (g_strcmp0 (values[i], value) == 0)
      adw_combo_row_set_selected (row, i);
}

static const char *
selected_value (AdwComboRow *row, const char *const *values, gsize n)
{
  return values[MIN (adw_combo_row_get_selected (row), n - 1)];
}

static void
show_config (MarinaMachineSettings *self)
{
  const MarinaMachineConfig *config = self->config;

  gtk_editable_set_text (GTK_EDITABLE (self->name_row), config->name);
  adw_combo_row_set_selected (self->profile_row, config->profile);
  select_value (self->accelerator_row, accelerators, G_N_ELEMENTS (accelerators),
                config->accelerator);
  gtk_spin_button_set_value (self->memory_spin, config->memory_mib);
  gtk_spin_button_set_value (self->vcpus_spin, config->vcpus);
  gtk_editable_set_text (GTK_EDITABLE (self->disk_row), config->boot_disk ? config->boot_disk : "");
  gtk_editable_set_text (GTK_EDITABLE (self->cdrom_row), config->cdrom ? config->cdrom : "");
  gtk_editable_set_text (GTK_EDITABLE (self->floppy_row), config->floppy ? config->floppy : "");
  adw_combo_row_set_selected (self->com2_row, config->com2.kind);
  gtk_editable_set_text (GTK_EDITABLE (self->com2_file_row),
                         config->com2.path ? config->com2.path : "");
  adw_combo_row_set_selected (self->lpt1_row, config->lpt1.kind);
  gtk_editable_set_text (GTK_EDITABLE (self->lpt1_file_row),
                         config->lpt1.path ? config->lpt1.path : "");
  g_debug ("settings: COM2 %s, LPT1 %s", marina_port_kind_to_string (config->com2.kind),
           marina_port_kind_to_string (config->lpt1.kind));
  gtk_switch_set_active (self->undo_switch, config->undo_disks);
  for (gsize i = 0; i < G_N_ELEMENTS (undo_actions); i++)
    if (undo_actions[i] == config->undo_action)
      adw_combo_row_set_selected (self->undo_action_row, i);
  adw_combo_row_set_selected (self->autostart_row, config->autostart);
  gtk_spin_button_set_value (self->delay_spin, config->autostart_delay);
  adw_combo_row_set_selected (self->stop_row, config->stop_action);
  gtk_spin_button_set_value (self->weight_spin, config->cpu_weight);
  gtk_spin_button_set_value (self->maximum_spin, config->cpu_maximum);
  gtk_spin_button_set_value (self->reserve_spin, config->cpu_reserve);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->notes_view), config->notes, -1);
  show_buses (self);
  show_drives (self);
}

static void
on_config (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachineSettings) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;

  if (!marina_dbus_machine_call_get_config_finish (MARINA_DBUS_MACHINE (source), &xml, result,
                                                   &error))
    return show_error (self, error);
  self->config = marina_machine_config_from_xml (xml, -1, &error);
  if (self->config == NULL)
    return show_error (self, error);
  show_config (self);
  sync_locks (self);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "settings.apply", TRUE);
  g_debug ("settings: loaded %s", self->config->name);
}

static char *
text_or_null (AdwEntryRow *row)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (row));

  return *text ? g_strdup (text) : NULL;
}

static void
replace_string (char **field, char *value)
{
  g_free (*field);
  *field = value;
}

/* The media as the fields say; the floppy only where there is a drive. */
static void
edit_media (MarinaMachineSettings *self, MarinaMachineConfig *config)
{
  replace_string (&config->cdrom, text_or_null (self->cdrom_row));
  replace_string (&config->floppy, config->profile == MARINA_PROFILE_LEGACY
                                     ? text_or_null (self->floppy_row) : NULL);
}

/* A port as its rows say; its file only where it is connected to one. */
static void
edit_port (MarinaPort *port, AdwComboRow *row, AdwEntryRow *file_row, gboolean available)
{
  marina_port_clear (port);
  port->kind = available ? MIN (adw_combo_row_get_selected (row), MARINA_PORT_PIPE)
                         : MARINA_PORT_NONE;
  if (port->kind == MARINA_PORT_FILE)
    port->path = text_or_null (file_row);
}

/* @base (a fresh GetConfig) with what the fields say now. A running
 * machine's media went in through InsertMedia already: @base has them. */
static MarinaMachineConfig *
edited_config (MarinaMachineSettings *self, const MarinaMachineConfig *base, gboolean live)
{
  MarinaMachineConfig *config = marina_machine_config_copy (base);
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->notes_view);
  GtkTextIter start, end;
  char *disk = text_or_null (self->disk_row);

  replace_string (&config->name, g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_row))));
  config->profile = MIN (adw_combo_row_get_selected (self->profile_row), MARINA_PROFILE_LEGACY);
  replace_string (&config->accelerator,
                  g_strdup (selected_value (self->accelerator_row, accelerators,
                                            G_N_ELEMENTS (accelerators))));
  config->memory_mib = gtk_spin_button_get_value_as_int (self->memory_spin);
  config->vcpus = gtk_spin_button_get_value_as_int (self->vcpus_spin);
  /* Another image is probed anew. */
  if (g_strcmp0 (disk, config->boot_disk) != 0)
    g_clear_pointer (&config->boot_disk_format, g_free);
  replace_string (&config->boot_disk, disk);
  if (!live)
    edit_media (self, config);
  edit_port (&config->com2, self->com2_row, self->com2_file_row, TRUE);
  edit_port (&config->lpt1, self->lpt1_row, self->lpt1_file_row,
             config->profile == MARINA_PROFILE_LEGACY);
  config->undo_disks = gtk_switch_get_active (self->undo_switch);
  config->undo_action = undo_actions[MIN (adw_combo_row_get_selected (self->undo_action_row),
                                          G_N_ELEMENTS (undo_actions) - 1)];
  config->autostart = MIN (adw_combo_row_get_selected (self->autostart_row),
                           MARINA_AUTOSTART_IF_RUNNING);
  config->autostart_delay = gtk_spin_button_get_value_as_int (self->delay_spin);
  config->stop_action = MIN (adw_combo_row_get_selected (self->stop_row),
                             MARINA_STOP_ACTION_TURN_OFF);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  replace_string (&config->notes, gtk_text_buffer_get_text (buffer, &start, &end, FALSE));
  return config;
}

static void
finish_apply (MarinaMachineSettings *self, const GError *error)
{
  self->applying = FALSE;
  g_ptr_array_set_size (self->media_changes, 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "settings.apply", TRUE);
  if (error)
    return show_error (self, error);
  g_debug ("settings: applied");
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
on_cpu_set (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachineSettings) self = user_data;
  g_autoptr(GError) error = NULL;

  marina_dbus_machine_call_set_cpu_allocation_finish (MARINA_DBUS_MACHINE (source), result,
                                                      &error);
  finish_apply (self, error);
}

/* CPU resources go through SetCpuAllocation, which applies them at once. */
static void
apply_cpu (MarinaMachineSettings *self)
{
  guint weight = gtk_spin_button_get_value_as_int (self->weight_spin);
  guint maximum = gtk_spin_button_get_value_as_int (self->maximum_spin);
  guint reserve = gtk_spin_button_get_value_as_int (self->reserve_spin);

  if (weight == self->config->cpu_weight && maximum == self->config->cpu_maximum
      && reserve == self->config->cpu_reserve)
    return finish_apply (self, NULL);
  marina_dbus_machine_call_set_cpu_allocation (self->machine, weight, maximum, reserve, NULL,
                                               on_cpu_set, g_object_ref (self));
}

static void
on_config_set (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachineSettings) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!marina_dbus_machine_call_set_config_finish (MARINA_DBUS_MACHINE (source), result, &error))
    return finish_apply (self, error);
  apply_cpu (self);
}

static void
on_config_to_edit (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachineSettings) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;
  g_autoptr(MarinaMachineConfig) base = NULL;
  g_autoptr(MarinaMachineConfig) config = NULL;

  if (!marina_dbus_machine_call_get_config_finish (MARINA_DBUS_MACHINE (source), &xml, result,
                                                   &error) ||
      !(base = marina_machine_config_from_xml (xml, -1, &error)))
    return finish_apply (self, error);
  config = edited_config (self, base, machine_live (self));
  if (marina_machine_config_equal (config, base))
    return apply_cpu (self);
  g_clear_pointer (&xml, g_free);
  xml = marina_machine_config_to_xml (config);
  marina_dbus_machine_call_set_config (self->machine, xml, NULL, on_config_set,
                                       g_object_ref (self));
}

static void apply_next_medium (MarinaMachineSettings *self);

static void
on_medium_changed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachineSettings) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (reply == NULL)
    return finish_apply (self, error);
  g_ptr_array_remove_index (self->media_changes, 0);
  apply_next_medium (self);
}

/* The media first, then the rest of the configuration as it is after them. */
static void
apply_next_medium (MarinaMachineSettings *self)
{
  MediaChange *change;

  if (self->media_changes->len == 0)
    return marina_dbus_machine_call_get_config (self->machine, NULL, on_config_to_edit,
                                                g_object_ref (self));
  change = self->media_changes->pdata[0];
  g_debug ("settings: %s %s", change->path ? "InsertMedia" : "EjectMedia", change->drive);
  g_dbus_proxy_call (G_DBUS_PROXY (self->machine), change->path ? "InsertMedia" : "EjectMedia",
                     change->path ? g_variant_new ("(ss)", change->drive, change->path)
                                  : g_variant_new ("(s)", change->drive),
                     G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_medium_changed, g_object_ref (self));
}

/* While the machine runs, a medium typed in goes into its drive. */
static void
queue_media_changes (MarinaMachineSettings *self)
{
  g_autoptr(MarinaMachineConfig) typed = marina_machine_config_copy (self->config);

  if (!machine_live (self))
    return;
  edit_media (self, typed);
  for (guint i = 0; i < 2; i++)
    {
      const char *path = i == 0 ? typed->cdrom : typed->floppy;
      MediaChange *change;

      if (g_strcmp0 (path, i == 0 ? self->config->cdrom : self->config->floppy) == 0)
        continue;
      change = g_new0 (MediaChange, 1);
      change->drive = g_strdup (i == 0 ? "cdrom" : "floppy");
      change->path = g_strdup (path);
      g_ptr_array_add (self->media_changes, change);
    }
}

static void
action_apply (GtkWidget *widget, const char *action, GVariant *parameter)
{
  MarinaMachineSettings *self = MARINA_MACHINE_SETTINGS (widget);

  if (self->config == NULL || self->applying)
    return;
  self->applying = TRUE;
  gtk_widget_action_set_enabled (widget, "settings.apply", FALSE);
  queue_media_changes (self);
  apply_next_medium (self);
}

/* ---- the test hook ------------------------------------------------------------------- */

/* As a person would fill them in. Keys: name, disk, cdrom, floppy, notes,
 * new-disk (the disk to attach), com2-file, lpt1-file (s); profile,
 * accelerator, undo-action, autostart, stop, new-bus, com2, lpt1 (the
 * choice as shown); memory-mib, vcpus, delay,
 * weight, maximum, reserve (i); undo-disks, new-shared (b); detach-disk
 * (s: presses the remove button of that additional disk). */
static void
press_detach (MarinaMachineSettings *self, const char *path)
{
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->drive_list)); row;
       row = gtk_widget_get_next_sibling (row))
    {
      GtkWidget *remove = g_object_get_data (G_OBJECT (row), "remove");
      if (remove && g_strcmp0 (g_object_get_data (G_OBJECT (remove), "drive"), path) == 0)
        return (void) gtk_widget_activate (remove);
    }
  g_warning ("no additional disk %s", path);
}

void
marina_machine_settings_fill (MarinaMachineSettings *self, GVariant *values)
{
  const struct { const char *key; GtkSpinButton *spin; } spins[] = {
    { "memory-mib", self->memory_spin }, { "vcpus", self->vcpus_spin },
    { "delay", self->delay_spin }, { "weight", self->weight_spin },
    { "maximum", self->maximum_spin }, { "reserve", self->reserve_spin },
  };
  const struct { const char *key; AdwComboRow *row; } combos[] = {
    { "profile", self->profile_row }, { "accelerator", self->accelerator_row },
    { "undo-action", self->undo_action_row }, { "autostart", self->autostart_row },
    { "stop", self->stop_row }, { "new-bus", self->new_bus_row }, { "com2", self->com2_row },
    { "lpt1", self->lpt1_row },
  };
  const struct { const char *key; AdwEntryRow *row; } entries[] = {
    { "name", self->name_row }, { "disk", self->disk_row }, { "cdrom", self->cdrom_row },
    { "floppy", self->floppy_row }, { "new-disk", self->new_disk_row },
    { "com2-file", self->com2_file_row }, { "lpt1-file", self->lpt1_file_row },
  };
  const struct { const char *key; GtkSwitch *button; } switches[] = {
    { "undo-disks", self->undo_switch }, { "new-shared", self->new_shared_switch },
  };
  gboolean active;
  GVariantDict dict;
  const char *text;
  gint32 number;

  g_variant_dict_init (&dict, values);
  for (gsize i = 0; i < G_N_ELEMENTS (spins); i++)
    if (g_variant_dict_lookup (&dict, spins[i].key, "i", &number))
      gtk_spin_button_set_value (spins[i].spin, number);
  for (gsize i = 0; i < G_N_ELEMENTS (combos); i++)
    if (g_variant_dict_lookup (&dict, combos[i].key, "&s", &text))
      marina_gui_combo_select (combos[i].row, text);
  for (gsize i = 0; i < G_N_ELEMENTS (entries); i++)
    if (g_variant_dict_lookup (&dict, entries[i].key, "&s", &text))
      gtk_editable_set_text (GTK_EDITABLE (entries[i].row), text);
  for (gsize i = 0; i < G_N_ELEMENTS (switches); i++)
    if (g_variant_dict_lookup (&dict, switches[i].key, "b", &active))
      gtk_switch_set_active (switches[i].button, active);
  if (g_variant_dict_lookup (&dict, "new-disk", "&s", &text))
    adw_expander_row_set_expanded (self->attach_row, TRUE);
  if (g_variant_dict_lookup (&dict, "notes", "&s", &text))
    gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->notes_view), text, -1);
  if (g_variant_dict_lookup (&dict, "detach-disk", "&s", &text))
    press_detach (self, text);
  g_variant_dict_clear (&dict);
}

/* ---- GObject ----------------------------------------------------------------------------- */

static void
marina_machine_settings_dispose (GObject *object)
{
  MarinaMachineSettings *self = MARINA_MACHINE_SETTINGS (object);

  if (self->machine)
    g_signal_handlers_disconnect_by_data (self->machine, self);
  g_clear_object (&self->machine);
  g_clear_object (&self->objects);
  g_clear_object (&self->network_names);
  g_clear_pointer (&self->network_paths, g_ptr_array_unref);
  g_clear_pointer (&self->media_changes, g_ptr_array_unref);
  g_clear_pointer (&self->config, marina_machine_config_free);
  G_OBJECT_CLASS (marina_machine_settings_parent_class)->dispose (object);
}

static void
bind_template (GtkWidgetClass *widget_class)
{
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/marinavm/Manager/marina-machine-settings.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, MarinaMachineSettings, name)
  BIND (toast_overlay); BIND (general_group); BIND (name_row); BIND (profile_row);
  BIND (accelerator_row); BIND (memory_group); BIND (memory_spin); BIND (vcpus_spin);
  BIND (disk_group); BIND (disk_row); BIND (drive_list); BIND (attach_row);
  BIND (new_disk_row); BIND (new_bus_row); BIND (new_shared_switch); BIND (cdrom_group);
  BIND (cdrom_row); BIND (floppy_group); BIND (floppy_row); BIND (ports_group);
  BIND (com2_row); BIND (com2_file_row); BIND (lpt1_row); BIND (lpt1_file_row);
  BIND (undo_group);
  BIND (undo_switch); BIND (undo_action_row); BIND (undo_changes_row);
  BIND (undo_job_list);
  BIND (adapters_group); BIND (adapter_list); BIND (autostart_row); BIND (delay_spin);
  BIND (stop_row); BIND (weight_spin); BIND (maximum_spin); BIND (reserve_spin);
  BIND (notes_view);
#undef BIND
}

static void
marina_machine_settings_class_init (MarinaMachineSettingsClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = marina_machine_settings_dispose;
  bind_template (widget_class);
  gtk_widget_class_install_action (widget_class, "settings.apply", NULL, action_apply);
  gtk_widget_class_install_action (widget_class, "settings.add-adapter", NULL,
                                   action_add_adapter);
  gtk_widget_class_install_action (widget_class, "settings.attach-disk", NULL,
                                   action_attach_disk);
  gtk_widget_class_install_action (widget_class, "settings.commit-undo", NULL,
                                   action_commit_undo);
  gtk_widget_class_install_action (widget_class, "settings.discard-undo", NULL,
                                   action_discard_undo);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
marina_machine_settings_init (MarinaMachineSettings *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->network_paths = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->network_paths, g_strdup ("/"));
  self->media_changes = g_ptr_array_new_with_free_func ((GDestroyNotify) media_change_free);
  g_signal_connect_swapped (self->profile_row, "notify::selected",
                            G_CALLBACK (sync_profile_locks), self);
  g_signal_connect_swapped (self->com2_row, "notify::selected", G_CALLBACK (sync_port_locks),
                            self);
  g_signal_connect_swapped (self->lpt1_row, "notify::selected", G_CALLBACK (sync_port_locks),
                            self);
  self->network_names = gtk_string_list_new ((const char *[]) { _("Not connected"), NULL });
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "settings.apply", FALSE);
}

static void
on_state (MarinaMachineSettings *self)
{
  show_drives (self);
  show_adapters (self);
}

MarinaMachineSettings *
marina_machine_settings_new (GtkWindow *parent, MarinaDBusMachine *machine,
                             GDBusObjectManager *objects)
{
  MarinaMachineSettings *self = g_object_new (MARINA_TYPE_MACHINE_SETTINGS,
                                              "transient-for", parent, NULL);
  g_autofree char *title = g_strdup_printf (_("Settings of %s"),
                                            marina_dbus_machine_get_name (machine));

  gtk_window_set_title (GTK_WINDOW (self), title);
  self->machine = g_object_ref (machine);
  self->objects = g_object_ref (objects);
  load_networks (self);
  show_adapters (self);
  g_signal_connect_swapped (machine, "notify::network-adapters", G_CALLBACK (show_adapters),
                            self);
  g_signal_connect_swapped (machine, "notify::state", G_CALLBACK (on_state), self);
  g_signal_connect_swapped (machine, "notify::has-undo-changes", G_CALLBACK (sync_undo), self);
  g_signal_connect_swapped (machine, "notify::disks", G_CALLBACK (refresh_hardware), self);
  marina_dbus_machine_call_get_config (machine, NULL, on_config, g_object_ref (self));
  return self;
}
