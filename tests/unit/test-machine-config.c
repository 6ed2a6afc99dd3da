/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "test-machine-config"
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <libxml/xmlerror.h>
#include <libxml/globals.h>

#include "marina-error.h"
#include "marina-machine-config.h"

#define XML_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define MACHINE_OPEN "<machine xmlns=\"http://marinavm.org/ns/machine/1\">"

/* Checks that @error is an InvalidArgument whose message contains @part. */
#define assert_refused(error, part) \
  G_STMT_START { \
    g_assert_error ((error), MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT); \
    if (strstr ((error)->message, (part)) == NULL) \
      g_error ("message '%s' lacks '%s'", (error)->message, (part)); \
  } G_STMT_END

static MarinaMachineConfig *
valid_config (void)
{
  MarinaMachineConfig *config = marina_machine_config_new ();

  config->name = g_strdup ("demo");
  return config;
}

/* ---- the record ---- */

static void
test_defaults (void)
{
  g_autoptr(MarinaMachineConfig) a = marina_machine_config_new ();
  g_autoptr(MarinaMachineConfig) b = marina_machine_config_new ();
  const char *const boot_order[] = { "disk", "cdrom", NULL };

  g_assert_true (marina_validate_machine_id (a->id, NULL));
  g_assert_cmpstr (a->id, !=, b->id);
  g_assert_null (a->name);
  g_assert_cmpstr (a->notes, ==, "");
  g_assert_cmpint (a->profile, ==, MARINA_PROFILE_MODERN);
  g_assert_cmpuint (a->memory_mib, ==, 512);
  g_assert_cmpuint (a->vcpus, ==, 1);
  g_assert_cmpstr (a->accelerator, ==, "auto");
  g_assert_null (a->boot_disk);
  g_assert_null (a->boot_disk_format);
  g_assert_null (a->cdrom);
  g_assert_true (g_strv_equal ((const char *const *) a->boot_order, boot_order));
  g_assert_cmpint (a->autostart, ==, MARINA_AUTOSTART_NEVER);
  g_assert_cmpuint (a->autostart_delay, ==, 0);
  g_assert_cmpint (a->stop_action, ==, MARINA_STOP_ACTION_SAVE);
}

static void
test_copy_equal (void)
{
  g_autoptr(MarinaMachineConfig) a = valid_config ();
  g_autoptr(MarinaMachineConfig) b = NULL;

  a->cdrom = g_strdup ("/x.iso");
  b = marina_machine_config_copy (a);
  g_assert_true (marina_machine_config_equal (a, b));
  g_assert_true (a->boot_order != b->boot_order);
  g_free (b->boot_order[1]);
  b->boot_order[1] = g_strdup ("network");
  g_assert_false (marina_machine_config_equal (a, b));
}

static void
test_enum_strings (void)
{
  g_autoptr(GError) error = NULL;
  MarinaProfile profile;
  MarinaAutostart autostart;
  MarinaStopAction action;

  g_assert_cmpstr (marina_profile_to_string (MARINA_PROFILE_LEGACY), ==, "legacy");
  g_assert_cmpstr (marina_autostart_to_string (MARINA_AUTOSTART_IF_RUNNING), ==, "if-running");
  g_assert_cmpstr (marina_stop_action_to_string (MARINA_STOP_ACTION_TURN_OFF), ==, "turn-off");
  g_assert_true (marina_profile_from_string ("modern", &profile, NULL));
  g_assert_cmpint (profile, ==, MARINA_PROFILE_MODERN);
  g_assert_true (marina_autostart_from_string ("always", &autostart, NULL));
  g_assert_cmpint (autostart, ==, MARINA_AUTOSTART_ALWAYS);
  g_assert_true (marina_stop_action_from_string ("shutdown", &action, NULL));
  g_assert_cmpint (action, ==, MARINA_STOP_ACTION_SHUTDOWN);
  g_assert_false (marina_profile_from_string ("Modern", &profile, &error));
  assert_refused (error, "modern, legacy");
}

/* ---- CreateMachine options ---- */

static GVariant *
parse_options (const char *text)
{
  g_autoptr(GError) error = NULL;
  GVariant *options = g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &error);

  g_assert_no_error (error);
  return g_variant_ref_sink (options);
}

