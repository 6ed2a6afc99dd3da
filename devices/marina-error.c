/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include "marina-error.h"

static const GDBusErrorEntry marina_error_entries[] = {
  { MARINA_ERROR_INVALID_ARGUMENT, "org.marinavm.Marina1.Error.InvalidArgument" },
  { MARINA_ERROR_INVALID_STATE, "org.marinavm.Marina1.Error.InvalidState" },
  { MARINA_ERROR_NOT_FOUND, "org.marinavm.Marina1.Error.NotFound" },
  { MARINA_ERROR_EXISTS, "org.marinavm.Marina1.Error.Exists" },
  { MARINA_ERROR_INSUFFICIENT_RESOURCES, "org.marinavm.Marina1.Error.InsufficientResources" },
  { MARINA_ERROR_BUSY, "org.marinavm.Marina1.Error.Busy" },
  { MARINA_ERROR_FAILED, "org.marinavm.Marina1.Error.Failed" },
  { MARINA_ERROR_CANCELLED, "org.marinavm.Marina1.Error.Cancelled" },
};

GQuark
marina_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("marina-error-quark", &quark,
                                      marina_error_entries,
                                      G_N_ELEMENTS (marina_error_entries));
  return (GQuark) quark;
}

/* Sets an InvalidArgument error and returns FALSE, so that validators read
 * as one line per rule. */
gboolean
marina_error_invalid (GError **error, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                                                format, args));
  va_end (args);
  return FALSE;
}
