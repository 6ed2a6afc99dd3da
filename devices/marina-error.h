/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* One error domain for all of Marina; each code maps to the D-Bus error
 * org.marinavm.Marina1.Error.<Name> so that clients see typed errors. */
typedef enum {
  MARINA_ERROR_INVALID_ARGUMENT,
  MARINA_ERROR_INVALID_STATE,
  MARINA_ERROR_NOT_FOUND,
  MARINA_ERROR_EXISTS,
  MARINA_ERROR_INSUFFICIENT_RESOURCES,
  MARINA_ERROR_BUSY,
  MARINA_ERROR_FAILED,
  MARINA_ERROR_CANCELLED,
} MarinaError;

#define MARINA_ERROR (marina_error_quark ())
GQuark   marina_error_quark   (void);
gboolean marina_error_invalid (GError    **error,
                               const char *format,
                               ...) G_GNUC_PRINTF (2, 3);

G_END_DECLS
