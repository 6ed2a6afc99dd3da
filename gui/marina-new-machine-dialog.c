/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-dbus-generated.h"
#include "marina-gui-util.h"
#include "marina-job-row.h"
#include "marina-new-disk-dialog.h"
#include "marina-new-machine-dialog.h"

/* The new machine assistant: name, profile, memory (at most what the host
 * has), virtual processors, a disk (an existing image, or a new one made
 * through the New Disk dialog: dynamic, fixed or differencing with its
 * parent picked among the known disks), a CD/DVD image, a network and the
 * boot order. A new disk's Job shows as a progress bar with Cancel in the
 * assistant, and Create waits for it. Create calls Manager.CreateMachine
 * and, with a network chosen, Machine.AddNetworkAdapter on the new machine;
 * the window hears of the result through the "created" signal. */

#define BUS_NAME "org.marinavm.Marina1"
#define MANAGER_PATH "/org/marinavm/Marina1/Manager"
#define MANAGER_IFACE BUS_NAME ".Manager"
#define MACHINE_IFACE BUS_NAME ".Machine"
#define NETWORK_IFACE BUS_NAME ".Network"

struct _MarinaNewMachineDialog {
  AdwWindow parent_instance;
  AdwToastOverlay *toast_overlay;
  AdwEntryRow *name_row;
  AdwComboRow *profile_row;
  AdwActionRow *memory_row;
  GtkSpinButton *memory_spin;
  GtkSpinButton *vcpus_spin;
  AdwPreferencesGroup *media_group;
  AdwActionRow *disk_row;
  AdwActionRow *cdrom_row;
  AdwComboRow *network_row;
  AdwComboRow *boot_row;

  GDBusConnection *connection;
  GDBusObjectManager *objects;
  GtkStringList *network_names;
  GPtrArray *network_paths;  /* parallel to network_names, "/" (none) first */
  char *disk;
  char *cdrom;
  MarinaNewDiskDialog *disk_dialog;
  MarinaJobRow *disk_job;  /* the new disk's creation, while it runs */
  gboolean creating;
  GCancellable *cancellable;
};

G_DEFINE_FINAL_TYPE (MarinaNewMachineDialog, marina_new_machine_dialog, ADW_TYPE_WINDOW)

enum { SIGNAL_CREATED, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char *const profiles[] = { "modern", "legacy" };
static const char *const *const boot_orders[] = {
  (const char *const[]) { "disk", "cdrom", NULL },
  (const char *const[]) { "cdrom", "disk", NULL },
  (const char *const[]) { "network", "disk", NULL },
};

static void
show_error (MarinaNewMachineDialog *self, const char *message)
{
  g_debug ("assistant: %s", message);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

static void
sync_create (MarinaNewMachineDialog *self)
{
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));

  /* A machine on a disk still being made would not start. */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "assistant.create",
                                 !self->creating && self->disk_job == NULL && *name != '\0');
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "assistant.new-disk", self->disk_job == NULL);
}

static void
on_name_changed (MarinaNewMachineDialog *self)
{
  sync_create (self);
}

static void
on_name_activated (MarinaNewMachineDialog *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "assistant.create", NULL);
}

/* Which guests each profile suits, under its name. */
static void
on_profile_selected (MarinaNewMachineDialog *self)
{
  const char *hints[] = {
    _("Current systems: Linux, BSD, Windows 8 and later (q35, virtio disks and network)"),
    _("Older systems: Windows 2000 to 7, DOS, OS/2, old Linux (i440fx, IDE, LSI SCSI, "
      "Cirrus graphics)"),
  };
  guint selected = adw_combo_row_get_selected (self->profile_row);

  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->profile_row),
                               hints[MIN (selected, G_N_ELEMENTS (hints) - 1)]);
}

/* ---- media ------------------------------------------------------------------- */

static void
set_medium (MarinaNewMachineDialog *self, gboolean cdrom, const char *path)
{
  char **slot = cdrom ? &self->cdrom : &self->disk;

  g_free (*slot);
  *slot = path && *path ? g_strdup (path) : NULL;
  adw_action_row_set_subtitle (cdrom ? self->cdrom_row : self->disk_row,
                               *slot ? *slot : _("None"));
}

static void
on_file_chosen (GtkNativeDialog *chooser, int response, MarinaNewMachineDialog *self)
{
  gboolean cdrom = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (chooser), "cdrom"));
  g_autoptr(GFile) file = NULL;
  g_autofree char *path = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  if (file)
    path = g_file_get_path (file);
  if (path)
    set_medium (self, cdrom, path);
  g_object_unref (chooser);
}

