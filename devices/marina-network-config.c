/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-devices"
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "marina-access.h"
#include "marina-error.h"
#include "marina-machine-config.h"
#include "marina-network-config.h"
#include "marina-nic.h"
#include "marina-xml.h"

#define WHAT "Network configuration"
#define NETWORK_NS "http://marinavm.org/ns/network/1"
#define LEASE_TIME_MIN 120
#define LEASE_TIME_MAX (365 * 24 * 3600)

static const char *const kind_names[] = { "internal", "host", "nat", "external", NULL };

/* ---- records ---- */

static MarinaDhcpHost *
dhcp_host_new (const char *mac, const char *address, const char *hostname)
{
  MarinaDhcpHost *host = g_new0 (MarinaDhcpHost, 1);

  host->mac = g_strdup (mac);
  host->address = g_strdup (address);
  host->hostname = hostname && *hostname ? g_strdup (hostname) : NULL;
  return host;
}

static void
dhcp_host_free (MarinaDhcpHost *host)
{
  g_free (host->mac);
  g_free (host->address);
  g_free (host->hostname);
  g_free (host);
}

static GPtrArray *
reservations_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) dhcp_host_free);
}

MarinaNetworkConfig *
marina_network_config_new (void)
{
  MarinaNetworkConfig *config = g_new0 (MarinaNetworkConfig, 1);

  config->id = marina_machine_id_new ();
  config->kind = MARINA_NETWORK_NAT;
  config->prefix = 24;
  config->dhcp = TRUE;
  config->lease_time = 3600;
  config->dns_servers = g_new0 (char *, 1);
  config->port_forwards = g_new0 (char *, 1);
  config->reservations = reservations_new ();
  config->access = marina_access_list_new ();
  return config;
}

MarinaNetworkConfig *
marina_network_config_copy (const MarinaNetworkConfig *config)
{
  MarinaNetworkConfig *copy = g_memdup2 (config, sizeof *config);

  copy->id = g_strdup (config->id);
  copy->name = g_strdup (config->name);
  copy->bridge = g_strdup (config->bridge);
  copy->host_interface = g_strdup (config->host_interface);
  copy->address = g_strdup (config->address);
  copy->dhcp_start = g_strdup (config->dhcp_start);
  copy->dhcp_end = g_strdup (config->dhcp_end);
  copy->gateway = g_strdup (config->gateway);
  copy->dns_servers = g_strdupv (config->dns_servers);
  copy->pxe_root = g_strdup (config->pxe_root);
  copy->pxe_boot_file = g_strdup (config->pxe_boot_file);
  copy->port_forwards = g_strdupv (config->port_forwards);
  copy->reservations = reservations_new ();
  for (guint i = 0; i < config->reservations->len; i++)
    {
      MarinaDhcpHost *host = g_ptr_array_index (config->reservations, i);
      g_ptr_array_add (copy->reservations,
                       dhcp_host_new (host->mac, host->address, host->hostname));
    }
  copy->access = marina_access_list_copy (config->access);
  return copy;
}

void
marina_network_config_free (MarinaNetworkConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->id);
  g_free (config->name);
  g_free (config->bridge);
  g_free (config->host_interface);
  g_free (config->address);
  g_free (config->dhcp_start);
  g_free (config->dhcp_end);
  g_free (config->gateway);
  g_strfreev (config->dns_servers);
  g_free (config->pxe_root);
  g_free (config->pxe_boot_file);
  g_strfreev (config->port_forwards);
  g_ptr_array_unref (config->reservations);
  g_ptr_array_unref (config->access);
  g_free (config);
}

const char *
marina_network_kind_to_string (MarinaNetworkKind kind)
{
  return kind_names[kind];
}

gboolean
marina_network_kind_from_string (const char *string, MarinaNetworkKind *kind, GError **error)
{
  for (guint i = 0; kind_names[i]; i++)
    {
      if (g_strcmp0 (string, kind_names[i]) == 0)
        {
          *kind = (MarinaNetworkKind) i;
          return TRUE;
        }
    }
  return marina_error_invalid (error, "Network kind '%s' is not known; use internal, host, "
                               "nat or external", string ? string : "");
}

/* ---- IPv4 arithmetic ---- */

