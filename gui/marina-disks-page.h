/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define MARINA_TYPE_DISKS_PAGE (marina_disks_page_get_type ())
G_DECLARE_FINAL_TYPE (MarinaDisksPage, marina_disks_page, MARINA, DISKS_PAGE, GtkBox)

void       marina_disks_page_set_objects   (MarinaDisksPage    *self,
                                            GDBusConnection    *connection,
                                            GDBusObjectManager *objects);
void       marina_disks_page_add_actions   (MarinaDisksPage    *self,
                                            GActionMap         *map,
                                            gboolean            test_hooks);
GtkWidget *marina_disks_page_get_dialog    (MarinaDisksPage    *self);

G_END_DECLS
