/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-cpu-graph.h"
#include "marina-gui-util.h"
#include "marina-machine-row.h"

/* One machine in the master status list: a thumbnail of its screen, its
 * name, state, uptime and CPU use. The thumbnail comes from Screenshot()
 * every few seconds, only while the row is on screen and the machine runs:
 * a screendump costs marinad and QEMU real work. */

#define THUMBNAIL_INTERVAL_S 3

struct _MarinaMachineRow {
  GtkListBoxRow parent_instance;
  GtkStack *thumbnail_stack;
  GtkPicture *thumbnail;
  GtkLabel *name_label;
  GtkLabel *state_label;
  GtkLabel *details_label;
  MarinaCpuGraph *cpu_graph;

  MarinaDBusMachine *machine;
  GCancellable *cancellable;
  guint refresh_id;
  gboolean fetching;
};

G_DEFINE_FINAL_TYPE (MarinaMachineRow, marina_machine_row, GTK_TYPE_LIST_BOX_ROW)

MarinaDBusMachine *
marina_machine_row_get_machine (MarinaMachineRow *self)
{
  return self->machine;
}

static gboolean
is_running (MarinaMachineRow *self)
{
  return g_strcmp0 (marina_dbus_machine_get_state (self->machine), "running") == 0;
}

static gboolean
has_screen (MarinaMachineRow *self)
{
  const char *state = marina_dbus_machine_get_state (self->machine);

  return g_strcmp0 (state, "running") == 0 || g_strcmp0 (state, "paused") == 0;
}

/* Minimised windows keep their widgets mapped: ask the surface too. */
static gboolean
is_on_screen (MarinaMachineRow *self)
{
  GtkNative *native = gtk_widget_get_native (GTK_WIDGET (self));
  GdkSurface *surface = native ? gtk_native_get_surface (native) : NULL;

  if (!gtk_widget_get_mapped (GTK_WIDGET (self)) || surface == NULL)
    return FALSE;
  return !GDK_IS_TOPLEVEL (surface)
         || !(gdk_toplevel_get_state (GDK_TOPLEVEL (surface)) & GDK_TOPLEVEL_STATE_MINIMIZED);
}

/* ---- the thumbnail ----------------------------------------------------------- */

static void
show_thumbnail (MarinaMachineRow *self, GVariant *png)
{
  g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes (png);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = gdk_texture_new_from_bytes (bytes, &error);

  if (texture == NULL)
    {
      g_debug ("thumbnail %s: %s", marina_dbus_machine_get_name (self->machine), error->message);
      return;
    }
  gtk_picture_set_paintable (self->thumbnail, GDK_PAINTABLE (texture));
  gtk_stack_set_visible_child_name (self->thumbnail_stack, "picture");
  g_debug ("thumbnail %s: %dx%d", marina_dbus_machine_get_name (self->machine),
           gdk_texture_get_width (texture), gdk_texture_get_height (texture));
}

