/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-network"
#include "config.h"

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <linux/magic.h>

#include "marina-authorizer.h"
#include "marina-dnsmasq.h"
#include "marina-error.h"
#include "marina-manager.h"
#include "marina-nat.h"
#include "marina-netlink.h"
#include "marina-network.h"
#include "marina-nm.h"

/* One virtual network: its bridge, addresses, NAT table and DHCP server.
 * Everything it makes on the host is named after its id, so that a marinad
 * that restarts finds it again instead of making it twice. */

#define STATS_INTERVAL_SECONDS 5
#define DHCP_RESTART_MAX 5          /* in a row, before giving up */
#define DHCP_SERVER_INTERFACE "dhcp0"  /* inside an internal network's namespace */

struct _MarinaNetwork {
  MarinaDBusNetworkSkeleton parent_instance;

  MarinaManager *manager;   /* owns us */
  MarinaNetworkConfig *config;
  char *object_path;
  char *config_path;        /* STATE/networks/<id>.xml */
  char *active_marker;      /* STATE/networks/<id>.active: come back after a restart */
  char *lease_file;         /* STATE/networks/<id>.leases */
  char *runtime_dir;        /* RUNTIME/networks/<id> */
  char *bridge;
  gboolean active;
  MarinaDnsmasq *dnsmasq;
  int netns_fd;             /* an internal network's DHCP namespace, or -1 */
  guint stats_id;
  guint dhcp_restarts;
  guint dhcp_stable_ticks;
};

static void marina_network_iface_init (MarinaDBusNetworkIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MarinaNetwork, marina_network, MARINA_DBUS_TYPE_NETWORK_SKELETON,
                               G_IMPLEMENT_INTERFACE (MARINA_DBUS_TYPE_NETWORK,
                                                      marina_network_iface_init))

static gboolean
user_networking (MarinaNetwork *self)
{
  return marina_manager_get_settings (self->manager)->user_networking;
}

