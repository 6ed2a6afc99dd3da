/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-dbus-generated.h"
#include "marina-event-log.h"
#include "marina-event.h"

/* marinad's event log along the bottom of the window, newest first: what
 * GetEvents() had when the window opened, then each EventLogged as it comes.
 * Two filters, a machine and a least severity, are properties ("machine":
 * an object path or "", "severity": info, warning or error) so that the
 * window can offer them as stateful actions too. */

#define MANAGER_PATH "/org/marinavm/Marina1/Manager"
#define MANAGER_IFACE "org.marinavm.Marina1.Manager"
#define HISTORY_LIMIT 500

struct _MarinaEventLog {
  GtkBox parent_instance;
  GtkDropDown *machine_dropdown;
  GtkDropDown *severity_dropdown;
  GtkListBox *list;

  GDBusObjectManager *objects;
  MarinaDBusManager *manager;
  GListStore *events;
  GtkFilterListModel *filtered;
  GtkCustomFilter *filter;
  GtkStringList *machine_names;
  GPtrArray *machine_paths;  /* parallel to machine_names, "" first */
  GCancellable *cancellable;
  char *machine;
  char *severity;
};

G_DEFINE_FINAL_TYPE (MarinaEventLog, marina_event_log, GTK_TYPE_BOX)

enum { PROP_0, PROP_MACHINE, PROP_SEVERITY, N_PROPS };
static GParamSpec *properties[N_PROPS];

static const char *const severities[] = { "info", "warning", "error" };

/* ---- rows ---------------------------------------------------------------------- */

static const char *
severity_icon (MarinaEvent *event)
{
  static const char *const icons[] = {
    "dialog-information-symbolic", "dialog-warning-symbolic", "dialog-error-symbolic",
  };

  return icons[marina_event_get_rank (event)];
}

static const char *
severity_label (MarinaEvent *event)
{
  const char *labels[] = { C_("severity", "Information"), C_("severity", "Warning"),
                           C_("severity", "Error") };

  return labels[marina_event_get_rank (event)];
}

/* The machine's or network's name while it exists, "Service" for the
 * Manager's own events. */
static char *
object_label (MarinaEventLog *self, const char *path)
{
  g_autoptr(GDBusObject) object = self->objects && *path
                                  ? g_dbus_object_manager_get_object (self->objects, path) : NULL;
  MarinaDBusMachine *machine = object ? marina_dbus_object_peek_machine (MARINA_DBUS_OBJECT (object))
                                      : NULL;
  MarinaDBusNetwork *network = object ? marina_dbus_object_peek_network (MARINA_DBUS_OBJECT (object))
                                      : NULL;

  if (machine)
    return g_strdup (marina_dbus_machine_get_name (machine));
  if (network)
    return g_strdup (marina_dbus_network_get_name (network));
  if (g_str_has_prefix (path, "/org/marinavm/Marina1/Machine/"))
    return g_strdup (_("Removed machine"));
  if (g_str_has_prefix (path, "/org/marinavm/Marina1/Network/"))
    return g_strdup (_("Removed network"));
  return g_strdup (_("Service"));
}

static GtkWidget *
new_label (const char *text, gboolean expand, const char *css_class)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_set_hexpand (label, expand);
  gtk_label_set_wrap (GTK_LABEL (label), expand);
  gtk_label_set_selectable (GTK_LABEL (label), expand);
  if (css_class)
    gtk_widget_add_css_class (label, css_class);
  return label;
}

static GtkWidget *
create_row (gpointer item, gpointer user_data)
{
  MarinaEventLog *self = user_data;
  MarinaEvent *event = item;
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local (marina_event_get_time (event)
                                                               / G_USEC_PER_SEC);
  g_autofree char *stamp = g_date_time_format (time, "%x %X");
  g_autofree char *object = object_label (self, marina_event_get_object (event));
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *icon = gtk_image_new_from_icon_name (severity_icon (event));

  gtk_accessible_update_property (GTK_ACCESSIBLE (icon), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  severity_label (event), -1);
  gtk_widget_set_tooltip_text (icon, severity_label (event));
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_widget_set_margin_top (box, 3);
  gtk_widget_set_margin_bottom (box, 3);
  gtk_box_append (GTK_BOX (box), icon);
  gtk_box_append (GTK_BOX (box), new_label (stamp, FALSE, "dim-label"));
  gtk_box_append (GTK_BOX (box), new_label (object, FALSE, "heading"));
  gtk_box_append (GTK_BOX (box), new_label (marina_event_get_message (event), TRUE, NULL));
  g_debug ("event shown: %s %s: %s", marina_event_get_severity (event), object,
           marina_event_get_message (event));
  return box;
}

/* ---- filters ------------------------------------------------------------------- */

static gboolean
filter_event (gpointer item, gpointer user_data)
{
  MarinaEventLog *self = user_data;
  MarinaEvent *event = item;

  if (marina_event_get_rank (event) < marina_event_severity_rank (self->severity))
    return FALSE;
  return *self->machine == '\0' || g_str_equal (marina_event_get_object (event), self->machine);
}