static void
on_screenshot (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MarinaMachineRow *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) png = NULL;

  if (!marina_dbus_machine_call_screenshot_finish (MARINA_DBUS_MACHINE (source), &png, result,
                                                   &error))
    {
      /* The machine may have stopped meanwhile: the next state change tells. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_debug ("no thumbnail: %s", error->message);
          self->fetching = FALSE;
        }
      return;
    }
  self->fetching = FALSE;
  show_thumbnail (self, png);
}

static void
fetch_thumbnail (MarinaMachineRow *self)
{
  if (self->fetching || !has_screen (self) || !is_on_screen (self))
    return;
  self->fetching = TRUE;
  marina_dbus_machine_call_screenshot (self->machine, self->cancellable, on_screenshot, self);
}

static gboolean
on_refresh (gpointer user_data)
{
  fetch_thumbnail (user_data);
  return G_SOURCE_CONTINUE;
}

/* A paused machine's screen does not change: one picture is enough. */
static void
sync_refresh (MarinaMachineRow *self)
{
  gboolean wanted = is_running (self) && gtk_widget_get_mapped (GTK_WIDGET (self));

  if (!has_screen (self))
    gtk_stack_set_visible_child_name (self->thumbnail_stack, "placeholder");
  if (wanted && self->refresh_id == 0)
    {
      self->refresh_id = g_timeout_add_seconds (THUMBNAIL_INTERVAL_S, on_refresh, self);
      fetch_thumbnail (self);
    }
  else if (!wanted)
    g_clear_handle_id (&self->refresh_id, g_source_remove);
}

/* ---- labels ------------------------------------------------------------------ */

static char *
format_details (MarinaMachineRow *self)
{
  guint64 uptime = marina_dbus_machine_get_uptime (self->machine);
  double cpu = marina_dbus_machine_get_cpu_usage (self->machine);
  guint64 memory = marina_dbus_machine_get_memory_mi_b (self->machine);
  guint vcpus = marina_dbus_machine_get_vcpus (self->machine);

  if (!has_screen (self))
    /* Translators: memory in MiB and the number of virtual processors */
    return g_strdup_printf (ngettext ("%u MiB · %u vCPU", "%u MiB · %u vCPUs", vcpus),
                            (guint) memory, vcpus);
  /* Translators: uptime as hours:minutes:seconds, then the CPU use in percent */
  return g_strdup_printf (_("Up %u:%02u:%02u · CPU %.0f %%"), (guint) (uptime / 3600),
                          (guint) (uptime / 60 % 60), (guint) (uptime % 60), cpu);
}

static void
update_labels (MarinaMachineRow *self)
{
  const char *state = marina_dbus_machine_get_state (self->machine);
  g_autofree char *details = format_details (self);

  gtk_label_set_text (self->name_label, marina_dbus_machine_get_name (self->machine));
  if (g_strcmp0 (gtk_label_get_text (self->state_label), marina_gui_state_label (state)) != 0)
    g_debug ("machine %s: %s, shown as “%s”", marina_dbus_machine_get_name (self->machine), state,
             marina_gui_state_label (state));
  gtk_label_set_text (self->state_label, marina_gui_state_label (state));
  gtk_label_set_text (self->details_label, details);
  gtk_widget_set_visible (GTK_WIDGET (self->cpu_graph), has_screen (self));
}

/* Uptime moves once a second while metrics are watched: a sample each time,
 * so that a steady load still scrolls along. */
static void
sample_cpu (MarinaMachineRow *self, GParamSpec *pspec)
{
  if (g_str_equal (pspec->name, "state") && !has_screen (self))
    marina_cpu_graph_clear (self->cpu_graph);
  else if (g_str_equal (pspec->name, "uptime") && is_running (self))
    marina_cpu_graph_add (self->cpu_graph, marina_dbus_machine_get_cpu_usage (self->machine));
}

static void
on_machine_notify (MarinaMachineRow *self, GParamSpec *pspec)
{
  update_labels (self);
  sample_cpu (self, pspec);
  if (g_str_equal (pspec->name, "state"))
    {
      sync_refresh (self);
      /* Paused: one last look, as it was when it stopped. */
      fetch_thumbnail (self);
    }
  if (g_str_equal (pspec->name, "name"))
    gtk_list_box_row_changed (GTK_LIST_BOX_ROW (self));
}

/* ---- GObject ------------------------------------------------------------------ */

static void
marina_machine_row_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (marina_machine_row_parent_class)->map (widget);
  sync_refresh (MARINA_MACHINE_ROW (widget));
  fetch_thumbnail (MARINA_MACHINE_ROW (widget));
}

static void
marina_machine_row_unmap (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (marina_machine_row_parent_class)->unmap (widget);
  sync_refresh (MARINA_MACHINE_ROW (widget));
}

static void
marina_machine_row_dispose (GObject *object)
{
  MarinaMachineRow *self = MARINA_MACHINE_ROW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->refresh_id, g_source_remove);
  if (self->machine)
    g_signal_handlers_disconnect_by_data (self->machine, self);
  g_clear_object (&self->machine);
  G_OBJECT_CLASS (marina_machine_row_parent_class)->dispose (object);
}

static void
marina_machine_row_class_init (MarinaMachineRowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = marina_machine_row_dispose;
  g_type_ensure (MARINA_TYPE_CPU_GRAPH);
  widget_class->map = marina_machine_row_map;
  widget_class->unmap = marina_machine_row_unmap;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/marinavm/Manager/marina-machine-row.ui");
  gtk_widget_class_bind_template_child (widget_class, MarinaMachineRow, thumbnail_stack);
  gtk_widget_class_bind_template_child (widget_class, MarinaMachineRow, thumbnail);
  gtk_widget_class_bind_template_child (widget_class, MarinaMachineRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, MarinaMachineRow, state_label);
  gtk_widget_class_bind_template_child (widget_class, MarinaMachineRow, details_label);
  gtk_widget_class_bind_template_child (widget_class, MarinaMachineRow, cpu_graph);
}

static void
marina_machine_row_init (MarinaMachineRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}

MarinaMachineRow *
marina_machine_row_new (MarinaDBusMachine *machine)
{
  MarinaMachineRow *self = g_object_new (MARINA_TYPE_MACHINE_ROW, NULL);

  self->machine = g_object_ref (machine);
  g_signal_connect_swapped (machine, "notify", G_CALLBACK (on_machine_notify), self);
  update_labels (self);
  return self;
}