static void
log_event (MarinaNetwork *self, const char *severity, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static void
log_event (MarinaNetwork *self, const char *severity, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  marina_manager_log (self->manager, severity, self->object_path, "network", "Network '%s': %s",
                      self->config->name, message);
}

static char *
runtime_file (MarinaNetwork *self, const char *name)
{
  return g_build_filename (self->runtime_dir, name, NULL);
}

static char *
nat_table (MarinaNetwork *self)
{
  return g_strdup_printf ("marina_%.8s", self->config->id);
}

static char *
subnet_of (const MarinaNetworkConfig *config)
{
  g_auto(GStrv) octets = g_strsplit (config->address, ".", 4);
  guint32 address = 0, mask = G_MAXUINT32 << (32 - config->prefix);

  for (guint i = 0; i < 4 && octets[i]; i++)
    address = address << 8 | (guint32) g_ascii_strtoull (octets[i], NULL, 10);
  address &= mask;
  return g_strdup_printf ("%u.%u.%u.%u/%u", address >> 24, (address >> 16) & 0xff,
                          (address >> 8) & 0xff, address & 0xff, config->prefix);
}

/* ---- properties ---- */

static void
sync_properties (MarinaNetwork *self)
{
  MarinaDBusNetwork *iface = MARINA_DBUS_NETWORK (self);
  const MarinaNetworkConfig *config = self->config;
  g_autofree char *gateway = marina_network_config_gateway (config);
  GVariantBuilder hosts;

  g_variant_builder_init (&hosts, G_VARIANT_TYPE ("a(sss)"));
  for (guint i = 0; i < config->reservations->len; i++)
    {
      MarinaDhcpHost *host = g_ptr_array_index (config->reservations, i);
      g_variant_builder_add (&hosts, "(sss)", host->mac, host->address,
                             host->hostname ? host->hostname : "");
    }
  marina_dbus_network_set_id (iface, config->id);
  marina_dbus_network_set_name (iface, config->name);
  marina_dbus_network_set_kind (iface, marina_network_kind_to_string (config->kind));
  marina_dbus_network_set_bridge (iface, user_networking (self) ? "" : self->bridge);
  marina_dbus_network_set_host_interface (iface, config->host_interface ? config->host_interface : "");
  marina_dbus_network_set_address (iface, config->address ? config->address : "");
  marina_dbus_network_set_prefix (iface, config->address ? config->prefix : 0);
  marina_dbus_network_set_dhcp (iface, config->dhcp);
  marina_dbus_network_set_dhcp_range (iface, g_variant_new ("(ss)",
                                      config->dhcp_start ? config->dhcp_start : "",
                                      config->dhcp_end ? config->dhcp_end : ""));
  marina_dbus_network_set_gateway (iface, gateway ? gateway : "");
  marina_dbus_network_set_dns_servers (iface, (const char *const *) config->dns_servers);
  marina_dbus_network_set_lease_time (iface, config->lease_time);
  marina_dbus_network_set_reservations (iface, g_variant_builder_end (&hosts));
  marina_dbus_network_set_pxe (iface, g_variant_new ("(ss)",
                               config->pxe_root ? config->pxe_root : "",
                               config->pxe_boot_file ? config->pxe_boot_file : ""));
  marina_dbus_network_set_port_forwards (iface, (const char *const *) config->port_forwards);
  marina_dbus_network_set_active (iface, self->active);
  marina_dbus_network_set_dhcp_running (iface, self->dnsmasq &&
                                        marina_dnsmasq_is_running (self->dnsmasq));
}

static gboolean
refresh_stats (gpointer user_data)
{
  MarinaNetwork *self = user_data;
  MarinaDBusNetwork *iface = MARINA_DBUS_NETWORK (self);
  g_autoptr(MarinaNetlink) netlink = marina_netlink_new (-1, NULL);
  MarinaLinkStats stats;

  /* Only a server that keeps running a minute resets the count of restarts. */
  if (self->dnsmasq && marina_dnsmasq_is_running (self->dnsmasq) &&
      ++self->dhcp_stable_ticks * STATS_INTERVAL_SECONDS >= 60)
    self->dhcp_restarts = 0;
  if (netlink == NULL || !marina_netlink_get_stats (netlink, self->bridge, &stats))
    return G_SOURCE_CONTINUE;
  /* The bridge's own counters: what the host side of it saw. */
  if (marina_dbus_network_get_received_bytes (iface) != stats.rx_bytes)
    marina_dbus_network_set_received_bytes (iface, stats.rx_bytes);
  if (marina_dbus_network_get_sent_bytes (iface) != stats.tx_bytes)
    marina_dbus_network_set_sent_bytes (iface, stats.tx_bytes);
  if (marina_dbus_network_get_received_packets (iface) != stats.rx_packets)
    marina_dbus_network_set_received_packets (iface, stats.rx_packets);
  if (marina_dbus_network_get_sent_packets (iface) != stats.tx_packets)
    marina_dbus_network_set_sent_packets (iface, stats.tx_packets);
  return G_SOURCE_CONTINUE;
}

/* ---- an internal network's DHCP namespace ---- */

static gboolean
is_netns (int fd)
{
  struct statfs fs;

  return fstatfs (fd, &fs) == 0 && fs.f_type == NSFS_MAGIC;
}

/* A named namespace as "ip netns" makes them: a file with the namespace
 * bind-mounted on it, so it outlives the process that made it (and
 * marinad's restarts). The child only calls async-signal-safe functions. */
static int
create_netns (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  int status = 0;
  pid_t pid;

  if (fd >= 0 && is_netns (fd))
    return fd;
  if (fd >= 0)
    close (fd);
  fd = open (path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot create %s: %s", path,
                        g_strerror (errno)), -1;
  close (fd);
  pid = fork ();
  if (pid == 0)
    _exit (unshare (CLONE_NEWNET) == 0 &&
           mount ("/proc/self/ns/net", path, "none", MS_BIND, NULL) == 0 ? 0 : 1);
  if (pid < 0 || waitpid (pid, &status, 0) != pid || !WIFEXITED (status) ||
      WEXITSTATUS (status) != 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                        "Cannot create a network namespace for the DHCP server"), -1;
  return open (path, O_RDONLY | O_CLOEXEC);
}

static void
remove_netns (MarinaNetwork *self)
{
  g_autofree char *path = runtime_file (self, "netns");

  if (self->netns_fd >= 0)
    close (self->netns_fd);
  self->netns_fd = -1;
  umount2 (path, MNT_DETACH);
  g_unlink (path);
}

static char *
dhcp_veth_name (MarinaNetwork *self)
{
  return g_strdup_printf ("mrd%.8s", self->config->id);
}

/* The DHCP server of a network the host has no address on sits in a
 * namespace of its own, on a veth whose other end is a port of the bridge. */
static gboolean
start_dhcp_namespace (MarinaNetwork *self, MarinaNetlink *netlink, GError **error)
{
  g_autofree char *path = runtime_file (self, "netns");
  g_autofree char *veth = dhcp_veth_name (self);
  g_autoptr(MarinaNetlink) inside = NULL;

  self->netns_fd = create_netns (path, error);
  if (self->netns_fd < 0)
    return FALSE;
  inside = marina_netlink_new (self->netns_fd, error);
  if (inside == NULL)
    return FALSE;
  if (!marina_netlink_link_exists (netlink, veth) &&
      !marina_netlink_veth_add (netlink, veth, DHCP_SERVER_INTERFACE, self->netns_fd, error))
    return FALSE;
  return marina_netlink_set_master (netlink, veth, self->bridge, error) &&
         marina_netlink_link_set_up (netlink, veth, TRUE, error) &&
         marina_netlink_link_set_up (inside, "lo", TRUE, error) &&
         marina_netlink_address_add (inside, DHCP_SERVER_INTERFACE, self->config->address,
                                     self->config->prefix, error) &&
         marina_netlink_link_set_up (inside, DHCP_SERVER_INTERFACE, TRUE, error);
}

/* ---- the DHCP server ---- */

static void start_dhcp (MarinaNetwork *self);

static gboolean
restart_dhcp_later (gpointer user_data)
{
  MarinaNetwork *self = user_data;

  if (self->active)
    start_dhcp (self);
  return G_SOURCE_REMOVE;
}

static void
on_dhcp_exited (MarinaDnsmasq *dnsmasq, MarinaNetwork *self)
{
  sync_properties (self);
  self->dhcp_stable_ticks = 0;
  if (++self->dhcp_restarts > DHCP_RESTART_MAX)
    {
      log_event (self, "error", "its DHCP server (dnsmasq) ended %u times in a row; it is not "
                 "started again until the network is", DHCP_RESTART_MAX);
      return;
    }
  log_event (self, "warning", "its DHCP server (dnsmasq) ended unexpectedly; starting it again");
  g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, 1, restart_dhcp_later, g_object_ref (self),
                              g_object_unref);
}

