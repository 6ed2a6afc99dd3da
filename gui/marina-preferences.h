/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MARINA_TYPE_PREFERENCES (marina_preferences_get_type ())
G_DECLARE_FINAL_TYPE (MarinaPreferences, marina_preferences, MARINA, PREFERENCES, GObject)

MarinaPreferences *marina_preferences_new        (void);
gboolean           marina_preferences_notifies   (MarinaPreferences *self,
                                                  const char        *kind);
gboolean           marina_preferences_background (MarinaPreferences *self);

G_END_DECLS
