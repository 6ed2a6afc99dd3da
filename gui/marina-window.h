/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

#include "marina-application.h"

G_BEGIN_DECLS

#define MARINA_TYPE_WINDOW (marina_window_get_type ())
G_DECLARE_FINAL_TYPE (MarinaWindow, marina_window, MARINA, WINDOW, AdwApplicationWindow)

MarinaWindow *marina_window_new            (MarinaApplication *application);
void          marina_window_select_machine (MarinaWindow      *self,
                                            const char        *path);
void          marina_window_show_error     (MarinaWindow      *self,
                                            const GError      *error);

G_END_DECLS
