/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-dbus-generated.h"
#include "marina-gui-util.h"
#include "marina-networks-page.h"
#include "marina-new-network-dialog.h"

/* The networks page: every Network with its kind, bridge, address and
 * whether it is up; for the selected one its DHCP settings (applied with
 * Network.Configure) and the DHCP server's leases (Network.GetLeases).
 * Refusals reach the window's toasts in the API's words ("message"). */

#define NETWORK_IFACE "org.marinavm.Marina1.Network"

struct _MarinaNetworksPage {
  GtkBox parent_instance;
  GtkStack *stack;
  GtkListBox *network_list;
  AdwPreferencesGroup *dhcp_group;
  GtkSwitch *dhcp_switch;
  AdwEntryRow *first_row;
  AdwEntryRow *last_row;
  GtkSpinButton *lease_spin;
  AdwPreferencesGroup *leases_group;
  GtkListBox *lease_list;

  GDBusObjectManager *objects;
  GActionMap *actions;
  char *selected;             /* the selected network's object path */
  guint rebuild_source;
  gboolean rebuilding;
  GtkWidget *dialog;
  GCancellable *leases_cancellable;
};

G_DEFINE_FINAL_TYPE (MarinaNetworksPage, marina_networks_page, GTK_TYPE_BOX)

enum { SIGNAL_MESSAGE, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
show_error (MarinaNetworksPage *self, const GError *error)
{
  g_autofree char *message = marina_gui_error_message (error);

  g_debug ("networks: %s", message);
  g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, message);
}

static MarinaDBusNetwork *
lookup_network (MarinaNetworksPage *self, const char *path)
{
  return marina_gui_peek_interface (self->objects, path, NETWORK_IFACE);
}

static MarinaDBusNetwork *
selected_network (MarinaNetworksPage *self)
{
  return lookup_network (self, self->selected);
}

static void
update_actions (MarinaNetworksPage *self)
{
  MarinaDBusNetwork *network = selected_network (self);
  gboolean active = network && marina_dbus_network_get_active (network);

  marina_gui_enable_action (self->actions, "start-network", network && !active);
  marina_gui_enable_action (self->actions, "stop-network", active);
  marina_gui_enable_action (self->actions, "delete-network", network != NULL);
  marina_gui_enable_action (self->actions, "configure-network", network != NULL);
  marina_gui_enable_action (self->actions, "refresh-leases", network != NULL);
}

/* ---- the list ------------------------------------------------------------------------- */

static const char *
kind_label (const char *kind)
{
  static const struct { const char *kind, *label; } labels[] = {
    /* Translators: a network's kind, in the networks page */
    { "nat", NC_("network kind", "NAT") },
    { "host", NC_("network kind", "Host only") },
    { "internal", NC_("network kind", "Internal") },
    { "external", NC_("network kind", "Bridged to a host interface") },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (labels); i++)
    if (g_strcmp0 (kind, labels[i].kind) == 0)
      return g_dpgettext2 (NULL, "network kind", labels[i].label);
  return kind;
}

static char *
describe_network (MarinaDBusNetwork *network)
{
  const char *address = marina_dbus_network_get_address (network);
  g_autofree char *where = address && *address
    ? g_strdup_printf ("%s/%u", address, marina_dbus_network_get_prefix (network))
    : g_strdup (_("no address"));

  /* Translators: kind, bridge, address/prefix, and whether it is up */
  return g_strdup_printf (_("%s, bridge %s, %s, %s"),
                          kind_label (marina_dbus_network_get_kind (network)),
                          marina_dbus_network_get_bridge (network), where,
                          marina_dbus_network_get_active (network) ? _("active") : _("inactive"));
}

static GtkWidget *
new_network_row (MarinaDBusNetwork *network, const char *path)
{
  g_autofree char *details = describe_network (network);
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), marina_dbus_network_get_name (network));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), details);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row),
                             gtk_image_new_from_icon_name ("network-workgroup-symbolic"));
  g_object_set_data_full (G_OBJECT (row), "network", g_strdup (path), g_free);
  g_debug ("networks: row %s: %s", marina_dbus_network_get_name (network), details);
  return row;
}

static int
compare_networks (gconstpointer a, gconstpointer b)
{
  return g_utf8_collate (marina_dbus_network_get_name (*(MarinaDBusNetwork **) a),
                         marina_dbus_network_get_name (*(MarinaDBusNetwork **) b));
}

static void queue_rebuild (MarinaNetworksPage *self);

