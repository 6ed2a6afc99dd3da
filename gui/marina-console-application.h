/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define MARINA_TYPE_CONSOLE_APPLICATION (marina_console_application_get_type ())
G_DECLARE_FINAL_TYPE (MarinaConsoleApplication, marina_console_application, MARINA,
                      CONSOLE_APPLICATION, AdwApplication)

MarinaConsoleApplication *marina_console_application_new (void);

G_END_DECLS
