/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-nic"
#include "config.h"

#include <unistd.h>

#include "marina-error.h"
#include "marina-netlink.h"
#include "marina-network.h"
#include "marina-nic-plumbing.h"

/* QEMU finds adapter N's tap at fd FIRST_TAP_FD + N: above stdio and the
 * few fds g_spawn() may use, far below anything QEMU opens itself first. */
#define FIRST_TAP_FD 10

/* "mrt" + 8 hex digits of the machine + the adapter's digit: 12 bytes, under
 * IFNAMSIZ, unique per adapter on the host. */
char *
marina_nic_tap_name (const char *machine_id, const char *nic_id)
{
  return g_strdup_printf ("mrt%.8s%c", machine_id, nic_id[strlen (nic_id) - 1]);
}

gboolean
marina_nic_check_network (MarinaManager *manager, const char *network_id, GError **error)
{
  MarinaNetwork *network = marina_manager_get_network (manager, network_id);

  if (network_id == NULL)
    return TRUE;
  if (network == NULL)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                        "Network %s does not exist (it was deleted?); move the adapter to "
                        "another network or to none", network_id), FALSE;
  if (!marina_network_is_active (network))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_STATE,
                        "Network '%s' is not active; start it first (Network.Start)",
                        marina_network_get_config (network)->name), FALSE;
  return TRUE;
}

static gboolean
attach_tap (MarinaNetlink *netlink, const char *tap, MarinaNetwork *network, GError **error)
{
  return marina_netlink_set_master (netlink, tap, network ? marina_network_get_bridge (network)
                                                          : NULL, error) &&
         marina_netlink_link_set_up (netlink, tap, TRUE, error);
}

static gboolean
add_tap (MarinaNicRuntime *runtime, MarinaNetlink *netlink, MarinaManager *manager,
         const char *machine_id, const MarinaNic *nic, GError **error)
{
  g_autofree char *tap = marina_nic_tap_name (machine_id, nic->id);
  int target = FIRST_TAP_FD + (int) runtime->source_fds->len;
  int fd = marina_tap_open (tap, error);

  if (fd < 0)
    return FALSE;
  g_array_append_val (runtime->source_fds, fd);
  g_array_append_val (runtime->target_fds, target);
  g_ptr_array_add (runtime->backends, g_strdup_printf ("tap,fd=%d,vhost=off", target));
  return attach_tap (netlink, tap, marina_manager_get_network (manager, nic->network), error);
}

static gboolean
prepare_taps (MarinaNicRuntime *runtime, MarinaManager *manager,
              const MarinaMachineConfig *config, GError **error)
{
  g_autoptr(MarinaNetlink) netlink = marina_netlink_new (-1, error);

  if (netlink == NULL)
    return FALSE;
  for (guint i = 0; i < config->nics->len; i++)
    {
      if (!add_tap (runtime, netlink, manager, config->id, config->nics->pdata[i], error))
        return FALSE;
    }
  return TRUE;
}

/* A session marinad has no taps: an adapter on a nat network gets QEMU's
 * user-mode NAT, one without a network nothing. */
static void
prepare_user_mode (MarinaNicRuntime *runtime, MarinaManager *manager,
                   const MarinaMachineConfig *config)
{
  for (guint i = 0; i < config->nics->len; i++)
    {
      MarinaNic *nic = config->nics->pdata[i];
      MarinaNetwork *network = marina_manager_get_network (manager, nic->network);
      g_ptr_array_add (runtime->backends, network ? marina_network_user_backend (network) : NULL);
    }
}

/**
 * marina_nic_runtime_prepare:
 *
 * Makes a tap per adapter, on its network's bridge (or on none), for the
 * QEMU about to start. On failure, marina_nic_runtime_clear() undoes it.
 */
gboolean
marina_nic_runtime_prepare (MarinaNicRuntime *runtime, MarinaManager *manager,
                            const MarinaMachineConfig *config, GError **error)
{
  runtime->backends = g_ptr_array_new_with_free_func (g_free);
  runtime->source_fds = g_array_new (FALSE, FALSE, sizeof (int));
  runtime->target_fds = g_array_new (FALSE, FALSE, sizeof (int));
  for (guint i = 0; i < config->nics->len; i++)
    {
      if (!marina_nic_check_network (manager, ((MarinaNic *) config->nics->pdata[i])->network,
                                     error))
        return FALSE;
    }
  if (marina_manager_get_settings (manager)->user_networking)
    prepare_user_mode (runtime, manager, config);
  else if (!prepare_taps (runtime, manager, config, error))
    return FALSE;
  g_ptr_array_add (runtime->backends, NULL);
  return TRUE;
}

void
marina_nic_runtime_clear (MarinaNicRuntime *runtime)
{
  for (guint i = 0; runtime->source_fds && i < runtime->source_fds->len; i++)
    close (g_array_index (runtime->source_fds, int, i));
  g_clear_pointer (&runtime->source_fds, g_array_unref);
  g_clear_pointer (&runtime->target_fds, g_array_unref);
  g_clear_pointer (&runtime->backends, g_ptr_array_unref);
}

/* A running machine's adapter moves: its tap changes bridge. The guest
 * keeps its link; the caller bounces it so that DHCP runs again. */
gboolean
marina_nic_replug (MarinaManager *manager, const char *machine_id, const MarinaNic *nic,
                   GError **error)
{
  g_autofree char *tap = marina_nic_tap_name (machine_id, nic->id);
  g_autoptr(MarinaNetlink) netlink = NULL;

  if (marina_manager_get_settings (manager)->user_networking)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_STATE,
                        "A session marinad cannot move the adapter of a running machine "
                        "(user-mode networking is fixed when QEMU starts); turn it off first"),
           FALSE;
  if (!marina_nic_check_network (manager, nic->network, error))
    return FALSE;
  netlink = marina_netlink_new (-1, error);
  return netlink != NULL &&
         attach_tap (netlink, tap, marina_manager_get_network (manager, nic->network), error);
}
