/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-dbus-generated.h"
#include "marina-disks-page.h"
#include "marina-gui-util.h"
#include "marina-job-row.h"
#include "marina-new-disk-dialog.h"

/* The disks page: every Disk marinad knows, a differencing disk indented
 * under its parent (the chain as a tree), the actions on the selected disk
 * (convert, merge, compact, delete) and, below, a row with a progress bar
 * and Cancel for each long operation started here. The window's toasts say
 * how each ended, failures in the API's own words ("message"). */

#define BUS_NAME "org.marinavm.Marina1"
#define DISK_IFACE BUS_NAME ".Disk"
#define JOB_IFACE BUS_NAME ".Job"
#define INDENT 28  /* pixels per level of a chain */

struct _MarinaDisksPage {
  GtkBox parent_instance;
  GtkStack *stack;
  GtkListBox *disk_list;
  GtkListBox *job_list;

  GDBusConnection *connection;
  GDBusObjectManager *objects;
  GActionMap *actions;
  char *selected;             /* the selected disk's object path */
  guint rebuild_source;
  gboolean rebuilding;
  GtkWidget *dialog;          /* the new disk dialog, or a question about a disk */
};

G_DEFINE_FINAL_TYPE (MarinaDisksPage, marina_disks_page, GTK_TYPE_BOX)

enum { SIGNAL_MESSAGE, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
show_message (MarinaDisksPage *self, const char *message)
{
  g_debug ("disks: %s", message);
  g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, message);
}

static void
show_error (MarinaDisksPage *self, const GError *error)
{
  g_autofree char *message = marina_gui_error_message (error);

  show_message (self, message);
}

/* g_set_str() is GLib 2.76. */
static void
set_str (char **slot, const char *value)
{
  char *copy = g_strdup (value);

  g_free (*slot);
  *slot = copy;
}

static MarinaDBusDisk *
lookup_disk (MarinaDisksPage *self, const char *path)
{
  return marina_gui_peek_interface (self->objects, path, DISK_IFACE);
}

static MarinaDBusDisk *
selected_disk (MarinaDisksPage *self)
{
  return lookup_disk (self, self->selected);
}

/* ---- which actions the selected disk allows ------------------------------------------ */

/* What marinad refuses anyway (busy disks, a parent of several) it refuses
 * with a message; this only greys out what can never work for the disk. */
static void
update_actions (MarinaDisksPage *self)
{
  MarinaDBusDisk *disk = selected_disk (self);
  const char *type = disk ? marina_dbus_disk_get_type_ (disk) : "";
  const char *format = disk ? marina_dbus_disk_get_format (disk) : "";
  gboolean has_parent = disk && g_strcmp0 (marina_dbus_disk_get_parent (disk), "/") != 0;
  gboolean sparse = g_str_equal (type, "dynamic") || g_str_equal (type, "differencing");
  GActionMap *map = self->actions;

  marina_gui_enable_action (map, "convert-disk", disk != NULL);
  marina_gui_enable_action (map, "merge-disk", has_parent && g_strcmp0 (format, "vhd") != 0);
  marina_gui_enable_action (map, "compact-disk",
                            disk && sparse && g_strcmp0 (format, "raw") != 0);
  marina_gui_enable_action (map, "delete-disk", disk && g_strcmp0 (type, "linked") != 0);
}

/* ---- the list, as a tree of chains ----------------------------------------------------- */

static const char *
type_label (const char *type)
{
  static const struct { const char *type, *label; } labels[] = {
    /* Translators: a disk's type, in the disks page */
    { "dynamic", NC_("disk type", "dynamically expanding") },
    { "fixed", NC_("disk type", "fixed size") },
    { "differencing", NC_("disk type", "differencing") },
    { "linked", NC_("disk type", "linked to a host device") },
    { "undo", NC_("disk type", "undo disk") },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (labels); i++)
    if (g_strcmp0 (type, labels[i].type) == 0)
      return g_dpgettext2 (NULL, "disk type", labels[i].label);
  return type;
}

static char *
describe_disk (MarinaDBusDisk *disk)
{
  g_autofree char *format = g_ascii_strup (marina_dbus_disk_get_format (disk), -1);
  g_autofree char *size = g_format_size (marina_dbus_disk_get_virtual_size (disk));
  g_autofree char *on_host = g_format_size (marina_dbus_disk_get_size_on_host (disk));

  /* Translators: format, type, the size the guest sees, the size of the file */
  return g_strdup_printf (_("%s, %s, %s (%s on the host)"), format,
                          type_label (marina_dbus_disk_get_type_ (disk)), size, on_host);
}

