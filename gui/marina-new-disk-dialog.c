/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-dbus-generated.h"
#include "marina-gui-util.h"
#include "marina-new-disk-dialog.h"

/* Create Disk: a file name in one of marinad's storage folders, the format,
 * the type, the size and, for a differencing disk, its parent among the
 * known disks. Create calls Manager.CreateDisk; "created" hands the new
 * Disk and its Job to the disks page, which shows the job's progress. */

#define MANAGER_PATH "/org/marinavm/Marina1/Manager"
#define MANAGER_IFACE "org.marinavm.Marina1.Manager"

struct _MarinaNewDiskDialog {
  AdwWindow parent_instance;
  AdwToastOverlay *toast_overlay;
  AdwEntryRow *name_row;
  AdwComboRow *folder_row;
  AdwComboRow *format_row;
  AdwComboRow *type_row;
  AdwActionRow *size_row;
  GtkSpinButton *size_spin;
  AdwComboRow *parent_row;

  GDBusObjectManager *objects;
  GtkStringList *folders;
  GtkStringList *parents;   /* paths of the known disks */
  gboolean creating;
};

G_DEFINE_FINAL_TYPE (MarinaNewDiskDialog, marina_new_disk_dialog, ADW_TYPE_WINDOW)

enum { SIGNAL_CREATED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* As the format and type models list them. */
static const char *const formats[] = { "vhd", "vhdx", "qcow2", "raw" };
static const char *const types[] = { "dynamic", "fixed", "differencing" };
enum { FORMAT_QCOW2 = 2, TYPE_DIFFERENCING = 2 };

static void
show_error (MarinaNewDiskDialog *self, const char *message)
{
  g_debug ("new disk: error: %s", message);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

static gboolean
differencing (MarinaNewDiskDialog *self)
{
  return adw_combo_row_get_selected (self->type_row) == TYPE_DIFFERENCING;
}

static const char *
selected_string (AdwComboRow *row)
{
  GtkStringObject *item = adw_combo_row_get_selected_item (row);

  return item ? gtk_string_object_get_string (item) : NULL;
}

/* QEMU writes differencing disks only as qcow2, sized as their parent. */
static void
on_changed (MarinaNewDiskDialog *self)
{
  gboolean child = differencing (self);
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));

  if (child && adw_combo_row_get_selected (self->format_row) != FORMAT_QCOW2)
    adw_combo_row_set_selected (self->format_row, FORMAT_QCOW2);
  gtk_widget_set_sensitive (GTK_WIDGET (self->format_row), !child);
  gtk_widget_set_sensitive (GTK_WIDGET (self->size_row), !child);
  gtk_widget_set_sensitive (GTK_WIDGET (self->parent_row), child);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "new-disk.create",
                                 !self->creating && *name != '\0'
                                 && (!child || selected_string (self->parent_row)));
}

static void
on_name_activated (MarinaNewDiskDialog *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "new-disk.create", NULL);
}

/* The name as typed, with the format's extension when it has none. */
static char *
build_path (MarinaNewDiskDialog *self, const char *format)
{
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));
  const char *folder = selected_string (self->folder_row);
  g_autofree char *file = strchr (name, '.') ? g_strdup (name)
                                             : g_strconcat (name, ".", format, NULL);

  return g_build_filename (folder ? folder : ".", file, NULL);
}

static GVariant *
build_options (MarinaNewDiskDialog *self, const char *format)
{
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  guint type = MIN (adw_combo_row_get_selected (self->type_row), G_N_ELEMENTS (types) - 1);

  g_variant_dict_insert (&options, "format", "s", format);
  g_variant_dict_insert (&options, "type", "s", types[type]);
  if (type == TYPE_DIFFERENCING)
    g_variant_dict_insert (&options, "parent", "s", selected_string (self->parent_row));
  else
    g_variant_dict_insert (&options, "size", "t",
                           (guint64) gtk_spin_button_get_value_as_int (self->size_spin) << 20);
  return g_variant_dict_end (&options);
}

static void
on_created (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaNewDiskDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *disk = NULL;
  g_autofree char *job = NULL;
  const char *path = g_object_get_data (G_OBJECT (self), "path");

  if (!marina_dbus_manager_call_create_disk_finish (MARINA_DBUS_MANAGER (source), &disk, &job,
                                                    result, &error))
    {
      g_autofree char *message = marina_gui_error_message (error);
      self->creating = FALSE;
      on_changed (self);
      return show_error (self, message);
    }
  g_debug ("new disk: creating %s", path);
  g_signal_emit (self, signals[SIGNAL_CREATED], 0, disk, job, path);
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
action_create (GtkWidget *widget, const char *action, GVariant *parameter)
{
  MarinaNewDiskDialog *self = MARINA_NEW_DISK_DIALOG (widget);
  g_autoptr(GDBusInterface) manager = g_dbus_object_manager_get_interface (self->objects,
                                                                           MANAGER_PATH,
                                                                           MANAGER_IFACE);
  guint format = MIN (adw_combo_row_get_selected (self->format_row), G_N_ELEMENTS (formats) - 1);
  char *path;

  if (manager == NULL)
    return show_error (self, _("The Marina service is not running"));
  path = build_path (self, formats[format]);
  g_object_set_data_full (G_OBJECT (self), "path", path, g_free);
  self->creating = TRUE;
  on_changed (self);
  marina_dbus_manager_call_create_disk (MARINA_DBUS_MANAGER (manager), path,
                                        build_options (self, formats[format]), NULL, on_created,
                                        g_object_ref (self));
}

/* ---- what marinad offers ------------------------------------------------------------ */

static void
load_folders (MarinaNewDiskDialog *self)
{
  g_autoptr(GDBusInterface) proxy = g_dbus_object_manager_get_interface (self->objects,
                                                                         MANAGER_PATH,
                                                                         MANAGER_IFACE);
  MarinaDBusManager *manager = proxy ? MARINA_DBUS_MANAGER (proxy) : NULL;
  const char *directory;
  const char *const *paths;

  if (manager == NULL)
    return;
  /* Marina's own folder first, then marina.conf's others. */
  directory = marina_dbus_manager_get_storage_directory (manager);
  gtk_string_list_append (self->folders, directory);
  paths = marina_dbus_manager_get_storage_paths (manager);
  for (guint i = 0; paths && paths[i]; i++)
    if (g_strcmp0 (paths[i], directory) != 0)
      gtk_string_list_append (self->folders, paths[i]);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char **) a, *(const char **) b);
}

