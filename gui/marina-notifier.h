/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "marina-preferences.h"

G_BEGIN_DECLS

#define MARINA_TYPE_NOTIFIER (marina_notifier_get_type ())
G_DECLARE_FINAL_TYPE (MarinaNotifier, marina_notifier, MARINA, NOTIFIER, GObject)

MarinaNotifier *marina_notifier_new (GApplication       *application,
                                     GDBusObjectManager *objects,
                                     MarinaPreferences  *preferences);

G_END_DECLS