static void
start_dhcp (MarinaNetwork *self)
{
  g_autoptr(GError) error = NULL;
  gboolean inside = self->netns_fd >= 0;

  if (!marina_dnsmasq_start (self->dnsmasq, self->config,
                             inside ? DHCP_SERVER_INTERFACE : self->bridge, &error))
    log_event (self, "error", "its DHCP server does not start: %s", error->message);
  sync_properties (self);
}

static void
stop_dhcp (MarinaNetwork *self)
{
  if (self->dnsmasq)
    {
      g_signal_handlers_disconnect_by_data (self->dnsmasq, self);
      marina_dnsmasq_stop (self->dnsmasq);
    }
  g_clear_object (&self->dnsmasq);
}

static gboolean
begin_dhcp (MarinaNetwork *self, GError **error)
{
  gboolean inside = self->netns_fd >= 0;

  marina_dnsmasq_kill_stale (self->runtime_dir);
  self->dnsmasq = marina_dnsmasq_new (self->runtime_dir, self->lease_file, self->netns_fd);
  g_signal_connect (self->dnsmasq, "exited", G_CALLBACK (on_dhcp_exited), self);
  return marina_dnsmasq_start (self->dnsmasq, self->config,
                               inside ? DHCP_SERVER_INTERFACE : self->bridge, error);
}

