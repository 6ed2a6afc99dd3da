/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-disks-page.h"
#include "marina-event-log.h"
#include "marina-gui-util.h"
#include "marina-machine-row.h"
#include "marina-machine-settings.h"
#include "marina-networks-page.h"
#include "marina-new-machine-dialog.h"
#include "marina-window.h"

/* The master status window: every machine with its thumbnail, state,
 * uptime and CPU use, the actions of the selected machine (enabled as its
 * state allows), and the event log along the bottom. */

#define MANAGER_PATH "/org/marinavm/Marina1/Manager"
#define MANAGER_IFACE "org.marinavm.Marina1.Manager"
#define JOB_IFACE "org.marinavm.Marina1.Job"
#define BUS_NAME "org.marinavm.Marina1"

struct _MarinaWindow {
  AdwApplicationWindow parent_instance;
  AdwToastOverlay *toast_overlay;
  GtkStack *stack;
  AdwViewStack *pages;
  MarinaDisksPage *disks_page;
  MarinaNetworksPage *networks_page;
  GtkListBox *machine_list;
  MarinaEventLog *event_log;

  MarinaApplication *application;
  GDBusObjectManager *objects;
  GHashTable *rows;               /* object path → MarinaMachineRow */
  MarinaDBusMachine *selected;
  char *pending_selection;        /* a path or name to select once it shows up */
  MarinaNewMachineDialog *assistant;
  MarinaMachineSettings *settings;
  gboolean watching_metrics;
  gboolean populating;
};

G_DEFINE_FINAL_TYPE (MarinaWindow, marina_window, ADW_TYPE_APPLICATION_WINDOW)

static void sync_visibility (MarinaWindow *self);

void
marina_window_show_error (MarinaWindow *self, const GError *error)
{
  g_autofree char *message = marina_gui_error_message (error);

  /* The API's own words: marinad says what went wrong and what to do. */
  g_debug ("error: %s", message);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

static void
show_message (MarinaWindow *self, const char *message)
{
  g_debug ("message: %s", message);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

/* The disks and networks pages speak through the window's toasts. */
static void
on_page_message (MarinaWindow *self, const char *message)
{
  show_message (self, message);
}

/* ---- which actions the state allows --------------------------------------------- */

static const struct {
  const char *action, *method;
  const char *states[5];
} machine_actions[] = {
  { "start", "Start", { "off", "saved" } },
  { "pause", "Pause", { "running" } },
  { "resume", "Resume", { "paused" } },
  { "save", "Save", { "running", "paused" } },
  { "discard-saved-state", "DiscardSavedState", { "saved" } },
  { "shutdown", "Shutdown", { "running" } },
  { "turn-off", "TurnOff", { "running", "paused", "starting", "stopping" } },
  { "reset", "Reset", { "running", "paused" } },
  { "remove", "Remove", { "off", "saved" } },
  { "delete", "Delete", { "off", "saved" } },
};

static gboolean
state_allows (gsize action, const char *state)
{
  for (gsize i = 0; i < G_N_ELEMENTS (machine_actions[action].states); i++)
    if (g_strcmp0 (machine_actions[action].states[i], state) == 0)
      return TRUE;
  return FALSE;
}

static void
update_actions (MarinaWindow *self)
{
  const char *state = self->selected ? marina_dbus_machine_get_state (self->selected) : NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (machine_actions); i++)
    {
      GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), machine_actions[i].action);
      g_simple_action_set_enabled (G_SIMPLE_ACTION (action), state && state_allows (i, state));
    }
  marina_gui_enable_action (G_ACTION_MAP (self), "machine-settings", self->selected != NULL);
  /* In any state: a console waits for an off machine to start, and shows
   * its screen from the first moment. */
  marina_gui_enable_action (G_ACTION_MAP (self), "console", self->selected != NULL);
}

/* ---- jobs: Start, Save and Shutdown finish later ------------------------------------ */