static GtkFileFilter *
new_filter (const char *name, const char *const *patterns)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, name);
  for (guint i = 0; patterns[i]; i++)
    gtk_file_filter_add_pattern (filter, patterns[i]);
  return filter;
}

/* The path is marinad's to open: on this host, the file is the same file. */
static void
choose_file (MarinaNewMachineDialog *self, gboolean cdrom)
{
  static const char *const disks[] = { "*.img", "*.raw", "*.qcow2", "*.vhd", "*.vhdx", "*.vmdk",
                                       NULL };
  static const char *const isos[] = { "*.iso", "*.ISO", NULL };
  static const char *const all[] = { "*", NULL };
  GtkFileChooserNative *chooser =
    gtk_file_chooser_native_new (cdrom ? _("Choose a CD/DVD Image") : _("Choose a Disk Image"),
                                 GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_OPEN, _("_Choose"),
                                 _("_Cancel"));
  g_autoptr(GtkFileFilter) images = new_filter (cdrom ? _("CD/DVD images") : _("Disk images"),
                                                cdrom ? isos : disks);
  g_autoptr(GtkFileFilter) any = new_filter (_("All files"), all);

  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), images);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), any);
  g_object_set_data (G_OBJECT (chooser), "cdrom", GINT_TO_POINTER (cdrom));
  g_signal_connect (chooser, "response", G_CALLBACK (on_file_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
action_choose (GtkWidget *widget, const char *action, GVariant *parameter)
{
  choose_file (MARINA_NEW_MACHINE_DIALOG (widget), g_str_equal (action, "assistant.choose-cdrom"));
}

static void
action_clear (GtkWidget *widget, const char *action, GVariant *parameter)
{
  set_medium (MARINA_NEW_MACHINE_DIALOG (widget), g_str_equal (action, "assistant.clear-cdrom"),
              NULL);
}

/* ---- a new disk ---------------------------------------------------------------- */

static void
forget_disk_job (MarinaNewMachineDialog *self)
{
  if (self->disk_job == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->disk_job, self);
  adw_preferences_group_remove (self->media_group, GTK_WIDGET (self->disk_job));
  self->disk_job = NULL;
}

static void
on_disk_job_finished (MarinaJobRow *row, const char *status, const char *message,
                      MarinaNewMachineDialog *self)
{
  g_autofree char *text = NULL;

  forget_disk_job (self);
  if (g_str_equal (status, "completed"))
    g_debug ("assistant: new disk %s ready", self->disk);
  else
    {
      /* Cancelled or failed, the disk is gone: marinad leaves no half-made file. */
      text = g_str_equal (status, "cancelled")
               ? g_strdup (_("The new disk was cancelled."))
               : g_strdup_printf (_("The new disk could not be made: %s"), message);
      set_medium (self, FALSE, NULL);
      show_error (self, text);
    }
  sync_create (self);
}

static void
on_disk_job_proxy (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaNewMachineDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaDBusJob) job = marina_dbus_job_proxy_new_finish (result, &error);
  g_autofree char *name = NULL;
  g_autofree char *title = NULL;

  if (job == NULL)
    {
      /* Finished and gone already: what marinad knows of the disk decides. */
      g_debug ("assistant: the new disk's job: %s", error->message);
      return;
    }
  if (self->disk == NULL)
    return;
  name = g_path_get_basename (self->disk);
  title = g_strdup_printf (_("Creating %s"), name);
  self->disk_job = marina_job_row_new (job, title);
  g_signal_connect_object (self->disk_job, "finished", G_CALLBACK (on_disk_job_finished), self, 0);
  adw_preferences_group_add (self->media_group, GTK_WIDGET (self->disk_job));
  sync_create (self);
}

static void
on_disk_created (MarinaNewMachineDialog *self, const char *disk, const char *job, const char *path)
{
  g_debug ("assistant: new disk %s (%s)", path, job);
  set_medium (self, FALSE, path);
  marina_dbus_job_proxy_new (self->connection, G_DBUS_PROXY_FLAGS_NONE, BUS_NAME, job, NULL,
                             on_disk_job_proxy, g_object_ref (self));
}

/* The New Disk dialog, named after the machine as far as it is named. */
static void
open_disk_dialog (MarinaNewMachineDialog *self)
{
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));

  if (self->disk_dialog)
    return gtk_window_present (GTK_WINDOW (self->disk_dialog));
  self->disk_dialog = marina_new_disk_dialog_new (GTK_WINDOW (self), self->objects);
  g_object_add_weak_pointer (G_OBJECT (self->disk_dialog), (gpointer *) &self->disk_dialog);
  g_signal_connect_object (self->disk_dialog, "created", G_CALLBACK (on_disk_created), self,
                           G_CONNECT_SWAPPED);
  if (*name)
    marina_new_disk_dialog_fill (self->disk_dialog,
                                 g_variant_new_parsed ("{'name': <%s>}", name));
  gtk_window_present (GTK_WINDOW (self->disk_dialog));
}