static gboolean
parse_ipv4 (const char *text, guint32 *address)
{
  struct in_addr in;

  if (text == NULL || inet_pton (AF_INET, text, &in) != 1)
    return FALSE;
  *address = ntohl (in.s_addr);
  return TRUE;
}

static char *
format_ipv4 (guint32 address)
{
  struct in_addr in = { .s_addr = htonl (address) };
  char text[INET_ADDRSTRLEN];

  return g_strdup (inet_ntop (AF_INET, &in, text, sizeof text));
}

static guint32
netmask_of (guint prefix)
{
  return prefix == 0 ? 0 : G_MAXUINT32 << (32 - prefix);
}

/* The upper half of the subnet, up to the last address before broadcast;
 * the lower half stays free for static addresses. */
static void
set_default_range (MarinaNetworkConfig *config)
{
  guint32 address, mask = netmask_of (config->prefix), size;

  if (!parse_ipv4 (config->address, &address) || config->prefix > 30)
    return;
  size = ~mask + 1;
  g_free (config->dhcp_start);
  g_free (config->dhcp_end);
  config->dhcp_start = format_ipv4 ((address & mask) + MAX (size / 2, 2));
  config->dhcp_end = format_ipv4 ((address & mask) + size - 2);
}

/* Network number @subnet_number (0 to 255) of 10.77.0.0/16: a /24 that
 * callers pick so that it collides with no other network of marinad's. */
void
marina_network_config_set_defaults (MarinaNetworkConfig *config, guint subnet_number)
{
  g_free (config->address);
  config->address = g_strdup_printf ("10.77.%u.1", subnet_number & 0xff);
  config->prefix = 24;
  set_default_range (config);
}

gboolean
marina_network_config_same_subnet (const MarinaNetworkConfig *config, const char *address)
{
  guint32 ours, theirs, mask = netmask_of (config->prefix);

  return parse_ipv4 (config->address, &ours) && parse_ipv4 (address, &theirs) &&
         (ours & mask) == (theirs & mask);
}

gboolean
marina_network_config_has_host_address (const MarinaNetworkConfig *config)
{
  return config->kind == MARINA_NETWORK_HOST || config->kind == MARINA_NETWORK_NAT;
}

char *
marina_network_config_gateway (const MarinaNetworkConfig *config)
{
  if (config->gateway != NULL)
    return g_strdup (config->gateway);
  return config->kind == MARINA_NETWORK_NAT ? g_strdup (config->address) : NULL;
}

char *
marina_network_config_bridge_name (const MarinaNetworkConfig *config)
{
  if (config->bridge != NULL)
    return g_strdup (config->bridge);
  return g_strdup_printf ("mrn%.8s", config->id);
}

/* ---- options (CreateNetwork, Configure) ---- */

static gboolean
option_type_error (const char *key, const char *type, GError **error)
{
  return marina_error_invalid (error, "Network option '%s' must be of type '%s'", key, type);
}

static void
replace_string (char **field, const char *value)
{
  g_free (*field);
  *field = value && *value ? g_strdup (value) : NULL;
}

static gboolean
apply_reservations (MarinaNetworkConfig *config, GVariant *value, GError **error)
{
  GVariantIter iter;
  const char *mac, *address, *hostname;
  g_autoptr(GPtrArray) hosts = reservations_new ();

  g_variant_iter_init (&iter, value);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &mac, &address, &hostname))
    {
      g_autofree char *normal = marina_mac_normalize (mac, error);
      if (normal == NULL)
        return FALSE;
      g_ptr_array_add (hosts, dhcp_host_new (normal, address, hostname));
    }
  g_ptr_array_unref (config->reservations);
  config->reservations = g_steal_pointer (&hosts);
  return TRUE;
}

static gboolean
apply_string_option (MarinaNetworkConfig *config, const char *key, GVariant *value,
                     GError **error)
{
  const struct { const char *key; char **field; } fields[] = {
    { "name", &config->name },
    { "bridge", &config->bridge },
    { "host-interface", &config->host_interface },
    { "address", &config->address },
    { "gateway", &config->gateway },
    { "pxe-root", &config->pxe_root },
    { "pxe-boot-file", &config->pxe_boot_file },
  };

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      if (!g_str_equal (key, fields[i].key))
        continue;
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        return option_type_error (key, "s", error);
      replace_string (fields[i].field, g_variant_get_string (value, NULL));
      return TRUE;
    }
  return marina_error_invalid (error, "Network option '%s' is not known", key);
}

