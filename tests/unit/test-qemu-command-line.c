/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "test-qemu-command-line"
#include "config.h"

#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include "marina-error.h"
#include "marina-image.h"
#include "marina-machine-config.h"
#include "marina-qemu-command-line.h"

#define QEMU_BINARY "qemu-system-x86_64"

typedef struct {
  char *dir;
  char *raw_image;
  char *qcow2_image;
  char *iso_image;
  char *qmp_path;
  char *serial_path;
  char *serial_log;
  char *agent_path;
  MarinaQemuRuntime runtime;
} Fixture;

static char *
write_file (const char *dir, const char *name, const void *data, gsize length)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, data, length, &error);
  g_assert_no_error (error);
  return path;
}

/* A sparse image of @size bytes beginning with @header. */
static char *
write_image (const char *dir, const char *name, const char *header, gsize header_length,
             goffset size)
{
  char *path = write_file (dir, name, header, header_length);

  g_assert_cmpint (truncate (path, size), ==, 0);
  return path;
}

/* A real qcow2 image from qemu-img; without qemu-img, a file with just the
 * magic, which only the command line tests (not QEMU) can use. */
static char *
write_qcow2 (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", path, "16M", NULL };
  int status;

  if (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                    &status, NULL) &&
      g_spawn_check_wait_status (status, NULL))
    return g_steal_pointer (&path);
  return write_image (dir, name, "QFI\xfb\0\0\0\3", 8, 1 << 16);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("marina-qemu-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->raw_image = write_image (fixture->dir, "a,b=c disk.img", "", 0, 16 << 20);
  fixture->qcow2_image = write_qcow2 (fixture->dir, "disk.qcow2");
  fixture->iso_image = write_image (fixture->dir, "cd,rom.iso", "", 0, 1 << 20);
  fixture->qmp_path = g_build_filename (fixture->dir, "qmp.sock", NULL);
  fixture->serial_path = g_build_filename (fixture->dir, "serial.sock", NULL);
  fixture->serial_log = g_build_filename (fixture->dir, "serial,log", NULL);
  fixture->agent_path = g_build_filename (fixture->dir, "agent.sock", NULL);
  fixture->runtime.qemu_binary = QEMU_BINARY;
  fixture->runtime.accelerator = "tcg";
  fixture->runtime.qmp_socket_path = fixture->qmp_path;
  fixture->runtime.serial_socket_path = fixture->serial_path;
  fixture->runtime.serial_log_path = fixture->serial_log;
  fixture->runtime.agent_socket_path = fixture->agent_path;
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GDir) dir = g_dir_open (fixture->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fixture->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->raw_image);
  g_free (fixture->qcow2_image);
  g_free (fixture->iso_image);
  g_free (fixture->qmp_path);
  g_free (fixture->serial_path);
  g_free (fixture->serial_log);
  g_free (fixture->agent_path);
}

static MarinaMachineConfig *
config_new (const char *name, MarinaProfile profile)
{
  MarinaMachineConfig *config = marina_machine_config_new ();

  g_free (config->id);
  config->id = g_strdup ("0123456789abcdef0123456789abcdef");
  config->name = g_strdup (name);
  config->profile = profile;
  config->memory_mib = 128;
  return config;
}

static GStrv
build (const MarinaMachineConfig *config, const MarinaQemuRuntime *runtime)
{
  g_autoptr(GError) error = NULL;
  GStrv argv = marina_qemu_command_line (config, runtime, &error);

  g_assert_no_error (error);
  g_assert_nonnull (argv);
  return argv;
}

/* Whether @option is followed by @value somewhere in @argv. */
static gboolean
has_option (const char *const *argv, const char *option, const char *value)
{
  for (guint i = 0; argv[i] != NULL && argv[i + 1] != NULL; i++)
    {
      if (g_str_equal (argv[i], option) && g_str_equal (argv[i + 1], value))
        return TRUE;
    }
  return FALSE;
}

static void
assert_option (char **argv, const char *option, const char *value)
{
  if (!has_option ((const char *const *) argv, option, value))
    {
      g_autofree char *joined = g_strjoinv (" ", argv);

      g_error ("'%s %s' missing from: %s", option, value, joined);
    }
}

static gboolean
has_arg (char **argv, const char *arg)
{
  return g_strv_contains ((const char *const *) argv, arg);
}

/* ---- pure functions ---- */

static void
test_escape (void)
{
  g_autofree char *plain = marina_qemu_escape_option_value ("/var/lib/x.img");
  g_autofree char *commas = marina_qemu_escape_option_value ("a,b=c,,d,");
  g_autofree char *empty = marina_qemu_escape_option_value ("");

  g_assert_cmpstr (plain, ==, "/var/lib/x.img");
  g_assert_cmpstr (commas, ==, "a,,b=c,,,,d,,");
  g_assert_cmpstr (empty, ==, "");
}

