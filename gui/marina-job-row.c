/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-job-row.h"

/* One long operation (creating, converting, merging, compacting a disk):
 * what it works on, a progress bar that follows the Job's Progress, and a
 * Cancel button (win.cancel-job with the job's path) while it may be
 * cancelled. "finished" tells the page how it ended. */

struct _MarinaJobRow {
  GtkListBoxRow parent_instance;
  GtkLabel *title_label;
  GtkProgressBar *progress_bar;
  GtkButton *cancel_button;

  MarinaDBusJob *job;
  gboolean finished;
};

G_DEFINE_FINAL_TYPE (MarinaJobRow, marina_job_row, GTK_TYPE_LIST_BOX_ROW)

enum { SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

MarinaDBusJob *
marina_job_row_get_job (MarinaJobRow *self)
{
  return self->job;
}

/* Asks marinad to cancel the job; how it ends comes through "finished". */
void
marina_job_row_cancel (MarinaJobRow *self)
{
  g_debug ("job %s: cancelling", g_dbus_proxy_get_object_path (G_DBUS_PROXY (self->job)));
  g_dbus_proxy_call (G_DBUS_PROXY (self->job), "Cancel", NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                     NULL, NULL);
}

static void
sync_progress (MarinaJobRow *self)
{
  double progress = CLAMP (marina_dbus_job_get_progress (self->job), 0.0, 1.0);

  gtk_progress_bar_set_fraction (self->progress_bar, progress);
  gtk_widget_set_sensitive (GTK_WIDGET (self->cancel_button),
                            marina_dbus_job_get_cancellable (self->job));
  g_debug ("job %s: %.0f%%", g_dbus_proxy_get_object_path (G_DBUS_PROXY (self->job)),
           progress * 100);
}

/* Emitted once, from an idle: the page may remove (and so free) the row. */
static gboolean
emit_finished (gpointer user_data)
{
  g_autoptr(MarinaJobRow) self = user_data;

  g_signal_emit (self, signals[SIGNAL_FINISHED], 0, marina_dbus_job_get_status (self->job),
                 marina_dbus_job_get_message (self->job));
  return G_SOURCE_REMOVE;
}

static void
sync_status (MarinaJobRow *self)
{
  const char *status = marina_dbus_job_get_status (self->job);

  if (self->finished || status == NULL || g_str_equal (status, "running"))
    return;
  self->finished = TRUE;
  g_debug ("job %s: %s", g_dbus_proxy_get_object_path (G_DBUS_PROXY (self->job)), status);
  g_idle_add (emit_finished, g_object_ref (self));
}

static void
marina_job_row_dispose (GObject *object)
{
  MarinaJobRow *self = MARINA_JOB_ROW (object);

  if (self->job)
    g_signal_handlers_disconnect_by_data (self->job, self);
  g_clear_object (&self->job);
  G_OBJECT_CLASS (marina_job_row_parent_class)->dispose (object);
}

static void
marina_job_row_class_init (MarinaJobRowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = marina_job_row_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/marinavm/Manager/marina-job-row.ui");
  gtk_widget_class_bind_template_child (widget_class, MarinaJobRow, title_label);
  gtk_widget_class_bind_template_child (widget_class, MarinaJobRow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, MarinaJobRow, cancel_button);
  /* status (completed, failed, cancelled), message */
  signals[SIGNAL_FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                           2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
marina_job_row_init (MarinaJobRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

MarinaJobRow *
marina_job_row_new (MarinaDBusJob *job, const char *title)
{
  MarinaJobRow *self = g_object_new (MARINA_TYPE_JOB_ROW, NULL);
  const char *path = g_dbus_proxy_get_object_path (G_DBUS_PROXY (job));

  self->job = g_object_ref (job);
  gtk_label_set_text (self->title_label, title);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->title_label), title);
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->cancel_button),
                                          g_variant_new_string (path));
  g_signal_connect_swapped (job, "notify::progress", G_CALLBACK (sync_progress), self);
  g_signal_connect_swapped (job, "notify::cancellable", G_CALLBACK (sync_progress), self);
  g_signal_connect_swapped (job, "notify::status", G_CALLBACK (sync_status), self);
  sync_progress (self);
  sync_status (self);
  return self;
}