static void
action_new_disk (GtkWidget *widget, const char *action, GVariant *parameter)
{
  open_disk_dialog (MARINA_NEW_MACHINE_DIALOG (widget));
}

/* The job row's Cancel button (win.cancel-job, as on the disks page): the
 * assistant follows one job, its new disk's. */
static void
action_cancel_job (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaNewMachineDialog *self = user_data;

  if (self->disk_job)
    marina_job_row_cancel (self->disk_job);
}

static void
add_job_actions (MarinaNewMachineDialog *self)
{
  static const GActionEntry entries[] = { { "cancel-job", action_cancel_job, "s" } };
  g_autoptr(GSimpleActionGroup) group = g_simple_action_group_new ();

  g_action_map_add_action_entries (G_ACTION_MAP (group), entries, G_N_ELEMENTS (entries), self);
  gtk_widget_insert_action_group (GTK_WIDGET (self), "win", G_ACTION_GROUP (group));
}

/* ---- host facts and networks --------------------------------------------------- */

static MarinaDBusManager *
get_manager (MarinaNewMachineDialog *self)
{
  return MARINA_DBUS_MANAGER (g_dbus_object_manager_get_interface (self->objects, MANAGER_PATH,
                                                                   MANAGER_IFACE));
}

/* Memory is bounded by the host's: marinad refuses to overcommit anyway. */
static void
apply_host_limits (MarinaNewMachineDialog *self, MarinaDBusManager *manager)
{
  guint64 memory = marina_dbus_manager_get_host_memory_mi_b (manager);
  guint cpus = marina_dbus_manager_get_host_cpus (manager);
  g_autofree char *hint = NULL;

  if (memory > 0)
    {
      gtk_adjustment_set_upper (gtk_spin_button_get_adjustment (self->memory_spin), memory);
      /* MiB: a guint holds 4 PiB. */
      hint = g_strdup_printf (_("This host has %u MiB"), (guint) memory);
      adw_action_row_set_subtitle (self->memory_row, hint);
    }
  if (cpus > 0)
    gtk_adjustment_set_upper (gtk_spin_button_get_adjustment (self->vcpus_spin), cpus);
}

static void
add_network (MarinaNewMachineDialog *self, const char *path)
{
  g_autoptr(GDBusInterface) network = g_dbus_object_manager_get_interface (self->objects, path,
                                                                           NETWORK_IFACE);
  const char *name = network ? marina_dbus_network_get_name (MARINA_DBUS_NETWORK (network)) : path;

  g_ptr_array_add (self->network_paths, g_strdup (path));
  gtk_string_list_append (self->network_names, name);
}

static void
on_networks (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MarinaNewMachineDialog *self = user_data;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) paths = NULL;

  if (!marina_dbus_manager_call_list_networks_finish (MARINA_DBUS_MANAGER (source), &paths,
                                                      result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *message = marina_gui_error_message (error);
          show_error (self, message);
        }
      return;
    }
  for (guint i = 0; paths[i]; i++)
    add_network (self, paths[i]);
  g_debug ("assistant: %u networks", g_strv_length (paths));
}

static void
load_host (MarinaNewMachineDialog *self)
{
  g_autoptr(MarinaDBusManager) manager = get_manager (self);

  if (manager == NULL)
    return show_error (self, _("The Marina service is not running"));
  apply_host_limits (self, manager);
  marina_dbus_manager_call_list_networks (manager, self->cancellable, on_networks, self);
}

/* ---- creating ------------------------------------------------------------------ */