static void
test_uuid (void)
{
  g_autofree char *uuid = marina_qemu_uuid_from_id ("0123456789abcdef0123456789abcdef");

  g_assert_cmpstr (uuid, ==, "01234567-89ab-cdef-0123-456789abcdef");
}

/* ---- command lines ---- */

static void
assert_guest_agent (char **argv, Fixture *fixture)
{
  g_autofree char *agent = g_strdup_printf ("socket,id=agent,path=%s,server=on,wait=off",
                                            fixture->agent_path);

  assert_option (argv, "-device", "virtio-serial-pci,id=agent-serial");
  assert_option (argv, "-chardev", agent);
  assert_option (argv, "-device", "virtserialport,bus=agent-serial.0,chardev=agent,"
                                  "name=org.qemu.guest_agent.0,id=agent0");
}

static void
assert_common (char **argv, Fixture *fixture)
{
  g_autofree char *qmp = g_strdup_printf ("socket,id=qmp,path=%s,server=on,wait=off",
                                          fixture->qmp_path);
  g_autofree char *serial = g_strdup_printf ("socket,id=serial0,path=%s,server=on,wait=off,"
                                             "logfile=%s/serial,,log,logappend=on",
                                             fixture->serial_path, fixture->dir);

  g_assert_cmpstr (argv[0], ==, QEMU_BINARY);
  assert_option (argv, "-uuid", "01234567-89ab-cdef-0123-456789abcdef");
  assert_option (argv, "-accel", "tcg,tb-size=64");
  assert_option (argv, "-cpu", "max");
  assert_option (argv, "-m", "128");
  assert_option (argv, "-smp", "1");
  assert_option (argv, "-chardev", qmp);
  assert_option (argv, "-mon", "chardev=qmp,mode=control");
  assert_option (argv, "-chardev", serial);
  assert_option (argv, "-device", "isa-serial,chardev=serial0,id=serial0");
  assert_guest_agent (argv, fixture);
  assert_option (argv, "-display", "none");
  assert_option (argv, "-vnc", "none");
  assert_option (argv, "-device", "usb-tablet,id=tablet,bus=usb.0");
  assert_option (argv, "-msg", "timestamp=on");
  g_assert_true (has_arg (argv, "-nodefaults"));
  g_assert_true (has_arg (argv, "-no-user-config"));
  g_assert_true (has_arg (argv, "-S"));
  g_assert_false (has_arg (argv, "-incoming"));
}

static void
test_modern (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("demo", MARINA_PROFILE_MODERN);
  g_auto(GStrv) argv = NULL;
  g_autofree char *file = NULL;

  config->boot_disk = g_strdup (fixture->qcow2_image);
  config->boot_disk_format = g_strdup ("qcow2");
  argv = build (config, &fixture->runtime);
  assert_common (argv, fixture);
  assert_option (argv, "-name", "guest=demo,debug-threads=on");
  assert_option (argv, "-machine", "q35");
  assert_option (argv, "-device", "VGA,id=video0");
  assert_option (argv, "-device", "qemu-xhci,id=usb");
  file = g_strdup_printf ("driver=file,node-name=disk0-file,filename=%s,cache.direct=off,"
                          "read-only=off", fixture->qcow2_image);
  assert_option (argv, "-blockdev", file);
  assert_option (argv, "-blockdev",
                 "driver=qcow2,node-name=disk0-format,file=disk0-file,read-only=off,discard=unmap");
  assert_option (argv, "-device", "virtio-blk-pci,drive=disk0-format,id=disk0,bootindex=1");
  /* An empty CD/DVD drive, still second in the boot order. */
  assert_option (argv, "-device", "ide-cd,bus=ide.1,unit=0,id=cd0,bootindex=2");
  g_assert_false (has_option ((const char *const *) argv, "-device", "lsi53c895a,id=scsi0"));
}

