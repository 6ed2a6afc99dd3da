/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "test-cgroups"
#include "config.h"

#include <glib/gstdio.h>

#include "marina-cgroups.h"

/* A fake cgroup file system in a temporary directory: the real ones are
 * covered by the integration tests, on whatever version the host runs. */

static char *
make_tree (const char *const *files)
{
  char *root = g_dir_make_tmp ("marina-cgroups-XXXXXX", NULL);

  for (guint i = 0; files[i]; i += 2)
    {
      g_autofree char *path = g_build_filename (root, files[i], NULL);
      g_autofree char *dir = g_path_get_dirname (path);
      g_mkdir_with_parents (dir, 0755);
      g_file_set_contents (path, files[i + 1], -1, NULL);
    }
  return root;
}

static char *
read_text (const char *root, const char *relative)
{
  g_autofree char *path = g_build_filename (root, relative, NULL);
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return g_strstrip (text);
}

static void
remove_tree (const char *root)
{
  g_autofree char *command = g_strdup_printf ("rm -rf '%s'", root);
  g_assert_cmpint (system (command), ==, 0);
}

static void
test_v2 (void)
{
  const char *const files[] = { "cgroup.controllers", "cpuset cpu io memory", "cgroup.subtree_control", "", NULL };
  g_autofree char *root = make_tree (files);
  g_autoptr(MarinaCgroups) cgroups = marina_cgroups_new (root, "marina");
  g_autoptr(GError) error = NULL;
  g_autofree char *procs = NULL, *weight = NULL, *max = NULL, *control = NULL, *uncapped = NULL;

  g_assert_cmpint (marina_cgroups_get_version (cgroups), ==, MARINA_CGROUP_V2);
  g_assert_true (marina_cgroups_place (cgroups, "abc", 4242, &error));
  g_assert_no_error (error);
  g_assert_true (marina_cgroups_set_cpu (cgroups, "abc", 300, 25, 2, &error));
  procs = read_text (root, "marina/abc/cgroup.procs");
  weight = read_text (root, "marina/abc/cpu.weight");
  max = read_text (root, "marina/abc/cpu.max");
  control = read_text (root, "cgroup.subtree_control");
  g_assert_cmpstr (procs, ==, "4242");
  g_assert_cmpstr (weight, ==, "300");
  g_assert_cmpstr (max, ==, "50000 100000"); /* 25% of a CPU for each of 2 vCPUs */
  g_assert_cmpstr (control, ==, "+cpu");
  g_assert_true (marina_cgroups_set_cpu (cgroups, "abc", 100, 100, 2, &error));
  uncapped = read_text (root, "marina/abc/cpu.max");
  g_assert_cmpstr (uncapped, ==, "max 100000");
  remove_tree (root);
}

static void
test_v1 (void)
{
  const char *const files[] = { "cpu,cpuacct/cpu.shares", "1024", "unified/cgroup.controllers", "hugetlb", NULL };
  g_autofree char *root = make_tree (files);
  g_autoptr(MarinaCgroups) cgroups = marina_cgroups_new (root, "marina");
  g_autoptr(GError) error = NULL;
  g_autofree char *shares = NULL, *quota = NULL, *period = NULL;

  /* A hybrid host whose v2 tree lacks the cpu controller uses v1. */
  g_assert_cmpint (marina_cgroups_get_version (cgroups), ==, MARINA_CGROUP_V1);
  g_assert_true (marina_cgroups_place (cgroups, "abc", 4242, &error));
  g_assert_true (marina_cgroups_set_cpu (cgroups, "abc", 300, 50, 1, &error));
  g_assert_no_error (error);
  shares = read_text (root, "cpu,cpuacct/marina/abc/cpu.shares");
  quota = read_text (root, "cpu,cpuacct/marina/abc/cpu.cfs_quota_us");
  period = read_text (root, "cpu,cpuacct/marina/abc/cpu.cfs_period_us");
  g_assert_cmpstr (shares, ==, "3072");
  g_assert_cmpstr (quota, ==, "50000");
  g_assert_cmpstr (period, ==, "100000");
  remove_tree (root);
}

static void
test_none (void)
{
  const char *const files[] = { "memory/memory.limit_in_bytes", "0", NULL };
  g_autofree char *root = make_tree (files);
  g_autoptr(MarinaCgroups) cgroups = marina_cgroups_new (root, "marina");
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (marina_cgroups_get_version (cgroups), ==, MARINA_CGROUP_NONE);
  g_assert_false (marina_cgroups_place (cgroups, "abc", 1, &error));
  g_assert_nonnull (strstr (error->message, "cannot be enforced"));
  remove_tree (root);
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* Without systemd the async calls write the same files, and fail the same way. */
static void
test_async_failure (void)
{
  const char *const files[] = { "memory/memory.limit_in_bytes", "0", NULL };
  g_autofree char *root = make_tree (files);
  g_autoptr(MarinaCgroups) cgroups = marina_cgroups_new (root, "marina");
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  marina_cgroups_place_async (cgroups, config, 1, on_done, &result);
  while (!result)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (marina_cgroups_finish (cgroups, result, &error));
  g_assert_nonnull (strstr (error->message, "cannot be enforced"));
  remove_tree (root);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/service/cgroups/v2", test_v2);
  g_test_add_func ("/service/cgroups/v1", test_v1);
  g_test_add_func ("/service/cgroups/none", test_none);
  g_test_add_func ("/service/cgroups/async-failure", test_async_failure);
  return g_test_run ();
}