static GPtrArray *
collect_networks (MarinaNetworksPage *self)
{
  g_autolist(GDBusObject) objects = g_dbus_object_manager_get_objects (self->objects);
  GPtrArray *networks = g_ptr_array_new ();

  for (GList *l = objects; l; l = l->next)
    {
      MarinaDBusNetwork *network = marina_dbus_object_peek_network (MARINA_DBUS_OBJECT (l->data));
      if (network == NULL)
        continue;
      g_ptr_array_add (networks, network);
      if (!g_object_get_data (G_OBJECT (network), "marina-networks-page"))
        {
          g_object_set_data (G_OBJECT (network), "marina-networks-page", self);
          g_signal_connect_object (network, "g-properties-changed", G_CALLBACK (queue_rebuild),
                                   self, G_CONNECT_SWAPPED);
        }
    }
  g_ptr_array_sort (networks, compare_networks);
  return networks;
}

/* What the selected network has now, into the DHCP fields. */
static void
show_settings (MarinaNetworksPage *self, MarinaDBusNetwork *network)
{
  GVariant *range = marina_dbus_network_get_dhcp_range (network);
  const char *first = "", *last = "";

  if (range)
    g_variant_get (range, "(&s&s)", &first, &last);
  gtk_switch_set_active (self->dhcp_switch, marina_dbus_network_get_dhcp (network));
  gtk_editable_set_text (GTK_EDITABLE (self->first_row), first);
  gtk_editable_set_text (GTK_EDITABLE (self->last_row), last);
  gtk_spin_button_set_value (self->lease_spin, marina_dbus_network_get_lease_time (network));
}

static void refresh_leases (MarinaNetworksPage *self);

static gboolean
rebuild (gpointer user_data)
{
  MarinaNetworksPage *self = user_data;
  g_autoptr(GPtrArray) networks = collect_networks (self);
  MarinaDBusNetwork *selected = NULL;

  self->rebuild_source = 0;
  self->rebuilding = TRUE;
  marina_gui_list_box_clear (self->network_list);
  for (guint i = 0; i < networks->len; i++)
    {
      const char *path = g_dbus_proxy_get_object_path (networks->pdata[i]);
      GtkWidget *row = new_network_row (networks->pdata[i], path);

      gtk_list_box_append (self->network_list, row);
      if (g_strcmp0 (path, self->selected) == 0)
        {
          gtk_list_box_select_row (self->network_list, GTK_LIST_BOX_ROW (row));
          selected = networks->pdata[i];
        }
    }
  self->rebuilding = FALSE;
  if (selected == NULL)
    g_clear_pointer (&self->selected, g_free);
  gtk_widget_set_visible (GTK_WIDGET (self->dhcp_group), selected != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->leases_group), selected != NULL);
  gtk_stack_set_visible_child_name (self->stack, networks->len ? "networks" : "empty");
  g_debug ("networks: %u listed", networks->len);
  update_actions (self);
  return G_SOURCE_REMOVE;
}

static void
queue_rebuild (MarinaNetworksPage *self)
{
  if (self->rebuild_source == 0)
    self->rebuild_source = g_idle_add (rebuild, self);
}

static void
select_network (MarinaNetworksPage *self, const char *path)
{
  MarinaDBusNetwork *network = lookup_network (self, path);

  g_free (self->selected);
  self->selected = network ? g_strdup (path) : NULL;
  if (network)
    {
      g_debug ("networks: selected %s", marina_dbus_network_get_name (network));
      show_settings (self, network);
      refresh_leases (self);
    }
  queue_rebuild (self);
}

static void
on_row_selected (MarinaNetworksPage *self, GtkListBoxRow *row)
{
  if (self->rebuilding || row == NULL)
    return;
  select_network (self, g_object_get_data (G_OBJECT (row), "network"));
}

/* ---- leases --------------------------------------------------------------------------------- */

static GtkWidget *
new_lease_row (const char *mac, const char *address, const char *hostname, guint64 expiry)
{
  GtkWidget *row = adw_action_row_new ();
  g_autoptr(GDateTime) when = expiry ? g_date_time_new_from_unix_local ((gint64) expiry) : NULL;
  g_autofree char *until = when ? g_date_time_format (when, "%c") : g_strdup (_("never"));
  /* Translators: a DHCP lease: MAC address, host name, when it expires */
  g_autofree char *details = g_strdup_printf (_("%s, %s, expires %s"), mac,
                                              *hostname ? hostname : _("no host name"), until);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), address);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), details);
  return row;
}