static void
report_job (MarinaWindow *self, MarinaDBusJob *job)
{
  const char *status = marina_dbus_job_get_status (job);

  if (g_strcmp0 (status, "running") == 0)
    return;
  g_signal_handlers_disconnect_by_data (job, self);
  if (g_strcmp0 (status, "completed") != 0)
    show_message (self, marina_dbus_job_get_message (job));
  g_object_unref (job);
}

static void
on_job_notify (MarinaDBusJob *job, GParamSpec *pspec, MarinaWindow *self)
{
  report_job (self, job);
}

static void
on_job_proxy (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  MarinaDBusJob *job = marina_dbus_job_proxy_new_finish (result, &error);

  /* Gone already: finished jobs may be removed at once. */
  if (job == NULL)
    return;
  g_signal_connect_object (job, "notify::status", G_CALLBACK (on_job_notify), self, 0);
  report_job (self, job);
}

static void
follow_job (MarinaWindow *self, GVariant *reply)
{
  const char *path = NULL;

  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE ("(o)")))
    return;
  g_variant_get (reply, "(&o)", &path);
  marina_dbus_job_proxy_new (marina_application_get_connection (self->application),
                             G_DBUS_PROXY_FLAGS_NONE, BUS_NAME, path, NULL, on_job_proxy,
                             g_object_ref (self));
}

static void
on_method_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (reply == NULL)
    return marina_window_show_error (self, error);
  follow_job (self, reply);
}

static void
call_method (MarinaWindow *self, MarinaDBusMachine *machine, const char *method)
{
  GVariant *parameters = NULL;

  if (g_str_equal (method, "Shutdown"))
    parameters = g_variant_new_parsed ("(@a{sv} {},)");
  g_debug ("calling %s on %s", method, marina_dbus_machine_get_name (machine));
  g_dbus_proxy_call (G_DBUS_PROXY (machine), method, parameters, G_DBUS_CALL_FLAGS_NONE, -1,
                     NULL, on_method_done, g_object_ref (self));
}

/* ---- delete asks first ----------------------------------------------------------- */

static void
on_delete_response (AdwMessageDialog *dialog, const char *response, MarinaWindow *self)
{
  MarinaDBusMachine *machine = g_object_get_data (G_OBJECT (dialog), "machine");

  if (g_str_equal (response, "delete"))
    call_method (self, machine, "Delete");
}

static void
confirm_delete (MarinaWindow *self, MarinaDBusMachine *machine)
{
  AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG (
    adw_message_dialog_new (GTK_WINDOW (self), NULL,
                            _("Its configuration, saved state and serial log are deleted. "
                              "Disk images are kept.")));

  adw_message_dialog_format_heading (dialog, _("Delete “%s”?"),
                                     marina_dbus_machine_get_name (machine));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "delete", _("_Delete"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "delete", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "machine", g_object_ref (machine), g_object_unref);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_delete_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
action_machine (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaWindow *self = user_data;
  const char *name = g_action_get_name (G_ACTION (action));

  if (self->selected == NULL)
    return;
  if (g_str_equal (name, "delete"))
    return confirm_delete (self, self->selected);
  for (gsize i = 0; i < G_N_ELEMENTS (machine_actions); i++)
    if (g_str_equal (name, machine_actions[i].action))
      call_method (self, self->selected, machine_actions[i].method);
}

/* ---- the machine list ------------------------------------------------------------ */

static void
on_selected_notify (MarinaWindow *self, GParamSpec *pspec)
{
  update_actions (self);
}

static void
on_row_selected (MarinaWindow *self, GtkListBoxRow *row)
{
  MarinaDBusMachine *machine = row ? marina_machine_row_get_machine (MARINA_MACHINE_ROW (row))
                                   : NULL;

  if (self->selected)
    g_signal_handlers_disconnect_by_data (self->selected, self);
  g_set_object (&self->selected, machine);
  if (machine)
    {
      g_signal_connect_swapped (machine, "notify::state", G_CALLBACK (on_selected_notify), self);
      g_debug ("selected %s", marina_dbus_machine_get_name (machine));
    }
  update_actions (self);
}

static int
sort_rows (GtkListBoxRow *a, GtkListBoxRow *b, gpointer user_data)
{
  return g_utf8_collate (marina_dbus_machine_get_name (marina_machine_row_get_machine (MARINA_MACHINE_ROW (a))),
                         marina_dbus_machine_get_name (marina_machine_row_get_machine (MARINA_MACHINE_ROW (b))));
}

static gboolean
row_matches (MarinaMachineRow *row, const char *path, const char *spec)
{
  MarinaDBusMachine *machine = marina_machine_row_get_machine (row);

  return g_strcmp0 (path, spec) == 0 || g_strcmp0 (marina_dbus_machine_get_name (machine), spec) == 0
         || g_strcmp0 (marina_dbus_machine_get_id (machine), spec) == 0;
}

/* By object path, name or id; remembered if the machine is not there yet. */
void
marina_window_select_machine (MarinaWindow *self, const char *spec)
{
  GHashTableIter iter;
  gpointer path, row;

  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, &path, &row))
    if (row_matches (row, path, spec))
      {
        g_clear_pointer (&self->pending_selection, g_free);
        gtk_list_box_select_row (self->machine_list, row);
        return;
      }
  g_free (self->pending_selection);
  self->pending_selection = g_strdup (spec);
}