/* ---- up and down ---- */

/* Bridging the interface that carries the host's only default route cuts
 * the host off (its address stays on the interface, which the bridge now
 * owns): only when the caller says so. */
static gboolean
check_host_interface (MarinaNetwork *self, MarinaNetlink *netlink, gboolean force,
                      GError **error)
{
  const char *interface = self->config->host_interface;

  if (!marina_netlink_link_exists (netlink, interface))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                        "The host interface %s does not exist", interface), FALSE;
  if (!force && marina_netlink_has_default_route (netlink, interface) &&
      marina_netlink_count_default_routes (netlink) == 1)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                        "%s carries the host's only connection (its default route); bridging "
                        "it would take the host off the network. Pass force=true to do it "
                        "anyway", interface), FALSE;
  return TRUE;
}

/* dnsmasq serves TFTP as "nobody": a root it cannot read fails every boot
 * in silence, so say so here. */
static gboolean
check_pxe_root (MarinaNetwork *self, GError **error)
{
  const char *root = self->config->pxe_root;

  if (root == NULL)
    return TRUE;
  if (!g_file_test (root, G_FILE_TEST_IS_DIR))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                        "The PXE root %s is not a directory", root), FALSE;
  for (g_autofree char *dir = g_strdup (root); strlen (dir) > 1;)
    {
      GStatBuf st;
      char *parent = g_path_get_dirname (dir);
      if (g_stat (dir, &st) == 0 && (st.st_mode & S_IXOTH) == 0)
        log_event (self, "warning", "the PXE server (dnsmasq, as user nobody) cannot enter %s; "
                   "make it and the files below it world-readable", dir);
      g_free (dir);
      dir = parent;
    }
  return TRUE;
}

static gboolean
plumb (MarinaNetwork *self, MarinaNetlink *netlink, gboolean force, GError **error)
{
  const MarinaNetworkConfig *config = self->config;

  if (!check_pxe_root (self, error))
    return FALSE;
  if (config->kind == MARINA_NETWORK_EXTERNAL &&
      !check_host_interface (self, netlink, force, error))
    return FALSE;
  if (config->kind == MARINA_NETWORK_EXTERNAL && marina_nm_is_running ())
    return marina_nm_bridge_interface (self->bridge, config->host_interface, error);
  if (!marina_netlink_bridge_ensure (netlink, self->bridge, error) ||
      !marina_netlink_link_set_up (netlink, self->bridge, TRUE, error))
    return FALSE;
  marina_nm_set_unmanaged (self->bridge);
  if (marina_network_config_has_host_address (config) &&
      !marina_netlink_address_add (netlink, self->bridge, config->address, config->prefix,
                                   error))
    return FALSE;
  if (config->kind == MARINA_NETWORK_NAT)
    {
      g_autofree char *table = nat_table (self);
      g_autofree char *subnet = subnet_of (config);
      if (!marina_nat_add (table, self->bridge, subnet, error))
        return FALSE;
    }
  if (config->kind == MARINA_NETWORK_EXTERNAL &&
      (!marina_netlink_set_master (netlink, config->host_interface, self->bridge, error) ||
       !marina_netlink_link_set_up (netlink, config->host_interface, TRUE, error)))
    return FALSE;
  if (config->kind == MARINA_NETWORK_INTERNAL && config->dhcp &&
      !start_dhcp_namespace (self, netlink, error))
    return FALSE;
  return !config->dhcp || begin_dhcp (self, error);
}

