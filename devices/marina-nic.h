/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Virtual Server's limit, kept so that its machines and scripts carry over. */
#define MARINA_NIC_MAX 4

/* Marina's locally administered prefix (the 0x02 bit of the first byte):
 * "M" for Marina in the second byte. Generated addresses are this plus
 * three random bytes. */
#define MARINA_MAC_PREFIX "02:4d:52"

/* One network adapter of a machine. Strings owned by the record. */
typedef struct {
  char *id;        /* "nic0" to "nic3": stable for the machine's life */
  char *mac;       /* "xx:xx:xx:xx:xx:xx", lowercase */
  char *model;     /* "virtio", "e1000" or "tulip"; NULL: the profile's default */
  char *network;   /* id of the network it is plugged into; NULL: not connected */
  gboolean connected; /* the cable: FALSE shows the guest an unplugged link */
} MarinaNic;

MarinaNic  *marina_nic_new              (void);
MarinaNic  *marina_nic_copy             (const MarinaNic *nic);
void        marina_nic_free             (MarinaNic *nic);
gboolean    marina_nic_equal            (const MarinaNic *a,
                                         const MarinaNic *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MarinaNic, marina_nic_free)

GPtrArray  *marina_nic_list_new         (void);
GPtrArray  *marina_nic_list_copy        (GPtrArray *nics);
gboolean    marina_nic_list_equal       (GPtrArray *a,
                                         GPtrArray *b);
MarinaNic  *marina_nic_list_find        (GPtrArray  *nics,
                                         const char *id);
MarinaNic  *marina_nic_list_find_mac    (GPtrArray  *nics,
                                         const char *mac);
char       *marina_nic_list_free_id     (GPtrArray *nics);
gboolean    marina_nic_list_validate    (GPtrArray *nics,
                                         GError   **error);

char       *marina_mac_generate         (void);
char       *marina_mac_normalize        (const char *mac,
                                         GError    **error);
gboolean    marina_validate_nic_model   (const char *model,
                                         GError    **error);

G_END_DECLS
