/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-nm"
#include "config.h"

#include <NetworkManager.h>

#include "marina-error.h"
#include "marina-nm.h"

#define NM_BUS_NAME "org.freedesktop.NetworkManager"
#define NM_TIMEOUT_SECONDS 20
#define PROFILE_PREFIX "marina-"

/* libnm answers asynchronously on the context its client was made in; a
 * private context keeps those calls from running marinad's other sources
 * meanwhile, and lets these functions return only when NM has answered. */
typedef struct {
  GMainContext *context;
  GAsyncResult *result;
} Waiter;

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Waiter *waiter = user_data;

  waiter->result = g_object_ref (result);
}

static GAsyncResult *
wait_for (Waiter *waiter)
{
  gint64 deadline = g_get_monotonic_time () + NM_TIMEOUT_SECONDS * G_USEC_PER_SEC;

  while (waiter->result == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (waiter->context, TRUE);
  return g_steal_pointer (&waiter->result);
}

gboolean
marina_nm_is_running (void)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  gboolean has_owner = FALSE;

  if (bus == NULL)
    return FALSE;
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", NM_BUS_NAME), G_VARIANT_TYPE ("(b)"),
                                       G_DBUS_CALL_FLAGS_NONE, 2000, NULL, NULL);
  if (reply)
    g_variant_get (reply, "(b)", &has_owner);
  return has_owner;
}

static NMClient *
client_new (GMainContext *context, GError **error)
{
  NMClient *client;

  g_main_context_push_thread_default (context);
  client = nm_client_new (NULL, error);
  g_main_context_pop_thread_default (context);
  return client;
}

/* Best effort: a bridge NM manages anyway still works, NM just shows it. */
void
marina_nm_set_unmanaged (const char *interface)
{
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(NMClient) client = NULL;
  NMDevice *device;

  if (!marina_nm_is_running ())
    return;
  context = g_main_context_new ();
  client = client_new (context, NULL);
  device = client ? nm_client_get_device_by_iface (client, interface) : NULL;
  if (device == NULL)
    return;
  g_main_context_push_thread_default (context);
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  nm_device_set_managed (device, FALSE);
  G_GNUC_END_IGNORE_DEPRECATIONS
  g_main_context_pop_thread_default (context);
  /* Let the property change go out before the client goes. */
  while (g_main_context_iteration (context, FALSE))
    ;
}

static NMConnection *
profile_new (const char *id, const char *interface, const char *type)
{
  NMConnection *connection = nm_simple_connection_new ();
  NMSetting *setting = nm_setting_connection_new ();
  g_autofree char *uuid = nm_utils_uuid_generate ();

  g_object_set (setting, NM_SETTING_CONNECTION_ID, id, NM_SETTING_CONNECTION_UUID, uuid,
                NM_SETTING_CONNECTION_INTERFACE_NAME, interface,
                NM_SETTING_CONNECTION_TYPE, type,
                NM_SETTING_CONNECTION_AUTOCONNECT, TRUE, NULL);
  nm_connection_add_setting (connection, setting);
  return connection;
}

/* The bridge takes the interface's place: addresses by DHCP, as the usual
 * office network gives them, and no spanning tree delay. */
static NMConnection *
bridge_profile (const char *bridge)
{
  g_autofree char *id = g_strconcat (PROFILE_PREFIX, bridge, NULL);
  NMConnection *connection = profile_new (id, bridge, NM_SETTING_BRIDGE_SETTING_NAME);
  NMSetting *ipv4 = nm_setting_ip4_config_new ();
  NMSetting *ipv6 = nm_setting_ip6_config_new ();
  NMSetting *settings = nm_setting_bridge_new ();

  g_object_set (settings, NM_SETTING_BRIDGE_STP, FALSE, NULL);
  g_object_set (ipv4, NM_SETTING_IP_CONFIG_METHOD, NM_SETTING_IP4_CONFIG_METHOD_AUTO, NULL);
  g_object_set (ipv6, NM_SETTING_IP_CONFIG_METHOD, NM_SETTING_IP6_CONFIG_METHOD_AUTO, NULL);
  nm_connection_add_setting (connection, settings);
  nm_connection_add_setting (connection, ipv4);
  nm_connection_add_setting (connection, ipv6);
  return connection;
}

