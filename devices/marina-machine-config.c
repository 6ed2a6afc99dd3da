/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-devices"
#include "config.h"

#include <string.h>

#include "marina-error.h"
#include "marina-image.h"
#include "marina-machine-config.h"

/* Strings of each enumeration, in the order of its values; also what the
 * XML and the D-Bus API carry. */
static const char *const profile_names[] = { "modern", "legacy", NULL };
static const char *const autostart_names[] = { "never", "always", "if-running", NULL };
static const char *const stop_action_names[] = { "save", "shutdown", "turn-off", NULL };
static const char *const undo_action_names[] = { "keep", "commit", "discard", NULL };
static const char *const accelerator_names[] = { "auto", "kvm", "tcg", NULL };
static const char *const boot_device_names[] = { "disk", "cdrom", "network", NULL };
static const char *const disk_format_names[] = { "raw", "qcow2", "vpc", "vhdx", NULL };

/* Beyond any host for years to come (16 TiB), and small enough that QEMU's
 * size arithmetic cannot overflow when no host limit is given. */
#define MEMORY_MAX_MIB (G_GUINT64_CONSTANT (1) << 24)

/* The longest path Linux accepts in a system call. */
#define PATH_MAX_BYTES 4095

char *
marina_machine_id_new (void)
{
  g_autofree char *uuid = g_uuid_string_random ();
  GString *id = g_string_sized_new (32);

  for (const char *p = uuid; *p; p++)
    if (*p != '-')
      g_string_append_c (id, *p);
  return g_string_free (id, FALSE);
}

MarinaMachineConfig *
marina_machine_config_new (void)
{
  MarinaMachineConfig *config = g_new0 (MarinaMachineConfig, 1);
  const char *const boot_order[] = { "disk", "cdrom", NULL };

  config->id = marina_machine_id_new ();
  config->notes = g_strdup ("");
  config->profile = MARINA_PROFILE_MODERN;
  config->memory_mib = 512;
  config->vcpus = 1;
  config->accelerator = g_strdup ("auto");
  config->boot_order = g_strdupv ((GStrv) boot_order);
  config->autostart = MARINA_AUTOSTART_NEVER;
  config->autostart_delay = 0;
  config->stop_action = MARINA_STOP_ACTION_SAVE;
  config->cpu_weight = MARINA_CPU_WEIGHT_DEFAULT;
  config->cpu_maximum = 100;
  config->cpu_reserve = 0;
  config->scripts = marina_scripts_new ();
  config->access = marina_access_list_new ();
  config->nics = marina_nic_list_new ();
  config->drives = marina_drive_list_new ();
  return config;
}

MarinaMachineConfig *
marina_machine_config_copy (const MarinaMachineConfig *config)
{
  MarinaMachineConfig *copy;

  g_return_val_if_fail (config != NULL, NULL);

  copy = g_memdup2 (config, sizeof *config);
  copy->id = g_strdup (config->id);
  copy->name = g_strdup (config->name);
  copy->notes = g_strdup (config->notes);
  copy->accelerator = g_strdup (config->accelerator);
  copy->boot_disk = g_strdup (config->boot_disk);
  copy->boot_disk_format = g_strdup (config->boot_disk_format);
  copy->cdrom = g_strdup (config->cdrom);
  copy->floppy = g_strdup (config->floppy);
  copy->drives = marina_drive_list_copy (config->drives);
  copy->boot_order = g_strdupv (config->boot_order);
  copy->scripts = marina_scripts_copy (config->scripts);
  copy->access = marina_access_list_copy (config->access);
  copy->nics = marina_nic_list_copy (config->nics);
  copy->remote_console_listen = g_strdup (config->remote_console_listen);
  copy->remote_console_auth = g_strdup (config->remote_console_auth);
  marina_port_copy (&copy->com2, &config->com2);
  marina_port_copy (&copy->lpt1, &config->lpt1);
  return copy;
}

