/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include "marina-application.h"
#include "marina-i18n.h"

int
main (int argc, char **argv)
{
  g_autoptr(MarinaApplication) application = NULL;

  /* Before the application exists: its option help is translated too. */
  marina_i18n_init ();
  application = marina_application_new ();
  return g_application_run (G_APPLICATION (application), argc, argv);
}
