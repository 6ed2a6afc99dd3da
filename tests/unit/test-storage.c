/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "marina-error.h"
#include "marina-storage.h"

/* A root service must never become a way to open or write files outside the
 * folders it was given, whatever path or symbolic link a caller names. */

typedef struct {
  char *top;      /* a temporary folder */
  char *storage;  /* top/storage: the one allowed folder */
  char *roots[2];
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->top = g_dir_make_tmp ("marina-storage-XXXXXX", NULL);
  f->storage = g_build_filename (f->top, "storage", NULL);
  g_assert_cmpint (g_mkdir (f->storage, 0700), ==, 0);
  f->roots[0] = f->storage;
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autofree char *command = g_strdup_printf ("rm -rf '%s'", f->top);

  g_assert_true (g_spawn_command_line_sync (command, NULL, NULL, NULL, NULL));
  g_free (f->storage);
  g_free (f->top);
}

static char *
in (const char *dir, const char *name)
{
  return g_build_filename (dir, name, NULL);
}

static void
expect_error (GError *error, int code, const char *fragment)
{
  g_assert_error (error, MARINA_ERROR, code);
  if (strstr (error->message, fragment) == NULL)
    g_error ("'%s' does not say '%s'", error->message, fragment);
}

static void
test_symlink_to_shadow_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *link = in (f->storage, "shadow.vhd");
  g_autoptr(GError) error = NULL;
  g_autofree char *resolved = NULL;

  g_assert_cmpint (symlink ("/etc/shadow", link), ==, 0);
  resolved = marina_storage_resolve_existing ((const char *const *) f->roots, link, &error);
  g_assert_null (resolved);
  expect_error (error, MARINA_ERROR_INVALID_ARGUMENT, "leads to '/etc/shadow'");
}

static void
test_new_file_over_symlink_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *link = in (f->storage, "new.vhd");
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  int fd = -1;

  g_assert_cmpint (symlink ("/etc/shadow", link), ==, 0);
  g_assert_null (marina_storage_resolve_new ((const char *const *) f->roots, link, &fd, &name,
                                             &error));
  expect_error (error, MARINA_ERROR_EXISTS, "symbolic link");
}

static void
test_folder_symlink_escaping_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *link = in (f->storage, "etc");
  g_autofree char *path = in (link, "passwd.vhd");
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  int fd = -1;

  g_assert_cmpint (symlink ("/etc", link), ==, 0);
  g_assert_null (marina_storage_resolve_new ((const char *const *) f->roots, path, &fd, &name,
                                             &error));
  expect_error (error, MARINA_ERROR_INVALID_ARGUMENT, "symbolic links out of them are refused");
}

static void
test_outside_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *sibling = g_strconcat (f->storage, "-other", NULL);
  g_autofree char *path = in (sibling, "disk.qcow2");
  g_autofree char *elsewhere = in (f->top, "disk.qcow2");
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  int fd = -1;

  /* A folder whose name merely starts like the storage folder is not in it. */
  g_assert_cmpint (g_mkdir (sibling, 0700), ==, 0);
  g_assert_null (marina_storage_resolve_new ((const char *const *) f->roots, path, &fd, &name,
                                             &error));
  expect_error (error, MARINA_ERROR_INVALID_ARGUMENT, "[storage] paths=");
  g_clear_error (&error);
  g_assert_null (marina_storage_resolve_new ((const char *const *) f->roots, elsewhere, &fd,
                                             &name, &error));
  expect_error (error, MARINA_ERROR_INVALID_ARGUMENT, "outside");
  g_clear_error (&error);
  g_assert_null (marina_storage_resolve_new ((const char *const *) f->roots, "disk.qcow2", &fd,
                                             &name, &error));
  expect_error (error, MARINA_ERROR_INVALID_ARGUMENT, "not an absolute path");
}