/* Undoes whatever plumb() did, also half of it; errors only in the log. */
static void
unplumb (MarinaNetwork *self)
{
  g_autoptr(MarinaNetlink) netlink = marina_netlink_new (-1, NULL);
  g_autofree char *table = nat_table (self);
  g_autofree char *veth = dhcp_veth_name (self);
  g_autoptr(GError) error = NULL;

  stop_dhcp (self);
  if (self->config->kind == MARINA_NETWORK_EXTERNAL && marina_nm_is_running ())
    marina_nm_unbridge_interface (self->bridge);
  if (marina_nat_exists (table) && !marina_nat_remove (table, &error))
    log_event (self, "warning", "%s", error->message);
  if (netlink == NULL)
    return;
  if (self->config->host_interface)
    marina_netlink_set_master (netlink, self->config->host_interface, NULL, NULL);
  marina_netlink_link_delete (netlink, veth, NULL);
  remove_netns (self);
  marina_netlink_link_delete (netlink, self->bridge, NULL);
}

static void
set_active (MarinaNetwork *self, gboolean active)
{
  self->active = active;
  if (active)
    g_file_set_contents (self->active_marker, "", 0, NULL);
  else
    g_unlink (self->active_marker);
  g_clear_handle_id (&self->stats_id, g_source_remove);
  if (active && !user_networking (self))
    self->stats_id = g_timeout_add_seconds (STATS_INTERVAL_SECONDS, refresh_stats, self);
  sync_properties (self);
}

/* User-mode networking has nothing on the host to make: each machine's QEMU
 * carries its own NAT. */
gboolean
marina_network_start (MarinaNetwork *self, gboolean force, GError **error)
{
  g_autoptr(MarinaNetlink) netlink = NULL;

  if (self->active)
    return TRUE;
  if (!user_networking (self))
    {
      if (g_mkdir_with_parents (self->runtime_dir, 0700) != 0)
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot create %s: %s",
                            self->runtime_dir, g_strerror (errno)), FALSE;
      netlink = marina_netlink_new (-1, error);
      if (netlink == NULL)
        return FALSE;
      if (!plumb (self, netlink, force, error))
        {
          unplumb (self);
          return FALSE;
        }
    }
  self->dhcp_restarts = 0;
  set_active (self, TRUE);
  log_event (self, "info", "started (%s%s%s)", marina_network_kind_to_string (self->config->kind),
             user_networking (self) ? "" : " on bridge ", user_networking (self) ? "" : self->bridge);
  return TRUE;
}

static void
stop (MarinaNetwork *self)
{
  if (!user_networking (self))
    unplumb (self);
  set_active (self, FALSE);
  log_event (self, "info", "stopped");
}

/* After a restart of marinad: the bridge, its addresses and the taps of
 * running machines are still there; make sure of each (the host may have
 * rebooted) and start a DHCP server in place of the old one. */
void
marina_network_resume (MarinaNetwork *self)
{
  g_autoptr(GError) error = NULL;

  if (!marina_network_start (self, TRUE, &error))
    log_event (self, "error", "does not come back: %s", error->message);
}

gboolean
marina_network_was_active (MarinaNetwork *self)
{
  return g_file_test (self->active_marker, G_FILE_TEST_EXISTS);
}

/* ---- machines on it ---- */

/* "user,..." for QEMU's own NAT (marinad --session). Values are validated
 * addresses and port numbers. */
char *
marina_network_user_backend (MarinaNetwork *self)
{
  const MarinaNetworkConfig *config = self->config;
  g_autofree char *subnet = subnet_of (config);
  GString *backend = g_string_new ("user");

  g_string_append_printf (backend, ",net=%s,host=%s", subnet, config->address);
  if (config->dhcp)
    g_string_append_printf (backend, ",dhcpstart=%s", config->dhcp_start);
  for (guint i = 0; config->port_forwards[i]; i++)
    {
      g_auto(GStrv) parts = g_strsplit (config->port_forwards[i], ":", 3);
      g_string_append_printf (backend, ",hostfwd=%s:127.0.0.1:%s-:%s", parts[0], parts[1],
                              parts[2]);
    }
  return g_string_free (backend, FALSE);
}

