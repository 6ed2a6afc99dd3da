/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <pwd.h>
#include <glib/gstdio.h>

#include "marina-access.h"
#include "marina-authorizer.h"
#include "marina-dbus-generated.h"

/* Every method of every interface must have a row in the table: an unlisted
 * method is refused to everyone, so a gap would be a dead method. */
static void
test_table_lists_every_method (void)
{
  GDBusInterfaceInfo *interfaces[] = {
    marina_dbus_manager_interface_info (),
    marina_dbus_machine_interface_info (),
    marina_dbus_job_interface_info (),
    marina_dbus_disk_interface_info (),
    marina_dbus_network_interface_info (),
  };

  for (guint i = 0; i < G_N_ELEMENTS (interfaces); i++)
    for (guint m = 0; interfaces[i]->methods[m]; m++)
      {
        MarinaRights right;
        const char *method = interfaces[i]->methods[m]->name;
        if (!marina_authorizer_lookup_method (interfaces[i]->name, method, &right))
          g_error ("%s.%s is missing from the authorization table", interfaces[i]->name, method);
      }
}

static void
test_table_refuses_unknown (void)
{
  MarinaRights right;

  g_assert_false (marina_authorizer_lookup_method ("org.marinavm.Marina1.Machine", "Explode",
                                                   &right));
  g_assert_true (marina_authorizer_lookup_method ("org.marinavm.Marina1.Machine", "Delete",
                                                  &right));
  g_assert_cmpint (right, ==, MARINA_RIGHT_ADMINISTER);
  /* Deleting an image file is never a public call: the disk's "full". */
  g_assert_true (marina_authorizer_lookup_method ("org.marinavm.Marina1.Disk", "Delete", &right));
  g_assert_cmpint (right, ==, MARINA_RIGHT_ADMINISTER);
}

static GPtrArray *
list_of (const char *kind, const char *name, const char *level)
{
  GPtrArray *list = marina_access_list_new ();

  marina_access_list_add (list, kind, name, level);
  return list;
}

static void
test_levels_grant (void)
{
  g_autoptr(GPtrArray) use = list_of ("user", "root", "use");
  g_autoptr(GPtrArray) configure = list_of ("user", "root", "configure");
  g_autoptr(GPtrArray) full = list_of ("user", "root", "full");
  g_autoptr(GPtrArray) create = list_of ("user", "root", "create");
  g_autoptr(GPtrArray) group = list_of ("group", "root", "use");
  gid_t gids[] = { 0 };

  g_assert_cmpint (marina_access_list_rights (use, MARINA_ACCESS_SCOPE_OBJECT, 0, NULL, 0), ==,
                   MARINA_RIGHT_USE);
  g_assert_cmpint (marina_access_list_rights (configure, MARINA_ACCESS_SCOPE_OBJECT, 0, NULL, 0),
                   ==, MARINA_RIGHT_USE | MARINA_RIGHT_CONFIGURE);
  g_assert_true (marina_access_list_rights (full, MARINA_ACCESS_SCOPE_OBJECT, 0, NULL, 0) &
                 MARINA_RIGHT_ADMINISTER);
  g_assert_false (marina_access_list_rights (full, MARINA_ACCESS_SCOPE_OBJECT, 0, NULL, 0) &
                  MARINA_RIGHT_CREATE);
  g_assert_cmpint (marina_access_list_rights (create, MARINA_ACCESS_SCOPE_SERVER, 0, NULL, 0),
                   ==, MARINA_RIGHT_CREATE);
  /* Another uid is not root; a group entry needs the group among the caller's. */
  g_assert_cmpint (marina_access_list_rights (use, MARINA_ACCESS_SCOPE_OBJECT, 65534, NULL, 0),
                   ==, MARINA_RIGHT_NONE);
  g_assert_cmpint (marina_access_list_rights (group, MARINA_ACCESS_SCOPE_OBJECT, 65534, NULL, 0),
                   ==, MARINA_RIGHT_NONE);
  g_assert_cmpint (marina_access_list_rights (group, MARINA_ACCESS_SCOPE_OBJECT, 65534, gids, 1),
                   ==, MARINA_RIGHT_USE);
}

