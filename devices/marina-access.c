/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-access"
#include "config.h"

#include <grp.h>
#include <pwd.h>

#include "marina-access.h"
#include "marina-error.h"

/* Levels and what they grant. An object's "full" is everything on that
 * object; the server's "full" is everything everywhere. */
static const struct {
  MarinaAccessScope scope;
  const char *level;
  MarinaRights rights;
} levels[] = {
  { MARINA_ACCESS_SCOPE_OBJECT, "use", MARINA_RIGHT_USE },
  { MARINA_ACCESS_SCOPE_OBJECT, "configure", MARINA_RIGHT_USE | MARINA_RIGHT_CONFIGURE },
  { MARINA_ACCESS_SCOPE_OBJECT, "full",
    MARINA_RIGHT_USE | MARINA_RIGHT_CONFIGURE | MARINA_RIGHT_ADMINISTER },
  { MARINA_ACCESS_SCOPE_SERVER, "use", MARINA_RIGHT_USE },
  { MARINA_ACCESS_SCOPE_SERVER, "configure", MARINA_RIGHT_USE | MARINA_RIGHT_CONFIGURE },
  { MARINA_ACCESS_SCOPE_SERVER, "create", MARINA_RIGHT_CREATE },
  { MARINA_ACCESS_SCOPE_SERVER, "full",
    MARINA_RIGHT_USE | MARINA_RIGHT_CONFIGURE | MARINA_RIGHT_ADMINISTER |
    MARINA_RIGHT_CREATE | MARINA_RIGHT_SERVER },
};

static void
access_entry_free (MarinaAccessEntry *entry)
{
  g_free (entry->kind);
  g_free (entry->name);
  g_free (entry->level);
  g_free (entry);
}

GPtrArray *
marina_access_list_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) access_entry_free);
}

void
marina_access_list_add (GPtrArray *list, const char *kind, const char *name, const char *level)
{
  MarinaAccessEntry *entry = g_new0 (MarinaAccessEntry, 1);

  entry->kind = g_strdup (kind);
  entry->name = g_strdup (name);
  entry->level = g_strdup (level);
  g_ptr_array_add (list, entry);
}

GPtrArray *
marina_access_list_copy (GPtrArray *list)
{
  GPtrArray *copy = marina_access_list_new ();

  for (guint i = 0; i < list->len; i++)
    {
      MarinaAccessEntry *entry = g_ptr_array_index (list, i);
      marina_access_list_add (copy, entry->kind, entry->name, entry->level);
    }
  return copy;
}

gboolean
marina_access_list_equal (GPtrArray *a, GPtrArray *b)
{
  if (a->len != b->len)
    return FALSE;
  for (guint i = 0; i < a->len; i++)
    {
      MarinaAccessEntry *x = g_ptr_array_index (a, i), *y = g_ptr_array_index (b, i);
      if (g_strcmp0 (x->kind, y->kind) || g_strcmp0 (x->name, y->name) ||
          g_strcmp0 (x->level, y->level))
        return FALSE;
    }
  return TRUE;
}

/* @entries is a(sss): (kind, name, level), as SetAccess takes it. */
GPtrArray *
marina_access_list_from_variant (GVariant *entries)
{
  GPtrArray *list = marina_access_list_new ();
  GVariantIter iter;
  const char *kind, *name, *level;

  g_variant_iter_init (&iter, entries);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &kind, &name, &level))
    marina_access_list_add (list, kind, name, level);
  return list;
}

GVariant *
marina_access_list_to_variant (GPtrArray *list)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sss)"));
  for (guint i = 0; i < list->len; i++)
    {
      MarinaAccessEntry *entry = g_ptr_array_index (list, i);
      g_variant_builder_add (&builder, "(sss)", entry->kind, entry->name, entry->level);
    }
  return g_variant_builder_end (&builder);
}

static gboolean
level_rights (MarinaAccessScope scope, const char *level, MarinaRights *rights)
{
  for (guint i = 0; i < G_N_ELEMENTS (levels); i++)
    {
      if (levels[i].scope == scope && g_strcmp0 (levels[i].level, level) == 0)
        {
          *rights = levels[i].rights;
          return TRUE;
        }
    }
  return FALSE;
}

/* POSIX portable user and group names (as useradd accepts them), so that a
 * name is never a path, an option or a pattern. */
static gboolean
is_account_name (const char *name)
{
  gsize length = strlen (name);

  if (length == 0 || length > 32 || !(g_ascii_isalpha (name[0]) || name[0] == '_'))
    return FALSE;
  for (gsize i = 1; i < length; i++)
    {
      char c = name[i];
      if (!(g_ascii_isalnum (c) || c == '_' || c == '-' || c == '.' ||
            (c == '$' && i == length - 1)))
        return FALSE;
    }
  return TRUE;
}

