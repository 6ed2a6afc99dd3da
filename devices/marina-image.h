/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

char *marina_image_probe_format (const char *path,
                                 GError    **error);

G_END_DECLS
