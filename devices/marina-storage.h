/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Storage confinement: the folders marinad may create and open disk images
 * in, and the checks that keep a root service from writing elsewhere. */

char *marina_storage_resolve_existing (const char *const *roots,
                                       const char        *path,
                                       GError           **error);
char *marina_storage_resolve_new      (const char *const *roots,
                                       const char        *path,
                                       int               *dir_fd,
                                       char             **name,
                                       GError           **error);
char *marina_storage_resolve_output  (const char *const *roots,
                                       const char        *path,
                                       gboolean           create,
                                       GError           **error);
int   marina_storage_open             (const char *resolved,
                                       GError    **error);
int   marina_storage_open_folder      (const char *resolved,
                                       char      **name,
                                       GError    **error);

G_END_DECLS
