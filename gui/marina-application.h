/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

#include "marina-console-launcher.h"
#include "marina-dbus-generated.h"

G_BEGIN_DECLS

#define MARINA_TYPE_APPLICATION (marina_application_get_type ())
G_DECLARE_FINAL_TYPE (MarinaApplication, marina_application, MARINA, APPLICATION, AdwApplication)

MarinaApplication   *marina_application_new            (void);
GDBusConnection     *marina_application_get_connection (MarinaApplication *self);
GDBusObjectManager  *marina_application_get_objects    (MarinaApplication *self);
MarinaDBusManager   *marina_application_get_manager    (MarinaApplication *self);
MarinaConsoleLauncher *marina_application_get_consoles (MarinaApplication *self);

G_END_DECLS
