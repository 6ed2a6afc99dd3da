/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-confinement"
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <sys/acl.h>
#include <acl/libacl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "marina-confinement.h"
#include "marina-error.h"

/* Each running machine's QEMU has a uid of its own, so that one machine's
 * emulator can never open another machine's files. It reaches the files it
 * opens by path (disks, CD images, the serial log) through a POSIX ACL entry
 * for that uid, added just before QEMU starts and removed when it exits, plus
 * search ("x") entries on the folders above them that others cannot search.
 * The uid is Marina's alone, so removing every entry for it is exact. */

void
marina_qemu_identity_init (MarinaQemuIdentity *identity, uid_t uid)
{
  struct group *kvm = getgrnam ("kvm");

  identity->uid = uid;
  identity->gid = (gid_t) uid;
  identity->kvm_gid = kvm ? kvm->gr_gid : (gid_t) -1;
}

/* Runs in the child between fork and exec: only async-signal-safe calls. A
 * failure must not leave QEMU running as root, so it ends the child. */
void
marina_qemu_identity_enter (const MarinaQemuIdentity *identity)
{
  gid_t groups[1] = { identity->kvm_gid };

  if (setgroups (identity->kvm_gid == (gid_t) -1 ? 0 : 1, groups) < 0 ||
      setregid (identity->gid, identity->gid) < 0 ||
      setreuid (identity->uid, identity->uid) < 0)
    _exit (126);
}

static acl_entry_t
find_user_entry (acl_t acl, uid_t uid)
{
  acl_entry_t entry;
  int found = acl_get_entry (acl, ACL_FIRST_ENTRY, &entry);

  for (; found == 1; found = acl_get_entry (acl, ACL_NEXT_ENTRY, &entry))
    {
      acl_tag_t tag;
      if (acl_get_tag_type (entry, &tag) == 0 && tag == ACL_USER)
        {
          uid_t *qualifier = acl_get_qualifier (entry);
          gboolean match = qualifier != NULL && *qualifier == uid;
          acl_free (qualifier);
          if (match)
            return entry;
        }
    }
  return NULL;
}

static gboolean
has_named_entries (acl_t acl)
{
  acl_entry_t entry;
  int found = acl_get_entry (acl, ACL_FIRST_ENTRY, &entry);

  for (; found == 1; found = acl_get_entry (acl, ACL_NEXT_ENTRY, &entry))
    {
      acl_tag_t tag;
      if (acl_get_tag_type (entry, &tag) == 0 && (tag == ACL_USER || tag == ACL_GROUP))
        return TRUE;
    }
  return FALSE;
}

/* Sets @uid's entry on @path to exactly @perms (0 removes it). */
static gboolean
set_user_entry (const char *path, uid_t uid, acl_perm_t perms, GError **error)
{
  acl_t acl = acl_get_file (path, ACL_TYPE_ACCESS);
  acl_entry_t entry;
  acl_permset_t permset;
  int result;

  if (acl == NULL)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                        "Cannot read the access list of %s: %s", path, g_strerror (errno)),
           FALSE;
  entry = find_user_entry (acl, uid);
  if (entry == NULL && perms == 0)
    {
      acl_free (acl);
      return TRUE;  /* nothing of ours here: leave the file untouched */
    }
  if (entry == NULL)
    {
      acl_create_entry (&acl, &entry);
      acl_set_tag_type (entry, ACL_USER);
      acl_set_qualifier (entry, &uid);
    }
  if (entry != NULL && perms == 0)
    acl_delete_entry (acl, entry);
  else if (entry != NULL)
    {
      acl_get_permset (entry, &permset);
      acl_clear_perms (permset);
      if (perms & ACL_READ) acl_add_perm (permset, ACL_READ);
      if (perms & ACL_WRITE) acl_add_perm (permset, ACL_WRITE);
      if (perms & ACL_EXECUTE) acl_add_perm (permset, ACL_EXECUTE);
    }
  /* Without named entries the mask goes too: the file is as it was. */
  if (!has_named_entries (acl))
    {
      acl_entry_t mask;
      int found = acl_get_entry (acl, ACL_FIRST_ENTRY, &mask);
      for (; found == 1; found = acl_get_entry (acl, ACL_NEXT_ENTRY, &mask))
        {
          acl_tag_t tag;
          if (acl_get_tag_type (mask, &tag) == 0 && tag == ACL_MASK)
            {
              acl_delete_entry (acl, mask);
              break;
            }
        }
    }
  else
    acl_calc_mask (&acl);
  result = acl_set_file (path, ACL_TYPE_ACCESS, acl);
  acl_free (acl);
  if (result < 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                        "Cannot give the machine's QEMU access to %s: %s (the file system "
                        "needs POSIX ACLs)", path, g_strerror (errno)), FALSE;
  return TRUE;
}