static GtkWidget *
new_disk_row (MarinaDBusDisk *disk, const char *object_path, guint depth)
{
  g_autofree char *name = g_path_get_basename (marina_dbus_disk_get_path (disk));
  g_autofree char *details = describe_disk (disk);
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *icon = gtk_image_new_from_icon_name (depth ? "go-next-symbolic"
                                                        : "drive-harddisk-symbolic");

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), details);
  gtk_widget_set_tooltip_text (row, marina_dbus_disk_get_path (disk));
  gtk_widget_set_margin_start (icon, depth * INDENT);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
  g_object_set_data_full (G_OBJECT (row), "disk", g_strdup (object_path), g_free);
  return row;
}

typedef struct {
  char *object_path;
  char *parent;       /* "/" for a base, or one whose parent is not known */
  MarinaDBusDisk *disk;
} Entry;

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  g_free (entry->object_path);
  g_free (entry->parent);
  g_free (entry);
}

static int
compare_entries (gconstpointer a, gconstpointer b)
{
  const Entry *x = *(const Entry **) a, *y = *(const Entry **) b;

  return g_strcmp0 (marina_dbus_disk_get_path (x->disk), marina_dbus_disk_get_path (y->disk));
}

static GPtrArray *
collect_disks (MarinaDisksPage *self)
{
  g_autolist(GDBusObject) objects = g_dbus_object_manager_get_objects (self->objects);
  GPtrArray *entries = g_ptr_array_new_with_free_func (entry_free);

  for (GList *l = objects; l; l = l->next)
    {
      MarinaDBusDisk *disk = marina_dbus_object_peek_disk (MARINA_DBUS_OBJECT (l->data));
      Entry *entry;

      if (disk == NULL)
        continue;
      entry = g_new0 (Entry, 1);
      entry->object_path = g_strdup (g_dbus_object_get_object_path (l->data));
      entry->parent = g_strdup (marina_dbus_disk_get_parent (disk));
      entry->disk = disk;
      g_ptr_array_add (entries, entry);
    }
  /* A parent that is not (or no longer) listed makes its child a root. */
  for (guint i = 0; i < entries->len; i++)
    {
      Entry *entry = entries->pdata[i];
      if (lookup_disk (self, entry->parent) == NULL)
        set_str (&entry->parent, "/");
    }
  g_ptr_array_sort (entries, compare_entries);
  return entries;
}

/* Depth first: each disk, then its children. Chains have no cycles (a
 * parent exists before its child), but depth is bounded all the same. */
static void
append_children (MarinaDisksPage *self, GPtrArray *entries, const char *parent, guint depth)
{
  for (guint i = 0; i < entries->len && depth < 64; i++)
    {
      Entry *entry = entries->pdata[i];
      GtkWidget *row;

      if (!g_str_equal (entry->parent, parent))
        continue;
      row = new_disk_row (entry->disk, entry->object_path, depth);
      g_debug ("disks: row %s at depth %u", marina_dbus_disk_get_path (entry->disk), depth);
      gtk_list_box_append (self->disk_list, row);
      if (g_strcmp0 (entry->object_path, self->selected) == 0)
        gtk_list_box_select_row (self->disk_list, GTK_LIST_BOX_ROW (row));
      append_children (self, entries, entry->object_path, depth + 1);
    }
}

static void
watch_disk (MarinaDisksPage *self, MarinaDBusDisk *disk);

static gboolean
rebuild (gpointer user_data)
{
  MarinaDisksPage *self = user_data;
  g_autoptr(GPtrArray) entries = collect_disks (self);

  self->rebuild_source = 0;
  self->rebuilding = TRUE;
  marina_gui_list_box_clear (self->disk_list);
  append_children (self, entries, "/", 0);
  self->rebuilding = FALSE;
  if (gtk_list_box_get_selected_row (self->disk_list) == NULL)
    g_clear_pointer (&self->selected, g_free);
  for (guint i = 0; i < entries->len; i++)
    watch_disk (self, ((Entry *) entries->pdata[i])->disk);
  gtk_stack_set_visible_child_name (self->stack, entries->len ? "disks" : "empty");
  g_debug ("disks: %u listed", entries->len);
  update_actions (self);
  return G_SOURCE_REMOVE;
}

