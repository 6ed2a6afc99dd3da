/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-devices"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "marina-error.h"
#include "marina-storage.h"

/* marinad runs as root: a path a caller names must never let it create,
 * open or delete a file outside the folders an administrator gave it
 * (its storage directory and marina.conf [storage] paths=). Every path is
 * resolved with realpath() first, so a symbolic link inside a storage folder
 * that leads to /etc/shadow is judged by where it leads; files are then
 * opened by that resolved path with O_NOFOLLOW, so that a link swapped in
 * afterwards is not followed either. */

static gboolean
is_below (const char *path, const char *root)
{
  gsize length = strlen (root);

  if (length > 1 && root[length - 1] == '/')
    length--;
  return strncmp (path, root, length) == 0 && (path[length] == '\0' || path[length] == '/' ||
                                               length == 1);
}

static char *
describe_roots (const char *const *roots)
{
  return roots && roots[0] ? g_strjoinv (", ", (char **) roots) : g_strdup ("none");
}

static gboolean
check_confined (const char *const *roots, const char *path, const char *resolved,
                GError **error)
{
  g_autofree char *allowed = describe_roots (roots);

  for (guint i = 0; roots && roots[i]; i++)
    {
      char real_root[PATH_MAX];
      if (realpath (roots[i], real_root) != NULL && is_below (resolved, real_root))
        return TRUE;
    }
  if (g_strcmp0 (path, resolved) != 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        "'%s' leads to '%s', outside Marina's storage folders (%s): "
                        "symbolic links out of them are refused", path, resolved, allowed), FALSE;
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                      "'%s' is outside Marina's storage folders (%s); put the file there, or "
                      "add its folder to [storage] paths= in marina.conf", path, allowed), FALSE;
}

static gboolean
check_absolute (const char *path, GError **error)
{
  if (path != NULL && g_path_is_absolute (path))
    return TRUE;
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                      "'%s' is not an absolute path", path ? path : ""), FALSE;
}

/**
 * marina_storage_resolve_existing:
 * @roots: the storage folders
 *
 * Returns: the resolved path of an existing file below one of @roots.
 */
char *
marina_storage_resolve_existing (const char *const *roots, const char *path, GError **error)
{
  char resolved[PATH_MAX];

  if (!check_absolute (path, error))
    return NULL;
  if (realpath (path, resolved) == NULL)
    return g_set_error (error, MARINA_ERROR,
                        errno == ENOENT ? MARINA_ERROR_NOT_FOUND : MARINA_ERROR_FAILED,
                        "Cannot find the image '%s': %s", path, g_strerror (errno)), NULL;
  if (!check_confined (roots, path, resolved, error))
    return NULL;
  return g_strdup (resolved);
}

static gboolean
check_new_name (const char *path, const char *name, GError **error)
{
  if (*name != '\0' && strcmp (name, ".") != 0 && strcmp (name, "..") != 0 &&
      !g_str_has_suffix (path, "/"))
    return TRUE;
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                      "'%s' does not name a file", path), FALSE;
}

static gboolean
check_free (int dir_fd, const char *path, const char *name, GError **error)
{
  struct stat st;

  if (fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
    return TRUE;
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_EXISTS,
                      "'%s' exists already%s; Marina never overwrites a file: choose another "
                      "name or delete it first", path,
                      S_ISLNK (st.st_mode) ? " (as a symbolic link)" : ""), FALSE;
}

/**
 * marina_storage_resolve_new:
 * @dir_fd: (out): the resolved folder, opened (O_DIRECTORY | O_NOFOLLOW), for
 *   openat() and renameat()
 * @name: (out): the new file's name in it
 *
 * Checks that @path names a file that does not exist yet in a folder below
 * one of @roots.
 *
 * Returns: the resolved path of the new file.
 */
