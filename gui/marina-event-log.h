/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define MARINA_TYPE_EVENT_LOG (marina_event_log_get_type ())
G_DECLARE_FINAL_TYPE (MarinaEventLog, marina_event_log, MARINA, EVENT_LOG, GtkBox)

void marina_event_log_set_objects (MarinaEventLog     *self,
                                   GDBusObjectManager *objects);

G_END_DECLS