static void
sync_empty (MarinaWindow *self)
{
  gtk_stack_set_visible_child_name (self->stack,
                                    g_hash_table_size (self->rows) ? "machines" : "empty");
}

static void
add_machine (MarinaWindow *self, GDBusObject *object)
{
  MarinaDBusMachine *machine = marina_dbus_object_peek_machine (MARINA_DBUS_OBJECT (object));
  const char *path = g_dbus_object_get_object_path (object);
  MarinaMachineRow *row;

  if (machine == NULL || g_hash_table_contains (self->rows, path))
    return;
  row = marina_machine_row_new (machine);
  g_hash_table_insert (self->rows, g_strdup (path), row);
  gtk_list_box_append (self->machine_list, GTK_WIDGET (row));
  sync_empty (self);
  if (self->pending_selection)
    marina_window_select_machine (self, self->pending_selection);
  else if (!self->populating && gtk_list_box_get_selected_row (self->machine_list) == NULL)
    gtk_list_box_select_row (self->machine_list, GTK_LIST_BOX_ROW (row));
}

static void
on_object_added (MarinaWindow *self, GDBusObject *object)
{
  add_machine (self, object);
}

static void
on_object_removed (MarinaWindow *self, GDBusObject *object)
{
  GtkWidget *row = g_hash_table_lookup (self->rows, g_dbus_object_get_object_path (object));

  if (row == NULL)
    return;
  gtk_list_box_remove (self->machine_list, row);
  g_hash_table_remove (self->rows, g_dbus_object_get_object_path (object));
  sync_empty (self);
  /* The actions keep a machine to act on. */
  if (gtk_list_box_get_selected_row (self->machine_list) == NULL)
    gtk_list_box_select_row (self->machine_list,
                             gtk_list_box_get_row_at_index (self->machine_list, 0));
}

/* ---- metrics: CpuUsage and Uptime move only while someone watches -------------------- */

static void
on_metrics_call (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (reply == NULL)
    g_debug ("metrics: %s", error->message);
}

static void
watch_metrics (MarinaWindow *self, gboolean watch)
{
  g_autoptr(MarinaDBusManager) manager = marina_application_get_manager (self->application);

  if (manager == NULL || self->watching_metrics == watch)
    return;
  self->watching_metrics = watch;
  g_dbus_proxy_call (G_DBUS_PROXY (manager), watch ? "WatchMetrics" : "UnwatchMetrics", NULL,
                     G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_metrics_call, NULL);
}

/* A new marinad knows nothing of our watch. */
static void
on_manager_added (MarinaWindow *self, GDBusObject *object)
{
  if (g_strcmp0 (g_dbus_object_get_object_path (object), MANAGER_PATH) != 0)
    return;
  self->watching_metrics = FALSE;
  sync_visibility (self);
}

/* ---- other actions ---------------------------------------------------------------- */

