/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define MARINA_TYPE_NEW_NETWORK_DIALOG (marina_new_network_dialog_get_type ())
G_DECLARE_FINAL_TYPE (MarinaNewNetworkDialog, marina_new_network_dialog, MARINA,
                      NEW_NETWORK_DIALOG, AdwWindow)

MarinaNewNetworkDialog *marina_new_network_dialog_new  (GtkWindow              *parent,
                                                        GDBusObjectManager     *objects);
void                    marina_new_network_dialog_fill (MarinaNewNetworkDialog *self,
                                                        GVariant               *values);

G_END_DECLS
