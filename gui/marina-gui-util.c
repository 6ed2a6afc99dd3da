/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-gui"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-gui-util.h"

/* What marina and marina-console both show: a machine's state in words and
 * the API's own error messages. */

const char *
marina_gui_state_label (const char *state)
{
  static const struct { const char *state, *label; } labels[] = {
    /* Translators: a virtual machine's state, shown under its name */
    { "off", NC_("state", "Off") }, { "starting", NC_("state", "Starting") },
    { "running", NC_("state", "Running") }, { "paused", NC_("state", "Paused") },
    { "saving", NC_("state", "Saving") }, { "saved", NC_("state", "Saved") },
    { "restoring", NC_("state", "Restoring") }, { "stopping", NC_("state", "Stopping") },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (labels); i++)
    if (g_strcmp0 (state, labels[i].state) == 0)
      return g_dpgettext2 (NULL, "state", labels[i].label);
  return state ? state : _("Not connected");
}

/* The message a person should read: the API's own words, without GDBus's
 * "GDBus.Error:org.marinavm.Marina1.Error.InvalidState: " prefix. */
char *
marina_gui_error_message (const GError *error)
{
  g_autoptr(GError) copy = g_error_copy (error);

  g_dbus_error_strip_remote_error (copy);
  return g_strdup (copy->message);
}

/* --address wins, then --session; the system bus otherwise. */
char *
marina_gui_bus_address (gboolean session_bus, const char *address, GError **error)
{
  if (address)
    return g_strdup (address);
  return g_dbus_address_get_for_bus_sync (session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
                                          NULL, error);
}

/* The options that name that bus, as marina and marina-console take them
 * (for a console started from the manager, or a relay on a remote host). */
GStrv
marina_gui_bus_args (gboolean session_bus, const char *address)
{
  g_autoptr(GStrvBuilder) args = g_strv_builder_new ();

  if (address)
    g_strv_builder_add_many (args, "--address", address, NULL);
  else if (session_bus)
    g_strv_builder_add (args, "--session");
  return g_strv_builder_end (args);
}

/* Selects the choice shown as @text, as a person picking it would; for the
 * dialogs' test hooks, which warn of a choice that is not there. */
void
marina_gui_combo_select (AdwComboRow *row, const char *text)
{
  GListModel *model = adw_combo_row_get_model (row);

  for (guint i = 0; model && i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(GtkStringObject) item = g_list_model_get_item (model, i);
      if (g_strcmp0 (gtk_string_object_get_string (item), text) == 0)
        return adw_combo_row_set_selected (row, i);
    }
  g_warning ("no choice '%s'", text);
}

void
marina_gui_list_box_clear (GtkListBox *list)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (list))))
    gtk_list_box_remove (list, child);
}

/* An object's interface proxy, not referenced: the object manager keeps it
 * while the object exists. NULL for a NULL manager or path. */
gpointer
marina_gui_peek_interface (GDBusObjectManager *objects, const char *path, const char *interface)
{
  g_autoptr(GDBusInterface) proxy = NULL;

  if (objects == NULL || path == NULL)
    return NULL;
  proxy = g_dbus_object_manager_get_interface (objects, path, interface);
  return proxy;
}

void
marina_gui_enable_action (GActionMap *map, const char *name, gboolean enabled)
{
  GAction *action = map ? g_action_map_lookup_action (map, name) : NULL;

  if (action)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (action), enabled);
}