static void
test_legacy (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("old", MARINA_PROFILE_LEGACY);
  g_auto(GStrv) argv = NULL;
  g_autofree char *cd_file = NULL;

  config->vcpus = 2;
  config->boot_disk = g_strdup (fixture->qcow2_image);
  config->cdrom = g_strdup (fixture->iso_image);
  argv = build (config, &fixture->runtime);
  assert_guest_agent (argv, fixture); /* i440fx takes virtio-serial too */
  assert_option (argv, "-machine", "pc");
  assert_option (argv, "-smp", "2");
  assert_option (argv, "-device", "cirrus-vga,id=video0");
  assert_option (argv, "-device", "piix3-usb-uhci,id=usb,bus=pci.0,addr=0x1.0x2");
  assert_option (argv, "-device", "lsi53c895a,id=scsi0");
  /* No format in the configuration: probed, never left to QEMU. */
  assert_option (argv, "-blockdev",
                 "driver=qcow2,node-name=disk0-format,file=disk0-file,read-only=off,discard=unmap");
  assert_option (argv, "-device",
                 "ide-hd,bus=ide.0,unit=0,drive=disk0-format,id=disk0,bootindex=1");
  cd_file = g_strdup_printf ("driver=file,node-name=cd0-file,filename=%s/cd,,rom.iso,"
                             "cache.direct=off,read-only=on", fixture->dir);
  assert_option (argv, "-blockdev", cd_file);
  assert_option (argv, "-blockdev", "driver=raw,node-name=cd0-format,file=cd0-file,read-only=on");
  assert_option (argv, "-device",
                 "ide-cd,bus=ide.1,unit=0,drive=cd0-format,id=cd0,bootindex=2");
}

static void
test_boot_order (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("boot", MARINA_PROFILE_MODERN);
  const char *const cd_first[] = { "network", "cdrom", "disk", NULL };
  const char *const cd_only[] = { "cdrom", NULL };
  g_auto(GStrv) argv = NULL;
  g_auto(GStrv) argv_cd_only = NULL;

  config->boot_disk = g_strdup (fixture->raw_image);
  config->cdrom = g_strdup (fixture->iso_image);
  g_strfreev (config->boot_order);
  config->boot_order = g_strdupv ((GStrv) cd_first);
  argv = build (config, &fixture->runtime);
  assert_option (argv, "-device", "ide-cd,bus=ide.1,unit=0,drive=cd0-format,id=cd0,bootindex=2");
  assert_option (argv, "-device", "virtio-blk-pci,drive=disk0-format,id=disk0,bootindex=3");

  g_strfreev (config->boot_order);
  config->boot_order = g_strdupv ((GStrv) cd_only);
  argv_cd_only = build (config, &fixture->runtime);
  assert_option (argv_cd_only, "-device",
                 "ide-cd,bus=ide.1,unit=0,drive=cd0-format,id=cd0,bootindex=1");
  assert_option (argv_cd_only, "-device", "virtio-blk-pci,drive=disk0-format,id=disk0");
}

/* Commas in user strings are doubled, so "a,b=c" stays one value. */
static void
test_escaping (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("a,b=c", MARINA_PROFILE_MODERN);
  g_auto(GStrv) argv = NULL;
  g_autofree char *file = NULL;

  config->boot_disk = g_strdup (fixture->raw_image);
  argv = build (config, &fixture->runtime);
  assert_option (argv, "-name", "guest=a,,b=c,debug-threads=on");
  file = g_strdup_printf ("driver=file,node-name=disk0-file,filename=%s/a,,b=c disk.img,"
                          "cache.direct=off,read-only=off", fixture->dir);
  assert_option (argv, "-blockdev", file);
  assert_option (argv, "-blockdev",
                 "driver=raw,node-name=disk0-format,file=disk0-file,read-only=off,discard=unmap");
}

static void
test_incoming (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("demo", MARINA_PROFILE_MODERN);
  MarinaQemuRuntime runtime = fixture->runtime;
  g_auto(GStrv) argv = NULL;
  g_auto(GStrv) plain = NULL;
  guint n;

  runtime.incoming = TRUE;
  runtime.serial_log_path = NULL;
  argv = build (config, &runtime);
  assert_option (argv, "-incoming", "defer");
  g_assert_true (has_arg (argv, "-S"));
  for (n = 0; argv[n] != NULL; n++)
    g_assert_null (strstr (argv[n], "logfile="));
  /* The rest is the same as for a fresh start: the saved state must find
   * the very same hardware. */
  runtime.incoming = FALSE;
  plain = build (config, &runtime);
  g_assert_cmpuint (g_strv_length (plain) + 2, ==, n);
  for (guint i = 0; plain[i] != NULL; i++)
    g_assert_cmpstr (plain[i], ==, argv[i]);
}

static void
test_kvm (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("demo", MARINA_PROFILE_MODERN);
  MarinaQemuRuntime runtime = fixture->runtime;
  g_auto(GStrv) argv = NULL;

  runtime.accelerator = "kvm";
  argv = build (config, &runtime);
  assert_option (argv, "-accel", "kvm");
  assert_option (argv, "-cpu", "host");
}

