/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define MARINA_TYPE_EVENT (marina_event_get_type ())
G_DECLARE_FINAL_TYPE (MarinaEvent, marina_event, MARINA, EVENT, GObject)

MarinaEvent *marina_event_new          (gint64       time_usec,
                                        const char  *severity,
                                        const char  *object,
                                        const char  *category,
                                        const char  *message);
gint64       marina_event_get_time     (MarinaEvent *self);
const char  *marina_event_get_severity (MarinaEvent *self);
const char  *marina_event_get_object   (MarinaEvent *self);
const char  *marina_event_get_category (MarinaEvent *self);
const char  *marina_event_get_message  (MarinaEvent *self);
int          marina_event_get_rank     (MarinaEvent *self);
int          marina_event_severity_rank (const char *severity);

G_END_DECLS
