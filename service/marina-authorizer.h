/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "marina-access.h"

G_BEGIN_DECLS

/* Finds the access list that governs @object_path (a machine's own, a job's
 * machine's), or NULL when none does; @description names the object for a
 * refusal ("machine 'demo'"). */
typedef GPtrArray *(*MarinaAccessLookup) (const char *object_path,
                                          char      **description,
                                          gpointer    user_data);

#define MARINA_TYPE_AUTHORIZER (marina_authorizer_get_type ())
G_DECLARE_FINAL_TYPE (MarinaAuthorizer, marina_authorizer, MARINA, AUTHORIZER, GObject)

MarinaAuthorizer *marina_authorizer_new                (const char        *state_dir,
                                                        gboolean           enforcing,
                                                        MarinaAccessLookup lookup,
                                                        gpointer           lookup_data);
void              marina_authorizer_set_default        (MarinaAuthorizer *self);
gboolean          marina_authorizer_is_enforcing       (MarinaAuthorizer *self);
GPtrArray        *marina_authorizer_get_server_access  (MarinaAuthorizer *self);
gboolean          marina_authorizer_set_server_access  (MarinaAuthorizer *self,
                                                        GPtrArray        *access,
                                                        GError          **error);

/* Called from each D-Bus object's class_init: routes every method call of
 * that interface through the authorization table first. */
void              marina_authorizer_guard_class        (GDBusInterfaceSkeletonClass *klass);

/* The caller of an authorized call, as the authorizer found it; FALSE when it
 * did not need to look (a public method, or not enforcing). */
gboolean          marina_authorizer_get_caller_uid     (GDBusMethodInvocation *invocation,
                                                        uid_t                 *uid);

/* For tests: the right the table requires, and whether it lists the method. */
gboolean          marina_authorizer_lookup_method      (const char   *interface_name,
                                                        const char   *method_name,
                                                        MarinaRights *right);

G_END_DECLS