static void
test_options_good (void)
{
  g_autoptr(MarinaMachineConfig) config = valid_config ();
  g_autoptr(GVariant) options = parse_options (
    "{'memory-mib': <uint64 128>, 'vcpus': <uint32 2>, 'profile': <'legacy'>,"
    " 'boot-disk': <'/d/x.img'>, 'cdrom': <'/d/x.iso'>,"
    " 'boot-order': <['cdrom', 'disk', 'network']>, 'notes': <'hello'>,"
    " 'accelerator': <'tcg'>, 'autostart': <'if-running'>,"
    " 'autostart-delay': <uint32 30>, 'stop-action': <'turn-off'>}");
  const char *const boot_order[] = { "cdrom", "disk", "network", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_true (marina_machine_config_apply_options (config, options, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (config->memory_mib, ==, 128);
  g_assert_cmpuint (config->vcpus, ==, 2);
  g_assert_cmpint (config->profile, ==, MARINA_PROFILE_LEGACY);
  g_assert_cmpstr (config->boot_disk, ==, "/d/x.img");
  g_assert_null (config->boot_disk_format);
  g_assert_cmpstr (config->cdrom, ==, "/d/x.iso");
  g_assert_true (g_strv_equal ((const char *const *) config->boot_order, boot_order));
  g_assert_cmpstr (config->notes, ==, "hello");
  g_assert_cmpstr (config->accelerator, ==, "tcg");
  g_assert_cmpint (config->autostart, ==, MARINA_AUTOSTART_IF_RUNNING);
  g_assert_cmpuint (config->autostart_delay, ==, 30);
  g_assert_cmpint (config->stop_action, ==, MARINA_STOP_ACTION_TURN_OFF);
  g_assert_true (marina_machine_config_validate (config, 1024, &error));
}

static void
test_options_empty (void)
{
  g_autoptr(MarinaMachineConfig) config = valid_config ();
  g_autoptr(MarinaMachineConfig) before = marina_machine_config_copy (config);
  g_autoptr(GVariant) options = parse_options ("@a{sv} {}");

  g_assert_true (marina_machine_config_apply_options (config, options, NULL));
  g_assert_true (marina_machine_config_equal (config, before));
}

static void
test_options_unknown (void)
{
  g_autoptr(MarinaMachineConfig) config = valid_config ();
  g_autoptr(GVariant) options = parse_options ("{'foo': <1>}");
  g_autoptr(GError) error = NULL;

  g_assert_false (marina_machine_config_apply_options (config, options, &error));
  assert_refused (error, "Unknown option 'foo'; known options are: memory-mib, vcpus,");
  g_assert_nonnull (strstr (error->message, "stop-action"));
}

/* A refused option leaves the record as it was, even after good ones. */
static void
test_options_mistyped (void)
{
  g_autoptr(MarinaMachineConfig) config = valid_config ();
  g_autoptr(MarinaMachineConfig) before = marina_machine_config_copy (config);
  g_autoptr(GVariant) options = parse_options ("{'vcpus': <uint32 4>, 'memory-mib': <'1024'>}");
  g_autoptr(GVariant) as_int = parse_options ("{'memory-mib': <1024>}");
  g_autoptr(GError) error = NULL;

  g_assert_false (marina_machine_config_apply_options (config, options, &error));
  assert_refused (error, "Option 'memory-mib' must be of type 't', not 's'");
  g_assert_true (marina_machine_config_equal (config, before));
  g_clear_error (&error);
  g_assert_false (marina_machine_config_apply_options (config, as_int, &error));
  assert_refused (error, "Option 'memory-mib' must be of type 't', not 'i'");
}

static void
test_options_bad_value (void)
{
  g_autoptr(MarinaMachineConfig) config = valid_config ();
  g_autoptr(GVariant) profile = parse_options ("{'profile': <'ancient'>}");
  g_autoptr(GVariant) accel = parse_options ("{'accelerator': <'hvf'>}");
  g_autoptr(GVariant) clear = parse_options ("{'cdrom': <''>}");
  g_autoptr(GError) error = NULL;

  g_assert_false (marina_machine_config_apply_options (config, profile, &error));
  assert_refused (error, "Unknown profile 'ancient'; choose one of: modern, legacy");
  g_clear_error (&error);
  g_assert_false (marina_machine_config_apply_options (config, accel, &error));
  assert_refused (error, "auto, kvm, tcg");
  config->cdrom = g_strdup ("/x.iso");
  g_assert_true (marina_machine_config_apply_options (config, clear, NULL));
  g_assert_null (config->cdrom);
}

/* ---- validation ---- */

static void
assert_name_refused (const char *name, const char *part)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (marina_validate_machine_name (name, &error));
  assert_refused (error, part);
}

static void
test_validate_name (void)
{
  g_autofree char *long_name = g_strnfill (300, 'x');
  g_autofree char *max_name = g_strnfill (64, 'x');
  GString *unicode = g_string_new (NULL);

  assert_name_refused ("", "cannot be empty");
  assert_name_refused (NULL, "cannot be empty");
  assert_name_refused (long_name, "at most 64 characters; this one has 300");
  assert_name_refused ("a/b", "'/'");
  assert_name_refused ("a\nb", "control characters");
  assert_name_refused ("tab\there", "control characters");
  assert_name_refused ("del\x7f", "control characters");
  assert_name_refused ("line\xe2\x80\xa8sep", "control characters");
  assert_name_refused (".", "'.' or '..'");
  assert_name_refused ("..", "'.' or '..'");
  assert_name_refused ("bad\xff", "UTF-8");
  g_assert_true (marina_validate_machine_name (max_name, NULL));
  g_assert_true (marina_validate_machine_name ("a,b=c \"quoted\" <x> & y", NULL));
  g_assert_true (marina_validate_machine_name ("...", NULL));
  /* 64 characters of two bytes each is still within the limit. */
  for (int i = 0; i < 64; i++)
    g_string_append (unicode, "\xc3\xa4");
  g_assert_true (marina_validate_machine_name (unicode->str, NULL));
  g_string_append (unicode, "\xc3\xa4");
  assert_name_refused (unicode->str, "this one has 65");
  g_string_free (unicode, TRUE);
}

static void
assert_config_refused (const MarinaMachineConfig *config, guint64 host_mib, const char *part)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (marina_machine_config_validate (config, host_mib, &error));
  assert_refused (error, part);
}

static void
test_validate_memory (void)
{
  g_autoptr(MarinaMachineConfig) config = valid_config ();

  config->memory_mib = 0;
  assert_config_refused (config, 24000, "Memory of 0 MiB is too little; a machine needs at least 4 MiB");
  config->memory_mib = 99999999;
  assert_config_refused (config, 24000, "Memory of 99999999 MiB is more than the host's 24000 MiB");
  config->memory_mib = G_MAXUINT64;
  assert_config_refused (config, 0, "more than the limit");
  config->memory_mib = 4;
  g_assert_true (marina_machine_config_validate (config, 24000, NULL));
  config->memory_mib = 24000;
  g_assert_true (marina_machine_config_validate (config, 24000, NULL));
  config->memory_mib = 16777216;
  g_assert_true (marina_machine_config_validate (config, 0, NULL));
}

static void
test_validate_vcpus (void)
{
  g_autoptr(MarinaMachineConfig) config = valid_config ();

  config->vcpus = 0;
  assert_config_refused (config, 0, "1 to 255 virtual processors, not 0");
  config->vcpus = 256;
  assert_config_refused (config, 0, "not 256");
  config->vcpus = 255;
  g_assert_true (marina_machine_config_validate (config, 0, NULL));
}

static void
test_validate_other (void)
{
  g_autoptr(MarinaMachineConfig) config = valid_config ();
  g_autoptr(MarinaMachineConfig) good = marina_machine_config_copy (config);
  g_autofree char *long_notes = g_strnfill (4097, 'n');
  const char *const repeated[] = { "disk", "cdrom", "disk", NULL };
  const char *const unknown[] = { "floppy", NULL };

#define RESET() G_STMT_START { marina_machine_config_free (config); \
                               config = marina_machine_config_copy (good); } G_STMT_END
  g_free (config->id); config->id = g_strdup ("0123456789ABCDEF0123456789ABCDEF");
  assert_config_refused (config, 0, "32 lowercase hexadecimal digits");
  RESET ();
  g_free (config->accelerator); config->accelerator = g_strdup ("hvf");
  assert_config_refused (config, 0, "Unknown accelerator 'hvf'; choose one of: auto, kvm, tcg");
  RESET ();
  config->boot_disk = g_strdup ("disks/x.img");
  assert_config_refused (config, 0, "The boot disk path 'disks/x.img' is not absolute");
  RESET ();
  config->cdrom = g_strdup ("x.iso");
  assert_config_refused (config, 0, "The CD/DVD image path 'x.iso' is not absolute");
  RESET ();
  config->boot_disk = g_strdup ("/x.img");
  config->boot_disk_format = g_strdup ("vmdk");
  assert_config_refused (config, 0, "Unknown disk image format 'vmdk'");
  RESET ();
  g_strfreev (config->boot_order); config->boot_order = g_strdupv ((GStrv) repeated);
  assert_config_refused (config, 0, "names 'disk' more than once");
  RESET ();
  g_strfreev (config->boot_order); config->boot_order = g_strdupv ((GStrv) unknown);
  assert_config_refused (config, 0, "Unknown boot device 'floppy'");
  RESET ();
  g_free (config->notes); config->notes = g_steal_pointer (&long_notes);
  assert_config_refused (config, 0, "at most 4096 bytes");
  RESET ();
  g_free (config->notes); config->notes = g_strdup ("bell\a");
  assert_config_refused (config, 0, "Notes cannot contain control characters");
  RESET ();
  config->profile = 7;
  assert_config_refused (config, 0, "Unknown profile 7");
  RESET ();
  g_strfreev (config->boot_order); config->boot_order = g_new0 (char *, 1);
  g_free (config->notes); config->notes = g_strdup ("tabs\tand\nlines\r\n are fine");
  g_assert_true (marina_machine_config_validate (config, 0, NULL));
#undef RESET
}