static NMConnection *
port_profile (const char *bridge, const char *interface)
{
  g_autofree char *id = g_strconcat (PROFILE_PREFIX, bridge, "-", interface, NULL);
  NMConnection *connection = profile_new (id, interface, NM_SETTING_WIRED_SETTING_NAME);
  NMSetting *base = NM_SETTING (nm_connection_get_setting_connection (connection));

  g_object_set (base, NM_SETTING_CONNECTION_MASTER, bridge,
                NM_SETTING_CONNECTION_SLAVE_TYPE, NM_SETTING_BRIDGE_SETTING_NAME, NULL);
  nm_connection_add_setting (connection, nm_setting_wired_new ());
  return connection;
}

static gboolean
timed_out (GError **error)
{
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
               "NetworkManager did not answer within %d s", NM_TIMEOUT_SECONDS);
  return FALSE;
}

/* Added first, then activated: NM's AddAndActivateConnection looks for an
 * existing device and so refuses a bridge that is yet to be made. */
static gboolean
add_and_activate (NMClient *client, Waiter *waiter, NMConnection *connection, GError **error)
{
  g_autoptr(GAsyncResult) added = NULL;
  g_autoptr(GAsyncResult) activated = NULL;
  g_autoptr(NMRemoteConnection) remote = NULL;
  g_autoptr(NMActiveConnection) active = NULL;

  g_main_context_push_thread_default (waiter->context);
  nm_client_add_connection_async (client, connection, TRUE, NULL, on_done, waiter);
  g_main_context_pop_thread_default (waiter->context);
  added = wait_for (waiter);
  if (added == NULL)
    return timed_out (error);
  remote = nm_client_add_connection_finish (client, added, error);
  if (remote == NULL)
    return FALSE;
  g_main_context_push_thread_default (waiter->context);
  nm_client_activate_connection_async (client, NM_CONNECTION (remote), NULL, NULL, NULL, on_done,
                                       waiter);
  g_main_context_pop_thread_default (waiter->context);
  activated = wait_for (waiter);
  if (activated == NULL)
    return timed_out (error);
  active = nm_client_activate_connection_finish (client, activated, error);
  return active != NULL;
}

gboolean
marina_nm_bridge_interface (const char *bridge, const char *interface, GError **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(NMClient) client = client_new (context, error);
  g_autoptr(NMConnection) bridge_connection = NULL;
  g_autoptr(NMConnection) port_connection = NULL;
  Waiter waiter = { .context = context };

  if (client == NULL)
    return FALSE;
  bridge_connection = bridge_profile (bridge);
  port_connection = port_profile (bridge, interface);
  if (!add_and_activate (client, &waiter, bridge_connection, error) ||
      !add_and_activate (client, &waiter, port_connection, error))
    {
      marina_nm_unbridge_interface (bridge);
      return FALSE;
    }
  return TRUE;
}

/* Removes the profiles marinad added for @bridge; NM then brings the
 * interface's own profile back. */
void
marina_nm_unbridge_interface (const char *bridge)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(NMClient) client = client_new (context, NULL);
  g_autofree char *prefix = g_strconcat (PROFILE_PREFIX, bridge, NULL);
  g_autoptr(GPtrArray) ours = g_ptr_array_new_with_free_func (g_object_unref);
  const GPtrArray *connections;

  if (client == NULL)
    return;
  /* Picked first: the client's own list changes (and drops its references)
   * as NM reports each deletion while we wait. */
  connections = nm_client_get_connections (client);
  for (guint i = 0; i < connections->len; i++)
    if (g_str_has_prefix (nm_connection_get_id (NM_CONNECTION (connections->pdata[i])), prefix))
      g_ptr_array_add (ours, g_object_ref (connections->pdata[i]));
  for (guint i = 0; i < ours->len; i++)
    {
      NMRemoteConnection *connection = ours->pdata[i];
      Waiter waiter = { .context = context };
      g_autoptr(GAsyncResult) result = NULL;

      g_main_context_push_thread_default (context);
      nm_remote_connection_delete_async (connection, NULL, on_done, &waiter);
      g_main_context_pop_thread_default (context);
      result = wait_for (&waiter);
      if (result)
        nm_remote_connection_delete_finish (connection, result, NULL);
    }
}