static void
assert_build_fails (const MarinaMachineConfig *config, const MarinaQemuRuntime *runtime,
                    gint code, const char *part)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = marina_qemu_command_line (config, runtime, &error);

  g_assert_null (argv);
  g_assert_error (error, MARINA_ERROR, code);
  if (strstr (error->message, part) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, part);
}

static void
test_refusals (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("demo", MARINA_PROFILE_MODERN);
  g_autoptr(MarinaMachineConfig) newline = config_new ("evil\n-name x", MARINA_PROFILE_MODERN);
  MarinaQemuRuntime runtime = fixture->runtime;
  g_autofree char *missing = g_build_filename (fixture->dir, "missing.img", NULL);
  g_autofree char *long_path = g_strdup_printf ("/%0200d/qmp.sock", 0);

  assert_build_fails (newline, &runtime, MARINA_ERROR_INVALID_ARGUMENT, "control characters");

  runtime.accelerator = "auto";
  assert_build_fails (config, &runtime, MARINA_ERROR_INVALID_ARGUMENT, "not 'auto'");
  runtime = fixture->runtime;
  runtime.qmp_socket_path = long_path;
  assert_build_fails (config, &runtime, MARINA_ERROR_INVALID_ARGUMENT, "Unix socket address");
  runtime = fixture->runtime;
  runtime.agent_socket_path = NULL;
  assert_build_fails (config, &runtime, MARINA_ERROR_INVALID_ARGUMENT, "guest agent socket");
  runtime = fixture->runtime;

  config->boot_disk = g_strdup (missing);
  assert_build_fails (config, &runtime, MARINA_ERROR_NOT_FOUND, "does not exist");
  config->boot_disk_format = g_strdup ("raw");
  assert_build_fails (config, &runtime, MARINA_ERROR_NOT_FOUND, "does not exist");
  g_clear_pointer (&config->boot_disk, g_free);
  config->cdrom = g_strdup (missing);
  assert_build_fails (config, &runtime, MARINA_ERROR_NOT_FOUND, "CD/DVD image");
}

/* ---- probing image formats ---- */

static void
assert_probe (const char *path, const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *format = marina_image_probe_format (path, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (format, ==, expected);
}

static void
test_probe (Fixture *fixture, gconstpointer data)
{
  g_autofree char *qcow2 = write_image (fixture->dir, "p.qcow2", "QFI\xfb\0\0\0\3", 8, 4096);
  g_autofree char *vhdx = write_image (fixture->dir, "p.vhdx", "vhdxfile", 8, 1 << 20);
  g_autofree char *dynamic = write_image (fixture->dir, "d.vhd", "conectix", 8, 1 << 20);
  g_autofree char *fixed = write_image (fixture->dir, "f.vhd", "", 0, 1 << 20);
  g_autofree char *tiny = write_file (fixture->dir, "tiny", "QF", 2);
  g_autofree char *empty = write_file (fixture->dir, "empty", "", 0);
  g_autofree char *almost = write_image (fixture->dir, "a.img", "QFI\xfa", 4, 4096);
  g_autoptr(GFile) fixed_file = g_file_new_for_path (fixed);
  g_autoptr(GFileIOStream) stream = g_file_open_readwrite (fixed_file, NULL, NULL);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (stream));

  /* A fixed VHD is raw data with "conectix" starting its last 512 bytes. */
  g_assert_true (g_seekable_seek (G_SEEKABLE (stream), (1 << 20) - 512, G_SEEK_SET, NULL, NULL));
  g_assert_true (g_output_stream_write_all (out, "conectix", 8, NULL, NULL, NULL));
  g_assert_true (g_io_stream_close (G_IO_STREAM (stream), NULL, NULL));

  assert_probe (fixture->raw_image, "raw");
  assert_probe (qcow2, "qcow2");
  assert_probe (vhdx, "vhdx");
  assert_probe (dynamic, "vpc");
  assert_probe (fixed, "vpc");
  assert_probe (tiny, "raw");
  assert_probe (empty, "raw");
  assert_probe (almost, "raw");
}

static void
test_probe_errors (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *missing = g_build_filename (fixture->dir, "missing.img", NULL);
  g_autofree char *fifo = g_build_filename (fixture->dir, "fifo", NULL);
  g_autofree char *message = g_strdup_printf ("Disk image '%s' does not exist", missing);

  g_assert_null (marina_image_probe_format (missing, &error));
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, message);
  g_clear_error (&error);
  g_assert_null (marina_image_probe_format (fixture->dir, &error));
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* Must return at once, not wait for a writer. */
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_null (marina_image_probe_format (fifo, &error));
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT);
}

/* ---- the real QEMU ---- */

