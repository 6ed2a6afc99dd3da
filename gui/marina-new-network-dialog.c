/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-dbus-generated.h"
#include "marina-gui-util.h"
#include "marina-new-network-dialog.h"

/* Create Network: a name, the kind (nat, host only, internal), the
 * address and prefix, and whether and over which range DHCP hands out
 * addresses. Empty fields are left to marinad's defaults. Create calls
 * Manager.CreateNetwork; "created" gives the window the new network. */

#define MANAGER_PATH "/org/marinavm/Marina1/Manager"
#define MANAGER_IFACE "org.marinavm.Marina1.Manager"

struct _MarinaNewNetworkDialog {
  AdwWindow parent_instance;
  AdwToastOverlay *toast_overlay;
  AdwEntryRow *name_row;
  AdwComboRow *kind_row;
  AdwEntryRow *address_row;
  GtkSpinButton *prefix_spin;
  GtkSwitch *dhcp_switch;
  AdwEntryRow *first_row;
  AdwEntryRow *last_row;

  GDBusObjectManager *objects;
  gboolean creating;
};

G_DEFINE_FINAL_TYPE (MarinaNewNetworkDialog, marina_new_network_dialog, ADW_TYPE_WINDOW)

enum { SIGNAL_CREATED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* As the kind model lists them. */
static const char *const kinds[] = { "nat", "host", "internal" };

static void
show_error (MarinaNewNetworkDialog *self, const char *message)
{
  g_debug ("new network: error: %s", message);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

static const char *
text_of (AdwEntryRow *row)
{
  return gtk_editable_get_text (GTK_EDITABLE (row));
}

static void
on_changed (MarinaNewNetworkDialog *self)
{
  gboolean dhcp = gtk_switch_get_active (self->dhcp_switch);

  gtk_widget_set_sensitive (GTK_WIDGET (self->first_row), dhcp);
  gtk_widget_set_sensitive (GTK_WIDGET (self->last_row), dhcp);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "new-network.create",
                                 !self->creating && *text_of (self->name_row) != '\0');
}

static void
on_name_activated (MarinaNewNetworkDialog *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "new-network.create", NULL);
}

static GVariant *
build_options (MarinaNewNetworkDialog *self)
{
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  guint kind = MIN (adw_combo_row_get_selected (self->kind_row), G_N_ELEMENTS (kinds) - 1);
  gboolean dhcp = gtk_switch_get_active (self->dhcp_switch);

  g_variant_dict_insert (&options, "kind", "s", kinds[kind]);
  if (*text_of (self->address_row))
    {
      g_variant_dict_insert (&options, "address", "s", text_of (self->address_row));
      g_variant_dict_insert (&options, "prefix", "u",
                             (guint32) gtk_spin_button_get_value_as_int (self->prefix_spin));
    }
  g_variant_dict_insert (&options, "dhcp", "b", dhcp);
  /* Both ends or neither: marinad names what is wrong with a range. */
  if (dhcp && (*text_of (self->first_row) || *text_of (self->last_row)))
    g_variant_dict_insert (&options, "dhcp-range", "(ss)", text_of (self->first_row),
                           text_of (self->last_row));
  return g_variant_dict_end (&options);
}

static void
on_created (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaNewNetworkDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  if (!marina_dbus_manager_call_create_network_finish (MARINA_DBUS_MANAGER (source), &path,
                                                       result, &error))
    {
      g_autofree char *message = marina_gui_error_message (error);
      self->creating = FALSE;
      on_changed (self);
      return show_error (self, message);
    }
  g_debug ("new network: created %s", path);
  g_signal_emit (self, signals[SIGNAL_CREATED], 0, path);
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
action_create (GtkWidget *widget, const char *action, GVariant *parameter)
{
  MarinaNewNetworkDialog *self = MARINA_NEW_NETWORK_DIALOG (widget);
  g_autoptr(GDBusInterface) manager = g_dbus_object_manager_get_interface (self->objects,
                                                                           MANAGER_PATH,
                                                                           MANAGER_IFACE);

  if (manager == NULL)
    return show_error (self, _("The Marina service is not running"));
  self->creating = TRUE;
  on_changed (self);
  marina_dbus_manager_call_create_network (MARINA_DBUS_MANAGER (manager),
                                           text_of (self->name_row), build_options (self), NULL,
                                           on_created, g_object_ref (self));
}

/* As a person would fill them in; keys: name, kind (as shown), address,
 * first, last (s), prefix (i), dhcp (b). */
void
marina_new_network_dialog_fill (MarinaNewNetworkDialog *self, GVariant *values)
{
  static const struct { const char *key; gsize offset; } entries[] = {
    { "name", G_STRUCT_OFFSET (MarinaNewNetworkDialog, name_row) },
    { "address", G_STRUCT_OFFSET (MarinaNewNetworkDialog, address_row) },
    { "first", G_STRUCT_OFFSET (MarinaNewNetworkDialog, first_row) },
    { "last", G_STRUCT_OFFSET (MarinaNewNetworkDialog, last_row) },
  };
  GVariantDict dict;
  const char *text;
  gint32 number;
  gboolean flag;

  g_variant_dict_init (&dict, values);
  for (gsize i = 0; i < G_N_ELEMENTS (entries); i++)
    if (g_variant_dict_lookup (&dict, entries[i].key, "&s", &text))
      gtk_editable_set_text (G_STRUCT_MEMBER (GtkEditable *, self, entries[i].offset), text);
  if (g_variant_dict_lookup (&dict, "kind", "&s", &text))
    marina_gui_combo_select (self->kind_row, text);
  if (g_variant_dict_lookup (&dict, "prefix", "i", &number))
    gtk_spin_button_set_value (self->prefix_spin, number);
  if (g_variant_dict_lookup (&dict, "dhcp", "b", &flag))
    gtk_switch_set_active (self->dhcp_switch, flag);
  g_variant_dict_clear (&dict);
}

static void
marina_new_network_dialog_dispose (GObject *object)
{
  g_clear_object (&MARINA_NEW_NETWORK_DIALOG (object)->objects);
  G_OBJECT_CLASS (marina_new_network_dialog_parent_class)->dispose (object);
}

static void
marina_new_network_dialog_class_init (MarinaNewNetworkDialogClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = marina_new_network_dialog_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/marinavm/Manager/marina-new-network-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, MarinaNewNetworkDialog, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewNetworkDialog, name_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewNetworkDialog, kind_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewNetworkDialog, address_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewNetworkDialog, prefix_spin);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewNetworkDialog, dhcp_switch);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewNetworkDialog, first_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNewNetworkDialog, last_row);
  gtk_widget_class_bind_template_callback (widget_class, on_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_name_activated);
  gtk_widget_class_install_action (widget_class, "new-network.create", NULL, action_create);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  /* the new network's object path */
  signals[SIGNAL_CREATED] = g_signal_new ("created", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
marina_new_network_dialog_init (MarinaNewNetworkDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_widget_grab_focus (GTK_WIDGET (self->name_row));
}

MarinaNewNetworkDialog *
marina_new_network_dialog_new (GtkWindow *parent, GDBusObjectManager *objects)
{
  MarinaNewNetworkDialog *self = g_object_new (MARINA_TYPE_NEW_NETWORK_DIALOG,
                                               "transient-for", parent, NULL);

  self->objects = g_object_ref (objects);
  on_changed (self);
  return self;
}
