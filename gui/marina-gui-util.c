/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-gui"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-gui-util.h"

/* What marina and marina-console both show: a machine's state in words and
 * the API's own error messages. */

const char *
marina_gui_state_label (const char *state)
{
  static const struct { const char *state, *label; } labels[] = {
    /* Translators: a virtual machine's state, shown under its name */
    { "off", NC_("state", "Off") }, { "starting", NC_("state", "Starting") },
    { "running", NC_("state", "Running") }, { "paused", NC_("state", "Paused") },
    { "saving", NC_("state", "Saving") }, { "saved", NC_("state", "Saved") },
    { "restoring", NC_("state", "Restoring") }, { "stopping", NC_("state", "Stopping") },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (labels); i++)
    if (g_strcmp0 (state, labels[i].state) == 0)
      return g_dpgettext2 (NULL, "state", labels[i].label);
  return state ? state : _("Not connected");
}

/* The message a person should read: the API's own words, without GDBus's
 * "GDBus.Error:org.marinavm.Marina1.Error.InvalidState: " prefix. */
char *
marina_gui_error_message (const GError *error)
{
  g_autoptr(GError) copy = g_error_copy (error);

  g_dbus_error_strip_remote_error (copy);
  return g_strdup (copy->message);
}

/* --address wins, then --session; the system bus otherwise. */
char *
marina_gui_bus_address (gboolean session_bus, const char *address, GError **error)
{
  if (address)
    return g_strdup (address);
  return g_dbus_address_get_for_bus_sync (session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
                                          NULL, error);
}