static void
on_machine_created (MarinaWindow *self, const char *path, const char *warning)
{
  marina_window_select_machine (self, path);
  if (warning)
    show_message (self, warning);
}

static void
action_new_machine (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaWindow *self = user_data;

  if (self->assistant == NULL)
    {
      self->assistant = marina_new_machine_dialog_new (GTK_WINDOW (self),
                                                       marina_application_get_connection (self->application),
                                                       self->objects);
      g_object_add_weak_pointer (G_OBJECT (self->assistant), (gpointer *) &self->assistant);
      g_signal_connect_object (self->assistant, "created", G_CALLBACK (on_machine_created), self,
                               G_CONNECT_SWAPPED);
    }
  gtk_window_present (GTK_WINDOW (self->assistant));
}

static void
action_machine_settings (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaWindow *self = user_data;

  if (self->selected == NULL)
    return;
  if (self->settings)
    gtk_window_destroy (GTK_WINDOW (self->settings));
  self->settings = marina_machine_settings_new (GTK_WINDOW (self), self->selected, self->objects);
  g_object_add_weak_pointer (G_OBJECT (self->settings), (gpointer *) &self->settings);
  gtk_window_present (GTK_WINDOW (self->settings));
}

static void
open_console (MarinaWindow *self, MarinaDBusMachine *machine)
{
  g_autoptr(GError) error = NULL;

  if (!marina_console_launcher_open (marina_application_get_consoles (self->application),
                                     marina_dbus_machine_get_id (machine),
                                     marina_dbus_machine_get_name (machine), &error))
    show_message (self, error->message);
}

static void
action_console (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaWindow *self = user_data;

  if (self->selected)
    open_console (self, self->selected);
}

/* Activating a machine (a double click, Enter) opens its console, as
 * Virtual Server's master status opened Remote Control. */
static void
on_row_activated (MarinaWindow *self, GtkListBoxRow *row)
{
  open_console (self, marina_machine_row_get_machine (MARINA_MACHINE_ROW (row)));
}

static void
on_console_ended (MarinaWindow *self, const char *machine_name, const char *message)
{
  show_message (self, message);
}

static void
action_select_machine (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  marina_window_select_machine (user_data, g_variant_get_string (parameter, NULL));
}

static void
action_focus_events (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaWindow *self = user_data;

  gtk_widget_child_focus (GTK_WIDGET (self->event_log), GTK_DIR_TAB_FORWARD);
}

/* Machines, disks or networks, as the view switcher shows them. */
static void
action_show_page (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaWindow *self = user_data;
  const char *name = g_variant_get_string (parameter, NULL);

  if (adw_view_stack_get_child_by_name (self->pages, name) == NULL)
    return;
  adw_view_stack_set_visible_child_name (self->pages, name);
  g_debug ("page %s", name);
}

static const GActionEntry actions[] = {
  { "start", action_machine },
  { "pause", action_machine },
  { "resume", action_machine },
  { "save", action_machine },
  { "discard-saved-state", action_machine },
  { "shutdown", action_machine },
  { "turn-off", action_machine },
  { "reset", action_machine },
  { "remove", action_machine },
  { "delete", action_machine },
  { "new-machine", action_new_machine },
  { "machine-settings", action_machine_settings },
  { "console", action_console },
  { "select-machine", action_select_machine, "s" },
  { "focus-events", action_focus_events },
  { "show-page", action_show_page, "s" },
};

/* ---- test hooks (MARINA_TEST_HOOKS=1): what the GUI tests cannot do through X -------- */

/* What the window shows, as GTK renders it, into a PNG. */
static gboolean
save_picture (GtkWidget *widget, const char *path)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;

  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_to_node (snapshot);
  if (node == NULL)
    return FALSE;
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)),
                                         node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  return gdk_texture_save_to_png (texture, path);
}