static GVariant *
build_options (MarinaNewMachineDialog *self)
{
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  guint profile = MIN (adw_combo_row_get_selected (self->profile_row), G_N_ELEMENTS (profiles) - 1);
  guint boot = MIN (adw_combo_row_get_selected (self->boot_row), G_N_ELEMENTS (boot_orders) - 1);

  g_variant_dict_insert (&options, "memory-mib", "t",
                         (guint64) gtk_spin_button_get_value_as_int (self->memory_spin));
  g_variant_dict_insert (&options, "vcpus", "u",
                         (guint32) gtk_spin_button_get_value_as_int (self->vcpus_spin));
  g_variant_dict_insert (&options, "profile", "s", profiles[profile]);
  if (self->disk)
    g_variant_dict_insert (&options, "boot-disk", "s", self->disk);
  if (self->cdrom)
    g_variant_dict_insert (&options, "cdrom", "s", self->cdrom);
  g_variant_dict_insert_value (&options, "boot-order",
                               g_variant_new_strv (boot_orders[boot], -1));
  return g_variant_dict_end (&options);
}

static const char *
chosen_network (MarinaNewMachineDialog *self)
{
  guint selected = adw_combo_row_get_selected (self->network_row);

  return selected < self->network_paths->len ? self->network_paths->pdata[selected] : "/";
}

static void
finish (MarinaNewMachineDialog *self, const char *path, const char *warning)
{
  g_debug ("assistant: created %s", path);
  g_signal_emit (self, signals[SIGNAL_CREATED], 0, path, warning);
  gtk_window_destroy (GTK_WINDOW (self));
}

/* The machine exists by now: a refused adapter leaves it without network,
 * which the window tells. */
static void
on_adapter_added (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaNewMachineDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  const char *path = g_object_get_data (G_OBJECT (self), "machine");
  g_autofree char *message = NULL;
  g_autofree char *warning = NULL;

  if (reply == NULL)
    {
      message = marina_gui_error_message (error);
      warning = g_strdup_printf (_("The machine has no network adapter: %s"), message);
    }
  finish (self, path, warning);
}

static void
add_adapter (MarinaNewMachineDialog *self, const char *path, const char *network)
{
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert (&options, "network", "o", network);
  g_object_set_data_full (G_OBJECT (self), "machine", g_strdup (path), g_free);
  g_dbus_connection_call (self->connection, BUS_NAME, path, MACHINE_IFACE, "AddNetworkAdapter",
                          g_variant_new ("(@a{sv})", g_variant_dict_end (&options)),
                          G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          on_adapter_added, g_object_ref (self));
}

static void
on_created (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaNewMachineDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  const char *network = chosen_network (self);

  if (!marina_dbus_manager_call_create_machine_finish (MARINA_DBUS_MANAGER (source), &path,
                                                       result, &error))
    {
      g_autofree char *message = marina_gui_error_message (error);
      self->creating = FALSE;
      sync_create (self);
      return show_error (self, message);
    }
  if (g_str_equal (network, "/"))
    return finish (self, path, NULL);
  add_adapter (self, path, network);
}

static void
action_create (GtkWidget *widget, const char *action, GVariant *parameter)
{
  MarinaNewMachineDialog *self = MARINA_NEW_MACHINE_DIALOG (widget);
  g_autoptr(MarinaDBusManager) manager = get_manager (self);
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));

  if (manager == NULL)
    return show_error (self, _("The Marina service is not running"));
  self->creating = TRUE;
  sync_create (self);
  marina_dbus_manager_call_create_machine (manager, name, build_options (self), NULL, on_created,
                                           g_object_ref (self));
}

/* ---- the test hook --------------------------------------------------------------- */

/* Puts values into the widgets, as a person would with keyboard and mouse,
 * and leaves the rest (reading them back, calling marinad) to the ordinary
 * code. Keys: name, memory-mib, vcpus (i), profile, network, boot (the
 * choice as shown), disk, cdrom (paths, as the file chooser gives them),
 * new-disk (any value: the New Disk button pressed), cancel-disk (the new
 * disk's Cancel button pressed). */
void
marina_new_machine_dialog_fill (MarinaNewMachineDialog *self, GVariant *values)
{
  GVariantDict dict;
  const char *text;
  gint32 number;

  g_variant_dict_init (&dict, values);
  if (g_variant_dict_lookup (&dict, "name", "&s", &text))
    gtk_editable_set_text (GTK_EDITABLE (self->name_row), text);
  if (g_variant_dict_lookup (&dict, "memory-mib", "i", &number))
    gtk_spin_button_set_value (self->memory_spin, number);
  if (g_variant_dict_lookup (&dict, "vcpus", "i", &number))
    gtk_spin_button_set_value (self->vcpus_spin, number);
  if (g_variant_dict_lookup (&dict, "profile", "&s", &text))
    marina_gui_combo_select (self->profile_row, text);
  if (g_variant_dict_lookup (&dict, "network", "&s", &text))
    marina_gui_combo_select (self->network_row, text);
  if (g_variant_dict_lookup (&dict, "boot", "&s", &text))
    marina_gui_combo_select (self->boot_row, text);
  if (g_variant_dict_lookup (&dict, "disk", "&s", &text))
    set_medium (self, FALSE, text);
  if (g_variant_dict_lookup (&dict, "cdrom", "&s", &text))
    set_medium (self, TRUE, text);
  if (g_variant_dict_contains (&dict, "new-disk"))
    open_disk_dialog (self);
  if (g_variant_dict_contains (&dict, "cancel-disk") && self->disk_job)
    marina_job_row_cancel (self->disk_job);
  g_variant_dict_clear (&dict);
}

