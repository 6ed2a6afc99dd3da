/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-fuzz"
#include "config.h"

#include <stdlib.h>

#include "fuzz.h"
#include "marina-error.h"
#include "marina-network-config.h"

/* The network XML parser, as marinad reads STATE/networks/<id>.xml. Refusals
 * are InvalidArgument with UTF-8 messages; an accepted configuration writes
 * out and reads back to the very same text. */

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
check_round_trip (const MarinaNetworkConfig *config)
{
  g_autofree char *xml = marina_network_config_to_xml (config);
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaNetworkConfig) again = marina_network_config_from_xml (xml, -1, &error);
  g_autofree char *again_xml = again ? marina_network_config_to_xml (again) : NULL;

  if (again == NULL || g_strcmp0 (xml, again_xml) != 0)
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
  g_autoptr(MarinaNetworkConfig) config = NULL;

  marina_fuzz_setup ();
  config = marina_network_config_from_xml ((const char *) data, (gssize) size, &error);
  if (config == NULL)
    check_refusal (error);
  else
    check_round_trip (config);
  return 0;
}