static void
on_leases (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MarinaNetworksPage *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) leases = NULL;
  GVariantIter iter;
  const char *mac, *address, *hostname;
  guint64 expiry;

  if (!marina_dbus_network_call_get_leases_finish (MARINA_DBUS_NETWORK (source), &leases, result,
                                                   &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, error);
      return;
    }
  marina_gui_list_box_clear (self->lease_list);
  g_variant_iter_init (&iter, leases);
  while (g_variant_iter_next (&iter, "(&s&s&st)", &mac, &address, &hostname, &expiry))
    {
      g_debug ("networks: lease %s for %s", address, mac);
      gtk_list_box_append (self->lease_list, new_lease_row (mac, address, hostname, expiry));
    }
  if (g_variant_n_children (leases) == 0)
    {
      GtkWidget *none = adw_action_row_new ();
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (none), _("No leases"));
      gtk_list_box_append (self->lease_list, none);
    }
  g_debug ("networks: %zu leases", g_variant_n_children (leases));
}

static void
refresh_leases (MarinaNetworksPage *self)
{
  MarinaDBusNetwork *network = selected_network (self);

  g_cancellable_cancel (self->leases_cancellable);
  g_clear_object (&self->leases_cancellable);
  if (network == NULL)
    return;
  self->leases_cancellable = g_cancellable_new ();
  marina_dbus_network_call_get_leases (network, self->leases_cancellable, on_leases, self);
}

/* ---- actions ------------------------------------------------------------------------------ */

static void
on_network_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaNetworksPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (reply == NULL)
    return show_error (self, error);
  g_debug ("networks: done");
  refresh_leases (self);
}

static void
call_network (MarinaNetworksPage *self, const char *method, GVariant *parameters)
{
  MarinaDBusNetwork *network = selected_network (self);

  if (network == NULL)
    return;
  g_debug ("networks: %s on %s", method, marina_dbus_network_get_name (network));
  g_dbus_proxy_call (G_DBUS_PROXY (network), method, parameters, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                     on_network_done, g_object_ref (self));
}

static void
action_network (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  const char *name = g_action_get_name (G_ACTION (action));

  if (g_str_equal (name, "start-network"))
    call_network (user_data, "Start", NULL);
  else if (g_str_equal (name, "stop-network"))
    call_network (user_data, "Stop", g_variant_new_parsed ("(@a{sv} {},)"));
  else if (g_str_equal (name, "delete-network"))
    call_network (user_data, "Delete", NULL);
  else
    refresh_leases (user_data);
}

/* DHCP on or off, its range (both ends, or neither to keep it) and the lease time. */
static void
action_configure (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaNetworksPage *self = user_data;
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  const char *first = gtk_editable_get_text (GTK_EDITABLE (self->first_row));
  const char *last = gtk_editable_get_text (GTK_EDITABLE (self->last_row));
  gboolean dhcp = gtk_switch_get_active (self->dhcp_switch);

  g_variant_dict_insert (&options, "dhcp", "b", dhcp);
  if (dhcp && (*first || *last))
    g_variant_dict_insert (&options, "dhcp-range", "(ss)", first, last);
  if (dhcp)
    g_variant_dict_insert (&options, "lease-time", "u",
                           (guint32) gtk_spin_button_get_value_as_int (self->lease_spin));
  call_network (self, "Configure", g_variant_new ("(@a{sv})", g_variant_dict_end (&options)));
}

static void
on_network_created (MarinaNetworksPage *self, const char *path)
{
  select_network (self, path);
}