/* The folders above @path that others cannot search, nearest first. */
static GPtrArray *
closed_ancestors (const char *path)
{
  GPtrArray *dirs = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *dir = g_path_get_dirname (path);

  while (strlen (dir) > 1)
    {
      struct stat info;
      char *parent;
      if (stat (dir, &info) == 0 && !(info.st_mode & S_IXOTH))
        g_ptr_array_add (dirs, g_strdup (dir));
      parent = g_path_get_dirname (dir);
      g_free (dir);
      dir = parent;
    }
  return dirs;
}

/* The path as given and as it resolves: QEMU walks the first, the kernel
 * checks the folders of both. */
static GPtrArray *
paths_to_open (const char *path)
{
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  char *real = realpath (path, NULL);

  g_ptr_array_add (paths, g_strdup (path));
  if (real != NULL && g_strcmp0 (real, path) != 0)
    g_ptr_array_add (paths, g_strdup (real));
  free (real);
  return paths;
}

static gboolean
grant_one (uid_t uid, const MarinaGrant *grant, GError **error)
{
  g_autoptr(GPtrArray) paths = paths_to_open (grant->path);
  acl_perm_t perms = ACL_READ | (grant->writable ? ACL_WRITE : 0);
  struct stat info;

  /* A folder is searched too: QEMU makes its sockets in its runtime folder. */
  if (stat (grant->path, &info) == 0 && S_ISDIR (info.st_mode))
    perms |= ACL_EXECUTE;

  for (guint i = 0; i < paths->len; i++)
    {
      g_autoptr(GPtrArray) dirs = closed_ancestors (g_ptr_array_index (paths, i));
      for (guint d = 0; d < dirs->len; d++)
        if (!set_user_entry (g_ptr_array_index (dirs, d), uid, ACL_EXECUTE, error))
          return FALSE;
    }
  /* The last path is the real file: an ACL on a symlink is the target's. */
  return set_user_entry (g_ptr_array_index (paths, paths->len - 1), uid, perms, error);
}

gboolean
marina_confinement_grant (uid_t uid, const MarinaGrant *grants, guint n_grants, GError **error)
{
  for (guint i = 0; i < n_grants; i++)
    {
      if (grants[i].path != NULL && !grant_one (uid, &grants[i], error))
        {
          marina_confinement_revoke (uid, grants, i + 1);
          return FALSE;
        }
    }
  return TRUE;
}

static void
revoke_path (uid_t uid, const char *path)
{
  g_autoptr(GError) error = NULL;

  if (g_file_test (path, G_FILE_TEST_EXISTS) && !set_user_entry (path, uid, 0, &error))
    g_warning ("%s", error->message);
}

/* Removes @uid from the files and from every folder above them (the folders
 * are searched whatever their mode: a mode may have changed meanwhile). */
void
marina_confinement_revoke (uid_t uid, const MarinaGrant *grants, guint n_grants)
{
  for (guint i = 0; i < n_grants; i++)
    {
      g_autoptr(GPtrArray) paths = NULL;
      if (grants[i].path == NULL)
        continue;
      paths = paths_to_open (grants[i].path);
      for (guint p = 0; p < paths->len; p++)
        {
          g_autofree char *dir = g_path_get_dirname (g_ptr_array_index (paths, p));
          revoke_path (uid, g_ptr_array_index (paths, p));
          while (strlen (dir) > 1)
            {
              char *parent = g_path_get_dirname (dir);
              revoke_path (uid, dir);
              g_free (dir);
              dir = parent;
            }
        }
    }
}

/* The real uid of a running process, or 0 when it cannot be read. */
uid_t
marina_confinement_process_uid (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d", pid);
  struct stat info;

  return stat (path, &info) == 0 ? info.st_uid : 0;
}
