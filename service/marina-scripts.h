/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Runs a host script for an event and reports what it did through report,
 * called once with a severity and a message for the event log. */
typedef void (*MarinaScriptReport) (gpointer    user_data,
                                    const char *severity,
                                    const char *message);

extern const char *const marina_host_script_events[];

gboolean marina_script_check (const char *path,
                              GError    **error);
void     marina_script_run   (const char         *path,
                              const char         *event,
                              const char *const  *environment,
                              guint               timeout_seconds,
                              MarinaScriptReport  report,
                              GObject            *report_object);
GVariant *marina_scripts_to_variant (GHashTable *scripts);
gboolean  marina_scripts_change      (GHashTable        *scripts,
                                      const char *const *events,
                                      const char        *event,
                                      const char        *path,
                                      const char        *owner,
                                      GError           **error);

G_END_DECLS