/* Many changes come at once (a job moves sizes, a chain is made): one
 * rebuild for all of them. */
static void
queue_rebuild (MarinaDisksPage *self)
{
  if (self->rebuild_source == 0)
    self->rebuild_source = g_idle_add (rebuild, self);
}

static void
watch_disk (MarinaDisksPage *self, MarinaDBusDisk *disk)
{
  if (g_object_get_data (G_OBJECT (disk), "marina-disks-page"))
    return;
  g_object_set_data (G_OBJECT (disk), "marina-disks-page", self);
  g_signal_connect_object (disk, "g-properties-changed", G_CALLBACK (queue_rebuild), self,
                           G_CONNECT_SWAPPED);
}

static void
on_row_selected (MarinaDisksPage *self, GtkListBoxRow *row)
{
  if (self->rebuilding)
    return;
  g_free (self->selected);
  self->selected = row ? g_strdup (g_object_get_data (G_OBJECT (row), "disk")) : NULL;
  update_actions (self);
}

static void
select_disk (MarinaDisksPage *self, const char *spec)
{
  g_autoptr(GPtrArray) entries = collect_disks (self);

  for (guint i = 0; i < entries->len; i++)
    {
      Entry *entry = entries->pdata[i];
      if (g_str_equal (entry->object_path, spec)
          || g_str_equal (marina_dbus_disk_get_path (entry->disk), spec))
        {
          set_str (&self->selected, entry->object_path);
          g_debug ("disks: selected %s", marina_dbus_disk_get_path (entry->disk));
          break;
        }
    }
  queue_rebuild (self);
}

/* ---- jobs ------------------------------------------------------------------------------- */

static void
on_job_finished (MarinaJobRow *row, const char *status, const char *message,
                 MarinaDisksPage *self)
{
  const char *title = g_object_get_data (G_OBJECT (row), "title");
  g_autofree char *text = NULL;

  if (g_str_equal (status, "completed"))
    text = g_strdup_printf (_("%s: done"), title);
  else if (g_str_equal (status, "cancelled"))
    text = g_strdup_printf (_("%s: cancelled"), title);
  else
    text = g_strdup_printf ("%s: %s", title, message);
  show_message (self, text);
  gtk_list_box_remove (self->job_list, GTK_WIDGET (row));
  gtk_widget_set_visible (GTK_WIDGET (self->job_list),
                          gtk_widget_get_first_child (GTK_WIDGET (self->job_list)) != NULL);
}

static void
on_job_proxy (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaDisksPage) self = g_object_get_data (G_OBJECT (user_data), "page");
  g_autofree char *title = g_object_steal_data (G_OBJECT (user_data), "title");
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaDBusJob) job = marina_dbus_job_proxy_new_finish (result, &error);
  MarinaJobRow *row;

  g_object_unref (user_data);
  if (job == NULL)
    return show_error (self, error);
  row = marina_job_row_new (job, title);
  g_object_set_data_full (G_OBJECT (row), "title", g_steal_pointer (&title), g_free);
  g_signal_connect_object (row, "finished", G_CALLBACK (on_job_finished), self, 0);
  gtk_list_box_append (self->job_list, GTK_WIDGET (row));
  gtk_widget_set_visible (GTK_WIDGET (self->job_list), TRUE);
}

/* title: what the row says, e.g. "Converting a.vhd". */
static void
follow_job (MarinaDisksPage *self, const char *job_path, const char *title)
{
  GObject *context = g_object_new (G_TYPE_OBJECT, NULL);

  g_debug ("disks: following %s (%s)", job_path, title);
  g_object_set_data_full (context, "page", g_object_ref (self), NULL);
  g_object_set_data_full (context, "title", g_strdup (title), g_free);
  marina_dbus_job_proxy_new (self->connection, G_DBUS_PROXY_FLAGS_NONE, BUS_NAME, job_path, NULL,
                             on_job_proxy, context);
}

static void
on_cancel_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaDisksPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  if (reply == NULL)
    show_error (self, error);
}

static void
action_cancel_job (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaDisksPage *self = user_data;
  const char *path = g_variant_get_string (parameter, NULL);

  if (!g_variant_is_object_path (path))
    return;
  g_debug ("disks: cancelling %s", path);
  g_dbus_connection_call (self->connection, BUS_NAME, path, JOB_IFACE, "Cancel", NULL, NULL,
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_cancel_done, g_object_ref (self));
}

