/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

const char *marina_gui_state_label   (const char   *state);
char       *marina_gui_error_message (const GError *error);
char       *marina_gui_bus_address   (gboolean      session_bus,
                                      const char   *address,
                                      GError      **error);
GStrv       marina_gui_bus_args      (gboolean      session_bus,
                                      const char   *address);
void        marina_gui_combo_select  (AdwComboRow  *row,
                                      const char   *text);
void        marina_gui_list_box_clear (GtkListBox  *list);
gpointer    marina_gui_peek_interface (GDBusObjectManager *objects,
                                       const char         *path,
                                       const char         *interface);
void        marina_gui_enable_action  (GActionMap  *map,
                                       const char  *name,
                                       gboolean     enabled);

G_END_DECLS
