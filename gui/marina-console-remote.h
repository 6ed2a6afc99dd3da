/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MARINA_TYPE_CONSOLE_REMOTE (marina_console_remote_get_type ())
G_DECLARE_FINAL_TYPE (MarinaConsoleRemote, marina_console_remote, MARINA, CONSOLE_REMOTE, GObject)

MarinaConsoleRemote *marina_console_remote_new                 (const char          *url,
                                                                const char * const  *ssh_options,
                                                                const char          *command,
                                                                const char * const  *bus_args,
                                                                GError             **error);
GIOStream           *marina_console_remote_open_bus            (MarinaConsoleRemote *self,
                                                                GError             **error);
gboolean             marina_console_remote_connect_bus         (MarinaConsoleRemote *self,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data,
                                                                GError             **error);
int                  marina_console_remote_open_console        (MarinaConsoleRemote *self,
                                                                const char          *machine,
                                                                gboolean             serial,
                                                                GError             **error);

G_END_DECLS
