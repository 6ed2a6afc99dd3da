/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MARINA_TYPE_EVENT_LOG (marina_event_log_get_type ())
G_DECLARE_FINAL_TYPE (MarinaEventLog, marina_event_log, MARINA, EVENT_LOG, GObject)

MarinaEventLog *marina_event_log_new      (const char *path,
                                           guint       max_events);
void            marina_event_log_add      (MarinaEventLog *self,
                                           const char     *severity,
                                           const char     *object_path,
                                           const char     *category,
                                           const char     *message);
GVariant       *marina_event_log_query    (MarinaEventLog *self,
                                           GVariant       *filter,
                                           GError        **error);
gboolean        marina_severity_is_valid  (const char *severity);

G_END_DECLS
