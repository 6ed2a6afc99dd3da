/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* The unprivileged identity one machine's QEMU runs as: a uid of its own
 * from Marina's range, the same number as its group, and the kvm group. */
typedef struct {
  uid_t uid;
  gid_t gid;
  gid_t kvm_gid;  /* (gid_t) -1 when the host has no kvm group */
} MarinaQemuIdentity;

/* One file QEMU opens by path, and how. */
typedef struct {
  const char *path;
  gboolean writable;
} MarinaGrant;

void     marina_qemu_identity_init     (MarinaQemuIdentity *identity,
                                        uid_t               uid);
void     marina_qemu_identity_enter    (const MarinaQemuIdentity *identity);
gboolean marina_confinement_grant      (uid_t              uid,
                                        const MarinaGrant *grants,
                                        guint              n_grants,
                                        GError           **error);
void     marina_confinement_revoke     (uid_t              uid,
                                        const MarinaGrant *grants,
                                        guint              n_grants);
uid_t    marina_confinement_process_uid (GPid pid);

G_END_DECLS
