/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What a virtual network connects to, as Virtual Server's network kinds. */
typedef enum {
  MARINA_NETWORK_INTERNAL, /* machines only; the host has no address on it */
  MARINA_NETWORK_HOST,     /* machines and the host (Virtual Server's loopback adapter) */
  MARINA_NETWORK_NAT,      /* host address plus masquerade outward */
  MARINA_NETWORK_EXTERNAL, /* bridged to a host Ethernet interface */
} MarinaNetworkKind;

#define MARINA_NETWORK_CONFIG_MAX_BYTES (256 * 1024)
#define MARINA_NETWORK_RESERVATIONS_MAX 1024
#define MARINA_NETWORK_DNS_MAX 4
#define MARINA_NETWORK_PORT_FORWARDS_MAX 64

/* A static DHCP reservation: this MAC always gets this address. */
typedef struct {
  char *mac;       /* lowercase, colons */
  char *address;   /* IPv4 literal inside the network */
  char *hostname;  /* may be NULL */
} MarinaDhcpHost;

/* A network's configuration: a plain value, like a machine's. Every string
 * is owned by the record. */
typedef struct {
  char *id;              /* 32 lowercase hex digits */
  char *name;            /* as a machine name */
  MarinaNetworkKind kind;
  char *bridge;          /* host bridge interface; NULL: "mrn" + the id's first 8 digits */
  char *host_interface;  /* external: the host Ethernet interface bridged */
  char *address;         /* IPv4: the host's (host, nat) or the DHCP server's (internal) */
  guint prefix;          /* 8 to 30 */
  gboolean dhcp;         /* a DHCP server on the network */
  char *dhcp_start;      /* first and last address handed out */
  char *dhcp_end;
  char *gateway;         /* offered router; NULL: the host's address for nat, none otherwise */
  GStrv dns_servers;     /* offered DNS servers; never NULL, may be empty */
  guint lease_time;      /* seconds, 120 to 31536000 */
  GPtrArray *reservations;  /* of MarinaDhcpHost; never NULL */
  char *pxe_root;        /* TFTP root of a PXE server, or NULL */
  char *pxe_boot_file;   /* relative to pxe_root */
  GStrv port_forwards;   /* session nat: "tcp:HOSTPORT:GUESTPORT"; never NULL */
  GPtrArray *access;     /* of MarinaAccessEntry; never NULL */
} MarinaNetworkConfig;

MarinaNetworkConfig *marina_network_config_new      (void);
MarinaNetworkConfig *marina_network_config_copy     (const MarinaNetworkConfig *config);
void                 marina_network_config_free     (MarinaNetworkConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MarinaNetworkConfig, marina_network_config_free)

const char *marina_network_kind_to_string   (MarinaNetworkKind kind);
gboolean    marina_network_kind_from_string (const char        *string,
                                             MarinaNetworkKind *kind,
                                             GError           **error);

void        marina_network_config_set_defaults (MarinaNetworkConfig *config,
                                                guint                subnet_number);
gboolean    marina_network_config_apply_options (MarinaNetworkConfig *config,
                                                 GVariant            *options,
                                                 GError             **error);
gboolean    marina_network_config_validate  (const MarinaNetworkConfig *config,
                                             GError                   **error);
char       *marina_network_config_bridge_name (const MarinaNetworkConfig *config);
gboolean    marina_network_config_has_host_address (const MarinaNetworkConfig *config);
char       *marina_network_config_gateway   (const MarinaNetworkConfig *config);
gboolean    marina_network_config_same_subnet (const MarinaNetworkConfig *config,
                                               const char                *address);

MarinaNetworkConfig *marina_network_config_from_xml  (const char *xml,
                                                      gssize      length,
                                                      GError    **error);
char                *marina_network_config_to_xml    (const MarinaNetworkConfig *config);
MarinaNetworkConfig *marina_network_config_load_file (const char *path,
                                                      GError    **error);

gboolean    marina_validate_interface_name  (const char *what,
                                             const char *name,
                                             GError    **error);
gboolean    marina_validate_port_forward    (const char *rule,
                                             GError    **error);

G_END_DECLS