static void
test_hardware_differs (void)
{
  g_autoptr(MarinaMachineConfig) a = valid_config ();
  g_autoptr(MarinaMachineConfig) b = marina_machine_config_copy (a);

  g_assert_null (marina_machine_config_hardware_differs (a, b));
  g_free (b->name); b->name = g_strdup ("renamed");
  g_free (b->notes); b->notes = g_strdup ("new notes");
  b->autostart = MARINA_AUTOSTART_ALWAYS;
  b->stop_action = MARINA_STOP_ACTION_SHUTDOWN;
  g_strfreev (b->boot_order); b->boot_order = g_new0 (char *, 1);
  g_assert_null (marina_machine_config_hardware_differs (a, b));
  b->cdrom = g_strdup ("/x.iso");
  g_assert_cmpstr (marina_machine_config_hardware_differs (a, b), ==, "cdrom");
  b->boot_disk = g_strdup ("/x.img");
  g_assert_cmpstr (marina_machine_config_hardware_differs (a, b), ==, "boot-disk");
  g_free (b->accelerator); b->accelerator = g_strdup ("tcg");
  g_assert_cmpstr (marina_machine_config_hardware_differs (a, b), ==, "accelerator");
  b->profile = MARINA_PROFILE_LEGACY;
  g_assert_cmpstr (marina_machine_config_hardware_differs (a, b), ==, "profile");
  b->vcpus = 2;
  g_assert_cmpstr (marina_machine_config_hardware_differs (a, b), ==, "vcpus");
  b->memory_mib = 1024;
  g_assert_cmpstr (marina_machine_config_hardware_differs (a, b), ==, "memory");

  /* The ports are ISA devices: they change only while the machine is off. */
  marina_machine_config_free (b);
  b = marina_machine_config_copy (a);
  b->lpt1.kind = MARINA_PORT_FILE;
  b->lpt1.path = g_strdup ("/srv/lpt1.txt");
  g_assert_cmpstr (marina_machine_config_hardware_differs (a, b), ==, "LPT1");
  b->com2.kind = MARINA_PORT_PIPE;
  g_assert_cmpstr (marina_machine_config_hardware_differs (a, b), ==, "COM2");
  g_assert_false (marina_machine_config_equal (a, b));
}

