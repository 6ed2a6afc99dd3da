/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

const char *marina_i18n_locale_dir (void);
void        marina_i18n_init       (void);

G_END_DECLS
