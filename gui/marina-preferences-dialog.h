/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

#include "marina-preferences.h"

G_BEGIN_DECLS

#define MARINA_TYPE_PREFERENCES_DIALOG (marina_preferences_dialog_get_type ())
G_DECLARE_FINAL_TYPE (MarinaPreferencesDialog, marina_preferences_dialog, MARINA,
                      PREFERENCES_DIALOG, AdwPreferencesWindow)

MarinaPreferencesDialog *marina_preferences_dialog_new (GtkWindow         *parent,
                                                        MarinaPreferences *preferences);

G_END_DECLS