void
marina_machine_config_free (MarinaMachineConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->id);
  g_free (config->name);
  g_free (config->notes);
  g_free (config->accelerator);
  g_free (config->boot_disk);
  g_free (config->boot_disk_format);
  g_free (config->cdrom);
  g_free (config->floppy);
  g_clear_pointer (&config->drives, g_ptr_array_unref);
  g_strfreev (config->boot_order);
  g_clear_pointer (&config->scripts, g_hash_table_unref);
  g_clear_pointer (&config->access, g_ptr_array_unref);
  g_clear_pointer (&config->nics, g_ptr_array_unref);
  g_free (config->remote_console_listen);
  g_free (config->remote_console_auth);
  marina_port_clear (&config->com2);
  marina_port_clear (&config->lpt1);
  g_free (config);
}

static gboolean
strv_equal (const char *const *a, const char *const *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_strv_equal (a, b);
}

static int
compare_strings (const void *a, const void *b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

GHashTable *
marina_scripts_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

GHashTable *
marina_scripts_copy (GHashTable *scripts)
{
  GHashTable *copy = marina_scripts_new ();
  GHashTableIter iter;
  gpointer event, path;

  g_hash_table_iter_init (&iter, scripts);
  while (g_hash_table_iter_next (&iter, &event, &path))
    g_hash_table_insert (copy, g_strdup (event), g_strdup (path));
  return copy;
}

/* Sorted, so that the XML and listings come out the same every time. */
GStrv
marina_scripts_sorted_events (GHashTable *scripts)
{
  GStrv events = (GStrv) g_hash_table_get_keys_as_array (scripts, NULL);
  GStrv copy;

  qsort (events, g_strv_length (events), sizeof (char *), compare_strings);
  copy = g_strdupv (events);
  g_free (events);
  return copy;
}

static gboolean
scripts_equal (GHashTable *a, GHashTable *b)
{
  GHashTableIter iter;
  gpointer event, path;

  if (g_hash_table_size (a) != g_hash_table_size (b))
    return FALSE;
  g_hash_table_iter_init (&iter, a);
  while (g_hash_table_iter_next (&iter, &event, &path))
    if (g_strcmp0 (path, g_hash_table_lookup (b, event)) != 0)
      return FALSE;
  return TRUE;
}

static gboolean
remote_console_differs (const MarinaMachineConfig *a, const MarinaMachineConfig *b)
{
  return a->remote_console_port != b->remote_console_port ||
         g_strcmp0 (a->remote_console_listen, b->remote_console_listen) != 0 ||
         g_strcmp0 (a->remote_console_auth, b->remote_console_auth) != 0;
}

gboolean
marina_machine_config_equal (const MarinaMachineConfig *a,
                             const MarinaMachineConfig *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  return g_strcmp0 (a->id, b->id) == 0 &&
         g_strcmp0 (a->name, b->name) == 0 &&
         g_strcmp0 (a->notes, b->notes) == 0 &&
         a->profile == b->profile &&
         a->memory_mib == b->memory_mib &&
         a->vcpus == b->vcpus &&
         g_strcmp0 (a->accelerator, b->accelerator) == 0 &&
         g_strcmp0 (a->boot_disk, b->boot_disk) == 0 &&
         g_strcmp0 (a->boot_disk_format, b->boot_disk_format) == 0 &&
         g_strcmp0 (a->cdrom, b->cdrom) == 0 &&
         g_strcmp0 (a->floppy, b->floppy) == 0 &&
         marina_drive_list_equal (a->drives, b->drives) &&
         a->undo_disks == b->undo_disks &&
         a->undo_action == b->undo_action &&
         strv_equal ((const char *const *) a->boot_order,
                     (const char *const *) b->boot_order) &&
         a->autostart == b->autostart &&
         a->autostart_delay == b->autostart_delay &&
         a->stop_action == b->stop_action &&
         a->cpu_weight == b->cpu_weight &&
         a->cpu_maximum == b->cpu_maximum &&
         a->cpu_reserve == b->cpu_reserve &&
         scripts_equal (a->scripts, b->scripts) &&
         marina_access_list_equal (a->access, b->access) &&
         marina_nic_list_equal (a->nics, b->nics) &&
         !remote_console_differs (a, b) &&
         marina_port_equal (&a->com2, &b->com2) &&
         marina_port_equal (&a->lpt1, &b->lpt1);
}

/* Finds @string in @names; the error lists every name so that the caller
 * sees at once what would have been accepted. */
static gboolean
lookup_name (const char *const *names,
             const char        *what,
             const char        *string,
             guint             *index,
             GError           **error)
{
  g_autofree char *known = NULL;

  for (guint i = 0; names[i] != NULL; i++)
    {
      if (g_strcmp0 (string, names[i]) == 0)
        {
          *index = i;
          return TRUE;
        }
    }
  known = g_strjoinv (", ", (GStrv) names);
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
               "Unknown %s '%s'; choose one of: %s", what,
               string ? string : "", known);
  return FALSE;
}