static GSocketConnection *
connect_qmp (const char *path)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      GSocketConnection *connection =
        g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, NULL);

      if (connection != NULL)
        return connection;
      g_usleep (20 * 1000);
    }
  g_error ("QEMU did not open its QMP socket %s", path);
  return NULL;
}

/* QEMU that stops answering: say how it ended (a signal such as SIGSYS is
 * the seccomp sandbox refusing a system call), not only that a write failed. */
static GSubprocess *current_qemu;

static void
report_qemu_end (const char *command, const GError *error)
{
  int status;

  g_subprocess_wait (current_qemu, NULL, NULL);
  status = g_subprocess_get_status (current_qemu);
  g_error ("QEMU stopped answering at %s (%s): %s %d", command, error->message,
           WIFSIGNALED (status) ? "killed by signal" : "exit status",
           WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status));
}

/* Sends one command and returns the first line that is not an event. */
static char *
qmp (GDataInputStream *in, GOutputStream *out, const char *command)
{
  g_autoptr(GError) error = NULL;
  /* One write: QEMU runs "quit" as soon as the JSON object is complete and
   * may be gone before a separate newline (EPIPE, with exit status 0). */
  g_autofree char *line_out = g_strconcat (command, "\n", NULL);

  if (!g_output_stream_write_all (out, line_out, strlen (line_out), NULL, NULL, &error))
    report_qemu_end (command, error);
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, &error);

      if (line == NULL && !g_str_equal (command, "{\"execute\": \"quit\"}"))
        report_qemu_end (command, error ? error : g_error_new_literal (G_IO_ERROR,
                                                                       G_IO_ERROR_CLOSED,
                                                                       "end of stream"));
      g_assert_nonnull (line);
      if (strstr (line, "\"event\"") == NULL)
        return g_steal_pointer (&line);
    }
}

static void
assert_reply (GDataInputStream *in, GOutputStream *out, const char *command, const char *part)
{
  g_autofree char *reply = qmp (in, out, command);

  if (strstr (reply, part) == NULL)
    g_error ("reply to %s lacks %s: %s", command, part, reply);
}

/* QEMU must not outlive a failed test (nor keep its output pipe open). */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* Starts the command line for real (TCG, paused) and asks QEMU over QMP
 * whether it built the machine that was meant. */
static void
run_real_qemu (Fixture *fixture, const MarinaMachineConfig *config, const char *const *checks)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = build (config, &fixture->runtime);
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr(GSubprocess) qemu = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  GOutputStream *out;
  g_autofree char *greeting = NULL;

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  qemu = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv, &error);
  g_assert_no_error (error);
  current_qemu = qemu;
  connection = connect_qmp (fixture->qmp_path);
  in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  greeting = g_data_input_stream_read_line (in, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (greeting, "\"QMP\""));
  assert_reply (in, out, "{\"execute\": \"qmp_capabilities\"}", "\"return\"");
  for (guint i = 0; checks[i] != NULL; i += 2)
    assert_reply (in, out, checks[i], checks[i + 1]);
  /* Still answering after a moment: nothing in the command line made it give up. */
  g_usleep (300 * 1000);
  g_assert_nonnull (g_subprocess_get_identifier (qemu));
  assert_reply (in, out, "{\"execute\": \"query-status\"}", "\"return\"");
  assert_reply (in, out, "{\"execute\": \"quit\"}", "\"return\"");
  g_subprocess_wait_check (qemu, NULL, &error);
  g_assert_no_error (error);
}

static gboolean
skip_without_qemu (void)
{
  g_autofree char *qemu = g_find_program_in_path (QEMU_BINARY);
  g_autofree char *qemu_img = g_find_program_in_path ("qemu-img");

  if (qemu == NULL || qemu_img == NULL)
    g_test_skip (QEMU_BINARY " or qemu-img is not installed");
  return qemu == NULL || qemu_img == NULL;
}

static void
test_real_modern (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("real,test=1", MARINA_PROFILE_MODERN);
  const char *const checks[] = {
    "{\"execute\": \"query-status\"}", "\"status\": \"prelaunch\"",
    "{\"execute\": \"query-name\"}", "\"name\": \"real,test=1\"",
    "{\"execute\": \"query-uuid\"}", "01234567-89ab-cdef-0123-456789abcdef",
    "{\"execute\": \"query-block\"}", "\"drv\": \"qcow2\"",
    "{\"execute\": \"query-block\"}", "\"qdev\": \"cd0\"",
    "{\"execute\": \"qom-list\", \"arguments\": {\"path\": \"/machine/peripheral\"}}", "\"tablet\"",
    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine/peripheral/usb\", "
      "\"property\": \"type\"}}", "qemu-xhci",
    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine/peripheral/disk0\", "
      "\"property\": \"type\"}}", "virtio-blk-pci",
    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine/peripheral/agent0\", "
      "\"property\": \"name\"}}", "org.qemu.guest_agent.0",
    NULL
  };

  if (skip_without_qemu ())
    return;
  config->boot_disk = g_strdup (fixture->qcow2_image);
  run_real_qemu (fixture, config, checks);
}

