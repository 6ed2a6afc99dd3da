/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-fuzz"
#include "config.h"

#include <stdlib.h>

#include "fuzz.h"
#include "marina-error.h"
#include "marina-machine-config.h"

/* The machine XML parser, as DefineMachine, SetConfig and RegisterMachine
 * feed it. Besides crashes it checks what callers rely on: every refusal is
 * InvalidArgument with a message that can travel over D-Bus (valid UTF-8),
 * and an accepted configuration writes out and reads back unchanged. */

static void
check_refusal (const GError *error)
{
  if (!g_error_matches (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT) ||
      !g_utf8_validate (error->message, -1, NULL))
    {
      g_printerr ("Bad refusal: %s\n", error->message);
      abort ();
    }
}

static void
check_round_trip (const MarinaMachineConfig *config)
{
  g_autofree char *xml = marina_machine_config_to_xml (config);
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaMachineConfig) again = marina_machine_config_from_xml (xml, -1, &error);

  if (again == NULL || !marina_machine_config_equal (config, again))
    {
      g_printerr ("Accepted configuration does not read back: %s\n%s\n",
                  error ? error->message : "it differs", xml);
      abort ();
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaMachineConfig) config = NULL;

  marina_fuzz_setup ();
  config = marina_machine_config_from_xml ((const char *) data, (gssize) size, &error);
  if (config == NULL)
    check_refusal (error);
  else
    check_round_trip (config);
  return 0;
}
