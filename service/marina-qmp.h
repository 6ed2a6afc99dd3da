/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* An asynchronous client of the QEMU Machine Protocol. All I/O runs on the
 * GMainContext that was the thread default when the client was created.
 *
 * Signals:
 *   "event"  (MarinaQmp *, const char *name, JsonObject *data, gint64 timestamp_usec)
 *            An asynchronous QMP event; data is an empty object when QEMU sent
 *            none. Detailed by the event name: "event::SHUTDOWN".
 *   "closed" (MarinaQmp *)
 *            Emitted once, when QEMU hangs up, sends garbage, or
 *            marina_qmp_close() is called. Pending executes have already
 *            failed by then. */
#define MARINA_TYPE_QMP (marina_qmp_get_type ())
G_DECLARE_FINAL_TYPE (MarinaQmp, marina_qmp, MARINA, QMP, GObject)

/* Connect to a QMP unix socket, read the greeting, negotiate qmp_capabilities. */
void        marina_qmp_connect_async              (const char          *socket_path,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
MarinaQmp  *marina_qmp_connect_finish             (GAsyncResult        *result,
                                                   GError             **error);

/* The same handshake over an existing connection. */
void        marina_qmp_new_for_connection_async   (GSocketConnection   *connection,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
MarinaQmp  *marina_qmp_new_for_connection_finish  (GAsyncResult        *result,
                                                   GError             **error);

/* A client of the QEMU guest agent (qemu-ga) over its virtio-serial channel:
 * the same commands and replies, without greeting or events. Replies are
 * matched by id only; lines before the agent's 0xFF sentinel, torn lines and
 * replies nobody waits for are dropped, and a cancelled command is forgotten
 * at once (the agent may never answer). guest-sync-delimited goes out behind
 * a 0xFF byte, which resets the agent's parser. */
MarinaQmp  *marina_qmp_new_for_agent              (GSocketConnection   *connection);

/* Run a command. arguments may be NULL. An fd >= 0 travels with the command
 * (SCM_RIGHTS, for getfd and add-fd); the caller keeps its own fd. */
void        marina_qmp_execute_async              (MarinaQmp           *self,
                                                   const char          *command,
                                                   JsonObject          *arguments,
                                                   int                  fd,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
/* Returns the "return" member of the reply (transfer full). */
JsonNode   *marina_qmp_execute_finish             (MarinaQmp           *self,
                                                   GAsyncResult        *result,
                                                   GError             **error);
/* The QMP error class ("GenericError", "DeviceNotFound", …) when QEMU
 * refused the command, NULL otherwise. Valid as long as result is. */
const char *marina_qmp_execute_get_error_class    (MarinaQmp           *self,
                                                   GAsyncResult        *result);

/* The "QMP" member of QEMU's greeting: version and capabilities. */
JsonObject *marina_qmp_get_greeting               (MarinaQmp           *self);
gboolean    marina_qmp_is_connected               (MarinaQmp           *self);
void        marina_qmp_close                      (MarinaQmp           *self);

G_END_DECLS