static void
test_real_legacy (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("legacy", MARINA_PROFILE_LEGACY);
  const char *const checks[] = {
    "{\"execute\": \"query-status\"}", "\"status\": \"prelaunch\"",
    "{\"execute\": \"query-block\"}", "\"drv\": \"raw\"",
    "{\"execute\": \"query-block\"}", "cd,rom.iso",
    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine/peripheral/video0\", "
      "\"property\": \"type\"}}", "cirrus-vga",
    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine/peripheral/scsi0\", "
      "\"property\": \"type\"}}", "lsi53c895a",
    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine/peripheral/disk0\", "
      "\"property\": \"type\"}}", "ide-hd",
    "{\"execute\": \"qom-list\", \"arguments\": {\"path\": \"/machine/peripheral\"}}", "\"tablet\"",
    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine/peripheral/agent-serial\", "
      "\"property\": \"type\"}}", "virtio-serial-pci",
    NULL
  };

  if (skip_without_qemu ())
    return;
  config->boot_disk = g_strdup (fixture->raw_image);
  config->cdrom = g_strdup (fixture->iso_image);
  run_real_qemu (fixture, config, checks);
}

static MarinaDrive *
drive_new (const char *path, MarinaBus bus, guint controller, guint unit)
{
  MarinaDrive *drive = marina_drive_new ();

  drive->path = g_strdup (path);
  drive->format = g_strdup ("qcow2");
  drive->bus = bus;
  drive->controller = controller;
  drive->unit = unit;
  return drive;
}

/* Undo disks: the boot disk read-only under the overlay the device uses. */
static void
test_undo_overlay (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("undo", MARINA_PROFILE_MODERN);
  g_autofree char *overlay = g_build_filename (fixture->dir, "undo-disk0.qcow2", NULL);
  MarinaQemuRuntime runtime = fixture->runtime;
  g_autofree char *escaped = NULL;
  g_autofree char *base = NULL;
  g_autofree char *top = NULL;
  g_auto(GStrv) argv = NULL;

  config->boot_disk = g_strdup (fixture->raw_image);
  config->boot_disk_format = g_strdup ("raw");
  runtime.boot_disk_overlay = overlay;
  argv = build (config, &runtime);
  escaped = marina_qemu_escape_option_value (fixture->raw_image);
  base = g_strdup_printf ("driver=file,node-name=disk0-base-file,filename=%s,cache.direct=off,"
                          "read-only=on", escaped);
  top = g_strdup_printf ("driver=file,node-name=disk0-file,filename=%s,cache.direct=off",
                         overlay);
  assert_option (argv, "-blockdev", base);
  assert_option (argv, "-blockdev",
                 "driver=raw,node-name=disk0-base-format,file=disk0-base-file,read-only=on");
  assert_option (argv, "-blockdev", top);
  assert_option (argv, "-blockdev", "driver=qcow2,node-name=disk0-format,file=disk0-file,"
                                    "backing=disk0-base-format,discard=unmap");
  assert_option (argv, "-device", "virtio-blk-pci,drive=disk0-format,id=disk0,bootindex=1");
}

/* Additional disks in their slots, a second LSI controller for SCSI
 * controller 1, and the floppy drive of the legacy board. */
static void
test_drives (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("drives", MARINA_PROFILE_LEGACY);
  g_autoptr(MarinaMachineConfig) modern = config_new ("virtio", MARINA_PROFILE_MODERN);
  g_auto(GStrv) argv = NULL;
  g_auto(GStrv) modern_argv = NULL;

  g_ptr_array_add (config->drives, drive_new (fixture->raw_image, MARINA_BUS_IDE, 1, 1));
  g_ptr_array_add (config->drives, drive_new (fixture->qcow2_image, MARINA_BUS_SCSI, 1, 6));
  config->floppy = g_strdup (fixture->iso_image);
  argv = build (config, &fixture->runtime);
  assert_option (argv, "-device", "lsi53c895a,id=scsi0");
  assert_option (argv, "-device", "lsi53c895a,id=scsi1");
  g_assert_false (has_option ((const char *const *) argv, "-device", "lsi53c895a,id=scsi2"));
  assert_option (argv, "-device", "ide-hd,bus=ide.1,unit=1,drive=disk1-format,id=disk1");
  assert_option (argv, "-device", "scsi-hd,bus=scsi1.0,scsi-id=6,drive=disk2-format,id=disk2");
  assert_option (argv, "-blockdev",
                 "driver=qcow2,node-name=disk2-format,file=disk2-file,read-only=off,discard=unmap");
  assert_option (argv, "-device", "floppy,unit=0,drive=fd0-format,id=fd0");

  g_ptr_array_add (modern->drives, drive_new (fixture->qcow2_image, MARINA_BUS_VIRTIO, 0, 0));
  modern_argv = build (modern, &fixture->runtime);
  assert_option (modern_argv, "-device", "virtio-blk-pci,drive=disk1-format,id=disk1");
  g_assert_false (has_option ((const char *const *) modern_argv, "-device", "floppy,unit=0,id=fd0"));
}