static void
test_inside_allowed (Fixture *f, gconstpointer data)
{
  g_autofree char *path = in (f->storage, "disk.qcow2");
  g_autofree char *dotted = g_strconcat (f->storage, "/./sub/../disk.qcow2", NULL);
  g_autofree char *sub = in (f->storage, "sub");
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *resolved = NULL;
  g_autofree char *existing = NULL;
  int dir_fd = -1, fd;

  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  resolved = marina_storage_resolve_new ((const char *const *) f->roots, path, &dir_fd, &name,
                                         &error);
  g_assert_no_error (error);
  g_assert_cmpstr (resolved, ==, path);
  g_assert_cmpstr (name, ==, "disk.qcow2");
  g_assert_cmpint (dir_fd, >=, 0);
  close (dir_fd);
  g_assert_true (g_file_set_contents (path, "x", 1, NULL));
  existing = marina_storage_resolve_existing ((const char *const *) f->roots, dotted, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (existing, ==, path);
  fd = marina_storage_open (existing, &error);
  g_assert_no_error (error);
  close (fd);
  g_assert_null (marina_storage_resolve_new ((const char *const *) f->roots, path, &dir_fd,
                                             &name, &error));
  expect_error (error, MARINA_ERROR_EXISTS, "never overwrites");
}

/* A link put in an image's place after it was resolved is not followed. */
static void
test_swapped_for_link_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *path = in (f->storage, "disk.raw");
  g_autoptr(GError) error = NULL;
  g_autofree char *resolved = NULL;

  g_assert_true (g_file_set_contents (path, "x", 1, NULL));
  resolved = marina_storage_resolve_existing ((const char *const *) f->roots, path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (symlink ("/etc/shadow", path), ==, 0);
  g_assert_cmpint (marina_storage_open (resolved, &error), ==, -1);
  expect_error (error, MARINA_ERROR_INVALID_ARGUMENT, "became a symbolic link");
}

/* A serial port's text file: in storage like an image, a plain file, and
 * made (never through a link) when it is missing. */
static void
test_output_file (Fixture *f, gconstpointer data)
{
  const char *const *roots = (const char *const *) f->roots;
  g_autofree char *path = in (f->storage, "com2.txt");
  g_autofree char *link = in (f->storage, "passwd.txt");
  g_autofree char *outside = in (f->top, "com2.txt");
  g_autofree char *missing = g_build_filename (f->storage, "no-such-folder", "com2.txt", NULL);
  g_autofree char *resolved = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;

  resolved = marina_storage_resolve_output (roots, path, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (resolved, ==, path);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_pointer (&resolved, g_free);
  resolved = marina_storage_resolve_output (roots, path, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_clear_pointer (&resolved, g_free);
  /* There already: kept as it is, appended to. */
  g_assert_true (g_file_set_contents (path, "earlier", -1, NULL));
  resolved = marina_storage_resolve_output (roots, path, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 7);

  g_assert_null (marina_storage_resolve_output (roots, outside, TRUE, &error));
  expect_error (error, MARINA_ERROR_INVALID_ARGUMENT, "outside Marina's storage folders");
  g_assert_false (g_file_test (outside, G_FILE_TEST_EXISTS));
  g_clear_error (&error);
  g_assert_cmpint (symlink ("/etc/passwd", link), ==, 0);
  g_assert_null (marina_storage_resolve_output (roots, link, TRUE, &error));
  expect_error (error, MARINA_ERROR_INVALID_ARGUMENT, "leads to '/etc/passwd'");
  g_clear_error (&error);
  g_assert_null (marina_storage_resolve_output (roots, f->storage, TRUE, &error));
  expect_error (error, MARINA_ERROR_INVALID_ARGUMENT, "is not a regular file");
  g_clear_error (&error);
  g_assert_null (marina_storage_resolve_output (roots, missing, TRUE, &error));
  expect_error (error, MARINA_ERROR_NOT_FOUND, "does not exist");
  g_clear_error (&error);
  g_assert_null (marina_storage_resolve_output (roots, "com2.txt", TRUE, &error));
  expect_error (error, MARINA_ERROR_INVALID_ARGUMENT, "not an absolute path");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/storage/output-file", Fixture, NULL, fixture_set_up, test_output_file,
              fixture_tear_down);
  g_test_add ("/storage/symlink-to-shadow-refused", Fixture, NULL, fixture_set_up,
              test_symlink_to_shadow_refused, fixture_tear_down);
  g_test_add ("/storage/new-file-over-symlink-refused", Fixture, NULL, fixture_set_up,
              test_new_file_over_symlink_refused, fixture_tear_down);
  g_test_add ("/storage/folder-symlink-escaping-refused", Fixture, NULL, fixture_set_up,
              test_folder_symlink_escaping_refused, fixture_tear_down);
  g_test_add ("/storage/outside-refused", Fixture, NULL, fixture_set_up, test_outside_refused,
              fixture_tear_down);
  g_test_add ("/storage/inside-allowed", Fixture, NULL, fixture_set_up, test_inside_allowed,
              fixture_tear_down);
  g_test_add ("/storage/swapped-for-link-refused", Fixture, NULL, fixture_set_up,
              test_swapped_for_link_refused, fixture_tear_down);
  return g_test_run ();
}