void
marina_network_set_attached (MarinaNetwork *self, const char *const *machines)
{
  marina_dbus_network_set_attached_machines (MARINA_DBUS_NETWORK (self), machines);
}

static gboolean
refuse_if_used (MarinaNetwork *self, gboolean running_only, const char *what, GError **error)
{
  g_auto(GStrv) users = marina_manager_network_users (self->manager, self->config->id,
                                                      running_only);
  g_autofree char *names = NULL;

  if (users[0] == NULL)
    return TRUE;
  names = g_strjoinv ("', '", users);
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
               "Cannot %s network '%s': %s '%s' %s on it; %s", what, self->config->name,
               users[1] ? "machines" : "machine", names, users[1] ? "have adapters" : "has an adapter",
               running_only ? "turn them off, move their adapters or pass force=true"
                            : "remove or move those adapters first");
  return FALSE;
}

/* ---- D-Bus ---- */

static gboolean
return_error (GDBusMethodInvocation *invocation, GError *error)
{
  g_dbus_method_invocation_take_error (invocation, error);
  return TRUE;
}

gboolean
marina_network_save (MarinaNetwork *self, GError **error)
{
  g_autofree char *xml = marina_network_config_to_xml (self->config);

  return g_file_set_contents_full (self->config_path, xml, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                   0640, error);
}

static gboolean
handle_start (MarinaDBusNetwork *iface, GDBusMethodInvocation *invocation)
{
  MarinaNetwork *self = MARINA_NETWORK (iface);
  GError *error = NULL;

  if (!marina_network_start (self, FALSE, &error))
    return return_error (invocation, error);
  marina_dbus_network_complete_start (iface, invocation);
  return TRUE;
}

static gboolean
lookup_force (GVariant *options, gboolean *force, GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  *force = FALSE;
  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr(GVariant) owned = value;
      if (!g_str_equal (key, "force"))
        return marina_error_invalid (error, "Option '%s' is not known; Stop takes 'force'", key);
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        return marina_error_invalid (error, "Option 'force' must be of type 'b'");
      *force = g_variant_get_boolean (value);
    }
  return TRUE;
}

static gboolean
handle_stop (MarinaDBusNetwork *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  MarinaNetwork *self = MARINA_NETWORK (iface);
  GError *error = NULL;
  gboolean force;

  if (!lookup_force (options, &force, &error) ||
      (!force && !refuse_if_used (self, TRUE, "stop", &error)))
    return return_error (invocation, error);
  if (self->active)
    stop (self);
  marina_dbus_network_complete_stop (iface, invocation);
  return TRUE;
}

static gboolean
handle_delete (MarinaDBusNetwork *iface, GDBusMethodInvocation *invocation)
{
  MarinaNetwork *self = MARINA_NETWORK (iface);
  g_autoptr(MarinaNetwork) keep = g_object_ref (self);
  GError *error = NULL;

  if (!refuse_if_used (self, FALSE, "delete", &error))
    return return_error (invocation, error);
  if (self->active)
    stop (self);
  if (g_unlink (self->config_path) != 0 && errno != ENOENT)
    return return_error (invocation, g_error_new (MARINA_ERROR, MARINA_ERROR_FAILED,
                                                  "Cannot remove %s: %s", self->config_path,
                                                  g_strerror (errno)));
  g_unlink (self->lease_file);
  log_event (self, "info", "deleted");
  marina_dbus_network_complete_delete (iface, invocation);
  marina_manager_forget_network (self->manager, self->config->id);
  return TRUE;
}

