/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-gui-util.h"
#include "marina-machine-config.h"
#include "marina-machine-settings.h"

/* Machine settings, grouped as Virtual Server grouped them: general,
 * memory and processors, hard disk, CD/DVD, network adapters, host startup
 * and shutdown, CPU resources and notes. The configuration comes from
 * GetConfig and goes back, edited, through SetConfig; CPU resources through
 * SetCpuAllocation. Network adapters change at once (Add, Remove and
 * ConfigureNetworkAdapter). What cannot change while the machine runs is
 * greyed out, and its group says why. */

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
  AdwPreferencesGroup *cdrom_group;
  AdwEntryRow *cdrom_row;
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
  gboolean applying;
  gboolean filling_adapters;
};

G_DEFINE_FINAL_TYPE (MarinaMachineSettings, marina_machine_settings, ADW_TYPE_WINDOW)

/* As the models list them. */
static const char *const accelerators[] = { "auto", "kvm", "tcg" };

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

/* Hardware (profile, accelerator, memory, processors, disks, CD/DVD and
 * adapters) changes only while the machine is off: not running, paused or
 * saved, which marinad refuses. */
static void
sync_locks (MarinaMachineSettings *self)
{
  gboolean off = machine_off (self);
  const char *reason = off ? NULL : _("Turn the machine off (or discard its saved state) to "
                                      "change these.");
  AdwPreferencesGroup *groups[] = { self->memory_group, self->disk_group, self->cdrom_group };
  GVariant *adapters = marina_dbus_machine_get_network_adapters (self->machine);
  gsize n_adapters = adapters ? g_variant_n_children (adapters) : 0;

  /* Only the rows grey out: the group's title and reason stay readable. */
  for (gsize i = 0; i < G_N_ELEMENTS (groups); i++)
    adw_preferences_group_set_description (groups[i], reason);
  gtk_widget_set_sensitive (GTK_WIDGET (self->memory_spin), off);
  gtk_widget_set_sensitive (GTK_WIDGET (self->vcpus_spin), off);
  gtk_widget_set_sensitive (GTK_WIDGET (self->disk_row), off);
  gtk_widget_set_sensitive (GTK_WIDGET (self->cdrom_row), off);
  gtk_widget_set_sensitive (GTK_WIDGET (self->profile_row), off);
  gtk_widget_set_sensitive (GTK_WIDGET (self->accelerator_row), off);
  adw_preferences_group_set_description (self->general_group,
                                         off ? NULL : _("The profile and accelerator change "
                                                        "only while the machine is off."));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "settings.add-adapter",
                                 off && n_adapters < MARINA_NIC_MAX);
  g_debug ("settings: hardware %s", off ? "changeable" : "locked while not off");
}

/* ---- network adapters ------------------------------------------------------------- */

static void
on_adapter_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaMachineSettings) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (reply == NULL)
    return show_error (self, error);
  g_debug ("settings: adapter changed");
}

static void
call_machine (MarinaMachineSettings *self, const char *method, GVariant *parameters)
{
  g_debug ("settings: %s", method);
  g_dbus_proxy_call (G_DBUS_PROXY (self->machine), method, parameters, G_DBUS_CALL_FLAGS_NONE, -1,
                     NULL, on_adapter_done, g_object_ref (self));
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
  adw_combo_row_set_selected (self->autostart_row, config->autostart);
  gtk_spin_button_set_value (self->delay_spin, config->autostart_delay);
  adw_combo_row_set_selected (self->stop_row, config->stop_action);
  gtk_spin_button_set_value (self->weight_spin, config->cpu_weight);
  gtk_spin_button_set_value (self->maximum_spin, config->cpu_maximum);
  gtk_spin_button_set_value (self->reserve_spin, config->cpu_reserve);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->notes_view), config->notes, -1);
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
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "settings.apply", TRUE);
  g_debug ("settings: loaded %s", self->config->name);
}