/* A Disk method that answers with a job: the reply's (o), followed. */
static void
on_disk_job (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GObject) context = user_data;
  MarinaDisksPage *self = g_object_get_data (context, "page");
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  const char *job;

  if (reply == NULL)
    return show_error (self, error);
  g_variant_get (reply, "(&o)", &job);
  follow_job (self, job, g_object_get_data (context, "title"));
}

static char *
disk_name (MarinaDBusDisk *disk)
{
  return g_path_get_basename (marina_dbus_disk_get_path (disk));
}

/* title: the job row's words (taken), or NULL for a method without a job. */
static void
call_disk (MarinaDisksPage *self, MarinaDBusDisk *disk, const char *method, GVariant *parameters,
           char *title)
{
  GObject *context = g_object_new (G_TYPE_OBJECT, NULL);
  gboolean job = title != NULL;

  g_object_set_data_full (context, "page", g_object_ref (self), g_object_unref);
  g_object_set_data_full (context, "title", title, g_free);
  g_debug ("disks: %s on %s", method, marina_dbus_disk_get_path (disk));
  g_dbus_connection_call (self->connection, BUS_NAME,
                          g_dbus_proxy_get_object_path (G_DBUS_PROXY (disk)), DISK_IFACE, method,
                          parameters, job ? G_VARIANT_TYPE ("(o)") : NULL,
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          job ? on_disk_job : on_cancel_done,
                          job ? (gpointer) context : g_object_ref (self));
  if (!job)
    g_object_unref (context);
}

/* ---- creating ----------------------------------------------------------------------------- */

static void
on_disk_created (MarinaDisksPage *self, const char *disk, const char *job, const char *path)
{
  g_autofree char *name = g_path_get_basename (path);
  g_autofree char *title = g_strdup_printf (_("Creating %s"), name);

  select_disk (self, disk);
  follow_job (self, job, title);
}

static void
action_new_disk (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaDisksPage *self = user_data;
  MarinaNewDiskDialog *dialog;

  if (self->objects == NULL)
    return;
  dialog = marina_new_disk_dialog_new (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))),
                                       self->objects);
  g_signal_connect_object (dialog, "created", G_CALLBACK (on_disk_created), self,
                           G_CONNECT_SWAPPED);
  self->dialog = GTK_WIDGET (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- questions before convert, merge and delete ---------------------------------------------- */

static void on_disk_response (AdwMessageDialog *dialog, const char *response,
                              MarinaDisksPage *self);

/* A question about @disk, shown; heading is taken. The answer goes to
 * on_disk_response(), or to the caller's own handler for Convert. */
static AdwMessageDialog *
ask (MarinaDisksPage *self, MarinaDBusDisk *disk, char *heading, const char *body,
     const char *response, const char *label)
{
  AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG (
    adw_message_dialog_new (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))), heading, body));

  g_debug ("disks: asking %s", heading);
  g_free (heading);
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), response, label, NULL);
  adw_message_dialog_set_default_response (dialog, response);
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "disk", g_object_ref (disk), g_object_unref);
  self->dialog = GTK_WIDGET (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);
  if (!g_str_equal (response, "convert"))
    g_signal_connect_object (dialog, "response", G_CALLBACK (on_disk_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
  return dialog;
}

static const char *const convert_formats[] = { "vhd", "vhdx", "qcow2", "raw" };

/* The same folder and name, "-converted" and the new format's extension. */
static char *
converted_path (const char *path, const char *format)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  char *dot = strrchr (base, '.');
  g_autofree char *name = NULL;

  if (dot && dot != base)
    *dot = '\0';
  name = g_strdup_printf ("%s-converted.%s", base, format);
  return g_build_filename (dir, name, NULL);
}

static void
on_convert_format (AdwComboRow *format_row, GParamSpec *pspec, AdwEntryRow *path_row)
{
  const char *source = g_object_get_data (G_OBJECT (path_row), "source");
  guint format = MIN (adw_combo_row_get_selected (format_row), G_N_ELEMENTS (convert_formats) - 1);
  g_autofree char *path = converted_path (source, convert_formats[format]);

  gtk_editable_set_text (GTK_EDITABLE (path_row), path);
}