/* Restoring starts QEMU waiting for migrate-incoming. */
static void
test_real_incoming (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("incoming", MARINA_PROFILE_MODERN);
  const char *const checks[] = {
    "{\"execute\": \"query-status\"}", "\"status\": \"inmigrate\"",
    NULL
  };

  if (skip_without_qemu ())
    return;
  fixture->runtime.incoming = TRUE;
  config->boot_disk = g_strdup (fixture->raw_image);
  run_real_qemu (fixture, config, checks);
}

static MarinaNic *
nic_new (const char *id, const char *mac, const char *model)
{
  MarinaNic *nic = marina_nic_new ();

  nic->id = g_strdup (id);
  nic->mac = g_strdup (mac);
  nic->model = g_strdup (model);
  return nic;
}

/* Each adapter: the service's backend, the profile's model unless one is
 * named, its MAC, and the boot index of "network" on the first one only. */
static void
test_network_adapters (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("nics", MARINA_PROFILE_MODERN);
  const char *const backends[] = { "tap,fd=10,vhost=off", NULL };
  g_auto(GStrv) argv = NULL;

  g_ptr_array_add (config->nics, nic_new ("nic0", "02:4d:52:00:00:01", NULL));
  g_ptr_array_add (config->nics, nic_new ("nic1", "02:4d:52:00:00:02", "e1000"));
  g_strfreev (config->boot_order);
  config->boot_order = g_strsplit ("network,disk", ",", -1);
  fixture->runtime.nic_backends = backends;
  argv = build (config, &fixture->runtime);
  assert_option (argv, "-netdev", "tap,fd=10,vhost=off,id=net-nic0");
  assert_option (argv, "-device", "virtio-net-pci,netdev=net-nic0,mac=02:4d:52:00:00:01,id=nic0,"
                                  "bootindex=1");
  assert_option (argv, "-netdev", "hubport,hubid=101,id=net-nic1");
  assert_option (argv, "-device", "e1000,netdev=net-nic1,mac=02:4d:52:00:00:02,id=nic1");
}

static void
test_legacy_adapter_default (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("old-nic", MARINA_PROFILE_LEGACY);
  g_auto(GStrv) argv = NULL;

  g_ptr_array_add (config->nics, nic_new ("nic0", "02:4d:52:00:00:03", NULL));
  argv = build (config, &fixture->runtime);
  assert_option (argv, "-device", "e1000,netdev=net-nic0,mac=02:4d:52:00:00:03,id=nic0");
}

/* QEMU itself takes the adapters: models and MACs as configured. */
static void
test_real_adapters (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("real-nics", MARINA_PROFILE_MODERN);
  const char *const checks[] = {
    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine/peripheral/nic0\", "
      "\"property\": \"type\"}}", "virtio-net-pci",
    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine/peripheral/nic1\", "
      "\"property\": \"mac\"}}", "02:4d:52:00:00:02",
    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine/peripheral/nic2\", "
      "\"property\": \"type\"}}", "tulip",
    NULL
  };

  if (skip_without_qemu ())
    return;
  g_ptr_array_add (config->nics, nic_new ("nic0", "02:4d:52:00:00:01", NULL));
  g_ptr_array_add (config->nics, nic_new ("nic1", "02:4d:52:00:00:02", "e1000"));
  g_ptr_array_add (config->nics, nic_new ("nic2", "02:4d:52:00:00:03", "tulip"));
  config->boot_disk = g_strdup (fixture->raw_image);
  run_real_qemu (fixture, config, checks);
}

/* COM2 and LPT1 on chardevs of their names, COM2 at 0x2f8 (index 1): the
 * serial console keeps index 0. Nothing is added for ports left at none. */
