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

/**
 * marina_error_invalid:
 *
 * Sets an InvalidArgument error; for the many checks that refuse and
 * return at once (`return marina_error_invalid (error, "…", …);`).
 *
 * Returns: FALSE
 */
gboolean
marina_error_invalid (GError **error, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT, message);
  return FALSE;
}