static gboolean
apply_option (MarinaNetworkConfig *config, const char *key, GVariant *value, GError **error)
{
  if (g_str_equal (key, "kind"))
    return g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
             ? marina_network_kind_from_string (g_variant_get_string (value, NULL),
                                                &config->kind, error)
             : option_type_error (key, "s", error);
  if (g_str_equal (key, "prefix") || g_str_equal (key, "lease-time"))
    {
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
        return option_type_error (key, "u", error);
      *(key[0] == 'p' ? &config->prefix : &config->lease_time) = g_variant_get_uint32 (value);
      return TRUE;
    }
  if (g_str_equal (key, "dhcp"))
    {
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        return option_type_error (key, "b", error);
      config->dhcp = g_variant_get_boolean (value);
      return TRUE;
    }
  if (g_str_equal (key, "dhcp-range"))
    {
      const char *start, *end;
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE ("(ss)")))
        return option_type_error (key, "(ss)", error);
      g_variant_get (value, "(&s&s)", &start, &end);
      replace_string (&config->dhcp_start, start);
      replace_string (&config->dhcp_end, end);
      return TRUE;
    }
  if (g_str_equal (key, "dns-servers") || g_str_equal (key, "port-forwards"))
    {
      GStrv *field = key[0] == 'd' ? &config->dns_servers : &config->port_forwards;
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
        return option_type_error (key, "as", error);
      g_strfreev (*field);
      *field = g_variant_dup_strv (value, NULL);
      return TRUE;
    }
  if (g_str_equal (key, "reservations"))
    return g_variant_is_of_type (value, G_VARIANT_TYPE ("a(sss)"))
             ? apply_reservations (config, value, error)
             : option_type_error (key, "a(sss)", error);
  return apply_string_option (config, key, value, error);
}

static gboolean
has_option (GVariant *options, const char *key)
{
  g_autoptr(GVariant) value = g_variant_lookup_value (options, key, NULL);

  return value != NULL;
}

/**
 * marina_network_config_apply_options:
 *
 * Applies CreateNetwork's or Configure's options. A new address or prefix
 * without a "dhcp-range" moves the range along. Validation is the caller's
 * next step.
 */
gboolean
marina_network_config_apply_options (MarinaNetworkConfig *config, GVariant *options,
                                     GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;
  gboolean moved, ranged;

  g_return_val_if_fail (g_variant_is_of_type (options, G_VARIANT_TYPE_VARDICT), FALSE);

  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr(GVariant) owned = value;
      if (g_str_equal (key, "force"))
        continue;  /* for the service, not the configuration */
      if (!apply_option (config, key, value, error))
        return FALSE;
    }
  moved = has_option (options, "address") || has_option (options, "prefix");
  ranged = has_option (options, "dhcp-range");
  if (moved && !ranged)
    set_default_range (config);
  /* A bridged network lives on the outside network's addresses and DHCP. */
  if (config->kind == MARINA_NETWORK_EXTERNAL && !has_option (options, "address"))
    g_clear_pointer (&config->address, g_free);
  if (config->kind == MARINA_NETWORK_EXTERNAL && !has_option (options, "dhcp"))
    config->dhcp = FALSE;
  return TRUE;
}

/* ---- validation ---- */

/* Linux interface names: at most 15 bytes (IFNAMSIZ - 1), and nothing that
 * a shell, a dnsmasq option or a path could read differently. */
gboolean
marina_validate_interface_name (const char *what, const char *name, GError **error)
{
  gsize length = name ? strlen (name) : 0;

  if (length == 0 || length > 15)
    return marina_error_invalid (error, "The %s name '%s' must have 1 to 15 characters", what,
                                 name ? name : "");
  for (const char *c = name; *c; c++)
    {
      if (!g_ascii_isalnum (*c) && *c != '_' && *c != '-' && *c != '.')
        return marina_error_invalid (error, "The %s name '%s' may only hold letters, digits, "
                                     "'_', '-' and '.'", what, name);
    }
  if (g_str_equal (name, ".") || g_str_equal (name, ".."))
    return marina_error_invalid (error, "The %s name cannot be '.' or '..'", what);
  return TRUE;
}