static const char *
name_of (const char *const *names, guint n_names, guint index)
{
  g_return_val_if_fail (index < n_names - 1, NULL);
  return names[index];
}

const char *
marina_profile_to_string (MarinaProfile profile)
{
  return name_of (profile_names, G_N_ELEMENTS (profile_names), profile);
}

gboolean
marina_profile_from_string (const char *string, MarinaProfile *profile, GError **error)
{
  guint index;

  if (!lookup_name (profile_names, "profile", string, &index, error))
    return FALSE;
  *profile = (MarinaProfile) index;
  return TRUE;
}

const char *
marina_autostart_to_string (MarinaAutostart autostart)
{
  return name_of (autostart_names, G_N_ELEMENTS (autostart_names), autostart);
}

gboolean
marina_autostart_from_string (const char *string, MarinaAutostart *autostart, GError **error)
{
  guint index;

  if (!lookup_name (autostart_names, "autostart setting", string, &index, error))
    return FALSE;
  *autostart = (MarinaAutostart) index;
  return TRUE;
}

const char *
marina_undo_action_to_string (MarinaUndoAction action)
{
  return name_of (undo_action_names, G_N_ELEMENTS (undo_action_names), action);
}

gboolean
marina_undo_action_from_string (const char *string, MarinaUndoAction *action, GError **error)
{
  guint index;

  if (!lookup_name (undo_action_names, "undo action", string, &index, error))
    return FALSE;
  *action = (MarinaUndoAction) index;
  return TRUE;
}

const char *
marina_stop_action_to_string (MarinaStopAction action)
{
  return name_of (stop_action_names, G_N_ELEMENTS (stop_action_names), action);
}

gboolean
marina_stop_action_from_string (const char *string, MarinaStopAction *action, GError **error)
{
  guint index;

  if (!lookup_name (stop_action_names, "stop action", string, &index, error))
    return FALSE;
  *action = (MarinaStopAction) index;
  return TRUE;
}

/* ---- validation ---- */

#define invalid marina_error_invalid

/* XML 1.0 cannot carry C0 controls other than tab and newlines, nor
 * U+FFFE/U+FFFF: a string holding one could not be saved. C1 controls are
 * never meant either. @allow_newlines admits tab, LF and CR (for notes). */
static gboolean
text_is_storable (const char *text, gboolean allow_newlines)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      GUnicodeType type = g_unichar_type (c);

      if (allow_newlines && (c == '\t' || c == '\n' || c == '\r'))
        continue;
      if (type == G_UNICODE_CONTROL || c == 0xFFFE || c == 0xFFFF)
        return FALSE;
      if (!allow_newlines &&
          (type == G_UNICODE_LINE_SEPARATOR || type == G_UNICODE_PARAGRAPH_SEPARATOR))
        return FALSE;
    }
  return TRUE;
}

gboolean
marina_validate_machine_id (const char *id, GError **error)
{
  gboolean ok = id != NULL && strlen (id) == 32;

  for (const char *p = id; ok && *p != '\0'; p++)
    ok = g_ascii_isdigit (*p) || (*p >= 'a' && *p <= 'f');
  if (!ok)
    return invalid (error, "A machine id must be 32 lowercase hexadecimal digits, not '%s'",
                    id ? id : "");
  return TRUE;
}