static char *
text_or_null (AdwEntryRow *row)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (row));

  return *text ? g_strdup (text) : NULL;
}

/* The configuration as loaded, with what the fields say now. */
static MarinaMachineConfig *
edited_config (MarinaMachineSettings *self)
{
  MarinaMachineConfig *config = marina_machine_config_copy (self->config);
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->notes_view);
  GtkTextIter start, end;
  char *disk = text_or_null (self->disk_row);

  g_free (config->name);
  config->name = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_row)));
  config->profile = MIN (adw_combo_row_get_selected (self->profile_row), MARINA_PROFILE_LEGACY);
  g_free (config->accelerator);
  config->accelerator = g_strdup (selected_value (self->accelerator_row, accelerators,
                                                  G_N_ELEMENTS (accelerators)));
  config->memory_mib = gtk_spin_button_get_value_as_int (self->memory_spin);
  config->vcpus = gtk_spin_button_get_value_as_int (self->vcpus_spin);
  /* Another image is probed anew. */
  if (g_strcmp0 (disk, config->boot_disk) != 0)
    g_clear_pointer (&config->boot_disk_format, g_free);
  g_free (config->boot_disk);
  config->boot_disk = disk;
  g_free (config->cdrom);
  config->cdrom = text_or_null (self->cdrom_row);
  config->autostart = MIN (adw_combo_row_get_selected (self->autostart_row),
                           MARINA_AUTOSTART_IF_RUNNING);
  config->autostart_delay = gtk_spin_button_get_value_as_int (self->delay_spin);
  config->stop_action = MIN (adw_combo_row_get_selected (self->stop_row),
                             MARINA_STOP_ACTION_TURN_OFF);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  g_free (config->notes);
  config->notes = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  return config;
}

static void
finish_apply (MarinaMachineSettings *self, const GError *error)
{
  self->applying = FALSE;
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
action_apply (GtkWidget *widget, const char *action, GVariant *parameter)
{
  MarinaMachineSettings *self = MARINA_MACHINE_SETTINGS (widget);
  g_autoptr(MarinaMachineConfig) config = NULL;
  g_autofree char *xml = NULL;

  if (self->config == NULL || self->applying)
    return;
  config = edited_config (self);
  self->applying = TRUE;
  gtk_widget_action_set_enabled (widget, "settings.apply", FALSE);
  if (marina_machine_config_equal (config, self->config))
    return apply_cpu (self);
  xml = marina_machine_config_to_xml (config);
  marina_dbus_machine_call_set_config (self->machine, xml, NULL, on_config_set,
                                       g_object_ref (self));
}

/* ---- the test hook ------------------------------------------------------------------- */

/* As a person would fill them in. Keys: name, disk, cdrom, notes (s);
 * profile, accelerator, autostart, stop (the choice as shown); memory-mib,
 * vcpus, delay, weight, maximum, reserve (i). */
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
    { "autostart", self->autostart_row }, { "stop", self->stop_row },
  };
  const struct { const char *key; AdwEntryRow *row; } entries[] = {
    { "name", self->name_row }, { "disk", self->disk_row }, { "cdrom", self->cdrom_row },
  };
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
  if (g_variant_dict_lookup (&dict, "notes", "&s", &text))
    gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->notes_view), text, -1);
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
  BIND (disk_group); BIND (disk_row); BIND (cdrom_group); BIND (cdrom_row);
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
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
marina_machine_settings_init (MarinaMachineSettings *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->network_paths = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->network_paths, g_strdup ("/"));
  self->network_names = gtk_string_list_new ((const char *[]) { _("Not connected"), NULL });
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "settings.apply", FALSE);
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
  g_signal_connect_swapped (machine, "notify::state", G_CALLBACK (show_adapters), self);
  marina_dbus_machine_call_get_config (machine, NULL, on_config, g_object_ref (self));
  return self;
}
