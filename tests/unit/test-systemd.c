/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "test-systemd"
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>

#include "marina-cgroups.h"
#include "marina-systemd.h"

/* systemd and systemd-machined as small stand-ins on a private bus, which
 * record every call: these machines have neither systemd as PID 1 nor a system
 * bus, so this checks what Marina asks of them, word for word. */

#define ID "0123456789abcdef0123456789abcdef"
#define JOB "/org/freedesktop/systemd1/job/7"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"

static const char stand_ins_xml[] =
  "<node>"
  " <interface name='org.freedesktop.systemd1.Manager'>"
  "  <method name='StartTransientUnit'>"
  "   <arg type='s' direction='in'/><arg type='s' direction='in'/>"
  "   <arg type='a(sv)' direction='in'/><arg type='a(sa(sv))' direction='in'/>"
  "   <arg type='o' direction='out'/>"
  "  </method>"
  "  <method name='SetUnitProperties'>"
  "   <arg type='s' direction='in'/><arg type='b' direction='in'/><arg type='a(sv)' direction='in'/>"
  "  </method>"
  "  <signal name='JobRemoved'><arg type='u'/><arg type='o'/><arg type='s'/><arg type='s'/></signal>"
  " </interface>"
  " <interface name='org.freedesktop.machine1.Manager'>"
  "  <method name='RegisterMachine'>"
  "   <arg type='s' direction='in'/><arg type='ay' direction='in'/><arg type='s' direction='in'/>"
  "   <arg type='s' direction='in'/><arg type='u' direction='in'/><arg type='s' direction='in'/>"
  "   <arg type='o' direction='out'/>"
  "  </method>"
  " </interface>"
  "</node>";

typedef struct {
  GTestDBus *dbus;
  GDBusConnection *service; /* the stand-ins' end */
  GDBusConnection *client;  /* marinad's end */
  GPtrArray *calls;         /* (method, parameters), in order */
  const char *job_result;   /* what JobRemoved reports */
  gboolean job_ends_first;  /* JobRemoved before the answer to StartTransientUnit */
  char *taken_name;         /* RegisterMachine says MachineExists for it */
  GAsyncResult *result;
} Fixture;

static void
job_removed (Fixture *f, guint id, const char *job, const char *unit, const char *result)
{
  g_dbus_connection_emit_signal (f->service, NULL, SYSTEMD_PATH, SYSTEMD_MANAGER, "JobRemoved",
                                 g_variant_new ("(uoss)", id, job, unit, result), NULL);
}

static void
answer_start (Fixture *f, GDBusMethodInvocation *invocation, GVariant *parameters)
{
  g_autofree char *unit = NULL;

  g_variant_get_child (parameters, 0, "s", &unit);
  if (f->job_ends_first)
    job_removed (f, 7, JOB, unit, f->job_result);
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", JOB));
  /* As systemd: the job runs after the answer; others end too. */
  job_removed (f, 6, "/org/freedesktop/systemd1/job/6", "other.service", "failed");
  if (!f->job_ends_first)
    job_removed (f, 7, JOB, unit, f->job_result);
}

static void
answer_register (Fixture *f, GDBusMethodInvocation *invocation, GVariant *parameters)
{
  g_autofree char *name = NULL;
  g_autofree char *message = NULL;

  g_variant_get_child (parameters, 0, "s", &name);
  message = g_strdup_printf ("Machine '%s' already exists", name);
  if (g_strcmp0 (name, f->taken_name) == 0)
    g_dbus_method_invocation_return_dbus_error (invocation, "org.freedesktop.machine1.MachineExists",
                                                message);
  else
    g_dbus_method_invocation_return_value (invocation,
                                           g_variant_new ("(o)", "/org/freedesktop/machine1/machine/m"));
}

static void
on_method_call (GDBusConnection *connection, const char *sender, const char *path,
                const char *interface, const char *method, GVariant *parameters,
                GDBusMethodInvocation *invocation, gpointer user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->calls, g_variant_ref_sink (g_variant_new ("(s@*)", method, parameters)));
  if (g_str_equal (method, "StartTransientUnit"))
    answer_start (f, invocation, parameters);
  else if (g_str_equal (method, "RegisterMachine"))
    answer_register (f, invocation, parameters);
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable vtable = { on_method_call, NULL, NULL, { 0 } };