/* "tcp:2222:22" or "udp:5353:53": host port 1024 and up (marinad --session
 * cannot bind below), guest port any. */
gboolean
marina_validate_port_forward (const char *rule, GError **error)
{
  g_auto(GStrv) parts = g_strsplit (rule, ":", -1);
  guint64 host_port, guest_port;

  if (g_strv_length (parts) != 3 || (!g_str_equal (parts[0], "tcp") &&
                                     !g_str_equal (parts[0], "udp")) ||
      !g_ascii_string_to_unsigned (parts[1], 10, 1024, 65535, &host_port, NULL) ||
      !g_ascii_string_to_unsigned (parts[2], 10, 1, 65535, &guest_port, NULL))
    return marina_error_invalid (error, "Port forward '%s' is not valid: write PROTOCOL:HOST-PORT:"
                                 "GUEST-PORT, as tcp:2222:22 (host port 1024 to 65535)", rule);
  return TRUE;
}

static gboolean
validate_ipv4 (const char *what, const char *text, guint32 *address, GError **error)
{
  if (!parse_ipv4 (text, address))
    return marina_error_invalid (error, "The %s '%s' is not an IPv4 address such as 10.77.1.1",
                                 what, text ? text : "");
  return TRUE;
}

/* An address that a machine or the host may have on the network: inside the
 * subnet, neither its network nor its broadcast address. */
static gboolean
validate_member (const MarinaNetworkConfig *config, const char *what, const char *text,
                 GError **error)
{
  guint32 ours = 0, address = 0, mask = netmask_of (config->prefix);
  g_autofree char *subnet = NULL;

  if (!validate_ipv4 (what, text, &address, error) || !parse_ipv4 (config->address, &ours))
    return FALSE;
  subnet = format_ipv4 (ours & mask);
  if ((address & mask) != (ours & mask))
    return marina_error_invalid (error, "The %s %s is outside the network %s/%u", what, text,
                                 subnet, config->prefix);
  if ((address & ~mask) == 0 || (address & ~mask) == ~mask)
    return marina_error_invalid (error, "The %s %s is the network's own or broadcast address "
                                 "in %s/%u", what, text, subnet, config->prefix);
  return TRUE;
}

static gboolean
validate_subnet (const MarinaNetworkConfig *config, GError **error)
{
  guint32 address;

  if (config->prefix < 8 || config->prefix > 30)
    return marina_error_invalid (error, "The prefix length %u is not supported; use 8 to 30",
                                 config->prefix);
  if (!validate_ipv4 ("address", config->address, &address, error))
    return FALSE;
  return validate_member (config, "address", config->address, error);
}

static gboolean
validate_range (const MarinaNetworkConfig *config, GError **error)
{
  guint32 start = 0, end = 0, host = 0;

  if (!validate_member (config, "start of the DHCP range", config->dhcp_start, error) ||
      !validate_member (config, "end of the DHCP range", config->dhcp_end, error))
    return FALSE;
  parse_ipv4 (config->dhcp_start, &start);
  parse_ipv4 (config->dhcp_end, &end);
  parse_ipv4 (config->address, &host);
  if (start > end)
    return marina_error_invalid (error, "The DHCP range %s to %s is backwards",
                                 config->dhcp_start, config->dhcp_end);
  if (host >= start && host <= end)
    return marina_error_invalid (error, "The DHCP range %s to %s holds the network's own address "
                                 "%s", config->dhcp_start, config->dhcp_end, config->address);
  return TRUE;
}

static gboolean
validate_hostname (const char *hostname, GError **error)
{
  gsize length = strlen (hostname);

  for (const char *c = hostname; *c; c++)
    {
      if (!g_ascii_isalnum (*c) && *c != '-')
        length = 0;
    }
  if (length == 0 || length > 63 || hostname[0] == '-')
    return marina_error_invalid (error, "Host name '%s' is not valid: 1 to 63 letters, digits "
                                 "and '-', not starting with '-'", hostname);
  return TRUE;
}

