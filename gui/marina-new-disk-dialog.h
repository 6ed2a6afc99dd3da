/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define MARINA_TYPE_NEW_DISK_DIALOG (marina_new_disk_dialog_get_type ())
G_DECLARE_FINAL_TYPE (MarinaNewDiskDialog, marina_new_disk_dialog, MARINA, NEW_DISK_DIALOG,
                      AdwWindow)

MarinaNewDiskDialog *marina_new_disk_dialog_new  (GtkWindow           *parent,
                                                  GDBusObjectManager  *objects);
void                 marina_new_disk_dialog_fill (MarinaNewDiskDialog *self,
                                                  GVariant            *values);

G_END_DECLS
