/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <locale.h>
#include <glib/gi18n.h>

#include "marina-i18n.h"

/* Where the message catalogues are: LOCALEDIR once installed, or
 * $MARINA_LOCALEDIR so that an uninstalled build (tests, the README's
 * commands) can point at build/po, where meson puts de/LC_MESSAGES/marina.mo. */
const char *
marina_i18n_locale_dir (void)
{
  const char *override = g_getenv ("MARINA_LOCALEDIR");

  return override && *override ? override : LOCALEDIR;
}

/* Called first thing in main(), before any option is parsed: option help
 * and every message after it come out in the user's language. Messages are
 * UTF-8 whatever the locale's charset, as GLib and GTK expect. */
void
marina_i18n_init (void)
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, marina_i18n_locale_dir ());
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}