static gboolean
validate_reservation (const MarinaNetworkConfig *config, guint index, GError **error)
{
  MarinaDhcpHost *host = g_ptr_array_index (config->reservations, index);
  g_autofree char *mac = marina_mac_normalize (host->mac, error);

  if (mac == NULL || !validate_member (config, "reserved address", host->address, error) ||
      (host->hostname && !validate_hostname (host->hostname, error)))
    return FALSE;
  if (g_str_equal (host->address, config->address))
    return marina_error_invalid (error, "The reserved address %s is the network's own",
                                 host->address);
  for (guint j = 0; j < index; j++)
    {
      MarinaDhcpHost *other = g_ptr_array_index (config->reservations, j);
      if (g_str_equal (other->mac, host->mac) || g_str_equal (other->address, host->address))
        return marina_error_invalid (error, "Reservations %s → %s and %s → %s collide",
                                     other->mac, other->address, host->mac, host->address);
    }
  return TRUE;
}

static gboolean
validate_dns (const MarinaNetworkConfig *config, GError **error)
{
  guint count = g_strv_length (config->dns_servers);

  if (count > MARINA_NETWORK_DNS_MAX)
    return marina_error_invalid (error, "At most %d DNS servers can be offered; %u were given",
                                 MARINA_NETWORK_DNS_MAX, count);
  for (guint i = 0; i < count; i++)
    {
      guint32 address;
      if (!validate_ipv4 ("DNS server", config->dns_servers[i], &address, error))
        return FALSE;
    }
  return TRUE;
}

/* Text that goes into dnsmasq's configuration file, one option per line:
 * no line breaks, no commas (dnsmasq's field separator), nothing outside
 * printable ASCII. */
static gboolean
is_plain_path (const char *path)
{
  for (const char *c = path; *c; c++)
    {
      if (!g_ascii_isalnum (*c) && !strchr ("/._-+", *c))
        return FALSE;
    }
  return strstr (path, "..") == NULL;
}

static gboolean
validate_pxe (const MarinaNetworkConfig *config, GError **error)
{
  if (config->pxe_root == NULL && config->pxe_boot_file == NULL)
    return TRUE;
  if (!config->dhcp)
    return marina_error_invalid (error, "PXE needs the network's DHCP server; turn dhcp on");
  if (config->pxe_root == NULL || config->pxe_boot_file == NULL)
    return marina_error_invalid (error, "PXE needs both pxe-root (a directory) and "
                                 "pxe-boot-file (a file in it)");
  if (!g_path_is_absolute (config->pxe_root) || !is_plain_path (config->pxe_root))
    return marina_error_invalid (error, "The PXE root '%s' must be an absolute path of letters, "
                                 "digits and / . _ - + without '..'", config->pxe_root);
  if (g_path_is_absolute (config->pxe_boot_file) || !is_plain_path (config->pxe_boot_file))
    return marina_error_invalid (error, "The PXE boot file '%s' must be a path inside the PXE "
                                 "root of letters, digits and / . _ - + without '..'",
                                 config->pxe_boot_file);
  return TRUE;
}

