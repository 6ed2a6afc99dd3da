/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-devices"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-error.h"
#include "marina-machine-config.h"
#include "marina-port.h"

/* In the order of MarinaPortKind; also what the XML carries. */
static const char *const kind_names[] = { "none", "file", "pipe", NULL };

void
marina_port_copy (MarinaPort *dest, const MarinaPort *port)
{
  dest->kind = port->kind;
  dest->path = g_strdup (port->path);
}

void
marina_port_clear (MarinaPort *port)
{
  port->kind = MARINA_PORT_NONE;
  g_clear_pointer (&port->path, g_free);
}

gboolean
marina_port_equal (const MarinaPort *a, const MarinaPort *b)
{
  return a->kind == b->kind && g_strcmp0 (a->path, b->path) == 0;
}

const char *
marina_port_kind_to_string (MarinaPortKind kind)
{
  g_return_val_if_fail ((guint) kind < G_N_ELEMENTS (kind_names) - 1, NULL);
  return kind_names[kind];
}

gboolean
marina_port_kind_from_string (const char *string, MarinaPortKind *kind, GError **error)
{
  for (guint i = 0; kind_names[i]; i++)
    if (g_strcmp0 (string, kind_names[i]) == 0)
      {
        *kind = (MarinaPortKind) i;
        return TRUE;
      }
  return marina_error_invalid (error, _("Unknown port type '%s'; choose one of: none, file, "
                                        "pipe"), string ? string : "");
}

/* @name: "COM2" or "LPT1"; @pipe: whether the port can be a pipe. */
static gboolean
validate_port (const MarinaPort *port, const char *name, gboolean pipe, GError **error)
{
  g_autofree char *what = g_strdup_printf ("%s file", name);

  if ((guint) port->kind >= G_N_ELEMENTS (kind_names) - 1 ||
      (port->kind == MARINA_PORT_PIPE && !pipe))
    return marina_error_invalid (error, pipe ? _("%s is connected to nothing (none), a file or "
                                                 "a pipe; type %d is none of them")
                                             : _("%s is connected to nothing (none) or a file; "
                                                 "type %d is neither"),
                                 name, (int) port->kind);
  if (port->kind != MARINA_PORT_FILE && port->path != NULL)
    return marina_error_invalid (error, _("%s is of type %s, which takes no path; take out "
                                          "'%s' or make it type file"), name,
                                 kind_names[port->kind], port->path);
  if (port->kind == MARINA_PORT_FILE && port->path == NULL)
    return marina_error_invalid (error, _("%s is connected to a file, but names none; give "
                                          "the file's absolute path"), name);
  return marina_validate_path (what, port->path, error);
}

/* A guest writes to a port's file: never into one of its disk images. */
static gboolean
check_not_an_image (const MarinaMachineConfig *config, const char *name, const char *path,
                    GError **error)
{
  const char *const images[] = { config->boot_disk, config->cdrom, config->floppy };
  gboolean found = marina_drive_list_find (config->drives, path) != NULL;

  for (guint i = 0; i < G_N_ELEMENTS (images); i++)
    found = found || g_strcmp0 (images[i], path) == 0;
  if (!found)
    return TRUE;
  return marina_error_invalid (error, _("The %s file '%s' is a disk image of machine '%s'; give "
                                        "the port a text file of its own"), name, path,
                               config->name ? config->name : "");
}

/**
 * marina_machine_config_validate_ports:
 *
 * COM2 and LPT1: each of a type it can have, a file where the type says so
 * (an absolute path, none of the machine's images, not both ports' at once),
 * and LPT1 only in the legacy profile, whose PIIX board has the ISA parallel
 * port. Refusals are MARINA_ERROR_INVALID_ARGUMENT.
 */
gboolean
marina_machine_config_validate_ports (const MarinaMachineConfig *config, GError **error)
{
  const MarinaPort *com2 = &config->com2, *lpt1 = &config->lpt1;

  if (!validate_port (com2, "COM2", TRUE, error) || !validate_port (lpt1, "LPT1", FALSE, error))
    return FALSE;
  if (lpt1->kind != MARINA_PORT_NONE && config->profile != MARINA_PROFILE_LEGACY)
    return marina_error_invalid (error, _("Machine '%s' has LPT1 connected, but only the legacy "
                                          "profile has a parallel port; use the legacy profile "
                                          "or set LPT1 to none"),
                                 config->name ? config->name : "");
  if (com2->path && g_strcmp0 (com2->path, lpt1->path) == 0)
    return marina_error_invalid (error, _("COM2 and LPT1 both write to '%s'; give each port a "
                                          "file of its own"), com2->path);
  return (com2->path == NULL || check_not_an_image (config, "COM2", com2->path, error)) &&
         (lpt1->path == NULL || check_not_an_image (config, "LPT1", lpt1->path, error));
}