static void
refilter (MarinaEventLog *self)
{
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  g_debug ("event log: %u of %u shown (machine '%s', at least %s)",
           g_list_model_get_n_items (G_LIST_MODEL (self->filtered)),
           g_list_model_get_n_items (G_LIST_MODEL (self->events)), self->machine,
           self->severity);
}

static guint
machine_index (MarinaEventLog *self, const char *path)
{
  for (guint i = 0; i < self->machine_paths->len; i++)
    if (g_str_equal (self->machine_paths->pdata[i], path))
      return i;
  return 0;
}

static void
set_machine (MarinaEventLog *self, const char *path)
{
  if (g_strcmp0 (self->machine, path) == 0)
    return;
  g_free (self->machine);
  self->machine = g_strdup (path);
  gtk_drop_down_set_selected (self->machine_dropdown, machine_index (self, path));
  refilter (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MACHINE]);
}

static guint
severity_index (const char *severity)
{
  return (guint) marina_event_severity_rank (severity);
}

static void
set_severity (MarinaEventLog *self, const char *severity)
{
  if (g_strcmp0 (self->severity, severity) == 0)
    return;
  g_free (self->severity);
  self->severity = g_strdup (severities[severity_index (severity)]);
  gtk_drop_down_set_selected (self->severity_dropdown, severity_index (severity));
  refilter (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SEVERITY]);
}

static void
on_machine_selected (MarinaEventLog *self)
{
  guint selected = gtk_drop_down_get_selected (self->machine_dropdown);

  if (selected < self->machine_paths->len)
    set_machine (self, self->machine_paths->pdata[selected]);
}

static void
on_severity_selected (MarinaEventLog *self)
{
  guint selected = gtk_drop_down_get_selected (self->severity_dropdown);

  if (selected < G_N_ELEMENTS (severities))
    set_severity (self, severities[selected]);
}

/* The machine filter's choices: "All Machines", then each machine by name. */
static void
rebuild_machine_choices (MarinaEventLog *self)
{
  g_autolist(GDBusObject) objects = g_dbus_object_manager_get_objects (self->objects);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->machine_names));
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  g_auto(GStrv) strv = NULL;

  g_ptr_array_set_size (self->machine_paths, 0);
  g_ptr_array_add (self->machine_paths, g_strdup (""));
  g_strv_builder_add (names, _("All Machines"));
  for (GList *l = objects; l; l = l->next)
    {
      MarinaDBusMachine *machine = marina_dbus_object_peek_machine (MARINA_DBUS_OBJECT (l->data));
      if (machine == NULL)
        continue;
      g_ptr_array_add (self->machine_paths,
                       g_strdup (g_dbus_object_get_object_path (G_DBUS_OBJECT (l->data))));
      g_strv_builder_add (names, marina_dbus_machine_get_name (machine));
    }
  strv = g_strv_builder_end (names);
  g_signal_handlers_block_by_func (self->machine_dropdown, on_machine_selected, self);
  gtk_string_list_splice (self->machine_names, 0, n, (const char * const *) strv);
  gtk_drop_down_set_selected (self->machine_dropdown, machine_index (self, self->machine));
  g_signal_handlers_unblock_by_func (self->machine_dropdown, on_machine_selected, self);
}

/* ---- the events ---------------------------------------------------------------- */

static void
on_event_logged (MarinaDBusManager *manager, gint64 time, const char *severity,
                 const char *object, const char *category, const char *message,
                 MarinaEventLog *self)
{
  g_autoptr(MarinaEvent) event = marina_event_new (time, severity, object, category, message);

  g_list_store_insert (self->events, 0, event);
}

static gboolean
same_event (MarinaEvent *a, gint64 time, const char *message)
{
  return marina_event_get_time (a) == time && g_str_equal (marina_event_get_message (a), message);
}

/* Oldest first in the reply; events that also came as signals while the
 * call was on its way are there already. */
static void
add_history (MarinaEventLog *self, GVariant *events)
{
  guint live = g_list_model_get_n_items (G_LIST_MODEL (self->events));
  g_autoptr(MarinaEvent) oldest_live = live ? g_list_model_get_item (G_LIST_MODEL (self->events),
                                                                      live - 1) : NULL;
  GVariantIter iter;
  gint64 time;
  const char *severity, *object, *category, *message;

  g_variant_iter_init (&iter, events);
  while (g_variant_iter_next (&iter, "(x&s&s&s&s)", &time, &severity, &object, &category,
                              &message))
    {
      g_autoptr(MarinaEvent) event = NULL;
      if (oldest_live && (time > marina_event_get_time (oldest_live)
                          || same_event (oldest_live, time, message)))
        break;
      event = marina_event_new (time, severity, object, category, message);
      g_list_store_insert (self->events, live, event);
    }
  refilter (self);
}

static void
on_history (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MarinaEventLog *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) events = NULL;

  if (!marina_dbus_manager_call_get_events_finish (MARINA_DBUS_MANAGER (source), &events, result,
                                                   &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("no event history: %s", error->message);
      return;
    }
  add_history (self, events);
}

