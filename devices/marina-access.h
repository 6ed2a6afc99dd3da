/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What a caller may do, as Virtual Server's three levels plus the server's
 * own settings. A method needs exactly one of these (marina-authorizer.c). */
typedef enum {
  MARINA_RIGHT_NONE = 0,
  MARINA_RIGHT_USE = 1 << 0,        /* start, stop, console, screenshot, read config */
  MARINA_RIGHT_CONFIGURE = 1 << 1,  /* change the configuration */
  MARINA_RIGHT_ADMINISTER = 1 << 2, /* change access, remove, delete */
  MARINA_RIGHT_CREATE = 1 << 3,     /* create, define and register machines */
  MARINA_RIGHT_SERVER = 1 << 4,     /* host scripts, server access, stopping all */
} MarinaRights;

/* Where an access list lives: levels differ between one object's list
 * (use, configure, full) and the server's (use, configure, create, full). */
typedef enum {
  MARINA_ACCESS_SCOPE_OBJECT,
  MARINA_ACCESS_SCOPE_SERVER,
} MarinaAccessScope;

#define MARINA_ACCESS_MAX_ENTRIES 256

/* One entry of an access list: a user or a group and its level. */
typedef struct {
  char *kind;   /* "user" or "group" */
  char *name;   /* an account name on this host */
  char *level;  /* "use", "configure", "full" (and "create" on the server) */
} MarinaAccessEntry;

GPtrArray   *marina_access_list_new          (void);
GPtrArray   *marina_access_list_copy         (GPtrArray  *list);
gboolean     marina_access_list_equal        (GPtrArray  *a,
                                              GPtrArray  *b);
void         marina_access_list_add          (GPtrArray  *list,
                                              const char *kind,
                                              const char *name,
                                              const char *level);
GPtrArray   *marina_access_list_from_variant (GVariant   *entries);
GVariant    *marina_access_list_to_variant   (GPtrArray  *list);
gboolean     marina_access_list_validate     (GPtrArray        *list,
                                              MarinaAccessScope scope,
                                              GError          **error);
gboolean     marina_access_list_check_accounts (GPtrArray  *list,
                                                GError    **error);
MarinaRights marina_access_list_rights       (GPtrArray        *list,
                                              MarinaAccessScope scope,
                                              uid_t             uid,
                                              const gid_t      *gids,
                                              guint             n_gids);
const char  *marina_rights_describe          (MarinaRights rights);

G_END_DECLS