/* The New Disk dialog it opened, or NULL: for the tests' fill hook. */
MarinaNewDiskDialog *
marina_new_machine_dialog_get_disk_dialog (MarinaNewMachineDialog *self)
{
  return self->disk_dialog;
}

/* ---- GObject --------------------------------------------------------------------- */

static void
marina_new_machine_dialog_dispose (GObject *object)
{
  MarinaNewMachineDialog *self = MARINA_NEW_MACHINE_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  /* Closed while its disk is being made: nothing is to be left half-made. */
  if (self->disk_job)
    marina_job_row_cancel (self->disk_job);
  forget_disk_job (self);
  if (self->disk_dialog)
    gtk_window_destroy (GTK_WINDOW (self->disk_dialog));
  g_clear_object (&self->objects);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (marina_new_machine_dialog_parent_class)->dispose (object);
}

static void
marina_new_machine_dialog_finalize (GObject *object)
{
  MarinaNewMachineDialog *self = MARINA_NEW_MACHINE_DIALOG (object);

  g_clear_object (&self->network_names);
  g_ptr_array_unref (self->network_paths);
  g_free (self->disk);
  g_free (self->cdrom);
  G_OBJECT_CLASS (marina_new_machine_dialog_parent_class)->finalize (object);
}

static void
bind_template (GtkWidgetClass *widget_class)
{
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/marinavm/Manager/marina-new-machine-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, MarinaNewMachineDialog, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewMachineDialog, name_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewMachineDialog, profile_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewMachineDialog, memory_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewMachineDialog, memory_spin);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewMachineDialog, vcpus_spin);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewMachineDialog, media_group);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewMachineDialog, disk_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewMachineDialog, cdrom_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewMachineDialog, network_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewMachineDialog, boot_row);
  gtk_widget_class_bind_template_callback (widget_class, on_name_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_name_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_profile_selected);
}

static void
marina_new_machine_dialog_class_init (MarinaNewMachineDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = marina_new_machine_dialog_dispose;
  object_class->finalize = marina_new_machine_dialog_finalize;
  bind_template (widget_class);
  gtk_widget_class_install_action (widget_class, "assistant.create", NULL, action_create);
  gtk_widget_class_install_action (widget_class, "assistant.choose-disk", NULL, action_choose);
  gtk_widget_class_install_action (widget_class, "assistant.new-disk", NULL, action_new_disk);
  gtk_widget_class_install_action (widget_class, "assistant.choose-cdrom", NULL, action_choose);
  gtk_widget_class_install_action (widget_class, "assistant.clear-disk", NULL, action_clear);
  gtk_widget_class_install_action (widget_class, "assistant.clear-cdrom", NULL, action_clear);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  /* path, and a warning to show (or NULL) */
  signals[SIGNAL_CREATED] = g_signal_new ("created", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING,
                                          G_TYPE_STRING);
}

static void
marina_new_machine_dialog_init (MarinaNewMachineDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  add_job_actions (self);
  self->network_paths = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->network_paths, g_strdup ("/"));
  self->network_names = gtk_string_list_new ((const char *[]) { _("Not connected"), NULL });
  adw_combo_row_set_model (self->network_row, G_LIST_MODEL (self->network_names));
  on_profile_selected (self);
  sync_create (self);
  /* The name first: type it and press Enter, and the machine is made. */
  gtk_widget_grab_focus (GTK_WIDGET (self->name_row));
}

MarinaNewMachineDialog *
marina_new_machine_dialog_new (GtkWindow *parent, GDBusConnection *connection,
                               GDBusObjectManager *objects)
{
  MarinaNewMachineDialog *self = g_object_new (MARINA_TYPE_NEW_MACHINE_DIALOG,
                                               "transient-for", parent, NULL);

  self->connection = g_object_ref (connection);
  self->objects = g_object_ref (objects);
  load_host (self);
  return self;
}