/* What cannot change under running machines: where their taps are. */
static gboolean
plumbing_differs (const MarinaNetworkConfig *a, const MarinaNetworkConfig *b)
{
  g_autofree char *bridge_a = marina_network_config_bridge_name (a);
  g_autofree char *bridge_b = marina_network_config_bridge_name (b);

  return !g_str_equal (bridge_a, bridge_b) || g_strcmp0 (a->address, b->address) != 0 ||
         a->prefix != b->prefix || g_strcmp0 (a->host_interface, b->host_interface) != 0 ||
         a->dhcp != b->dhcp;
}

static gboolean
check_configure (MarinaNetwork *self, GVariant *options, MarinaNetworkConfig *config,
                 GError **error)
{
  g_autoptr(GVariant) kind = g_variant_lookup_value (options, "kind", NULL);

  if (kind != NULL)
    return marina_error_invalid (error, "The kind of a network cannot change; create another "
                                 "network"), FALSE;
  return marina_network_config_apply_options (config, options, error) &&
         marina_network_config_validate (config, error) &&
         marina_manager_check_network_name_free (self->manager, config->name, config->id, error);
}

static gboolean
apply_config (MarinaNetwork *self, MarinaNetworkConfig *config, GError **error)
{
  gboolean replug = self->active && !user_networking (self) &&
                    plumbing_differs (self->config, config);
  gboolean was_active = self->active;

  if (replug && !refuse_if_used (self, TRUE, "re-address", error))
    return FALSE;
  if (replug)
    stop (self);
  marina_network_config_free (self->config);
  self->config = config;
  g_free (self->bridge);
  self->bridge = marina_network_config_bridge_name (config);
  if (!marina_network_save (self, error))
    return FALSE;
  if (replug && was_active)
    return marina_network_start (self, FALSE, error);
  if (was_active && self->dnsmasq)
    start_dhcp (self);  /* new ranges, reservations, PXE: leases stay */
  sync_properties (self);
  return TRUE;
}

static gboolean
handle_configure (MarinaDBusNetwork *iface, GDBusMethodInvocation *invocation, GVariant *options)
{
  MarinaNetwork *self = MARINA_NETWORK (iface);
  g_autoptr(MarinaNetworkConfig) config = marina_network_config_copy (self->config);
  GError *error = NULL;

  if (!check_configure (self, options, config, &error) ||
      !apply_config (self, g_steal_pointer (&config), &error))
    return return_error (invocation, error);
  log_event (self, "info", "configuration changed");
  marina_dbus_network_complete_configure (iface, invocation);
  return TRUE;
}

static gboolean
handle_get_config (MarinaDBusNetwork *iface, GDBusMethodInvocation *invocation)
{
  MarinaNetwork *self = MARINA_NETWORK (iface);
  g_autofree char *xml = marina_network_config_to_xml (self->config);

  marina_dbus_network_complete_get_config (iface, invocation, xml);
  return TRUE;
}

static gboolean
handle_get_leases (MarinaDBusNetwork *iface, GDBusMethodInvocation *invocation)
{
  MarinaNetwork *self = MARINA_NETWORK (iface);

  marina_dbus_network_complete_get_leases (iface, invocation,
                                           marina_dnsmasq_read_leases (self->lease_file));
  return TRUE;
}

static gboolean
handle_get_access (MarinaDBusNetwork *iface, GDBusMethodInvocation *invocation)
{
  MarinaNetwork *self = MARINA_NETWORK (iface);

  marina_dbus_network_complete_get_access (iface, invocation,
                                           marina_access_list_to_variant (self->config->access));
  return TRUE;
}

