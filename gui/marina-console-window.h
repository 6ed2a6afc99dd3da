/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

#include "marina-console-session.h"

G_BEGIN_DECLS

#define MARINA_TYPE_CONSOLE_WINDOW (marina_console_window_get_type ())
G_DECLARE_FINAL_TYPE (MarinaConsoleWindow, marina_console_window, MARINA, CONSOLE_WINDOW,
                      AdwApplicationWindow)

MarinaConsoleWindow *marina_console_window_new             (GtkApplication       *application,
                                                            MarinaConsoleSession *session,
                                                            MarinaConsoleKind     kind);
void                 marina_console_window_print_frames    (MarinaConsoleWindow *self);
gboolean             marina_console_window_save_screenshot (MarinaConsoleWindow *self,
                                                            const char          *path,
                                                            GError             **error);

void                 marina_console_window_set_credentials (MarinaConsoleWindow *self,
                                                            const char          *username,
                                                            const char          *password);

G_END_DECLS