static void
on_convert_response (AdwMessageDialog *dialog, const char *response, MarinaDisksPage *self)
{
  MarinaDBusDisk *disk = g_object_get_data (G_OBJECT (dialog), "disk");
  AdwEntryRow *path_row = g_object_get_data (G_OBJECT (dialog), "path-row");
  AdwComboRow *format_row = g_object_get_data (G_OBJECT (dialog), "format-row");
  guint format = MIN (adw_combo_row_get_selected (format_row), G_N_ELEMENTS (convert_formats) - 1);
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  g_autofree char *name = disk_name (disk);

  if (!g_str_equal (response, "convert"))
    return;
  g_variant_dict_insert (&options, "format", "s", convert_formats[format]);

  call_disk (self, disk, "Convert",
             g_variant_new ("(s@a{sv})", gtk_editable_get_text (GTK_EDITABLE (path_row)),
                            g_variant_dict_end (&options)),
             g_strdup_printf (_("Converting %s"), name));
}

static GtkWidget *
convert_fields (MarinaDBusDisk *disk, AdwEntryRow **path_row, AdwComboRow **format_row)
{
  GtkWidget *list = gtk_list_box_new ();
  const char *const labels[] = { _("VHD"), _("VHDX"), _("qcow2"), _("Raw"), NULL };
  g_autoptr(GtkStringList) model = gtk_string_list_new (labels);

  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (list, "boxed-list");
  *path_row = ADW_ENTRY_ROW (adw_entry_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (*path_row), _("New Image"));
  g_object_set_data_full (G_OBJECT (*path_row), "source",
                          g_strdup (marina_dbus_disk_get_path (disk)), g_free);
  *format_row = ADW_COMBO_ROW (adw_combo_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (*format_row), _("Format"));
  adw_combo_row_set_model (*format_row, G_LIST_MODEL (model));
  g_signal_connect (*format_row, "notify::selected", G_CALLBACK (on_convert_format), *path_row);
  for (guint i = 0; i < G_N_ELEMENTS (convert_formats); i++)
    if (g_strcmp0 (convert_formats[i], marina_dbus_disk_get_format (disk)) == 0)
      adw_combo_row_set_selected (*format_row, i);
  on_convert_format (*format_row, NULL, *path_row);
  gtk_list_box_append (GTK_LIST_BOX (list), GTK_WIDGET (*path_row));
  gtk_list_box_append (GTK_LIST_BOX (list), GTK_WIDGET (*format_row));
  return list;
}

static void
action_convert_disk (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaDisksPage *self = user_data;
  MarinaDBusDisk *disk = selected_disk (self);
  AdwMessageDialog *dialog;
  AdwEntryRow *path_row;
  AdwComboRow *format_row;
  g_autofree char *name = NULL;

  if (disk == NULL)
    return;
  name = disk_name (disk);
  dialog = ask (self, disk, g_strdup_printf (_("Convert “%s”"), name),
                _("Copies what the guest sees, its whole chain flattened, into a new "
                  "standalone disk."), "convert", _("Con_vert"));
  adw_message_dialog_set_response_appearance (dialog, "convert", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_extra_child (dialog, convert_fields (disk, &path_row, &format_row));
  g_object_set_data (G_OBJECT (dialog), "path-row", path_row);
  g_object_set_data (G_OBJECT (dialog), "format-row", format_row);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_convert_response), self, 0);
}

static void
on_disk_response (AdwMessageDialog *dialog, const char *response, MarinaDisksPage *self)
{
  MarinaDBusDisk *disk = g_object_get_data (G_OBJECT (dialog), "disk");
  g_autofree char *name = disk_name (disk);

  if (g_str_equal (response, "merge"))
    call_disk (self, disk, "Merge", NULL, g_strdup_printf (_("Merging %s"), name));
  else if (g_str_equal (response, "delete"))
    call_disk (self, disk, "Delete", NULL, NULL);
}

static void
action_merge_disk (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaDisksPage *self = user_data;
  MarinaDBusDisk *disk = selected_disk (self);
  g_autofree char *name = NULL;

  if (disk == NULL)
    return;
  name = disk_name (disk);
  ask (self, disk, g_strdup_printf (_("Merge “%s” into its parent?"), name),
                _("The parent then holds this disk's data, and this disk stays over it, empty. "
                  "Other disks over the same parent would see the change: marinad refuses "
                  "while there are any."), "merge", _("_Merge"));
}