static void
set_ports (Fixture *fixture, MarinaMachineConfig *config, MarinaPortKind com2)
{
  config->com2.kind = com2;
  config->com2.path = com2 == MARINA_PORT_FILE ? g_build_filename (fixture->dir, "com,2.txt", NULL)
                                               : NULL;
  config->lpt1.kind = MARINA_PORT_FILE;
  config->lpt1.path = g_build_filename (fixture->dir, "lpt1.txt", NULL);
}

static void
test_ports (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("ports", MARINA_PROFILE_LEGACY);
  g_autofree char *com2_path = g_build_filename (fixture->dir, "com2.sock", NULL);
  MarinaQemuRuntime runtime = fixture->runtime;
  g_autofree char *file = NULL;
  g_autofree char *pipe = NULL;
  g_autofree char *lpt = NULL;
  g_auto(GStrv) argv = build (config, &fixture->runtime);
  g_auto(GStrv) with_file = NULL;
  g_auto(GStrv) with_pipe = NULL;
  g_autofree char *joined = g_strjoinv (" ", argv);

  g_assert_null (strstr (joined, "com2"));
  g_assert_null (strstr (joined, "lpt1"));
  set_ports (fixture, config, MARINA_PORT_FILE);
  with_file = build (config, &fixture->runtime);
  file = g_strdup_printf ("file,id=com2,path=%s/com,,2.txt,append=on", fixture->dir);
  lpt = g_strdup_printf ("file,id=lpt1,path=%s/lpt1.txt,append=on", fixture->dir);
  assert_option (with_file, "-chardev", file);
  assert_option (with_file, "-device", "isa-serial,index=1,chardev=com2,id=com2");
  assert_option (with_file, "-chardev", lpt);
  assert_option (with_file, "-device", "isa-parallel,index=0,chardev=lpt1,id=lpt1");
  assert_option (with_file, "-device", "isa-serial,chardev=serial0,id=serial0");

  marina_port_clear (&config->com2);
  config->com2.kind = MARINA_PORT_PIPE;
  g_assert_null (marina_qemu_command_line (config, &runtime, NULL));
  runtime.com2_socket_path = com2_path;
  with_pipe = build (config, &runtime);
  pipe = g_strdup_printf ("socket,id=com2,path=%s,server=on,wait=off", com2_path);
  assert_option (with_pipe, "-chardev", pipe);
  assert_option (with_pipe, "-device", "isa-serial,index=1,chardev=com2,id=com2");
}

/* QEMU takes both ports on the PIIX board, and makes COM2's file. */
static void
test_real_ports (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MarinaMachineConfig) config = config_new ("ports", MARINA_PROFILE_LEGACY);
  const char *const checks[] = {
    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine/peripheral/com2\", "
      "\"property\": \"iobase\"}}", "\"return\": 760",
    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine/peripheral/lpt1\", "
      "\"property\": \"iobase\"}}", "\"return\": 888",
    "{\"execute\": \"query-chardev\"}", "\"filename\": \"file\", \"label\": \"com2\"",
    NULL
  };

  if (skip_without_qemu ())
    return;
  config->boot_disk = g_strdup (fixture->raw_image);
  set_ports (fixture, config, MARINA_PORT_FILE);
  run_real_qemu (fixture, config, checks);
  g_assert_true (g_file_test (config->com2.path, G_FILE_TEST_IS_REGULAR));
}

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/devices/qemu/escape", test_escape);
  g_test_add_func ("/devices/qemu/uuid", test_uuid);
  ADD ("/devices/qemu/modern", test_modern);
  ADD ("/devices/qemu/legacy", test_legacy);
  ADD ("/devices/qemu/boot-order", test_boot_order);
  ADD ("/devices/qemu/escaping", test_escaping);
  ADD ("/devices/qemu/incoming", test_incoming);
  ADD ("/devices/qemu/kvm", test_kvm);
  ADD ("/devices/qemu/refusals", test_refusals);
  ADD ("/devices/qemu/undo-overlay", test_undo_overlay);
  ADD ("/devices/qemu/drives", test_drives);
  ADD ("/devices/image/probe", test_probe);
  ADD ("/devices/image/probe-errors", test_probe_errors);
  ADD ("/devices/qemu/real/modern", test_real_modern);
  ADD ("/devices/qemu/real/legacy", test_real_legacy);
  ADD ("/devices/qemu/real/incoming", test_real_incoming);
  ADD ("/devices/qemu/network-adapters", test_network_adapters);
  ADD ("/devices/qemu/legacy-adapter-default", test_legacy_adapter_default);
  ADD ("/devices/qemu/real/adapters", test_real_adapters);
  ADD ("/devices/qemu/ports", test_ports);
  ADD ("/devices/qemu/real/ports", test_real_ports);

  return g_test_run ();
}