static void
action_save_picture (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaWindow *self = user_data;
  const char *what, *path;
  GtkWidget *widget;

  g_variant_get (parameter, "(&s&s)", &what, &path);
  widget = GTK_WIDGET (self);
  if (g_str_equal (what, "assistant") && self->assistant)
    widget = GTK_WIDGET (self->assistant);
  else if (g_str_equal (what, "disk-dialog") && marina_disks_page_get_dialog (self->disks_page))
    widget = marina_disks_page_get_dialog (self->disks_page);
  else if (g_str_equal (what, "assistant-disk") && self->assistant
           && marina_new_machine_dialog_get_disk_dialog (self->assistant))
    widget = GTK_WIDGET (marina_new_machine_dialog_get_disk_dialog (self->assistant));
  else if (g_str_equal (what, "settings") && self->settings)
    widget = GTK_WIDGET (self->settings);
  else if (g_str_equal (what, "network-dialog")
           && marina_networks_page_get_dialog (self->networks_page))
    widget = marina_networks_page_get_dialog (self->networks_page);
  g_debug ("picture %s: %s", path, save_picture (widget, path) ? "saved" : "failed");
}

static void
action_fill_assistant (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaWindow *self = user_data;

  if (self->assistant)
    marina_new_machine_dialog_fill (self->assistant, parameter);
}

/* The New Disk dialog the assistant opened. */
static void
action_fill_assistant_disk (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaWindow *self = user_data;

  if (self->assistant && marina_new_machine_dialog_get_disk_dialog (self->assistant))
    marina_new_disk_dialog_fill (marina_new_machine_dialog_get_disk_dialog (self->assistant),
                                 parameter);
}

static void
action_fill_settings (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaWindow *self = user_data;

  if (self->settings)
    marina_machine_settings_fill (self->settings, parameter);
}

/* Presses a button of the settings dialog: its action by name. */
static void
action_settings_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaWindow *self = user_data;

  if (self->settings)
    gtk_widget_activate_action (GTK_WIDGET (self->settings),
                                g_variant_get_string (parameter, NULL), NULL);
}

static const GActionEntry test_actions[] = {
  { "save-picture", action_save_picture, "(ss)" },
  { "fill-settings", action_fill_settings, "a{sv}" },
  { "settings-action", action_settings_action, "s" },
  { "fill-assistant", action_fill_assistant, "a{sv}" },
  { "fill-assistant-disk", action_fill_assistant_disk, "a{sv}" },
};

static void
add_actions (MarinaWindow *self)
{
  const char *filters[] = { "machine", "severity" };
  gboolean test_hooks = g_strcmp0 (g_getenv ("MARINA_TEST_HOOKS"), "1") == 0;

  g_action_map_add_action_entries (G_ACTION_MAP (self), actions, G_N_ELEMENTS (actions), self);
  marina_disks_page_add_actions (self->disks_page, G_ACTION_MAP (self), test_hooks);
  marina_networks_page_add_actions (self->networks_page, G_ACTION_MAP (self), test_hooks);
  if (test_hooks)
    g_action_map_add_action_entries (G_ACTION_MAP (self), test_actions,
                                     G_N_ELEMENTS (test_actions), self);
  /* The event log's filters: win.event-machine, win.event-severity. */
  for (gsize i = 0; i < G_N_ELEMENTS (filters); i++)
    {
      g_autofree char *name = g_strdup_printf ("event-%s", filters[i]);
      g_autoptr(GPropertyAction) action = g_property_action_new (name, self->event_log,
                                                                 filters[i]);
      g_action_map_add_action (G_ACTION_MAP (self), G_ACTION (action));
    }
}

/* ---- GObject ---------------------------------------------------------------------- */

/* Minimised (or unmapped by the X server without a window manager, which
 * GDK takes for the same) the window shows nothing: metrics stop, and the
 * rows stop asking for thumbnails (marina-machine-row.c checks too). */
static void
sync_visibility (MarinaWindow *self)
{
  GdkSurface *surface = gtk_native_get_surface (GTK_NATIVE (self));
  gboolean visible = gtk_widget_get_mapped (GTK_WIDGET (self)) && surface
                     && !(gdk_toplevel_get_state (GDK_TOPLEVEL (surface))
                          & GDK_TOPLEVEL_STATE_MINIMIZED);

  if (visible != self->watching_metrics)
    g_debug ("window %s", visible ? "shown" : "hidden");
  watch_metrics (self, visible);
}