static void
action_new_network (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaNetworksPage *self = user_data;
  MarinaNewNetworkDialog *dialog;

  if (self->objects == NULL)
    return;
  dialog = marina_new_network_dialog_new (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))),
                                          self->objects);
  g_signal_connect_object (dialog, "created", G_CALLBACK (on_network_created), self,
                           G_CONNECT_SWAPPED);
  self->dialog = GTK_WIDGET (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- test hooks ------------------------------------------------------------------------------ */

/* By name or object path. */
static void
action_select_network (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaNetworksPage *self = user_data;
  g_autoptr(GPtrArray) networks = collect_networks (self);
  const char *spec = g_variant_get_string (parameter, NULL);

  for (guint i = 0; i < networks->len; i++)
    if (g_str_equal (marina_dbus_network_get_name (networks->pdata[i]), spec)
        || g_str_equal (g_dbus_proxy_get_object_path (networks->pdata[i]), spec))
      return select_network (self, g_dbus_proxy_get_object_path (networks->pdata[i]));
}

static void
action_fill_new_network (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaNetworksPage *self = user_data;

  if (MARINA_IS_NEW_NETWORK_DIALOG (self->dialog))
    marina_new_network_dialog_fill (MARINA_NEW_NETWORK_DIALOG (self->dialog), parameter);
}

/* The DHCP fields, as typed: dhcp (b), first, last (s), lease-time (i). */
static void
action_fill_dhcp (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaNetworksPage *self = user_data;
  GVariantDict dict;
  const char *text;
  gboolean flag;
  gint32 number;

  g_variant_dict_init (&dict, parameter);
  if (g_variant_dict_lookup (&dict, "dhcp", "b", &flag))
    gtk_switch_set_active (self->dhcp_switch, flag);
  if (g_variant_dict_lookup (&dict, "first", "&s", &text))
    gtk_editable_set_text (GTK_EDITABLE (self->first_row), text);
  if (g_variant_dict_lookup (&dict, "last", "&s", &text))
    gtk_editable_set_text (GTK_EDITABLE (self->last_row), text);
  if (g_variant_dict_lookup (&dict, "lease-time", "i", &number))
    gtk_spin_button_set_value (self->lease_spin, number);
  g_variant_dict_clear (&dict);
}

static const GActionEntry actions[] = {
  { "new-network", action_new_network },
  { "start-network", action_network },
  { "stop-network", action_network },
  { "delete-network", action_network },
  { "refresh-leases", action_network },
  { "configure-network", action_configure },
  { "select-network", action_select_network, "s" },
};

static const GActionEntry test_actions[] = {
  { "fill-new-network", action_fill_new_network, "a{sv}" },
  { "fill-dhcp", action_fill_dhcp, "a{sv}" },
};

void
marina_networks_page_add_actions (MarinaNetworksPage *self, GActionMap *map, gboolean test_hooks)
{
  self->actions = map;
  g_action_map_add_action_entries (map, actions, G_N_ELEMENTS (actions), self);
  if (test_hooks)
    g_action_map_add_action_entries (map, test_actions, G_N_ELEMENTS (test_actions), self);
  update_actions (self);
}

GtkWidget *
marina_networks_page_get_dialog (MarinaNetworksPage *self)
{
  return self->dialog;
}

/* ---- GObject ------------------------------------------------------------------------------ */

static void
on_object_changed (MarinaNetworksPage *self, GDBusObject *object)
{
  if (marina_dbus_object_peek_network (MARINA_DBUS_OBJECT (object)) || self->selected)
    queue_rebuild (self);
}

/* A selected network's settings follow what marinad has (after Configure too). */
static void
on_properties_changed (MarinaNetworksPage *self, GDBusObjectProxy *object, GDBusProxy *proxy)
{
  if (g_strcmp0 (g_dbus_proxy_get_object_path (proxy), self->selected) == 0
      && MARINA_DBUS_IS_NETWORK (proxy))
    show_settings (self, MARINA_DBUS_NETWORK (proxy));
}

void
marina_networks_page_set_objects (MarinaNetworksPage *self, GDBusObjectManager *objects)
{
  g_set_object (&self->objects, objects);
  g_signal_connect_object (objects, "object-added", G_CALLBACK (on_object_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (objects, "object-removed", G_CALLBACK (on_object_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (objects, "interface-proxy-properties-changed",
                           G_CALLBACK (on_properties_changed), self, G_CONNECT_SWAPPED);
  queue_rebuild (self);
}

static void
marina_networks_page_dispose (GObject *object)
{
  MarinaNetworksPage *self = MARINA_NETWORKS_PAGE (object);

  g_cancellable_cancel (self->leases_cancellable);
  g_clear_object (&self->leases_cancellable);
  g_clear_handle_id (&self->rebuild_source, g_source_remove);
  g_clear_object (&self->objects);
  g_clear_pointer (&self->selected, g_free);
  G_OBJECT_CLASS (marina_networks_page_parent_class)->dispose (object);
}

static void
marina_networks_page_class_init (MarinaNetworksPageClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = marina_networks_page_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/marinavm/Manager/marina-networks-page.ui");
  gtk_widget_class_bind_template_child (widget_class, MarinaNetworksPage, stack);
  gtk_widget_class_bind_template_child (widget_class, MarinaNetworksPage, network_list);
  gtk_widget_class_bind_template_child (widget_class, MarinaNetworksPage, dhcp_group);
  gtk_widget_class_bind_template_child (widget_class, MarinaNetworksPage, dhcp_switch);
  gtk_widget_class_bind_template_child (widget_class, MarinaNetworksPage, first_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNetworksPage, last_row);
  gtk_widget_class_bind_template_child (widget_class, MarinaNetworksPage, lease_spin);
  gtk_widget_class_bind_template_child (widget_class, MarinaNetworksPage, leases_group);
  gtk_widget_class_bind_template_child (widget_class, MarinaNetworksPage, lease_list);
  gtk_widget_class_bind_template_callback (widget_class, on_row_selected);
  /* a message for a person: the API's refusal */
  signals[SIGNAL_MESSAGE] = g_signal_new ("message", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                          1, G_TYPE_STRING);
}

static void
marina_networks_page_init (MarinaNetworksPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