/* ---- XML ---- */

static MarinaDrive *
drive_new (const char *path, MarinaBus bus, guint controller, guint unit)
{
  MarinaDrive *drive = marina_drive_new ();

  drive->path = g_strdup (path);
  drive->format = g_strdup ("vpc");
  drive->bus = bus;
  drive->controller = controller;
  drive->unit = unit;
  return drive;
}

/* Slots of each bus and the limits stated when one is full. */
static void
test_drive_slots (void)
{
  g_autoptr(GPtrArray) drives = marina_drive_list_new ();
  g_autoptr(GError) error = NULL;
  MarinaDrive placed = { 0 };

  g_assert_true (marina_drive_list_place (drives, TRUE, MARINA_BUS_IDE, &placed, &error));
  g_assert_cmpuint (placed.controller, ==, 0);
  g_assert_cmpuint (placed.unit, ==, 1);
  g_ptr_array_add (drives, drive_new ("/a", MARINA_BUS_IDE, 0, 1));
  g_ptr_array_add (drives, drive_new ("/b", MARINA_BUS_IDE, 1, 1));
  g_assert_true (marina_drive_list_validate (drives, TRUE, &error));
  g_assert_false (marina_drive_list_place (drives, TRUE, MARINA_BUS_IDE, &placed, &error));
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_INSUFFICIENT_RESOURCES);
  g_assert_nonnull (strstr (error->message, "4 drives (2 channels × 2)"));
  g_clear_error (&error);
  g_assert_false (marina_drive_list_place (drives, FALSE, MARINA_BUS_IDE, &placed, &error));
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* Unit 0 of each channel is the boot disk's and the CD/DVD drive's. */
  g_ptr_array_add (drives, drive_new ("/c", MARINA_BUS_IDE, 1, 0));
  g_assert_false (marina_drive_list_validate (drives, TRUE, &error));
  g_assert_nonnull (strstr (error->message, "IDE channel 1 unit 0"));
  g_clear_error (&error);
  g_ptr_array_remove_index (drives, 2);
  for (guint c = 0; c < MARINA_SCSI_CONTROLLERS; c++)
    for (guint u = 0; u < MARINA_SCSI_UNITS; u++)
      {
        g_autofree char *path = g_strdup_printf ("/scsi%u-%u", c, u);
        g_assert_true (marina_drive_list_place (drives, TRUE, MARINA_BUS_SCSI, &placed, &error));
        g_assert_cmpuint (placed.controller, ==, c);
        g_assert_cmpuint (placed.unit, ==, u);
        g_ptr_array_add (drives, drive_new (path, MARINA_BUS_SCSI, c, u));
      }
  g_assert_true (marina_drive_list_validate (drives, TRUE, &error));
  g_assert_false (marina_drive_list_place (drives, TRUE, MARINA_BUS_SCSI, &placed, &error));
  g_assert_nonnull (strstr (error->message, "28 disks (4 controllers × 7)"));
  g_clear_error (&error);
  g_ptr_array_add (drives, drive_new ("/a", MARINA_BUS_SCSI, 0, 7));
  g_assert_false (marina_drive_list_validate (drives, TRUE, &error));
  g_assert_nonnull (strstr (error->message, "id 7 is no slot"));
  g_clear_error (&error);
  g_assert_false (marina_drive_list_validate (drives, FALSE, &error));
  g_assert_nonnull (strstr (error->message, "modern profile attaches additional disks on virtio"));
}

static MarinaMachineConfig *
round_trip (const MarinaMachineConfig *config)
{
  g_autofree char *xml = marina_machine_config_to_xml (config);
  g_autoptr(GError) error = NULL;
  MarinaMachineConfig *parsed = marina_machine_config_from_xml (xml, -1, &error);

  g_assert_no_error (error);
  g_assert_nonnull (parsed);
  if (!marina_machine_config_equal (config, parsed))
    g_error ("round trip changed the configuration:\n%s", xml);
  return parsed;
}