static void
load_parents (MarinaNewDiskDialog *self)
{
  g_autolist(GDBusObject) objects = g_dbus_object_manager_get_objects (self->objects);
  g_autoptr(GPtrArray) paths = g_ptr_array_new ();

  for (GList *l = objects; l; l = l->next)
    {
      MarinaDBusDisk *disk = marina_dbus_object_peek_disk (MARINA_DBUS_OBJECT (l->data));
      if (disk)
        g_ptr_array_add (paths, (gpointer) marina_dbus_disk_get_path (disk));
    }
  g_ptr_array_sort (paths, compare_strings);
  for (guint i = 0; i < paths->len; i++)
    gtk_string_list_append (self->parents, paths->pdata[i]);
}

/* ---- the test hook --------------------------------------------------------------------- */

/* As a person would fill them in; keys: name, format, type, parent (the
 * choices as shown), size-mib (i). */
void
marina_new_disk_dialog_fill (MarinaNewDiskDialog *self, GVariant *values)
{
  static const struct { const char *key; gsize offset; } combos[] = {
    { "type", G_STRUCT_OFFSET (MarinaNewDiskDialog, type_row) },
    { "format", G_STRUCT_OFFSET (MarinaNewDiskDialog, format_row) },
    { "parent", G_STRUCT_OFFSET (MarinaNewDiskDialog, parent_row) },
  };
  GVariantDict dict;
  const char *text;
  gint32 number;

  g_variant_dict_init (&dict, values);
  if (g_variant_dict_lookup (&dict, "name", "&s", &text))
    gtk_editable_set_text (GTK_EDITABLE (self->name_row), text);
  if (g_variant_dict_lookup (&dict, "size-mib", "i", &number))
    gtk_spin_button_set_value (self->size_spin, number);
  for (gsize i = 0; i < G_N_ELEMENTS (combos); i++)
    if (g_variant_dict_lookup (&dict, combos[i].key, "&s", &text))
      marina_gui_combo_select (G_STRUCT_MEMBER (AdwComboRow *, self, combos[i].offset), text);
  g_variant_dict_clear (&dict);
}

/* ---- GObject --------------------------------------------------------------------------- */

static void
marina_new_disk_dialog_dispose (GObject *object)
{
  MarinaNewDiskDialog *self = MARINA_NEW_DISK_DIALOG (object);

  g_clear_object (&self->objects);
  g_clear_object (&self->folders);
  g_clear_object (&self->parents);
  G_OBJECT_CLASS (marina_new_disk_dialog_parent_class)->dispose (object);
}

static void
marina_new_disk_dialog_class_init (MarinaNewDiskDialogClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = marina_new_disk_dialog_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/marinavm/Manager/marina-new-disk-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, MarinaNewDiskDialog, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewDiskDialog, name_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewDiskDialog, folder_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewDiskDialog, format_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewDiskDialog, type_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewDiskDialog, size_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewDiskDialog, size_spin);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewDiskDialog, parent_row);
  gtk_widget_class_bind_template_callback (widget_class, on_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_name_activated);
  gtk_widget_class_install_action (widget_class, "new-disk.create", NULL, action_create);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  /* disk object path, job object path, image path */
  signals[SIGNAL_CREATED] = g_signal_new ("created", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING,
                                          G_TYPE_STRING, G_TYPE_STRING);
}

static void
marina_new_disk_dialog_init (MarinaNewDiskDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->folders = gtk_string_list_new (NULL);
  self->parents = gtk_string_list_new (NULL);
  adw_combo_row_set_model (self->folder_row, G_LIST_MODEL (self->folders));
  adw_combo_row_set_model (self->parent_row, G_LIST_MODEL (self->parents));
  gtk_widget_grab_focus (GTK_WIDGET (self->name_row));
}

MarinaNewDiskDialog *
marina_new_disk_dialog_new (GtkWindow *parent, GDBusObjectManager *objects)
{
  MarinaNewDiskDialog *self = g_object_new (MARINA_TYPE_NEW_DISK_DIALOG, "transient-for", parent,
                                            NULL);

  self->objects = g_object_ref (objects);
  load_folders (self);
  load_parents (self);
  on_changed (self);
  return self;
}
