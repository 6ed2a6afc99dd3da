/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define MARINA_TYPE_NETWORKS_PAGE (marina_networks_page_get_type ())
G_DECLARE_FINAL_TYPE (MarinaNetworksPage, marina_networks_page, MARINA, NETWORKS_PAGE, GtkBox)

void       marina_networks_page_set_objects (MarinaNetworksPage *self,
                                             GDBusObjectManager *objects);
void       marina_networks_page_add_actions (MarinaNetworksPage *self,
                                             GActionMap         *map,
                                             gboolean            test_hooks);
GtkWidget *marina_networks_page_get_dialog  (MarinaNetworksPage *self);

G_END_DECLS