static GDBusConnection *
connect_to_test_bus (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection = g_dbus_connection_new_for_address_sync (
    g_test_dbus_get_bus_address (f->dbus),
    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &error);

  g_assert_no_error (error);
  return connection;
}

static void
serve (Fixture *f, GDBusNodeInfo *info, guint i, const char *path, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_dbus_connection_register_object (f->service, path, info->interfaces[i], &vtable, f, NULL, &error);
  g_assert_no_error (error);
  reply = g_dbus_connection_call_sync (f->service, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "RequestName",
                                       g_variant_new ("(su)", name, 0), G_VARIANT_TYPE ("(u)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
}

/* data: NULL for a bus with the stand-ins, anything else for one without. */
static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (stand_ins_xml, NULL);

  f->dbus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (f->dbus);
  f->service = connect_to_test_bus (f);
  f->client = connect_to_test_bus (f);
  f->calls = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  f->job_result = "done";
  if (data)
    return;
  serve (f, info, 0, SYSTEMD_PATH, "org.freedesktop.systemd1");
  serve (f, info, 1, "/org/freedesktop/machine1", "org.freedesktop.machine1");
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  /* Lets the last destroy notifications run before the bus goes. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&f->result);
  g_clear_object (&f->client);
  g_clear_object (&f->service);
  g_ptr_array_unref (f->calls);
  g_free (f->taken_name);
  g_test_dbus_down (f->dbus);
  g_clear_object (&f->dbus);
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;

  f->result = g_object_ref (result);
}

static GAsyncResult *
wait_for_result (Fixture *f)
{
  while (!f->result)
    g_main_context_iteration (NULL, TRUE);
  return f->result;
}

/* Compares printed with their types, so that a u for a t shows. */
static void
assert_call (Fixture *f, guint i, const char *method, const char *expected)
{
  g_autoptr(GVariant) want = g_variant_parse (NULL, expected, NULL, NULL, NULL);
  g_autoptr(GVariant) got = NULL;
  const char *got_method;
  g_autofree char *want_text = NULL, *got_text = NULL;

  g_assert_nonnull (want);
  g_assert_cmpuint (f->calls->len, >, i);
  g_variant_get (f->calls->pdata[i], "(&s@*)", &got_method, &got);
  g_assert_cmpstr (got_method, ==, method);
  want_text = g_variant_print (want, TRUE);
  got_text = g_variant_print (got, TRUE);
  g_assert_cmpstr (got_text, ==, want_text);
}

static const char expected_scope[] =
  "('marina-" ID ".scope', 'fail', "
  "[('Description', <'Marina virtual machine web_1 (test)'>), ('Slice', <'machine.slice'>),"
  " ('PIDs', <[uint32 4242]>), ('Delegate', <true>), ('CollectMode', <'inactive-or-failed'>),"
  " ('CPUWeight', <uint64 300>), ('CPUQuotaPerSecUSec', <uint64 500000>)], @a(sa(sv)) [])";

static const char expected_id[] =
  "[byte 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]";

static void
assert_registered (Fixture *f, guint i, const char *name)
{
  g_autofree char *expected = g_strdup_printf ("('%s', %s, 'marina', 'vm', uint32 4242, '')", name,
                                               expected_id);

  assert_call (f, i, "RegisterMachine", expected);
}

static gboolean
start_machine (Fixture *f, GError **error)
{
  /* 25% of a CPU per vCPU, 2 vCPUs: half a CPU, 500000 µs per second. */
  marina_systemd_start_machine_async (f->client, ID, "web_1 (test)", 4242, 300, 25, 2, on_done, f);
  return marina_systemd_finish (wait_for_result (f), error);
}

static void
test_start_machine (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (start_machine (f, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->calls->len, ==, 2);
  assert_call (f, 0, "StartTransientUnit", expected_scope);
  assert_registered (f, 1, "web-1-test");
}

static void
test_job_ends_first (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->job_ends_first = TRUE;
  g_assert_true (start_machine (f, &error));
  g_assert_no_error (error);
  assert_registered (f, 1, "web-1-test");
}

static void
test_job_failed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->job_result = "failed";
  g_assert_false (start_machine (f, &error));
  g_assert_nonnull (strstr (error->message, "marina-" ID ".scope"));
  g_assert_nonnull (strstr (error->message, "failed"));
  /* Not registered: machined would take marinad's own unit for the machine's. */
  g_assert_cmpuint (f->calls->len, ==, 1);
}

static void
test_name_taken (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->taken_name = g_strdup ("web-1-test");
  g_assert_true (start_machine (f, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->calls->len, ==, 3);
  assert_registered (f, 1, "web-1-test");
  assert_registered (f, 2, "marina-" ID);
}

static void
test_set_cpu (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  /* A cap of 100% per vCPU is none: systemd's infinity. */
  marina_systemd_set_cpu_async (f->client, ID, 10000, 100, 4, on_done, f);
  g_assert_true (marina_systemd_finish (wait_for_result (f), &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->calls->len, ==, 1);
  assert_call (f, 0, "SetUnitProperties",
               "('marina-" ID ".scope', true, [('CPUWeight', <uint64 10000>),"
               " ('CPUQuotaPerSecUSec', <uint64 18446744073709551615>)])");
}

static void
test_no_systemd (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (start_machine (f, &error));
  g_assert_true (g_str_has_prefix (error->message, "Cannot start marina-" ID ".scope: "));
  g_assert_null (strstr (error->message, "GDBus.Error"));
}

/* MarinaCgroups hands everything to systemd once told to, files or not. */
static void
test_cgroups_through_systemd (Fixture *f, gconstpointer data)
{
  g_autofree char *root = g_dir_make_tmp ("marina-systemd-XXXXXX", NULL);
  g_autoptr(MarinaCgroups) cgroups = marina_cgroups_new (root, "marina");
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_new ();
  g_autoptr(GError) error = NULL;

  g_free (config->id);
  config->id = g_strdup (ID);
  config->vcpus = 2;
  config->cpu_maximum = 100;
  marina_cgroups_use_systemd (cgroups, f->client);
  g_assert_cmpstr (marina_cgroups_describe (cgroups), ==, "systemd scopes in machine.slice");
  marina_cgroups_set_cpu_async (cgroups, config, on_done, f);
  g_assert_true (marina_cgroups_finish (cgroups, wait_for_result (f), &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->calls->len, ==, 1);
  g_assert_cmpint (g_rmdir (root), ==, 0); /* nothing was written there */
}

static void
test_booted (void)
{
  g_autofree char *root = g_dir_make_tmp ("marina-systemd-XXXXXX", NULL);
  g_autofree char *run = g_build_filename (root, "run", NULL);
  g_autofree char *systemd = g_build_filename (run, "systemd", NULL);
  g_autofree char *dir = g_build_filename (systemd, "system", NULL);

  g_assert_false (marina_systemd_booted (root));
  g_mkdir_with_parents (dir, 0755);
  g_assert_true (marina_systemd_booted (root));
  g_rmdir (dir);
  g_rmdir (systemd);
  g_rmdir (run);
  g_rmdir (root);
}

static void
test_machine_name (void)
{
  const char *cases[][2] = {
    { "web1", "web1" },
    { "Web Server 2003", "Web-Server-2003" },
    { "  --db_01.example--  ", "db-01-example" },
    { "Büro", "B-ro" },
    { "___", "marina-" ID },
    { "", "marina-" ID },
  };
  g_autofree char *long_name = g_strnfill (80, 'x');
  g_autofree char *cut = marina_systemd_machine_name (long_name, ID);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = marina_systemd_machine_name (cases[i][0], ID);
      g_assert_cmpstr (name, ==, cases[i][1]);
    }
  g_assert_cmpuint (strlen (cut), ==, 64);
}

#define ADD_BUS_TEST(path, data, func) \
  g_test_add (path, Fixture, data, fixture_set_up, func, fixture_tear_down)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/systemd/booted", test_booted);
  g_test_add_func ("/systemd/machine-name", test_machine_name);
  ADD_BUS_TEST ("/systemd/start-machine", NULL, test_start_machine);
  ADD_BUS_TEST ("/systemd/start-machine/job-ends-first", NULL, test_job_ends_first);
  ADD_BUS_TEST ("/systemd/start-machine/job-failed", NULL, test_job_failed);
  ADD_BUS_TEST ("/systemd/start-machine/name-taken", NULL, test_name_taken);
  ADD_BUS_TEST ("/systemd/start-machine/no-systemd", "no stand-ins", test_no_systemd);
  ADD_BUS_TEST ("/systemd/set-cpu", NULL, test_set_cpu);
  ADD_BUS_TEST ("/systemd/cgroups", NULL, test_cgroups_through_systemd);
  return g_test_run ();
}
