/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MARINA_TYPE_CONSOLE_LAUNCHER (marina_console_launcher_get_type ())
G_DECLARE_FINAL_TYPE (MarinaConsoleLauncher, marina_console_launcher, MARINA, CONSOLE_LAUNCHER,
                      GObject)

MarinaConsoleLauncher *marina_console_launcher_new  (const char * const    *bus_args);
gboolean               marina_console_launcher_open (MarinaConsoleLauncher *self,
                                                     const char            *machine_id,
                                                     const char            *machine_name,
                                                     GError               **error);
char                  *marina_console_launcher_find_program (void);

G_END_DECLS