/* (Re)reads the log whenever a Manager appears: a restarted marinad too. */
static void
follow_manager (MarinaEventLog *self)
{
  g_autoptr(GDBusInterface) manager = g_dbus_object_manager_get_interface (self->objects,
                                                                           MANAGER_PATH,
                                                                           MANAGER_IFACE);
  g_auto(GVariantDict) filter = G_VARIANT_DICT_INIT (NULL);

  if (manager == NULL || manager == (GDBusInterface *) self->manager)
    return;
  if (self->manager)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  g_set_object (&self->manager, MARINA_DBUS_MANAGER (manager));
  g_list_store_remove_all (self->events);
  g_signal_connect (self->manager, "event-logged", G_CALLBACK (on_event_logged), self);
  g_variant_dict_insert (&filter, "limit", "u", HISTORY_LIMIT);
  marina_dbus_manager_call_get_events (self->manager, g_variant_dict_end (&filter),
                                       self->cancellable, on_history, self);
}

static void
on_objects_changed (MarinaEventLog *self)
{
  follow_manager (self);
  rebuild_machine_choices (self);
}

void
marina_event_log_set_objects (MarinaEventLog *self, GDBusObjectManager *objects)
{
  g_return_if_fail (self->objects == NULL);
  self->objects = g_object_ref (objects);
  g_signal_connect_swapped (objects, "object-added", G_CALLBACK (on_objects_changed), self);
  g_signal_connect_swapped (objects, "object-removed", G_CALLBACK (on_objects_changed), self);
  on_objects_changed (self);
}

/* ---- GObject ------------------------------------------------------------------- */

static void
marina_event_log_get_property (GObject *object, guint prop_id, GValue *value,
                               GParamSpec *pspec)
{
  MarinaEventLog *self = MARINA_EVENT_LOG (object);

  if (prop_id == PROP_MACHINE)
    g_value_set_string (value, self->machine);
  else if (prop_id == PROP_SEVERITY)
    g_value_set_string (value, self->severity);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
marina_event_log_set_property (GObject *object, guint prop_id, const GValue *value,
                               GParamSpec *pspec)
{
  MarinaEventLog *self = MARINA_EVENT_LOG (object);
  const char *text = g_value_get_string (value);

  if (prop_id == PROP_MACHINE)
    set_machine (self, text ? text : "");
  else if (prop_id == PROP_SEVERITY)
    set_severity (self, text ? text : "info");
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
marina_event_log_dispose (GObject *object)
{
  MarinaEventLog *self = MARINA_EVENT_LOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->objects)
    g_signal_handlers_disconnect_by_data (self->objects, self);
  if (self->manager)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  g_clear_object (&self->objects);
  g_clear_object (&self->manager);
  G_OBJECT_CLASS (marina_event_log_parent_class)->dispose (object);
}

static void
marina_event_log_finalize (GObject *object)
{
  MarinaEventLog *self = MARINA_EVENT_LOG (object);

  g_clear_object (&self->events);
  g_clear_object (&self->filtered);
  g_clear_object (&self->machine_names);
  g_ptr_array_unref (self->machine_paths);
  g_free (self->machine);
  g_free (self->severity);
  G_OBJECT_CLASS (marina_event_log_parent_class)->finalize (object);
}

static void
install_properties (GObjectClass *object_class)
{
  properties[PROP_MACHINE] =
    g_param_spec_string ("machine", NULL, NULL, "",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SEVERITY] =
    g_param_spec_string ("severity", NULL, NULL, "info",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
marina_event_log_class_init (MarinaEventLogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = marina_event_log_get_property;
  object_class->set_property = marina_event_log_set_property;
  object_class->dispose = marina_event_log_dispose;
  object_class->finalize = marina_event_log_finalize;
  install_properties (object_class);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/marinavm/Manager/marina-event-log.ui");
  gtk_widget_class_bind_template_child (widget_class, MarinaEventLog, machine_dropdown);
  gtk_widget_class_bind_template_child (widget_class, MarinaEventLog, severity_dropdown);
  gtk_widget_class_bind_template_child (widget_class, MarinaEventLog, list);
}

static void
marina_event_log_init (MarinaEventLog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->machine = g_strdup ("");
  self->severity = g_strdup ("info");
  self->cancellable = g_cancellable_new ();
  self->machine_paths = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->machine_paths, g_strdup (""));
  self->machine_names = gtk_string_list_new ((const char *[]) { _("All Machines"), NULL });
  gtk_drop_down_set_model (self->machine_dropdown, G_LIST_MODEL (self->machine_names));
  self->events = g_list_store_new (MARINA_TYPE_EVENT);
  self->filter = gtk_custom_filter_new (filter_event, self, NULL);
  self->filtered = gtk_filter_list_model_new (G_LIST_MODEL (g_object_ref (self->events)),
                                              GTK_FILTER (self->filter));
  gtk_list_box_bind_model (self->list, G_LIST_MODEL (self->filtered), create_row, self, NULL);
  g_signal_connect_swapped (self->machine_dropdown, "notify::selected",
                            G_CALLBACK (on_machine_selected), self);
  g_signal_connect_swapped (self->severity_dropdown, "notify::selected",
                            G_CALLBACK (on_severity_selected), self);
}
