/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "marina-console-remote.h"

G_BEGIN_DECLS

#define MARINA_TYPE_CONSOLE_SESSION (marina_console_session_get_type ())
G_DECLARE_FINAL_TYPE (MarinaConsoleSession, marina_console_session, MARINA, CONSOLE_SESSION,
                      GObject)

typedef enum {
  MARINA_CONSOLE_DISPLAY,
  MARINA_CONSOLE_SERIAL,
} MarinaConsoleKind;

MarinaConsoleSession *marina_console_session_new          (GDBusConnection     *connection,
                                                           MarinaConsoleRemote *remote,
                                                           const char          *machine);
MarinaConsoleSession *marina_console_session_new_direct   (const char *address);
const char           *marina_console_session_get_name     (MarinaConsoleSession *self);
const char           *marina_console_session_get_state    (MarinaConsoleSession *self);
const char           *marina_console_session_get_status   (MarinaConsoleSession *self);
gboolean              marina_console_session_has_console  (MarinaConsoleSession *self);
void                  marina_console_session_open_async   (MarinaConsoleSession *self,
                                                           MarinaConsoleKind     kind,
                                                           GCancellable         *cancellable,
                                                           GAsyncReadyCallback   callback,
                                                           gpointer              user_data);
int                   marina_console_session_open_finish  (MarinaConsoleSession *self,
                                                           GAsyncResult         *result,
                                                           GError              **error);
void                  marina_console_session_call_async   (MarinaConsoleSession *self,
                                                           const char           *method,
                                                           GAsyncReadyCallback   callback,
                                                           gpointer              user_data);
gboolean              marina_console_session_call_finish  (MarinaConsoleSession *self,
                                                           GAsyncResult         *result,
                                                           GError              **error);

G_END_DECLS
