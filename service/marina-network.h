/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "marina-dbus-generated.h"
#include "marina-network-config.h"

G_BEGIN_DECLS

#define MARINA_NETWORK_PATH_PREFIX "/org/marinavm/Marina1/Network/"

typedef struct _MarinaManager MarinaManager;

#define MARINA_TYPE_NETWORK (marina_network_get_type ())
G_DECLARE_FINAL_TYPE (MarinaNetwork, marina_network, MARINA, NETWORK, MarinaDBusNetworkSkeleton)

MarinaNetwork             *marina_network_new             (MarinaManager       *manager,
                                                           MarinaNetworkConfig *config,
                                                           const char          *state_dir);
const MarinaNetworkConfig *marina_network_get_config      (MarinaNetwork *self);
const char                *marina_network_get_object_path (MarinaNetwork *self);
const char                *marina_network_get_bridge      (MarinaNetwork *self);
gboolean                   marina_network_is_active       (MarinaNetwork *self);
gboolean                   marina_network_save            (MarinaNetwork *self,
                                                           GError       **error);
gboolean                   marina_network_start           (MarinaNetwork *self,
                                                           gboolean       force,
                                                           GError       **error);
void                       marina_network_resume          (MarinaNetwork *self);
gboolean                   marina_network_was_active      (MarinaNetwork *self);
char                      *marina_network_user_backend    (MarinaNetwork *self);
void                       marina_network_set_attached    (MarinaNetwork      *self,
                                                           const char *const *machines);
GPtrArray                 *marina_network_get_access      (MarinaNetwork *self);

G_END_DECLS
