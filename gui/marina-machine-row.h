/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>

#include "marina-dbus-generated.h"

G_BEGIN_DECLS

#define MARINA_TYPE_MACHINE_ROW (marina_machine_row_get_type ())
G_DECLARE_FINAL_TYPE (MarinaMachineRow, marina_machine_row, MARINA, MACHINE_ROW, GtkListBoxRow)

MarinaMachineRow  *marina_machine_row_new         (MarinaDBusMachine *machine);
MarinaDBusMachine *marina_machine_row_get_machine (MarinaMachineRow  *self);

G_END_DECLS
