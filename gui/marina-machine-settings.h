/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

#include "marina-dbus-generated.h"

G_BEGIN_DECLS

#define MARINA_TYPE_MACHINE_SETTINGS (marina_machine_settings_get_type ())
G_DECLARE_FINAL_TYPE (MarinaMachineSettings, marina_machine_settings, MARINA, MACHINE_SETTINGS,
                      AdwWindow)

MarinaMachineSettings *marina_machine_settings_new  (GtkWindow             *parent,
                                                     MarinaDBusMachine     *machine,
                                                     GDBusObjectManager    *objects);
void                   marina_machine_settings_fill (MarinaMachineSettings *self,
                                                     GVariant              *values);

G_END_DECLS