/* Names of machines and networks: what a person types and reads; never a
 * path component, never a line break. @what is "machine" or "network". */
gboolean
marina_validate_name (const char *what, const char *name, GError **error)
{
  glong length;

  if (name == NULL || *name == '\0')
    return invalid (error, "A %s name cannot be empty", what);
  if (!g_utf8_validate (name, -1, NULL))
    return invalid (error, "A %s name must be valid UTF-8 text", what);
  length = g_utf8_strlen (name, -1);
  if (length > MARINA_MACHINE_NAME_MAX_CHARS)
    return invalid (error, "A %s name can have at most %d characters; this one has %ld",
                    what, MARINA_MACHINE_NAME_MAX_CHARS, length);
  if (strchr (name, '/') != NULL)
    return invalid (error, "A %s name cannot contain '/'", what);
  if (!text_is_storable (name, FALSE))
    return invalid (error, "A %s name cannot contain control characters such as "
                    "newlines or tabs", what);
  if (g_str_equal (name, ".") || g_str_equal (name, ".."))
    return invalid (error, "A %s name cannot be '.' or '..'", what);
  return TRUE;
}

gboolean
marina_validate_machine_name (const char *name, GError **error)
{
  return marina_validate_name ("machine", name, error);
}

static gboolean
validate_notes (const char *notes, GError **error)
{
  if (notes == NULL)
    return invalid (error, "Notes cannot be missing; use an empty text for none");
  if (strlen (notes) > MARINA_MACHINE_NOTES_MAX_BYTES)
    return invalid (error, "Notes can be at most %d bytes long; these are %zu",
                    MARINA_MACHINE_NOTES_MAX_BYTES, strlen (notes));
  if (!g_utf8_validate (notes, -1, NULL))
    return invalid (error, "Notes must be valid UTF-8 text");
  if (!text_is_storable (notes, TRUE))
    return invalid (error, "Notes cannot contain control characters other than tabs "
                    "and line breaks");
  return TRUE;
}

static gboolean
validate_memory (guint64 memory_mib, guint64 host_memory_mib, GError **error)
{
  if (memory_mib < MARINA_MACHINE_MEMORY_MIN_MIB)
    return invalid (error, "Memory of %" G_GUINT64_FORMAT " MiB is too little; a machine "
                    "needs at least %d MiB", memory_mib, MARINA_MACHINE_MEMORY_MIN_MIB);
  if (host_memory_mib != 0 && memory_mib > host_memory_mib)
    return invalid (error, "Memory of %" G_GUINT64_FORMAT " MiB is more than the host's %"
                    G_GUINT64_FORMAT " MiB", memory_mib, host_memory_mib);
  if (memory_mib > MEMORY_MAX_MIB)
    return invalid (error, "Memory of %" G_GUINT64_FORMAT " MiB is more than the limit of %"
                    G_GUINT64_FORMAT " MiB", memory_mib, MEMORY_MAX_MIB);
  return TRUE;
}

static gboolean
validate_vcpus (guint vcpus, GError **error)
{
  if (vcpus < 1 || vcpus > MARINA_MACHINE_VCPUS_MAX)
    return invalid (error, "A machine needs 1 to %d virtual processors, not %u",
                    MARINA_MACHINE_VCPUS_MAX, vcpus);
  return TRUE;
}

/* Paths go into XML and onto QEMU's command line: they must be absolute
 * (marinad's working directory means nothing to the user) and printable. */
gboolean
marina_validate_path (const char *what, const char *path, GError **error)
{
  if (path == NULL)
    return TRUE;
  if (!g_utf8_validate (path, -1, NULL))
    return invalid (error, "The %s path must be valid UTF-8 text", what);
  if (!g_path_is_absolute (path))
    return invalid (error, "The %s path '%s' is not absolute; give the full path "
                    "starting with '/'", what, path);
  if (strlen (path) > PATH_MAX_BYTES)
    return invalid (error, "The %s path is longer than %d bytes", what, PATH_MAX_BYTES);
  if (!text_is_storable (path, FALSE))
    return invalid (error, "The %s path cannot contain control characters", what);
  return TRUE;
}

