/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* NetworkManager, when it runs on the host. Bridges of internal, host and
 * nat networks are ours alone: NM is told to leave them unmanaged. An
 * external network bridges an interface NM configures, so there NM makes
 * the bridge itself (a bridge profile with the interface as its port): the
 * host's addresses move to the bridge under NM's care instead of being cut
 * off. Without NM, marinad does all of it through netlink. */

gboolean marina_nm_is_running        (void);
void     marina_nm_set_unmanaged     (const char *interface);
gboolean marina_nm_bridge_interface  (const char *bridge,
                                      const char *interface,
                                      GError    **error);
void     marina_nm_unbridge_interface (const char *bridge);

G_END_DECLS
