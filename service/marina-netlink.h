/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Bridges, taps, veths and addresses, made through rtnetlink (libnl-route),
 * never by running ip or brctl. A MarinaNetlink talks to one network
 * namespace: the one marinad runs in, or one it made for a DHCP server. */
typedef struct _MarinaNetlink MarinaNetlink;

typedef struct {
  guint64 rx_bytes;
  guint64 tx_bytes;
  guint64 rx_packets;
  guint64 tx_packets;
} MarinaLinkStats;

MarinaNetlink *marina_netlink_new            (int        netns_fd,
                                              GError   **error);
void           marina_netlink_free           (MarinaNetlink *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MarinaNetlink, marina_netlink_free)

gboolean marina_netlink_link_exists   (MarinaNetlink *self,
                                       const char    *name);
gboolean marina_netlink_bridge_ensure (MarinaNetlink *self,
                                       const char    *name,
                                       GError       **error);
gboolean marina_netlink_veth_add      (MarinaNetlink *self,
                                       const char    *name,
                                       const char    *peer,
                                       int            peer_netns_fd,
                                       GError       **error);
gboolean marina_netlink_link_delete   (MarinaNetlink *self,
                                       const char    *name,
                                       GError       **error);
gboolean marina_netlink_link_set_up   (MarinaNetlink *self,
                                       const char    *name,
                                       gboolean       up,
                                       GError       **error);
gboolean marina_netlink_set_master    (MarinaNetlink *self,
                                       const char    *name,
                                       const char    *master,
                                       GError       **error);
char    *marina_netlink_get_master    (MarinaNetlink *self,
                                       const char    *name);
gboolean marina_netlink_address_add   (MarinaNetlink *self,
                                       const char    *name,
                                       const char    *address,
                                       guint          prefix,
                                       GError       **error);
gboolean marina_netlink_get_stats     (MarinaNetlink   *self,
                                       const char      *name,
                                       MarinaLinkStats *stats);
gboolean marina_netlink_has_default_route (MarinaNetlink *self,
                                           const char    *name);
guint    marina_netlink_count_default_routes (MarinaNetlink *self);

int      marina_tap_open              (const char *name,
                                       GError    **error);

G_END_DECLS
