/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include "marina-preferences-dialog.h"

/* The preferences window: each switch is bound to a MarinaPreferences
 * property, which saves itself on every change. */

struct _MarinaPreferencesDialog {
  AdwPreferencesWindow parent_instance;
  GtkSwitch *background_switch;
  GtkSwitch *stopped_switch;
  GtkSwitch *saved_switch;
  GtkSwitch *heartbeat_switch;
  GtkSwitch *jobs_switch;
};

G_DEFINE_FINAL_TYPE (MarinaPreferencesDialog, marina_preferences_dialog,
                     ADW_TYPE_PREFERENCES_WINDOW)

static void
marina_preferences_dialog_class_init (MarinaPreferencesDialogClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/marinavm/Manager/marina-preferences-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, MarinaPreferencesDialog, background_switch);
  gtk_widget_class_bind_template_child (widget_class, MarinaPreferencesDialog, stopped_switch);
  gtk_widget_class_bind_template_child (widget_class, MarinaPreferencesDialog, saved_switch);
  gtk_widget_class_bind_template_child (widget_class, MarinaPreferencesDialog, heartbeat_switch);
  gtk_widget_class_bind_template_child (widget_class, MarinaPreferencesDialog, jobs_switch);
}

static void
marina_preferences_dialog_init (MarinaPreferencesDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

MarinaPreferencesDialog *
marina_preferences_dialog_new (GtkWindow *parent, MarinaPreferences *preferences)
{
  MarinaPreferencesDialog *self = g_object_new (MARINA_TYPE_PREFERENCES_DIALOG,
                                                "transient-for", parent, NULL);
  const struct { const char *property; GtkSwitch *widget; } bindings[] = {
    { "background", self->background_switch }, { "stopped", self->stopped_switch },
    { "saved", self->saved_switch }, { "heartbeat", self->heartbeat_switch },
    { "jobs", self->jobs_switch },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bindings); i++)
    g_object_bind_property (preferences, bindings[i].property, bindings[i].widget, "active",
                            G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  return self;
}