static gboolean
validate_choice (const char *const *names, const char *what, const char *value,
                 GError **error)
{
  guint index;

  return lookup_name (names, what, value, &index, error);
}

static gboolean
validate_boot_order (const char *const *boot_order, GError **error)
{
  guint seen = 0;

  if (boot_order == NULL)
    return invalid (error, "The boot order cannot be missing; use an empty list for none");
  for (guint i = 0; boot_order[i] != NULL; i++)
    {
      guint index;

      if (!lookup_name (boot_device_names, "boot device", boot_order[i], &index, error))
        return FALSE;
      if (seen & (1u << index))
        return invalid (error, "The boot order names '%s' more than once", boot_order[i]);
      seen |= 1u << index;
    }
  return TRUE;
}

/* The enumerations are public fields, so a caller may have stored anything. */
static gboolean
validate_enums (const MarinaMachineConfig *config, GError **error)
{
  if ((guint) config->profile >= G_N_ELEMENTS (profile_names) - 1)
    return invalid (error, "Unknown profile %d", (int) config->profile);
  if ((guint) config->autostart >= G_N_ELEMENTS (autostart_names) - 1)
    return invalid (error, "Unknown autostart setting %d", (int) config->autostart);
  if ((guint) config->stop_action >= G_N_ELEMENTS (stop_action_names) - 1)
    return invalid (error, "Unknown stop action %d", (int) config->stop_action);
  if ((guint) config->undo_action >= G_N_ELEMENTS (undo_action_names) - 1)
    return invalid (error, "Unknown undo action %d", (int) config->undo_action);
  return TRUE;
}

gboolean
marina_validate_cpu_allocation (guint weight, guint maximum, guint reserve, GError **error)
{
  if (weight < 1 || weight > MARINA_CPU_WEIGHT_MAX)
    return invalid (error, "A CPU weight of %u is out of range; use 1 to %u (default %u)",
                    weight, MARINA_CPU_WEIGHT_MAX, MARINA_CPU_WEIGHT_DEFAULT);
  if (maximum < 1 || maximum > 100)
    return invalid (error, "A CPU maximum of %u%% is out of range; use 1 to 100 percent of "
                    "a host CPU per virtual processor", maximum);
  if (reserve > maximum)
    return invalid (error, "A CPU reserve of %u%% is more than the maximum of %u%%; "
                    "lower the reserve or raise the maximum", reserve, maximum);
  return TRUE;
}

/* The machine events a host script can be attached to (Virtual Server's
 * per-machine events). */
const char *const marina_machine_script_events[] = {
  "started", "stopped", "saved", "restored", "heartbeat-lost", "guest-reset", "guest-panic",
  "config-changed", NULL,
};

gboolean
marina_validate_script_event (const char *const *events, const char *event, GError **error)
{
  g_autofree char *known = NULL;

  if (g_strv_contains (events, event))
    return TRUE;
  known = g_strjoinv (", ", (GStrv) events);
  return invalid (error, "There is no event '%s' to attach a script to; the events are: %s",
                  event, known);
}

static gboolean
validate_remote_console (const MarinaMachineConfig *config, GError **error)
{
  static const char *const auth_names[] = { "password", "sasl", NULL };
  g_autoptr(GInetAddress) address = NULL;

  if (config->remote_console_port == 0)
    return TRUE;
  if (config->remote_console_port < 5900 || config->remote_console_port > 65535)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        "Remote console port %u is out of range: VNC ports are 5900 to 65535",
                        config->remote_console_port), FALSE;
  if (config->remote_console_listen != NULL &&
      (address = g_inet_address_new_from_string (config->remote_console_listen)) == NULL)
    {
      g_autofree char *shown = g_strescape (config->remote_console_listen, NULL);
      return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                          "Remote console address \"%s\" is not an IP address such as "
                          "0.0.0.0, 192.0.2.7 or ::", shown), FALSE;
    }
  return config->remote_console_auth == NULL ||
         validate_choice (auth_names, "remote console authentication",
                          config->remote_console_auth, error);
}

