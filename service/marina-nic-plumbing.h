/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "marina-manager.h"
#include "marina-machine-config.h"

G_BEGIN_DECLS

/* What one run of QEMU needs for a machine's network adapters: per adapter
 * a -netdev backend, and the tap fds QEMU inherits (each at its target
 * number, as the backends name them). */
typedef struct {
  GPtrArray *backends;   /* of char *, NULL for an adapter without one; NULL-terminated */
  GArray *source_fds;    /* int, ours: closed by marina_nic_runtime_clear() */
  GArray *target_fds;    /* int, the numbers QEMU sees */
} MarinaNicRuntime;

gboolean marina_nic_runtime_prepare (MarinaNicRuntime          *runtime,
                                     MarinaManager             *manager,
                                     const MarinaMachineConfig *config,
                                     GError                   **error);
void     marina_nic_runtime_clear   (MarinaNicRuntime *runtime);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MarinaNicRuntime, marina_nic_runtime_clear)

char    *marina_nic_tap_name        (const char *machine_id,
                                     const char *nic_id);
gboolean marina_nic_replug          (MarinaManager *manager,
                                     const char    *machine_id,
                                     const MarinaNic *nic,
                                     GError       **error);
gboolean marina_nic_check_network   (MarinaManager *manager,
                                     const char    *network_id,
                                     GError       **error);

G_END_DECLS
