/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* A client of the QEMU guest agent (qemu-ga) of one running machine, over the
 * Unix socket QEMU listens on for the agent's virtio-serial port.
 *
 * QEMU accepts the connection whether or not an agent runs in the guest, and
 * a guest without one never answers: every command has a timeout. The client
 * connects on first use, and before the first command after a connect or a
 * timeout it sends guest-sync-delimited with a random id, so that answers
 * meant for an earlier client or command never count. */
#define MARINA_TYPE_GUEST_AGENT (marina_guest_agent_get_type ())
G_DECLARE_FINAL_TYPE (MarinaGuestAgent, marina_guest_agent, MARINA, GUEST_AGENT, GObject)

MarinaGuestAgent *marina_guest_agent_new              (const char          *socket_path);

/* Fails with G_IO_ERROR_TIMED_OUT when the agent says nothing in time. */
void              marina_guest_agent_execute_async    (MarinaGuestAgent    *self,
                                                       const char          *command,
                                                       JsonObject          *arguments,
                                                       guint                timeout_ms,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
/* Returns the "return" member of the reply (transfer full). */
JsonNode         *marina_guest_agent_execute_finish   (MarinaGuestAgent    *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);

/* guest-shutdown (mode powerdown) after a guest-ping. The agent does not
 * answer a shutdown that it started, so silence after the ping is success;
 * an error means the guest will not power off through the agent. */
void              marina_guest_agent_shutdown_async   (MarinaGuestAgent    *self,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
gboolean          marina_guest_agent_shutdown_finish  (MarinaGuestAgent    *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);

void              marina_guest_agent_close            (MarinaGuestAgent    *self);

G_END_DECLS