static gboolean
validate_scripts (GHashTable *scripts, GError **error)
{
  GHashTableIter iter;
  gpointer event, path;

  g_hash_table_iter_init (&iter, scripts);
  while (g_hash_table_iter_next (&iter, &event, &path))
    if (!marina_validate_script_event (marina_machine_script_events, event, error) ||
        !marina_validate_path ("script", path, error))
      return FALSE;
  return TRUE;
}

/* QEMU's q35 machine has no floppy controller, nor had the hardware it models. */
static gboolean
validate_floppy (const MarinaMachineConfig *config, GError **error)
{
  if (config->floppy == NULL || config->profile == MARINA_PROFILE_LEGACY)
    return TRUE;
  return invalid (error, "Machine '%s' has a floppy image, but only the legacy profile has a "
                  "floppy drive; use the legacy profile or take the floppy out",
                  config->name ? config->name : "");
}

/**
 * marina_machine_config_validate:
 * @host_memory_mib: the host's memory in MiB, or 0 for no host limit
 *
 * Semantic checks of a whole configuration. Every refusal is
 * MARINA_ERROR_INVALID_ARGUMENT with a message naming the setting.
 */
gboolean
marina_machine_config_validate (const MarinaMachineConfig *config,
                                guint64                    host_memory_mib,
                                GError                   **error)
{
  g_return_val_if_fail (config != NULL, FALSE);

  return marina_validate_machine_id (config->id, error) &&
         marina_validate_machine_name (config->name, error) &&
         validate_notes (config->notes, error) &&
         validate_enums (config, error) &&
         validate_memory (config->memory_mib, host_memory_mib, error) &&
         validate_vcpus (config->vcpus, error) &&
         validate_choice (accelerator_names, "accelerator", config->accelerator, error) &&
         marina_validate_path ("boot disk", config->boot_disk, error) &&
         (config->boot_disk_format == NULL ||
          validate_choice (disk_format_names, "disk image format",
                           config->boot_disk_format, error)) &&
         marina_validate_path ("CD/DVD image", config->cdrom, error) &&
         marina_validate_path ("floppy image", config->floppy, error) &&
         validate_floppy (config, error) &&
         marina_drive_list_validate (config->drives, config->profile == MARINA_PROFILE_LEGACY,
                                     error) &&
         validate_boot_order ((const char *const *) config->boot_order, error) &&
         marina_validate_cpu_allocation (config->cpu_weight, config->cpu_maximum,
                                         config->cpu_reserve, error) &&
         validate_scripts (config->scripts, error) &&
         marina_access_list_validate (config->access, MARINA_ACCESS_SCOPE_OBJECT, error) &&
         marina_nic_list_validate (config->nics, error) &&
         validate_remote_console (config, error) &&
         marina_machine_config_validate_ports (config, error);
}

/* ---- CreateMachine options ---- */

typedef gboolean (*OptionSetter) (MarinaMachineConfig *config,
                                  GVariant            *value,
                                  GError             **error);

static gboolean
set_memory (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  config->memory_mib = g_variant_get_uint64 (value);
  return TRUE;
}

static gboolean
set_vcpus (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  config->vcpus = g_variant_get_uint32 (value);
  return TRUE;
}

static gboolean
set_profile (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  return marina_profile_from_string (g_variant_get_string (value, NULL),
                                     &config->profile, error);
}

/* An empty path means "none", so that a client can clear a setting. */
static void
replace_path (char **field, GVariant *value)
{
  const char *path = g_variant_get_string (value, NULL);

  g_free (*field);
  *field = *path != '\0' ? g_strdup (path) : NULL;
}

static gboolean
set_boot_disk (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  replace_path (&config->boot_disk, value);
  /* A different image may have a different format: probe it anew. */
  g_clear_pointer (&config->boot_disk_format, g_free);
  return TRUE;
}

