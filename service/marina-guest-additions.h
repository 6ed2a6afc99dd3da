/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What the guest agent tells about one running machine: a heartbeat, the
 * guest's OS name and IP addresses; and what it does for it: shutdown and
 * setting the guest's clock. No D-Bus here; the machine copies the values.
 *
 * Signals:
 *   "changed"        (MarinaGuestAdditions *): a getter's value changed.
 *   "log"            (MarinaGuestAdditions *, const char *severity,
 *                     const char *message): something for the event log.
 *   "heartbeat-lost" (MarinaGuestAdditions *): an agent that answered went
 *                    silent (logged as a warning too). */
#define MARINA_TYPE_GUEST_ADDITIONS (marina_guest_additions_get_type ())
G_DECLARE_FINAL_TYPE (MarinaGuestAdditions, marina_guest_additions, MARINA, GUEST_ADDITIONS,
                      GObject)

MarinaGuestAdditions *marina_guest_additions_new          (const char *agent_socket_path);

/* The heartbeat runs only while active: a paused, saving or stopping guest
 * cannot answer, and must not look as if its agent had died. */
void        marina_guest_additions_set_active             (MarinaGuestAdditions *self,
                                                           gboolean              active);
/* Sets the guest's clock to the host's once the agent next answers. */
void        marina_guest_additions_sync_time              (MarinaGuestAdditions *self);

gboolean            marina_guest_additions_get_heartbeat       (MarinaGuestAdditions *self);
gboolean            marina_guest_additions_get_agent_connected (MarinaGuestAdditions *self);
const char         *marina_guest_additions_get_os_name         (MarinaGuestAdditions *self);
const char *const  *marina_guest_additions_get_addresses       (MarinaGuestAdditions *self);

/* Fails when no agent answers or it refuses; the caller then uses ACPI. */
void        marina_guest_additions_shutdown_async         (MarinaGuestAdditions *self,
                                                           GAsyncReadyCallback   callback,
                                                           gpointer              user_data);
gboolean    marina_guest_additions_shutdown_finish        (MarinaGuestAdditions *self,
                                                           GAsyncResult         *result,
                                                           GError              **error);

G_END_DECLS
