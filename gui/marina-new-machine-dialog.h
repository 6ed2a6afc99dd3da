/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

#include "marina-new-disk-dialog.h"

G_BEGIN_DECLS

#define MARINA_TYPE_NEW_MACHINE_DIALOG (marina_new_machine_dialog_get_type ())
G_DECLARE_FINAL_TYPE (MarinaNewMachineDialog, marina_new_machine_dialog, MARINA,
                      NEW_MACHINE_DIALOG, AdwWindow)

MarinaNewMachineDialog *marina_new_machine_dialog_new  (GtkWindow              *parent,
                                                        GDBusConnection        *connection,
                                                        GDBusObjectManager     *objects);
void                    marina_new_machine_dialog_fill (MarinaNewMachineDialog *self,
                                                        GVariant               *values);
MarinaNewDiskDialog    *marina_new_machine_dialog_get_disk_dialog (MarinaNewMachineDialog *self);

G_END_DECLS