static gboolean
set_cdrom (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  replace_path (&config->cdrom, value);
  return TRUE;
}

static gboolean
set_floppy (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  replace_path (&config->floppy, value);
  return TRUE;
}

static gboolean
set_undo_disks (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  config->undo_disks = g_variant_get_boolean (value);
  return TRUE;
}

static gboolean
set_undo_action (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  return marina_undo_action_from_string (g_variant_get_string (value, NULL),
                                         &config->undo_action, error);
}

static gboolean
set_boot_order (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  g_strfreev (config->boot_order);
  config->boot_order = g_variant_dup_strv (value, NULL);
  return TRUE;
}

static gboolean
set_notes (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  g_free (config->notes);
  config->notes = g_variant_dup_string (value, NULL);
  return TRUE;
}

static gboolean
set_accelerator (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  const char *accelerator = g_variant_get_string (value, NULL);

  if (!validate_choice (accelerator_names, "accelerator", accelerator, error))
    return FALSE;
  g_free (config->accelerator);
  config->accelerator = g_strdup (accelerator);
  return TRUE;
}

static gboolean
set_autostart (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  return marina_autostart_from_string (g_variant_get_string (value, NULL),
                                       &config->autostart, error);
}

static gboolean
set_autostart_delay (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  config->autostart_delay = g_variant_get_uint32 (value);
  return TRUE;
}

static gboolean
set_stop_action (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  return marina_stop_action_from_string (g_variant_get_string (value, NULL),
                                         &config->stop_action, error);
}

static gboolean
set_cpu_weight (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  config->cpu_weight = g_variant_get_uint32 (value);
  return TRUE;
}

static gboolean
set_cpu_maximum (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  config->cpu_maximum = g_variant_get_uint32 (value);
  return TRUE;
}

static gboolean
set_cpu_reserve (MarinaMachineConfig *config, GVariant *value, GError **error)
{
  config->cpu_reserve = g_variant_get_uint32 (value);
  return TRUE;
}

/* The keys of CreateMachine's options, as org.marinavm.Marina1.Manager.xml documents them. */
static const struct {
  const char *key;
  const char *type;
  OptionSetter set;
} option_table[] = {
  { "memory-mib", "t", set_memory },
  { "vcpus", "u", set_vcpus },
  { "profile", "s", set_profile },
  { "boot-disk", "s", set_boot_disk },
  { "cdrom", "s", set_cdrom },
  { "floppy", "s", set_floppy },
  { "undo-disks", "b", set_undo_disks },
  { "undo-action", "s", set_undo_action },
  { "boot-order", "as", set_boot_order },
  { "notes", "s", set_notes },
  { "accelerator", "s", set_accelerator },
  { "autostart", "s", set_autostart },
  { "autostart-delay", "u", set_autostart_delay },
  { "stop-action", "s", set_stop_action },
  { "cpu-weight", "u", set_cpu_weight },
  { "cpu-maximum", "u", set_cpu_maximum },
  { "cpu-reserve", "u", set_cpu_reserve },
};

static gboolean
unknown_option (const char *key, GError **error)
{
  g_autoptr(GString) known = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (option_table); i++)
    g_string_append_printf (known, "%s%s", i ? ", " : "", option_table[i].key);
  return invalid (error, "Unknown option '%s'; known options are: %s", key, known->str);
}

static gboolean
apply_option (MarinaMachineConfig *config, const char *key, GVariant *value, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (option_table); i++)
    {
      if (!g_str_equal (key, option_table[i].key))
        continue;
      if (!g_str_equal (g_variant_get_type_string (value), option_table[i].type))
        return invalid (error, "Option '%s' must be of type '%s', not '%s'", key,
                        option_table[i].type, g_variant_get_type_string (value));
      return option_table[i].set (config, value, error);
    }
  return unknown_option (key, error);
}

/* Exchanges the contents of two records, so that the old contents are freed
 * with the scratch record. */
