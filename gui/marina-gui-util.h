/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

const char *marina_gui_state_label   (const char   *state);
char       *marina_gui_error_message (const GError *error);
char       *marina_gui_bus_address   (gboolean      session_bus,
                                      const char   *address,
                                      GError      **error);

G_END_DECLS
