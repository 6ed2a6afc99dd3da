/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

gboolean marina_nat_add    (const char *table,
                            const char *bridge,
                            const char *subnet,
                            GError    **error);
gboolean marina_nat_remove (const char *table,
                            GError    **error);
gboolean marina_nat_exists (const char *table);

G_END_DECLS