static void
swap_contents (MarinaMachineConfig *a, MarinaMachineConfig *b)
{
  MarinaMachineConfig tmp = *a;

  *a = *b;
  *b = tmp;
}

/**
 * marina_machine_config_apply_options:
 * @options: an a{sv} of CreateMachine options
 *
 * Applies all options or none: on error @config is unchanged. Checks the
 * keys, their types and the enumerated values; the caller runs
 * marina_machine_config_validate() for ranges and the host's limits.
 */
gboolean
marina_machine_config_apply_options (MarinaMachineConfig *config,
                                     GVariant            *options,
                                     GError             **error)
{
  g_autoptr(MarinaMachineConfig) work = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (g_variant_is_of_type (options, G_VARIANT_TYPE_VARDICT), FALSE);

  work = marina_machine_config_copy (config);
  g_variant_iter_init (&iter, options);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      if (!apply_option (work, key, value, error))
        {
          g_variant_unref (value);
          return FALSE;
        }
    }
  swap_contents (config, work);
  return TRUE;
}

/* Adapters are PCI devices: added, removed or remodelled only while QEMU is
 * down. Their network and cable change live (the service does that). */
static gboolean
nic_hardware_differs (GPtrArray *a, GPtrArray *b)
{
  if (a->len != b->len)
    return TRUE;
  for (guint i = 0; i < a->len; i++)
    {
      MarinaNic *x = g_ptr_array_index (a, i), *y = g_ptr_array_index (b, i);
      if (g_strcmp0 (x->id, y->id) != 0 || g_strcmp0 (x->mac, y->mac) != 0 ||
          g_strcmp0 (x->model, y->model) != 0)
        return TRUE;
    }
  return FALSE;
}

/**
 * marina_machine_config_hardware_differs:
 *
 * Returns: the name of the first setting that differs between @a and @b and
 * that cannot change while QEMU runs or its state is saved, or NULL.
 */
const char *
marina_machine_config_hardware_differs (const MarinaMachineConfig *a,
                                        const MarinaMachineConfig *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, NULL);

  if (a->memory_mib != b->memory_mib)
    return "memory";
  if (a->vcpus != b->vcpus)
    return "vcpus";
  if (a->profile != b->profile)
    return "profile";
  if (g_strcmp0 (a->accelerator, b->accelerator) != 0)
    return "accelerator";
  if (g_strcmp0 (a->boot_disk, b->boot_disk) != 0 ||
      g_strcmp0 (a->boot_disk_format, b->boot_disk_format) != 0)
    return "boot-disk";
  if (g_strcmp0 (a->cdrom, b->cdrom) != 0)
    return "cdrom";
  if (a->undo_disks != b->undo_disks)
    return "undo-disks";
  if (!marina_drive_list_equal (a->drives, b->drives))
    return "disks";
  if ((a->floppy == NULL) != (b->floppy == NULL))
    return "floppy";
  if (remote_console_differs (a, b))
    return "remote-console";
  if (nic_hardware_differs (a->nics, b->nics))
    return "network adapters";
  if (!marina_port_equal (&a->com2, &b->com2))
    return "COM2";
  if (!marina_port_equal (&a->lpt1, &b->lpt1))
    return "LPT1";
  return NULL;
}

/**
 * marina_machine_config_probe_formats:
 *
 * Fills in the format of a boot disk that has none, by reading its header
 * now, once. Probing at every start would let a guest that writes a qcow2
 * header into a raw disk make QEMU open files of the host.
 */
gboolean
marina_machine_config_probe_formats (MarinaMachineConfig *config, GError **error)
{
  for (guint i = 0; i < config->drives->len; i++)
    {
      MarinaDrive *drive = config->drives->pdata[i];
      if (drive->format == NULL &&
          !(drive->format = marina_image_probe_format (drive->path, error)))
        return FALSE;
    }
  if (config->boot_disk == NULL || config->boot_disk_format != NULL)
    return TRUE;
  config->boot_disk_format = marina_image_probe_format (config->boot_disk, error);
  return config->boot_disk_format != NULL;
}