static void
expect_invalid (GPtrArray *list, MarinaAccessScope scope, const char *fragment)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (marina_access_list_validate (list, scope, &error));
  g_assert_nonnull (strstr (error->message, fragment));
}

static void
test_validation (void)
{
  g_autoptr(GPtrArray) kind = list_of ("robot", "root", "use");
  g_autoptr(GPtrArray) name = list_of ("user", "../etc", "use");
  g_autoptr(GPtrArray) level = list_of ("user", "root", "create");
  g_autoptr(GPtrArray) twice = list_of ("user", "root", "use");
  g_autoptr(GPtrArray) many = marina_access_list_new ();
  g_autoptr(GPtrArray) missing = list_of ("user", "no-such-user-here", "use");
  g_autoptr(GError) error = NULL;

  expect_invalid (kind, MARINA_ACCESS_SCOPE_OBJECT, "\"user\" or \"group\"");
  expect_invalid (name, MARINA_ACCESS_SCOPE_OBJECT, "not a user name");
  expect_invalid (level, MARINA_ACCESS_SCOPE_OBJECT, "use, configure or full");
  g_assert_true (marina_access_list_validate (level, MARINA_ACCESS_SCOPE_SERVER, NULL));
  marina_access_list_add (twice, "user", "root", "full");
  expect_invalid (twice, MARINA_ACCESS_SCOPE_OBJECT, "twice");
  for (guint i = 0; i <= MARINA_ACCESS_MAX_ENTRIES; i++)
    {
      g_autofree char *user = g_strdup_printf ("user%u", i);
      marina_access_list_add (many, "user", user, "use");
    }
  expect_invalid (many, MARINA_ACCESS_SCOPE_OBJECT, "at most 256");
  g_assert_true (marina_access_list_validate (missing, MARINA_ACCESS_SCOPE_OBJECT, NULL));
  g_assert_false (marina_access_list_check_accounts (missing, &error));
  g_assert_nonnull (strstr (error->message, "no user named \"no-such-user-here\""));
}

/* The server's list survives a restart and a bad list changes nothing. */
static void
test_server_access_persists (void)
{
  g_autofree char *dir = g_dir_make_tmp ("marina-authorizer-XXXXXX", NULL);
  g_autoptr(MarinaAuthorizer) first = marina_authorizer_new (dir, TRUE, NULL, NULL);
  g_autoptr(MarinaAuthorizer) second = NULL;
  g_autoptr(GPtrArray) good = list_of ("user", "root", "create");
  g_autoptr(GPtrArray) bad = list_of ("user", "no-such-user-here", "use");
  g_autoptr(GError) error = NULL;
  g_autofree char *file = g_build_filename (dir, "access.conf", NULL);

  g_assert_true (marina_authorizer_set_server_access (first, good, &error));
  g_assert_no_error (error);
  g_assert_false (marina_authorizer_set_server_access (first, bad, &error));
  g_assert_true (marina_access_list_equal (marina_authorizer_get_server_access (first), good));
  second = marina_authorizer_new (dir, TRUE, NULL, NULL);
  g_assert_true (marina_access_list_equal (marina_authorizer_get_server_access (second), good));
  g_unlink (file);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/authorizer/table/lists-every-method", test_table_lists_every_method);
  g_test_add_func ("/authorizer/table/refuses-unknown", test_table_refuses_unknown);
  g_test_add_func ("/access/levels-grant", test_levels_grant);
  g_test_add_func ("/access/validation", test_validation);
  g_test_add_func ("/authorizer/server-access-persists", test_server_access_persists);
  return g_test_run ();
}