static void
action_delete_disk (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaDisksPage *self = user_data;
  MarinaDBusDisk *disk = selected_disk (self);
  AdwMessageDialog *dialog;
  g_autofree char *name = NULL;

  if (disk == NULL)
    return;
  name = disk_name (disk);
  dialog = ask (self, disk, g_strdup_printf (_("Delete “%s”?"), name),
                _("The image file is deleted."), "delete", _("_Delete"));
  adw_message_dialog_set_response_appearance (dialog, "delete", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
}

static void
action_compact_disk (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaDisksPage *self = user_data;
  MarinaDBusDisk *disk = selected_disk (self);

  if (disk)
    {
      g_autofree char *name = disk_name (disk);
      call_disk (self, disk, "Compact", NULL, g_strdup_printf (_("Compacting %s"), name));
    }
}

/* ---- test hooks ----------------------------------------------------------------------------- */

static void
action_select_disk (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  select_disk (user_data, g_variant_get_string (parameter, NULL));
}

static void
action_fill_new_disk (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaDisksPage *self = user_data;

  if (MARINA_IS_NEW_DISK_DIALOG (self->dialog))
    marina_new_disk_dialog_fill (MARINA_NEW_DISK_DIALOG (self->dialog), parameter);
}

/* A question's answer, as its button would give it. */
static void
action_respond (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaDisksPage *self = user_data;

  if (ADW_IS_MESSAGE_DIALOG (self->dialog))
    adw_message_dialog_response (ADW_MESSAGE_DIALOG (self->dialog),
                                 g_variant_get_string (parameter, NULL));
}

static const GActionEntry actions[] = {
  { "new-disk", action_new_disk },
  { "convert-disk", action_convert_disk },
  { "merge-disk", action_merge_disk },
  { "compact-disk", action_compact_disk },
  { "delete-disk", action_delete_disk },
  { "cancel-job", action_cancel_job, "s" },
  { "select-disk", action_select_disk, "s" },
};

static const GActionEntry test_actions[] = {
  { "fill-new-disk", action_fill_new_disk, "a{sv}" },
  { "respond-disk-dialog", action_respond, "s" },
};

void
marina_disks_page_add_actions (MarinaDisksPage *self, GActionMap *map, gboolean test_hooks)
{
  self->actions = map;
  g_action_map_add_action_entries (map, actions, G_N_ELEMENTS (actions), self);
  if (test_hooks)
    g_action_map_add_action_entries (map, test_actions, G_N_ELEMENTS (test_actions), self);
  update_actions (self);
}

/* The open dialog (new disk or a question), for the picture test hook. */
GtkWidget *
marina_disks_page_get_dialog (MarinaDisksPage *self)
{
  return self->dialog;
}

/* ---- GObject -------------------------------------------------------------------------------- */

static void
on_object_changed (MarinaDisksPage *self, GDBusObject *object)
{
  if (marina_dbus_object_peek_disk (MARINA_DBUS_OBJECT (object)) || self->selected)
    queue_rebuild (self);
}

void
marina_disks_page_set_objects (MarinaDisksPage *self, GDBusConnection *connection,
                               GDBusObjectManager *objects)
{
  g_set_object (&self->connection, connection);
  g_set_object (&self->objects, objects);
  g_signal_connect_object (objects, "object-added", G_CALLBACK (on_object_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (objects, "object-removed", G_CALLBACK (on_object_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (objects, "interface-added", G_CALLBACK (on_object_changed), self,
                           G_CONNECT_SWAPPED);
  queue_rebuild (self);
}

static void
marina_disks_page_dispose (GObject *object)
{
  MarinaDisksPage *self = MARINA_DISKS_PAGE (object);

  g_clear_handle_id (&self->rebuild_source, g_source_remove);
  g_clear_object (&self->objects);
  g_clear_object (&self->connection);
  g_clear_pointer (&self->selected, g_free);
  G_OBJECT_CLASS (marina_disks_page_parent_class)->dispose (object);
}

static void
marina_disks_page_class_init (MarinaDisksPageClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = marina_disks_page_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/marinavm/Manager/marina-disks-page.ui");
  gtk_widget_class_bind_template_child (widget_class, MarinaDisksPage, stack);
  gtk_widget_class_bind_template_child (widget_class, MarinaDisksPage, disk_list);
  gtk_widget_class_bind_template_child (widget_class, MarinaDisksPage, job_list);
  gtk_widget_class_bind_template_callback (widget_class, on_row_selected);
  /* a message for a person: how a job ended, or the API's refusal */
  signals[SIGNAL_MESSAGE] = g_signal_new ("message", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                          1, G_TYPE_STRING);
}

static void
marina_disks_page_init (MarinaDisksPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