static void
test_xml_round_trip (void)
{
  g_autoptr(MarinaMachineConfig) config = valid_config ();
  g_autoptr(MarinaMachineConfig) parsed = round_trip (config);
  g_autoptr(MarinaMachineConfig) parsed_again = NULL;
  g_autofree char *xml = NULL;
  const char *const boot_order[] = { "network", "cdrom", NULL };

  g_free (config->name);
  config->name = g_strdup ("<&>\"' ]]> a,b=c \xc3\xa4\xe6\x97\xa5 &amp; &#10;");
  g_free (config->notes);
  config->notes = g_strdup ("  line 1\nline 2\r\nline 3\rend\t<tag attr=\"v\"> & ]]> "
                            "<!-- not a comment --> <![CDATA[x]]> \xf0\x9f\x9a\xa2  \n");
  config->profile = MARINA_PROFILE_LEGACY;
  config->memory_mib = G_GUINT64_CONSTANT (16777216);
  config->vcpus = 255;
  g_free (config->accelerator);
  config->accelerator = g_strdup ("tcg");
  config->boot_disk = g_strdup ("/tmp/a,b=c/<x>&\"y\" 'z' \xc3\xa4.img");
  config->boot_disk_format = g_strdup ("vhdx");
  config->cdrom = g_strdup ("/iso dir/x  y.iso");
  g_strfreev (config->boot_order);
  config->boot_order = g_strdupv ((GStrv) boot_order);
  config->autostart = MARINA_AUTOSTART_IF_RUNNING;
  config->autostart_delay = G_MAXUINT;
  config->stop_action = MARINA_STOP_ACTION_TURN_OFF;
  config->floppy = g_strdup ("/floppies/a & b.flp");
  config->undo_disks = TRUE;
  config->undo_action = MARINA_UNDO_ACTION_DISCARD;
  g_ptr_array_add (config->drives, drive_new ("/disks/data <1>.vhd", MARINA_BUS_SCSI, 3, 6));
  g_clear_pointer (&parsed, marina_machine_config_free);
  parsed = round_trip (config);

  /* The same again with the fields that may be empty, empty. */
  g_free (config->notes);
  config->notes = g_strdup ("   \n\t ");
  g_strfreev (config->boot_order);
  config->boot_order = g_new0 (char *, 1);
  g_clear_pointer (&config->cdrom, g_free);
  g_clear_pointer (&config->boot_disk_format, g_free);
  parsed_again = round_trip (config);
  xml = marina_machine_config_to_xml (config);
  g_assert_true (g_str_has_prefix (xml, XML_HEAD "<machine xmlns=\"http://marinavm.org/ns/machine/1\" id=\""));
  g_assert_nonnull (strstr (xml, "<name>&lt;&amp;&gt;\"' ]]&gt; a,b=c"));
  g_assert_nonnull (strstr (xml, "\n  <memory unit=\"MiB\">16777216</memory>\n"));
}

static void
test_xml_format (void)
{
  g_autoptr(MarinaMachineConfig) config = valid_config ();
  g_autofree char *xml = NULL;
  g_autofree char *expected = NULL;

  g_free (config->id);
  config->id = g_strdup ("0123456789abcdef0123456789abcdef");
  config->memory_mib = 128;
  g_free (config->notes);
  config->notes = g_strdup ("free text");
  config->boot_disk = g_strdup ("/var/lib/marina/disks/demo.img");
  config->boot_disk_format = g_strdup ("raw");
  config->cdrom = g_strdup ("/x.iso");
  xml = marina_machine_config_to_xml (config);
  expected = g_strconcat (XML_HEAD,
    "<machine xmlns=\"http://marinavm.org/ns/machine/1\" id=\"0123456789abcdef0123456789abcdef\">\n"
    "  <name>demo</name>\n"
    "  <notes>free text</notes>\n"
    "  <profile>modern</profile>\n"
    "  <memory unit=\"MiB\">128</memory>\n"
    "  <vcpus>1</vcpus>\n"
    "  <accelerator>auto</accelerator>\n"
    "  <boot-disk path=\"/var/lib/marina/disks/demo.img\" format=\"raw\"/>\n"
    "  <cdrom path=\"/x.iso\"/>\n"
    "  <boot-order>\n"
    "    <device>disk</device>\n"
    "    <device>cdrom</device>\n"
    "  </boot-order>\n"
    "  <host-actions autostart=\"never\" autostart-delay=\"0\" stop-action=\"save\"/>\n"
    "  <cpu weight=\"100\" maximum=\"100\" reserve=\"0\"/>\n"
    "</machine>\n", NULL);
  g_assert_cmpstr (xml, ==, expected);
}

static void
test_xml_minimal (void)
{
  const char *xml = MACHINE_OPEN "<name>tiny</name></machine>";
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_from_xml (xml, -1, &error);
  g_autoptr(MarinaMachineConfig) defaults = marina_machine_config_new ();

  g_assert_no_error (error);
  g_assert_true (marina_validate_machine_id (config->id, NULL));
  g_free (defaults->id);
  defaults->id = g_strdup (config->id);
  defaults->name = g_strdup ("tiny");
  g_assert_true (marina_machine_config_equal (config, defaults));
}

/* What a person may write by hand: white space, GiB, comments, CDATA. */
static void
test_xml_hand_written (void)
{
  const char *xml =
    "<?xml version=\"1.0\"?>\n<!-- my server -->\n"
    "<machine id=\"0123456789abcdef0123456789abcdef\"\n"
    "         xmlns=\"http://marinavm.org/ns/machine/1\">\n"
    "  <name>web</name>\n"
    "  <notes><![CDATA[a <b> & c]]></notes>\n"
    "  <profile> legacy </profile>\n"
    "  <memory unit=\"GiB\"> 2 </memory>\n"
    "  <vcpus>\n    2\n  </vcpus>\n"
    "  <boot-order><device> cdrom </device></boot-order>\n"
    "  <host-actions autostart-delay=\"5\"/>\n"
    "</machine>\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_from_xml (xml, -1, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->notes, ==, "a <b> & c");
  g_assert_cmpint (config->profile, ==, MARINA_PROFILE_LEGACY);
  g_assert_cmpuint (config->memory_mib, ==, 2048);
  g_assert_cmpuint (config->vcpus, ==, 2);
  g_assert_cmpstr (config->boot_order[0], ==, "cdrom");
  g_assert_null (config->boot_order[1]);
  g_assert_cmpuint (config->autostart_delay, ==, 5);
  g_assert_cmpint (config->stop_action, ==, MARINA_STOP_ACTION_SAVE);
}

