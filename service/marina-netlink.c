/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-netlink"
#include "config.h"

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "marina-error.h"
#include "marina-netlink.h"

struct _MarinaNetlink {
  struct nl_sock *socket;
};

typedef struct rtnl_link RtnlLink;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RtnlLink, rtnl_link_put)

static gboolean
netlink_error (GError **error, int code, const char *action, const char *name)
{
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot %s %s: %s", action, name,
               nl_geterror (code));
  return FALSE;
}

static struct nl_sock *
connect_socket (GError **error)
{
  struct nl_sock *socket = nl_socket_alloc ();
  int code;

  if (socket == NULL)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                        "Cannot allocate a netlink socket"), NULL;
  code = nl_connect (socket, NETLINK_ROUTE);
  if (code < 0)
    {
      nl_socket_free (socket);
      netlink_error (error, code, "open", "rtnetlink");
      return NULL;
    }
  return socket;
}

typedef struct {
  int netns_fd;
  struct nl_sock *socket;
  GError *error;
} NamespaceSocket;

/* A socket belongs to the namespace it was made in, for good. setns()
 * changes only the calling thread, so a thread of its own enters the
 * namespace, makes the socket and ends: marinad's threads never move. */
static gpointer
connect_in_namespace (gpointer user_data)
{
  NamespaceSocket *request = user_data;

  if (setns (request->netns_fd, CLONE_NEWNET) != 0)
    g_set_error (&request->error, MARINA_ERROR, MARINA_ERROR_FAILED,
                 "Cannot enter the network namespace: %s", g_strerror (errno));
  else
    request->socket = connect_socket (&request->error);
  return NULL;
}

/**
 * marina_netlink_new:
 * @netns_fd: a network namespace's fd, or -1 for marinad's own
 */
MarinaNetlink *
marina_netlink_new (int netns_fd, GError **error)
{
  MarinaNetlink *self = g_new0 (MarinaNetlink, 1);
  NamespaceSocket request = { .netns_fd = netns_fd };

  if (netns_fd < 0)
    self->socket = connect_socket (error);
  else
    {
      g_thread_join (g_thread_new ("marina-netns", connect_in_namespace, &request));
      self->socket = request.socket;
      if (request.error)
        g_propagate_error (error, request.error);
    }
  if (self->socket == NULL)
    {
      g_free (self);
      return NULL;
    }
  return self;
}

void
marina_netlink_free (MarinaNetlink *self)
{
  if (self == NULL)
    return;
  nl_socket_free (self->socket);
  g_free (self);
}

static struct rtnl_link *
get_link (MarinaNetlink *self, const char *name)
{
  struct rtnl_link *link = NULL;

  if (rtnl_link_get_kernel (self->socket, 0, name, &link) < 0)
    return NULL;
  return link;
}

gboolean
marina_netlink_link_exists (MarinaNetlink *self, const char *name)
{
  g_autoptr(RtnlLink) link = get_link (self, name);

  return link != NULL;
}

static gboolean
change_link (MarinaNetlink *self, const char *name, struct rtnl_link *change,
             const char *what, GError **error)
{
  g_autoptr(RtnlLink) link = get_link (self, name);
  int code;

  if (link == NULL)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                        "The interface %s does not exist", name), FALSE;
  code = rtnl_link_change (self->socket, link, change, 0);
  if (code < 0)
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot %s %s: %s", what, name,
                   nl_geterror (code));
      return FALSE;
    }
  return TRUE;
}

/* An existing bridge of that name is taken as it is: marinad made it before
 * a restart, and machines may be on it. */
gboolean
marina_netlink_bridge_ensure (MarinaNetlink *self, const char *name, GError **error)
{
  int code;

  if (marina_netlink_link_exists (self, name))
    return TRUE;
  code = rtnl_link_bridge_add (self->socket, name);
  if (code < 0)
    return netlink_error (error, code, "create the bridge", name);
  return TRUE;
}

gboolean
marina_netlink_veth_add (MarinaNetlink *self, const char *name, const char *peer,
                         int peer_netns_fd, GError **error)
{
  g_autoptr(RtnlLink) link = rtnl_link_veth_alloc ();
  struct rtnl_link *peer_link = rtnl_link_veth_get_peer (link);
  int code;

  rtnl_link_set_name (link, name);
  rtnl_link_set_name (peer_link, peer);
  if (peer_netns_fd >= 0)
    rtnl_link_set_ns_fd (peer_link, peer_netns_fd);
  rtnl_link_put (peer_link);
  code = rtnl_link_add (self->socket, link, NLM_F_CREATE | NLM_F_EXCL);
  if (code < 0)
    return netlink_error (error, code, "create the veth pair", name);
  return TRUE;
}

gboolean
marina_netlink_link_delete (MarinaNetlink *self, const char *name, GError **error)
{
  g_autoptr(RtnlLink) link = get_link (self, name);
  int code;

  if (link == NULL)
    return TRUE;
  code = rtnl_link_delete (self->socket, link);
  if (code < 0)
    return netlink_error (error, code, "delete the interface", name);
  return TRUE;
}

gboolean
marina_netlink_link_set_up (MarinaNetlink *self, const char *name, gboolean up, GError **error)
{
  g_autoptr(RtnlLink) change = rtnl_link_alloc ();

  if (up)
    rtnl_link_set_flags (change, IFF_UP);
  else
    rtnl_link_unset_flags (change, IFF_UP);
  return change_link (self, name, change, up ? "bring up" : "bring down", error);
}