static gboolean
validate_port_forwards (const MarinaNetworkConfig *config, GError **error)
{
  guint count = g_strv_length (config->port_forwards);

  if (count > 0 && config->kind != MARINA_NETWORK_NAT)
    return marina_error_invalid (error, "Port forwards are for nat networks only");
  if (count > MARINA_NETWORK_PORT_FORWARDS_MAX)
    return marina_error_invalid (error, "At most %d port forwards; %u were given",
                                 MARINA_NETWORK_PORT_FORWARDS_MAX, count);
  for (guint i = 0; i < count; i++)
    {
      if (!marina_validate_port_forward (config->port_forwards[i], error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
validate_interfaces (const MarinaNetworkConfig *config, GError **error)
{
  if (config->bridge && !marina_validate_interface_name ("bridge", config->bridge, error))
    return FALSE;
  if (config->kind == MARINA_NETWORK_EXTERNAL)
    {
      if (config->host_interface == NULL)
        return marina_error_invalid (error, "An external network needs host-interface: the "
                                     "host Ethernet interface it bridges to");
      return marina_validate_interface_name ("host interface", config->host_interface, error);
    }
  if (config->host_interface != NULL)
    return marina_error_invalid (error, "Only external networks have a host-interface; this one "
                                 "is %s", kind_names[config->kind]);
  return TRUE;
}

static gboolean
validate_addressing (const MarinaNetworkConfig *config, GError **error)
{
  gboolean needs_address = marina_network_config_has_host_address (config) || config->dhcp;

  if (config->kind == MARINA_NETWORK_EXTERNAL && (config->dhcp || config->address))
    return marina_error_invalid (error, "An external network uses the outside network's "
                                 "addresses and DHCP: give it no address and no dhcp");
  if (!needs_address)
    return config->address == NULL || validate_subnet (config, error);
  if (!validate_subnet (config, error))
    return FALSE;
  if (config->gateway && !validate_member (config, "gateway", config->gateway, error))
    return FALSE;
  if (config->lease_time < LEASE_TIME_MIN || config->lease_time > LEASE_TIME_MAX)
    return marina_error_invalid (error, "The lease time %u s is not supported; use %d to %d "
                                 "seconds", config->lease_time, LEASE_TIME_MIN, LEASE_TIME_MAX);
  if (config->dhcp && !validate_range (config, error))
    return FALSE;
  if (config->reservations->len > MARINA_NETWORK_RESERVATIONS_MAX)
    return marina_error_invalid (error, "At most %d DHCP reservations; %u were given",
                                 MARINA_NETWORK_RESERVATIONS_MAX, config->reservations->len);
  for (guint i = 0; i < config->reservations->len; i++)
    {
      if (!validate_reservation (config, i, error))
        return FALSE;
    }
  return validate_dns (config, error);
}

gboolean
marina_network_config_validate (const MarinaNetworkConfig *config, GError **error)
{
  return marina_validate_machine_id (config->id, error) &&
         marina_validate_name ("network", config->name, error) &&
         validate_interfaces (config, error) &&
         validate_addressing (config, error) &&
         validate_pxe (config, error) &&
         validate_port_forwards (config, error) &&
         marina_access_list_validate (config->access, MARINA_ACCESS_SCOPE_OBJECT, error);
}

/* ---- XML ---- */

/* No schema: the document is small and each reader checks what it takes;
 * an element this code does not know is refused, so that a typo is not
 * silently dropped. */
typedef gboolean (*NetworkReader) (MarinaNetworkConfig *config, xmlNodePtr node,
                                   GError **error);

static gboolean
read_name (MarinaNetworkConfig *config, xmlNodePtr node, GError **error)
{
  replace_string (&config->name, NULL);
  config->name = marina_xml_node_text (node);
  return TRUE;
}

static gboolean
read_kind (MarinaNetworkConfig *config, xmlNodePtr node, GError **error)
{
  g_autofree char *text = g_strstrip (marina_xml_node_text (node));

  return marina_network_kind_from_string (text, &config->kind, error);
}

static gboolean
read_bridge (MarinaNetworkConfig *config, xmlNodePtr node, GError **error)
{
  char **field = g_str_equal ((const char *) node->name, "bridge") ? &config->bridge
                                                                    : &config->host_interface;
  g_free (*field);
  *field = marina_xml_node_attribute (node, "name");
  return TRUE;
}

static gboolean
read_ipv4 (MarinaNetworkConfig *config, xmlNodePtr node, GError **error)
{
  g_autofree char *prefix = marina_xml_node_attribute (node, "prefix");

  g_free (config->address);
  config->address = marina_xml_node_attribute (node, "address");
  g_free (config->gateway);
  config->gateway = marina_xml_node_attribute (node, "gateway");
  return prefix == NULL || marina_xml_parse_uint ("prefix length", prefix, &config->prefix, error);
}

static gboolean
read_dhcp_children (MarinaNetworkConfig *config, xmlNodePtr node, GError **error)
{
  g_autoptr(GPtrArray) dns = g_ptr_array_new_with_free_func (g_free);

  for (xmlNodePtr child = node->children; child != NULL; child = child->next)
    {
      g_autofree char *mac = NULL, *address = NULL, *name = NULL;
      if (child->type != XML_ELEMENT_NODE)
        continue;
      if (g_str_equal ((const char *) child->name, "dns"))
        {
          char *server = marina_xml_node_attribute (child, "server");
          if (server == NULL)
            return marina_error_invalid (error, WHAT ": line %ld: <dns> needs a server "
                                         "attribute", xmlGetLineNo (child));
          g_ptr_array_add (dns, server);
          continue;
        }
      mac = marina_xml_node_attribute (child, "mac");
      address = marina_xml_node_attribute (child, "address");
      name = marina_xml_node_attribute (child, "name");
      g_ptr_array_add (config->reservations, dhcp_host_new (mac, address, name));
    }
  g_ptr_array_add (dns, NULL);
  g_strfreev (config->dns_servers);
  g_ptr_array_set_free_func (dns, NULL);
  config->dns_servers = (GStrv) g_ptr_array_steal (dns, NULL);
  return TRUE;
}

static gboolean
read_dhcp (MarinaNetworkConfig *config, xmlNodePtr node, GError **error)
{
  g_autofree char *enabled = marina_xml_node_attribute (node, "enabled");
  g_autofree char *lease = marina_xml_node_attribute (node, "lease-time");

  config->dhcp = g_strcmp0 (enabled, "no") != 0;
  g_free (config->dhcp_start);
  config->dhcp_start = marina_xml_node_attribute (node, "start");
  g_free (config->dhcp_end);
  config->dhcp_end = marina_xml_node_attribute (node, "end");
  if (!read_dhcp_children (config, node, error))
    return FALSE;
  return lease == NULL || marina_xml_parse_uint ("lease time", lease, &config->lease_time, error);
}

static gboolean
read_pxe (MarinaNetworkConfig *config, xmlNodePtr node, GError **error)
{
  g_free (config->pxe_root);
  config->pxe_root = marina_xml_node_attribute (node, "root");
  g_free (config->pxe_boot_file);
  config->pxe_boot_file = marina_xml_node_attribute (node, "boot-file");
  return TRUE;
}

static gboolean
read_port_forward (MarinaNetworkConfig *config, xmlNodePtr node, GError **error)
{
  g_autofree char *rule = marina_xml_node_attribute (node, "rule");
  guint count = g_strv_length (config->port_forwards);

  config->port_forwards = g_renew (char *, config->port_forwards, count + 2);
  config->port_forwards[count] = g_strdup (rule ? rule : "");
  config->port_forwards[count + 1] = NULL;
  return TRUE;
}

static gboolean
read_access (MarinaNetworkConfig *config, xmlNodePtr node, GError **error)
{
  marina_xml_read_access (node, config->access);
  return TRUE;
}

static const struct {
  const char *name;
  NetworkReader read;
} network_readers[] = {
  { "name", read_name },
  { "kind", read_kind },
  { "bridge", read_bridge },
  { "host-interface", read_bridge },
  { "ipv4", read_ipv4 },
  { "dhcp", read_dhcp },
  { "pxe", read_pxe },
  { "port-forward", read_port_forward },
  { "access", read_access },
};

static gboolean
read_network_element (MarinaNetworkConfig *config, xmlNodePtr node, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (network_readers); i++)
    {
      if (g_str_equal ((const char *) node->name, network_readers[i].name))
        return network_readers[i].read (config, node, error);
    }
  return marina_error_invalid (error, WHAT ": line %ld: element <%s> is not known (known: name, "
                               "kind, bridge, host-interface, ipv4, dhcp, pxe, port-forward, "
                               "access)", xmlGetLineNo (node), (const char *) node->name);
}

static MarinaNetworkConfig *
network_from_document (xmlDocPtr doc, GError **error)
{
  g_autoptr(MarinaNetworkConfig) config = marina_network_config_new ();
  xmlNodePtr root = xmlDocGetRootElement (doc);
  g_autofree char *id = marina_xml_node_attribute (root, "id");

  if (!g_str_equal ((const char *) root->name, "network"))
    return marina_error_invalid (error, WHAT ": the root element must be <network>, not <%s>",
                                 (const char *) root->name), NULL;
  config->dhcp = FALSE;  /* as written: <dhcp> turns it on */
  if (id != NULL)
    replace_string (&config->id, id);
  for (xmlNodePtr node = root->children; node != NULL; node = node->next)
    {
      if (node->type == XML_ELEMENT_NODE && !read_network_element (config, node, error))
        return NULL;
    }
  if (!marina_network_config_validate (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

MarinaNetworkConfig *
marina_network_config_from_xml (const char *xml, gssize length, GError **error)
{
  MarinaXmlTrap trap;
  MarinaNetworkConfig *config = NULL;
  gsize size = length < 0 ? strlen (xml) : (gsize) length;
  xmlDocPtr doc;

  if (!marina_xml_check_size (WHAT, size, MARINA_NETWORK_CONFIG_MAX_BYTES, error))
    return NULL;
  marina_xml_trap_begin (&trap, NULL);
  doc = marina_xml_parse (WHAT, xml, size, &trap, error);
  if (doc != NULL)
    config = network_from_document (doc, error);
  g_clear_pointer (&doc, xmlFreeDoc);
  marina_xml_trap_end (&trap);
  return config;
}

static xmlNodePtr
add_element (xmlNodePtr parent, const char *name)
{
  return xmlNewChild (parent, parent->ns, (const xmlChar *) name, NULL);
}

static void
set_optional (xmlNodePtr node, const char *name, const char *value)
{
  if (value != NULL)
    marina_xml_set_attribute (node, name, value);
}

static void
add_dhcp (xmlNodePtr root, const MarinaNetworkConfig *config)
{
  xmlNodePtr dhcp;

  if (!config->dhcp)
    return;
  dhcp = add_element (root, "dhcp");
  set_optional (dhcp, "start", config->dhcp_start);
  set_optional (dhcp, "end", config->dhcp_end);
  marina_xml_set_uint_attribute (dhcp, "lease-time", config->lease_time);
  for (guint i = 0; config->dns_servers[i]; i++)
    marina_xml_set_attribute (add_element (dhcp, "dns"), "server", config->dns_servers[i]);
  for (guint i = 0; i < config->reservations->len; i++)
    {
      MarinaDhcpHost *host = g_ptr_array_index (config->reservations, i);
      xmlNodePtr node = add_element (dhcp, "host");
      marina_xml_set_attribute (node, "mac", host->mac);
      marina_xml_set_attribute (node, "address", host->address);
      set_optional (node, "name", host->hostname);
    }
}

static void
add_addressing (xmlNodePtr root, const MarinaNetworkConfig *config)
{
  xmlNodePtr node;

  if (config->address == NULL)
    return;
  node = add_element (root, "ipv4");
  marina_xml_set_attribute (node, "address", config->address);
  marina_xml_set_uint_attribute (node, "prefix", config->prefix);
  set_optional (node, "gateway", config->gateway);
}

static void
add_pxe (xmlNodePtr root, const MarinaNetworkConfig *config)
{
  xmlNodePtr node;

  if (config->pxe_root == NULL)
    return;
  node = add_element (root, "pxe");
  marina_xml_set_attribute (node, "root", config->pxe_root);
  set_optional (node, "boot-file", config->pxe_boot_file);
}

char *
marina_network_config_to_xml (const MarinaNetworkConfig *config)
{
  xmlNodePtr root = xmlNewDocNode (xmlNewDoc ((const xmlChar *) "1.0"), NULL,
                                   (const xmlChar *) "network", NULL);

  xmlSetNs (root, xmlNewNs (root, (const xmlChar *) NETWORK_NS, NULL));
  marina_xml_set_attribute (root, "id", config->id);
  marina_xml_add_text_child (root, "name", config->name);
  marina_xml_add_text_child (root, "kind", kind_names[config->kind]);
  if (config->bridge)
    marina_xml_set_attribute (add_element (root, "bridge"), "name", config->bridge);
  if (config->host_interface)
    marina_xml_set_attribute (add_element (root, "host-interface"), "name",
                              config->host_interface);
  add_addressing (root, config);
  add_dhcp (root, config);
  add_pxe (root, config);
  for (guint i = 0; config->port_forwards[i]; i++)
    marina_xml_set_attribute (add_element (root, "port-forward"), "rule",
                              config->port_forwards[i]);
  marina_xml_add_access (root, config->access);
  return marina_xml_document_to_string (root);
}

MarinaNetworkConfig *
marina_network_config_load_file (const char *path, GError **error)
{
  g_autoptr(GByteArray) contents = marina_xml_read_file (WHAT, path,
                                                         MARINA_NETWORK_CONFIG_MAX_BYTES, error);
  g_autoptr(GError) local_error = NULL;
  MarinaNetworkConfig *config;

  if (contents == NULL)
    return NULL;
  config = marina_network_config_from_xml (contents->len ? (const char *) contents->data : "",
                                           contents->len, &local_error);
  if (config == NULL)
    g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ", path);
  return config;
}