static gboolean
handle_set_access (MarinaDBusNetwork *iface, GDBusMethodInvocation *invocation, GVariant *access)
{
  MarinaNetwork *self = MARINA_NETWORK (iface);
  g_autoptr(GPtrArray) list = marina_access_list_from_variant (access);
  GError *error = NULL;

  if (!marina_access_list_validate (list, MARINA_ACCESS_SCOPE_OBJECT, &error) ||
      !marina_access_list_check_accounts (list, &error))
    return return_error (invocation, error);
  g_ptr_array_unref (self->config->access);
  self->config->access = g_steal_pointer (&list);
  if (!marina_network_save (self, &error))
    return return_error (invocation, error);
  log_event (self, "info", "access list changed");
  marina_dbus_network_complete_set_access (iface, invocation);
  return TRUE;
}

GPtrArray *
marina_network_get_access (MarinaNetwork *self)
{
  return self->config->access;
}

static void
marina_network_iface_init (MarinaDBusNetworkIface *iface)
{
  iface->handle_start = handle_start;
  iface->handle_stop = handle_stop;
  iface->handle_delete = handle_delete;
  iface->handle_configure = handle_configure;
  iface->handle_get_config = handle_get_config;
  iface->handle_get_leases = handle_get_leases;
  iface->handle_get_access = handle_get_access;
  iface->handle_set_access = handle_set_access;
}

/* ---- object ---- */

const MarinaNetworkConfig *
marina_network_get_config (MarinaNetwork *self)
{
  return self->config;
}

const char *
marina_network_get_object_path (MarinaNetwork *self)
{
  return self->object_path;
}

const char *
marina_network_get_bridge (MarinaNetwork *self)
{
  return self->bridge;
}

gboolean
marina_network_is_active (MarinaNetwork *self)
{
  return self->active;
}

static void
marina_network_dispose (GObject *object)
{
  MarinaNetwork *self = MARINA_NETWORK (object);

  g_clear_handle_id (&self->stats_id, g_source_remove);
  /* marinad ends: the network stays up for the machines on it; only our
   * watch of its DHCP server ends (the next marinad replaces it). */
  if (self->dnsmasq)
    g_signal_handlers_disconnect_by_data (self->dnsmasq, self);
  g_clear_object (&self->dnsmasq);
  G_OBJECT_CLASS (marina_network_parent_class)->dispose (object);
}

static void
marina_network_finalize (GObject *object)
{
  MarinaNetwork *self = MARINA_NETWORK (object);

  if (self->netns_fd >= 0)
    close (self->netns_fd);
  marina_network_config_free (self->config);
  g_free (self->object_path);
  g_free (self->config_path);
  g_free (self->active_marker);
  g_free (self->lease_file);
  g_free (self->runtime_dir);
  g_free (self->bridge);
  G_OBJECT_CLASS (marina_network_parent_class)->finalize (object);
}

static void
marina_network_class_init (MarinaNetworkClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = marina_network_dispose;
  G_OBJECT_CLASS (klass)->finalize = marina_network_finalize;
  marina_authorizer_guard_class (G_DBUS_INTERFACE_SKELETON_CLASS (klass));
}

static void
marina_network_init (MarinaNetwork *self)
{
  self->netns_fd = -1;
}

/* @state_dir: the service's; the network keeps its files in networks/ below. */
MarinaNetwork *
marina_network_new (MarinaManager *manager, MarinaNetworkConfig *config, const char *state_dir)
{
  MarinaNetwork *self = g_object_new (MARINA_TYPE_NETWORK, NULL);
  const MarinaSettings *settings = marina_manager_get_settings (manager);
  g_autofree char *base = g_build_filename (state_dir, "networks", config->id, NULL);

  self->manager = manager;
  self->config = config;
  self->object_path = g_strconcat (MARINA_NETWORK_PATH_PREFIX, config->id, NULL);
  self->config_path = g_strconcat (base, ".xml", NULL);
  self->active_marker = g_strconcat (base, ".active", NULL);
  self->lease_file = g_strconcat (base, ".leases", NULL);
  self->runtime_dir = g_build_filename (settings->runtime_dir, "networks", config->id, NULL);
  self->bridge = marina_network_config_bridge_name (config);
  sync_properties (self);
  return self;
}