static void
assert_xml_refused (const char *xml, gssize length, const char *part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_from_xml (xml, length, &error);

  g_assert_null (config);
  assert_refused (error, part);
}

static void
test_xml_malformed (void)
{
  assert_xml_refused (MACHINE_OPEN "<name>x</name>", -1,
                      "Machine configuration is not well-formed XML: line 1: ");
  assert_xml_refused (XML_HEAD MACHINE_OPEN "\n<name>x</nam>\n</machine>", -1,
                      "not well-formed XML: line 3: Opening and ending tag mismatch: name");
  assert_xml_refused (MACHINE_OPEN "<name>&foo;</name></machine>", -1,
                      "Entity 'foo' not defined");
  assert_xml_refused (MACHINE_OPEN "<name>&#1;</name></machine>", -1, "not well-formed XML");
  assert_xml_refused ("", -1, "empty");
  assert_xml_refused ("   ", -1, "not well-formed XML");
  assert_xml_refused (MACHINE_OPEN "<name>a\0b</name></machine>",
                      sizeof (MACHINE_OPEN "<name>a\0b</name></machine>") - 1,
                      "not well-formed XML");
}

static void
test_xml_doctype (void)
{
  const char *laughs =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE machine [\n"
    " <!ENTITY lol \"lol\">\n"
    " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
    "]>\n" MACHINE_OPEN "<name>&lol3;</name></machine>";
  const char *external =
    "<!DOCTYPE machine [<!ENTITY secret SYSTEM \"file:///etc/passwd\">]>"
    MACHINE_OPEN "<name>&secret;</name></machine>";
  const char *dtd =
    "<!DOCTYPE machine SYSTEM \"http://example.com/evil.dtd\">"
    MACHINE_OPEN "<name>x</name></machine>";

  assert_xml_refused (laughs, -1, "must not contain a DOCTYPE declaration");
  assert_xml_refused (external, -1, "must not contain a DOCTYPE declaration");
  assert_xml_refused (dtd, -1, "must not contain a DOCTYPE declaration");
}

static void
test_xml_too_large (void)
{
  GString *xml = g_string_new (MACHINE_OPEN "<name>big</name><notes>");

  while (xml->len <= MARINA_MACHINE_CONFIG_MAX_BYTES)
    g_string_append (xml, "0123456789abcdef");
  g_string_append (xml, "</notes></machine>");
  assert_xml_refused (xml->str, -1, "the limit is 1048576 bytes (1 MiB)");
  g_string_free (xml, TRUE);
}

static void
test_xml_schema (void)
{
  assert_xml_refused (MACHINE_OPEN "<name>x</name><vcpus>many</vcpus></machine>", -1,
                      "Machine configuration does not match the schema: line 1: element vcpus: ");
  assert_xml_refused (XML_HEAD MACHINE_OPEN "\n<name>x</name>\n<vcpu>1</vcpu>\n</machine>", -1,
                      "does not match the schema: line 4: element vcpu: ");
  assert_xml_refused ("<machine><name>x</name></machine>", -1,
                      "does not match the schema: line 1: element machine: ");
  assert_xml_refused (MACHINE_OPEN "<notes/></machine>", -1,
                      "does not match the schema");
  assert_xml_refused (MACHINE_OPEN "<name>x</name><profile>new</profile></machine>", -1,
                      "element profile");
  assert_xml_refused (MACHINE_OPEN "<name>x</name><host-actions stop-action=\"pause\"/></machine>",
                      -1, "element host-actions: Invalid attribute stop-action");
  assert_xml_refused (MACHINE_OPEN "<name></name></machine>", -1, "element name");
}

static void
test_xml_semantics (void)
{
  g_autofree char *long_name = g_strnfill (65, 'x');
  g_autofree char *xml = g_strdup_printf (MACHINE_OPEN "<name>%s</name></machine>", long_name);

  assert_xml_refused (MACHINE_OPEN "<name>a/b</name></machine>", -1, "cannot contain '/'");
  assert_xml_refused (MACHINE_OPEN "<name>a&#10;b</name></machine>", -1, "control characters");
  assert_xml_refused (xml, -1, "at most 64 characters");
  assert_xml_refused ("<machine xmlns=\"http://marinavm.org/ns/machine/1\" id=\"xyz\">"
                      "<name>x</name></machine>", -1,
                      "32 lowercase hexadecimal digits, not 'xyz'");
  assert_xml_refused (MACHINE_OPEN "<name>x</name><memory>2</memory></machine>", -1,
                      "Memory of 2 MiB is too little");
  assert_xml_refused (MACHINE_OPEN "<name>x</name><memory unit=\"GiB\">18446744073709551615"
                      "</memory></machine>", -1, "memory size");
  assert_xml_refused (MACHINE_OPEN "<name>x</name><cdrom path=\"x.iso\"/></machine>", -1,
                      "The CD/DVD image path 'x.iso' is not absolute");
  assert_xml_refused (MACHINE_OPEN "<name>x</name><boot-order><device>disk</device>"
                      "<device>disk</device></boot-order></machine>", -1, "more than once");
}

/* ---- COM2 and LPT1 ---- */

static void
set_port (MarinaPort *port, MarinaPortKind kind, const char *path)
{
  marina_port_clear (port);
  port->kind = kind;
  port->path = g_strdup (path);
}

static void
test_ports_round_trip (void)
{
  g_autoptr(MarinaMachineConfig) config = valid_config ();
  g_autoptr(MarinaMachineConfig) parsed = NULL;
  g_autofree char *xml = marina_machine_config_to_xml (config);

  /* Nothing connected: nothing written, so older files stay as they were. */
  g_assert_null (strstr (xml, "<ports"));
  config->profile = MARINA_PROFILE_LEGACY;
  set_port (&config->com2, MARINA_PORT_FILE, "/srv/ports/com2 & <log>.txt");
  set_port (&config->lpt1, MARINA_PORT_FILE, "/srv/ports/printer,1.txt");
  parsed = round_trip (config);
  g_assert_cmpint (parsed->com2.kind, ==, MARINA_PORT_FILE);
  g_assert_cmpstr (parsed->lpt1.path, ==, "/srv/ports/printer,1.txt");
  g_clear_pointer (&xml, g_free);
  xml = marina_machine_config_to_xml (config);
  g_assert_nonnull (strstr (xml, "\n  <ports>\n    <com2 type=\"file\" path=\"/srv/ports/com2 &amp; "
                                 "&lt;log&gt;.txt\"/>\n    <lpt1 type=\"file\" "
                                 "path=\"/srv/ports/printer,1.txt\"/>\n  </ports>\n"));

  set_port (&config->com2, MARINA_PORT_PIPE, NULL);
  set_port (&config->lpt1, MARINA_PORT_NONE, NULL);
  g_clear_pointer (&parsed, marina_machine_config_free);
  parsed = round_trip (config);
  g_assert_cmpint (parsed->com2.kind, ==, MARINA_PORT_PIPE);
  g_assert_null (parsed->com2.path);
  g_clear_pointer (&xml, g_free);
  xml = marina_machine_config_to_xml (config);
  g_assert_nonnull (strstr (xml, "<ports>\n    <com2 type=\"pipe\"/>\n  </ports>"));

  /* type="none", as a person may write it. */
  g_clear_pointer (&parsed, marina_machine_config_free);
  parsed = marina_machine_config_from_xml (MACHINE_OPEN "<name>x</name><ports><com2 type=\"none\"/>"
                                           "<lpt1 type=\"none\"/></ports></machine>", -1, NULL);
  g_assert_nonnull (parsed);
  g_assert_cmpint (parsed->com2.kind, ==, MARINA_PORT_NONE);
  g_assert_cmpint (parsed->lpt1.kind, ==, MARINA_PORT_NONE);
}

static void
test_ports_refused (void)
{
  g_autoptr(MarinaMachineConfig) config = valid_config ();
  g_autoptr(MarinaMachineConfig) good = NULL;

  config->profile = MARINA_PROFILE_LEGACY;
  config->boot_disk = g_strdup ("/srv/disks/boot.img");
  good = marina_machine_config_copy (config);
#define RESET() G_STMT_START { marina_machine_config_free (config); \
                               config = marina_machine_config_copy (good); } G_STMT_END
  set_port (&config->com2, MARINA_PORT_FILE, "ports/com2.txt");
  assert_config_refused (config, 0, "The COM2 file path 'ports/com2.txt' is not absolute");
  RESET ();
  set_port (&config->lpt1, MARINA_PORT_FILE, "lpt1.txt");
  assert_config_refused (config, 0, "The LPT1 file path 'lpt1.txt' is not absolute");
  RESET ();
  set_port (&config->com2, MARINA_PORT_FILE, NULL);
  assert_config_refused (config, 0, "COM2 is connected to a file, but names none");
  RESET ();
  set_port (&config->com2, MARINA_PORT_PIPE, "/srv/com2.sock");
  assert_config_refused (config, 0, "COM2 is of type pipe, which takes no path");
  RESET ();
  set_port (&config->lpt1, MARINA_PORT_PIPE, NULL);
  assert_config_refused (config, 0, "LPT1 is connected to nothing (none) or a file");
  RESET ();
  set_port (&config->com2, 9, NULL);
  assert_config_refused (config, 0, "type 9 is none of them");
  RESET ();
  set_port (&config->com2, MARINA_PORT_FILE, "/srv/ports/both.txt");
  set_port (&config->lpt1, MARINA_PORT_FILE, "/srv/ports/both.txt");
  assert_config_refused (config, 0, "COM2 and LPT1 both write to '/srv/ports/both.txt'");
  RESET ();
  set_port (&config->com2, MARINA_PORT_FILE, "/srv/disks/boot.img");
  assert_config_refused (config, 0, "The COM2 file '/srv/disks/boot.img' is a disk image of "
                                    "machine 'demo'");
  RESET ();
  /* The modern profile (q35) has COM2, but no parallel port. */
  config->profile = MARINA_PROFILE_MODERN;
  set_port (&config->com2, MARINA_PORT_PIPE, NULL);
  g_assert_true (marina_machine_config_validate (config, 0, NULL));
  set_port (&config->lpt1, MARINA_PORT_FILE, "/srv/ports/lpt1.txt");
  assert_config_refused (config, 0, "Machine 'demo' has LPT1 connected, but only the legacy "
                                    "profile has a parallel port");
#undef RESET

  assert_xml_refused (MACHINE_OPEN "<name>x</name><ports><lpt1 type=\"pipe\"/></ports>"
                      "</machine>", -1, "element lpt1");
  assert_xml_refused (MACHINE_OPEN "<name>x</name><ports><com2 type=\"file\"/></ports>"
                      "</machine>", -1, "element com2");
  assert_xml_refused (MACHINE_OPEN "<name>x</name><ports><com2 type=\"file\" path=\"x.txt\"/>"
                      "</ports></machine>", -1, "The COM2 file path 'x.txt' is not absolute");
  assert_xml_refused (MACHINE_OPEN "<name>x</name><ports><lpt1 type=\"file\" path=\"/l.txt\"/>"
                      "</ports></machine>", -1, "only the legacy profile has a parallel port");
}

