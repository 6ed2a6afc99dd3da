/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

int marina_console_relay_bus     (const char *address);
int marina_console_relay_console (const char *address,
                                  const char *machine,
                                  gboolean    serial);

G_END_DECLS
