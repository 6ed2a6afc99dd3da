/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "marina-confinement.h"

G_BEGIN_DECLS

/* qemu-storage-daemon serving one machine's VHD or VHDX boot disk over NBD
 * for as long as its QEMU runs. Its pid file and socket live in the
 * machine's runtime directory, so a restarted marinad finds it again. */

char    *marina_storage_daemon_start (const char               *binary,
                                      const char               *image,
                                      const char               *format,
                                      const char               *runtime_dir,
                                      const MarinaQemuIdentity *identity,
                                      GError                  **error);
void     marina_storage_daemon_stop  (const char *runtime_dir);

G_END_DECLS