char *
marina_storage_resolve_new (const char *const *roots, const char *path, int *dir_fd,
                            char **name, GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  char resolved_dir[PATH_MAX];
  int fd;

  if (!check_absolute (path, error))
    return NULL;
  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  if (!check_new_name (path, base, error))
    return NULL;
  if (realpath (dir, resolved_dir) == NULL)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                        "The folder '%s' for the new image does not exist: %s", dir,
                        g_strerror (errno)), NULL;
  if (!check_confined (roots, dir, resolved_dir, error))
    return NULL;
  fd = open (resolved_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot open the folder '%s': %s",
                        resolved_dir, g_strerror (errno)), NULL;
  if (!check_free (fd, path, base, error))
    {
      close (fd);
      return NULL;
    }
  *dir_fd = fd;
  *name = g_strdup (base);
  return g_build_filename (resolved_dir, base, NULL);
}

/**
 * marina_storage_resolve_output:
 * @roots: the storage folders
 * @create: make the file (empty, readable by its owner only) when it is missing
 *
 * A file that QEMU writes to by path, such as a serial port's text file: an
 * existing regular file below one of @roots, or a new name in a folder below
 * one of them, which @create makes (never through a symbolic link).
 *
 * Returns: its resolved path.
 */
/* An existing output file: it must be a plain file, never a device or a folder. */
static char *
resolve_existing_output (const char *const *roots, const char *path, GError **error)
{
  g_autofree char *resolved = marina_storage_resolve_existing (roots, path, error);
  struct stat st;

  if (resolved == NULL)
    return NULL;
  if (stat (resolved, &st) != 0 || !S_ISREG (st.st_mode))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        "'%s' is not a regular file; the guest's output goes to a text file",
                        path), NULL;
  return g_steal_pointer (&resolved);
}

char *
marina_storage_resolve_output (const char *const *roots, const char *path, gboolean create,
                               GError **error)
{
  g_autofree char *name = NULL;
  g_autofree char *resolved = NULL;
  struct stat st;
  int dir_fd, fd;

  if (!check_absolute (path, error))
    return NULL;
  if (lstat (path, &st) == 0)
    return resolve_existing_output (roots, path, error);
  resolved = marina_storage_resolve_new (roots, path, &dir_fd, &name, error);
  if (resolved == NULL)
    return NULL;
  fd = create ? openat (dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)
              : 0;
  close (dir_fd);
  if (fd < 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot create '%s': %s",
                        resolved, g_strerror (errno)), NULL;
  if (create)
    close (fd);
  return g_steal_pointer (&resolved);
}

/**
 * marina_storage_open:
 * @resolved: a path from marina_storage_resolve_existing()
 *
 * Opens it for reading, refusing a symbolic link put in its place since it
 * was resolved, and anything but a regular file or a block device.
 */
int
marina_storage_open (const char *resolved, GError **error)
{
  int fd = open (resolved, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  struct stat st;

  if (fd < 0)
    return g_set_error (error, MARINA_ERROR,
                        errno == ELOOP ? MARINA_ERROR_INVALID_ARGUMENT : MARINA_ERROR_FAILED,
                        "Cannot open the image '%s': %s", resolved,
                        errno == ELOOP ? "it became a symbolic link" : g_strerror (errno)), -1;
  if (fstat (fd, &st) != 0 || !(S_ISREG (st.st_mode) || S_ISBLK (st.st_mode)))
    {
      close (fd);
      return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                          "'%s' is not a regular file or a block device", resolved), -1;
    }
  return fd;
}

/**
 * marina_storage_open_folder:
 * @resolved: a path from marina_storage_resolve_existing()
 * @name: (out): the file's name in its folder
 *
 * Opens the folder of an existing regular file, for the temporary files and
 * the rename that replace it.
 */
int
marina_storage_open_folder (const char *resolved, char **name, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (resolved);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;

  if (fd < 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot open the folder '%s': %s",
                        dir, g_strerror (errno)), -1;
  *name = g_path_get_basename (resolved);
  if (fstatat (fd, *name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_clear_pointer (name, g_free);
      return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                          "'%s' is not a regular file; Marina rewrites only image files",
                          resolved), -1;
    }
  return fd;
}