/* @master NULL takes the interface off its bridge. */
gboolean
marina_netlink_set_master (MarinaNetlink *self, const char *name, const char *master,
                           GError **error)
{
  g_autoptr(RtnlLink) change = rtnl_link_alloc ();
  int index = 0;

  if (master != NULL)
    {
      g_autoptr(RtnlLink) bridge = get_link (self, master);
      if (bridge == NULL)
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                            "The bridge %s does not exist", master), FALSE;
      index = rtnl_link_get_ifindex (bridge);
    }
  rtnl_link_set_master (change, index);
  return change_link (self, name, change, master ? "attach to a bridge" : "detach", error);
}

char *
marina_netlink_get_master (MarinaNetlink *self, const char *name)
{
  g_autoptr(RtnlLink) link = get_link (self, name);
  g_autoptr(RtnlLink) master = NULL;

  if (link == NULL || rtnl_link_get_master (link) == 0 ||
      rtnl_link_get_kernel (self->socket, rtnl_link_get_master (link), NULL, &master) < 0)
    return NULL;
  return g_strdup (rtnl_link_get_name (master));
}

/* Adding an address the interface already has is not an error: that is a
 * network marinad brought up before it restarted. */
gboolean
marina_netlink_address_add (MarinaNetlink *self, const char *name, const char *address,
                            guint prefix, GError **error)
{
  g_autoptr(RtnlLink) link = get_link (self, name);
  struct rtnl_addr *addr;
  struct nl_addr *local = NULL;
  g_autofree char *text = g_strdup_printf ("%s/%u", address, prefix);
  int code;

  if (link == NULL)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                        "The interface %s does not exist", name), FALSE;
  code = nl_addr_parse (text, AF_INET, &local);
  if (code < 0)
    return netlink_error (error, code, "parse the address", text);
  addr = rtnl_addr_alloc ();
  rtnl_addr_set_ifindex (addr, rtnl_link_get_ifindex (link));
  rtnl_addr_set_local (addr, local);
  rtnl_addr_set_prefixlen (addr, (int) prefix);
  code = rtnl_addr_add (self->socket, addr, 0);
  rtnl_addr_put (addr);
  nl_addr_put (local);
  if (code < 0 && code != -NLE_EXIST)
    return netlink_error (error, code, "add the address", text);
  return TRUE;
}

gboolean
marina_netlink_get_stats (MarinaNetlink *self, const char *name, MarinaLinkStats *stats)
{
  g_autoptr(RtnlLink) link = get_link (self, name);

  if (link == NULL)
    return FALSE;
  stats->rx_bytes = rtnl_link_get_stat (link, RTNL_LINK_RX_BYTES);
  stats->tx_bytes = rtnl_link_get_stat (link, RTNL_LINK_TX_BYTES);
  stats->rx_packets = rtnl_link_get_stat (link, RTNL_LINK_RX_PACKETS);
  stats->tx_packets = rtnl_link_get_stat (link, RTNL_LINK_TX_PACKETS);
  return TRUE;
}

typedef struct {
  int ifindex;  /* 0: any */
  guint count;
} RouteCount;

static void
count_default_route (struct nl_object *object, void *user_data)
{
  struct rtnl_route *route = (struct rtnl_route *) object;
  RouteCount *count = user_data;
  struct rtnl_nexthop *hop;

  if (rtnl_route_get_family (route) != AF_INET || nl_addr_get_prefixlen (rtnl_route_get_dst (route)) != 0 ||
      rtnl_route_get_table (route) != RT_TABLE_MAIN)
    return;
  hop = rtnl_route_nexthop_n (route, 0);
  if (count->ifindex == 0 || (hop && rtnl_route_nh_get_ifindex (hop) == count->ifindex))
    count->count++;
}

static guint
count_routes (MarinaNetlink *self, int ifindex)
{
  struct nl_cache *routes = NULL;
  RouteCount count = { .ifindex = ifindex };

  if (rtnl_route_alloc_cache (self->socket, AF_INET, 0, &routes) < 0)
    return 0;
  nl_cache_foreach (routes, count_default_route, &count);
  nl_cache_free (routes);
  return count.count;
}

gboolean
marina_netlink_has_default_route (MarinaNetlink *self, const char *name)
{
  g_autoptr(RtnlLink) link = get_link (self, name);

  return link != NULL && count_routes (self, rtnl_link_get_ifindex (link)) > 0;
}

guint
marina_netlink_count_default_routes (MarinaNetlink *self)
{
  return count_routes (self, 0);
}

/* A tap for one adapter of a running machine. Not persistent: it lives as
 * long as an fd is open, so it vanishes with QEMU and never lingers. */
int
marina_tap_open (const char *name, GError **error)
{
  struct ifreq request = { 0 };
  int fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC);

  if (fd < 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                        "Cannot open /dev/net/tun: %s", g_strerror (errno)), -1;
  request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  g_strlcpy (request.ifr_name, name, sizeof request.ifr_name);
  if (ioctl (fd, TUNSETIFF, &request) != 0)
    {
      int saved_errno = errno;
      close (fd);
      return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                          "Cannot create the tap %s: %s", name, g_strerror (saved_errno)), -1;
    }
  return fd;
}