/* libxml2 must not print on stderr, and must find its handlers as they were. */
static void
test_xml_silent (void)
{
  if (g_test_subprocess ())
    {
      g_assert_null (marina_machine_config_from_xml ("<machine><name>", -1, NULL));
      g_assert_null (marina_machine_config_from_xml (MACHINE_OPEN "<x/></machine>", -1, NULL));
      g_assert_null (marina_machine_config_from_xml ("<!DOCTYPE x []><x/>", -1, NULL));
      g_assert_null (xmlStructuredError);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("");
  g_test_trap_assert_stdout ("");
}

static void
test_xml_load_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("marina-config-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "config.xml", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.xml", NULL);
  g_autofree char *fifo = g_build_filename (dir, "fifo", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.xml", NULL);
  g_autoptr(MarinaMachineConfig) config = valid_config ();
  g_autoptr(MarinaMachineConfig) loaded = NULL;
  g_autofree char *xml = marina_machine_config_to_xml (config);

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, xml, -1, NULL));
  loaded = marina_machine_config_load_file (path, &error);
  g_assert_no_error (error);
  g_assert_true (marina_machine_config_equal (config, loaded));

  g_assert_null (marina_machine_config_load_file (missing, &error));
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "does not exist"));
  g_clear_error (&error);
  g_assert_null (marina_machine_config_load_file (dir, &error));
  assert_refused (error, "is not a regular file");
  g_clear_error (&error);
  /* A FIFO must neither hang nor be read. */
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_null (marina_machine_config_load_file (fifo, &error));
  assert_refused (error, "is not a regular file");
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (bad, "<machine>", -1, NULL));
  g_assert_null (marina_machine_config_load_file (bad, &error));
  assert_refused (error, bad);
  assert_refused (error, "not well-formed XML");

  g_unlink (path);
  g_unlink (bad);
  g_unlink (fifo);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/devices/config/defaults", test_defaults);
  g_test_add_func ("/devices/config/drive-slots", test_drive_slots);
  g_test_add_func ("/devices/config/copy-equal", test_copy_equal);
  g_test_add_func ("/devices/config/enum-strings", test_enum_strings);
  g_test_add_func ("/devices/config/options/good", test_options_good);
  g_test_add_func ("/devices/config/options/empty", test_options_empty);
  g_test_add_func ("/devices/config/options/unknown", test_options_unknown);
  g_test_add_func ("/devices/config/options/mistyped", test_options_mistyped);
  g_test_add_func ("/devices/config/options/bad-value", test_options_bad_value);
  g_test_add_func ("/devices/config/validate/name", test_validate_name);
  g_test_add_func ("/devices/config/validate/memory", test_validate_memory);
  g_test_add_func ("/devices/config/validate/vcpus", test_validate_vcpus);
  g_test_add_func ("/devices/config/validate/other", test_validate_other);
  g_test_add_func ("/devices/config/hardware-differs", test_hardware_differs);
  g_test_add_func ("/devices/config/xml/round-trip", test_xml_round_trip);
  g_test_add_func ("/devices/config/xml/format", test_xml_format);
  g_test_add_func ("/devices/config/xml/minimal", test_xml_minimal);
  g_test_add_func ("/devices/config/xml/hand-written", test_xml_hand_written);
  g_test_add_func ("/devices/config/xml/malformed", test_xml_malformed);
  g_test_add_func ("/devices/config/xml/doctype", test_xml_doctype);
  g_test_add_func ("/devices/config/xml/too-large", test_xml_too_large);
  g_test_add_func ("/devices/config/xml/schema", test_xml_schema);
  g_test_add_func ("/devices/config/xml/semantics", test_xml_semantics);
  g_test_add_func ("/devices/config/ports/round-trip", test_ports_round_trip);
  g_test_add_func ("/devices/config/ports/refused", test_ports_refused);
  g_test_add_func ("/devices/config/xml/silent", test_xml_silent);
  g_test_add_func ("/devices/config/xml/load-file", test_xml_load_file);

  return g_test_run ();
}