static void
marina_window_realize (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (marina_window_parent_class)->realize (widget);
  g_signal_connect_object (gtk_native_get_surface (GTK_NATIVE (widget)), "notify::state",
                           G_CALLBACK (sync_visibility), widget, G_CONNECT_SWAPPED);
}

static void
marina_window_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (marina_window_parent_class)->map (widget);
  sync_visibility (MARINA_WINDOW (widget));
}

static void
marina_window_unmap (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (marina_window_parent_class)->unmap (widget);
  sync_visibility (MARINA_WINDOW (widget));
}

static void
marina_window_dispose (GObject *object)
{
  MarinaWindow *self = MARINA_WINDOW (object);

  if (self->objects)
    g_signal_handlers_disconnect_by_data (self->objects, self);
  if (self->selected)
    g_signal_handlers_disconnect_by_data (self->selected, self);
  g_clear_object (&self->selected);
  g_clear_object (&self->objects);
  g_clear_pointer (&self->rows, g_hash_table_unref);
  g_clear_pointer (&self->pending_selection, g_free);
  G_OBJECT_CLASS (marina_window_parent_class)->dispose (object);
}

static void
marina_window_class_init (MarinaWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = marina_window_dispose;
  widget_class->realize = marina_window_realize;
  widget_class->map = marina_window_map;
  widget_class->unmap = marina_window_unmap;
  g_type_ensure (MARINA_TYPE_EVENT_LOG);
  g_type_ensure (MARINA_TYPE_DISKS_PAGE);
  g_type_ensure (MARINA_TYPE_NETWORKS_PAGE);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/marinavm/Manager/marina-window.ui");
  gtk_widget_class_bind_template_child (widget_class, MarinaWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, MarinaWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, MarinaWindow, pages);
  gtk_widget_class_bind_template_child (widget_class, MarinaWindow, disks_page);
  gtk_widget_class_bind_template_child (widget_class, MarinaWindow, networks_page);
  gtk_widget_class_bind_template_child (widget_class, MarinaWindow, machine_list);
  gtk_widget_class_bind_template_child (widget_class, MarinaWindow, event_log);
  gtk_widget_class_bind_template_callback (widget_class, on_row_selected);
  gtk_widget_class_bind_template_callback (widget_class, on_row_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_page_message);
}

static void
marina_window_init (MarinaWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->rows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gtk_list_box_set_sort_func (self->machine_list, sort_rows, NULL, NULL);
  add_actions (self);
  update_actions (self);
}

MarinaWindow *
marina_window_new (MarinaApplication *application)
{
  MarinaWindow *self = g_object_new (MARINA_TYPE_WINDOW, "application", application, NULL);
  g_autolist(GDBusObject) objects = NULL;

  self->application = application;
  self->objects = g_object_ref (marina_application_get_objects (application));
  g_signal_connect_object (marina_application_get_consoles (application), "ended",
                           G_CALLBACK (on_console_ended), self, G_CONNECT_SWAPPED);
  g_signal_connect_swapped (self->objects, "object-added", G_CALLBACK (on_object_added), self);
  g_signal_connect_swapped (self->objects, "object-added", G_CALLBACK (on_manager_added), self);
  g_signal_connect_swapped (self->objects, "object-removed", G_CALLBACK (on_object_removed), self);
  objects = g_dbus_object_manager_get_objects (self->objects);
  self->populating = TRUE;
  for (GList *l = objects; l; l = l->next)
    add_machine (self, l->data);
  self->populating = FALSE;
  /* The first by name, as the list shows them. */
  gtk_list_box_select_row (self->machine_list, gtk_list_box_get_row_at_index (self->machine_list, 0));
  sync_empty (self);
  marina_event_log_set_objects (self->event_log, self->objects);
  marina_disks_page_set_objects (self->disks_page, marina_application_get_connection (application),
                                 self->objects);
  marina_networks_page_set_objects (self->networks_page, self->objects);
  return self;
}