static gboolean
validate_entry (const MarinaAccessEntry *entry, MarinaAccessScope scope, GError **error)
{
  MarinaRights rights;

  if (g_strcmp0 (entry->kind, "user") != 0 && g_strcmp0 (entry->kind, "group") != 0)
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "Access entry kind \"%s\" is not known: use \"user\" or \"group\"",
                   entry->kind);
      return FALSE;
    }
  /* A hand-written file can leave out the name or the level. */
  if (entry->name == NULL || entry->level == NULL)
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "An access entry needs a %s name and a level", entry->kind);
      return FALSE;
    }
  if (!g_utf8_validate (entry->name, -1, NULL) || !is_account_name (entry->name))
    {
      g_autofree char *shown = g_strescape (entry->name, NULL);
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "Access entry \"%s\" is not a %s name: names are 1 to 32 letters, "
                   "digits, '_', '-' or '.', starting with a letter or '_'",
                   shown, entry->kind);
      return FALSE;
    }
  if (!level_rights (scope, entry->level, &rights))
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "Access level \"%s\" for %s %s is not known: use %s", entry->level,
                   entry->kind, entry->name,
                   scope == MARINA_ACCESS_SCOPE_SERVER ? "use, configure, create or full"
                                                       : "use, configure or full");
      return FALSE;
    }
  return TRUE;
}

static gboolean
entry_is_repeated (GPtrArray *list, guint index)
{
  MarinaAccessEntry *entry = g_ptr_array_index (list, index);

  for (guint i = 0; i < index; i++)
    {
      MarinaAccessEntry *earlier = g_ptr_array_index (list, i);
      if (g_str_equal (earlier->kind, entry->kind) && g_str_equal (earlier->name, entry->name))
        return TRUE;
    }
  return FALSE;
}

/* Checks the syntax only: a configuration may name an account that a host
 * it was copied to does not have (it then grants nothing there). */
gboolean
marina_access_list_validate (GPtrArray *list, MarinaAccessScope scope, GError **error)
{
  if (list->len > MARINA_ACCESS_MAX_ENTRIES)
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "An access list holds at most %d entries, not %u: grant a group instead",
                   MARINA_ACCESS_MAX_ENTRIES, list->len);
      return FALSE;
    }
  for (guint i = 0; i < list->len; i++)
    {
      MarinaAccessEntry *entry = g_ptr_array_index (list, i);
      if (!validate_entry (entry, scope, error))
        return FALSE;
      if (entry_is_repeated (list, i))
        {
          g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                       "The access list names %s %s twice: give each one level",
                       entry->kind, entry->name);
          return FALSE;
        }
    }
  return TRUE;
}

/* What SetAccess checks on top of the syntax: every account exists here,
 * so that a typo is caught when it is made rather than silently granting
 * nothing. */
gboolean
marina_access_list_check_accounts (GPtrArray *list, GError **error)
{
  for (guint i = 0; i < list->len; i++)
    {
      MarinaAccessEntry *entry = g_ptr_array_index (list, i);
      gboolean exists = g_str_equal (entry->kind, "user") ? getpwnam (entry->name) != NULL
                                                          : getgrnam (entry->name) != NULL;
      if (!exists)
        {
          g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                       "There is no %s named \"%s\" on this host", entry->kind, entry->name);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
entry_matches (const MarinaAccessEntry *entry, uid_t uid, const gid_t *gids, guint n_gids)
{
  struct group *group;

  if (g_str_equal (entry->kind, "user"))
    {
      struct passwd *user = getpwnam (entry->name);
      return user != NULL && user->pw_uid == uid;
    }
  group = getgrnam (entry->name);
  for (guint i = 0; group != NULL && i < n_gids; i++)
    {
      if (gids[i] == group->gr_gid)
        return TRUE;
    }
  return FALSE;
}

/* The union of what every entry matching the caller grants. */
MarinaRights
marina_access_list_rights (GPtrArray *list, MarinaAccessScope scope, uid_t uid,
                           const gid_t *gids, guint n_gids)
{
  MarinaRights granted = MARINA_RIGHT_NONE;

  for (guint i = 0; i < list->len; i++)
    {
      MarinaAccessEntry *entry = g_ptr_array_index (list, i);
      MarinaRights rights;
      if (level_rights (scope, entry->level, &rights) && entry_matches (entry, uid, gids, n_gids))
        granted |= rights;
    }
  return granted;
}

/* The right's name as access levels and refusals spell it. */
const char *
marina_rights_describe (MarinaRights rights)
{
  if (rights & MARINA_RIGHT_SERVER)
    return "full access to the server";
  if (rights & MARINA_RIGHT_CREATE)
    return "create";
  if (rights & MARINA_RIGHT_ADMINISTER)
    return "full";
  if (rights & MARINA_RIGHT_CONFIGURE)
    return "configure";
  if (rights & MARINA_RIGHT_USE)
    return "use";
  return "none";
}
