/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "marina-network-config.h"

G_BEGIN_DECLS

/* The DHCP (and TFTP) server of one network: a dnsmasq process marinad
 * starts and watches. "exited" is emitted when it ends without having been
 * asked to. */
#define MARINA_TYPE_DNSMASQ (marina_dnsmasq_get_type ())
G_DECLARE_FINAL_TYPE (MarinaDnsmasq, marina_dnsmasq, MARINA, DNSMASQ, GObject)

MarinaDnsmasq *marina_dnsmasq_new        (const char *runtime_dir,
                                          const char *lease_file,
                                          int         netns_fd);
gboolean       marina_dnsmasq_start      (MarinaDnsmasq             *self,
                                          const MarinaNetworkConfig *config,
                                          const char                *interface,
                                          GError                   **error);
void           marina_dnsmasq_stop       (MarinaDnsmasq *self);
gboolean       marina_dnsmasq_is_running (MarinaDnsmasq *self);
GPid           marina_dnsmasq_get_pid    (MarinaDnsmasq *self);
GVariant      *marina_dnsmasq_read_leases (const char *lease_file);
void           marina_dnsmasq_kill_stale (const char *runtime_dir);

G_END_DECLS
