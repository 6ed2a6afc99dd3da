/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-devices"
#include "config.h"

#include "marina-drive.h"
#include "marina-error.h"

static const char *const bus_names[] = { "ide", "scsi", "virtio", NULL };

MarinaDrive *
marina_drive_new (void)
{
  return g_new0 (MarinaDrive, 1);
}

void
marina_drive_free (MarinaDrive *drive)
{
  if (drive == NULL)
    return;
  g_free (drive->path);
  g_free (drive->format);
  g_free (drive);
}

GPtrArray *
marina_drive_list_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) marina_drive_free);
}

static MarinaDrive *
drive_copy (const MarinaDrive *drive)
{
  MarinaDrive *copy = g_memdup2 (drive, sizeof *drive);

  copy->path = g_strdup (drive->path);
  copy->format = g_strdup (drive->format);
  return copy;
}

GPtrArray *
marina_drive_list_copy (GPtrArray *drives)
{
  GPtrArray *copy = marina_drive_list_new ();

  for (guint i = 0; i < drives->len; i++)
    g_ptr_array_add (copy, drive_copy (drives->pdata[i]));
  return copy;
}

static gboolean
drive_equal (const MarinaDrive *a, const MarinaDrive *b)
{
  return g_strcmp0 (a->path, b->path) == 0 && g_strcmp0 (a->format, b->format) == 0 &&
         a->bus == b->bus && a->controller == b->controller && a->unit == b->unit &&
         a->shared == b->shared;
}

gboolean
marina_drive_list_equal (GPtrArray *a, GPtrArray *b)
{
  if (a->len != b->len)
    return FALSE;
  for (guint i = 0; i < a->len; i++)
    if (!drive_equal (a->pdata[i], b->pdata[i]))
      return FALSE;
  return TRUE;
}

const char *
marina_bus_to_string (MarinaBus bus)
{
  return (guint) bus < G_N_ELEMENTS (bus_names) - 1 ? bus_names[bus] : "unknown";
}

gboolean
marina_bus_from_string (const char *string, MarinaBus *bus, GError **error)
{
  for (guint i = 0; bus_names[i]; i++)
    if (g_strcmp0 (string, bus_names[i]) == 0)
      {
        *bus = (MarinaBus) i;
        return TRUE;
      }
  return marina_error_invalid (error, "Unknown disk bus '%s'; use ide, scsi (legacy profile) or "
                               "virtio (modern profile)", string ? string : "");
}

MarinaDrive *
marina_drive_list_find (GPtrArray *drives, const char *path)
{
  for (guint i = 0; i < drives->len; i++)
    if (g_strcmp0 (((MarinaDrive *) drives->pdata[i])->path, path) == 0)
      return drives->pdata[i];
  return NULL;
}

/* ---- slots ---------------------------------------------------------------------- */

/* The first drive of each IDE channel is the boot disk's and the CD/DVD drive's. */
static gboolean
ide_slot_reserved (guint channel, guint unit)
{
  return unit == 0 && channel < MARINA_IDE_CHANNELS;
}

static gboolean
check_bus_of_profile (MarinaBus bus, gboolean legacy, GError **error)
{
  if ((guint) bus >= G_N_ELEMENTS (bus_names) - 1)
    return marina_error_invalid (error, "Unknown disk bus %d", (int) bus);
  if (legacy && bus == MARINA_BUS_VIRTIO)
    return marina_error_invalid (error, "The legacy profile has IDE and SCSI disks, not virtio; "
                                 "use bus ide or scsi, or the modern profile");
  if (!legacy && bus != MARINA_BUS_VIRTIO)
    return marina_error_invalid (error, "The modern profile attaches additional disks on virtio, "
                                 "not %s; use bus virtio, or the legacy profile",
                                 marina_bus_to_string (bus));
  return TRUE;
}

static gboolean
check_slot (const MarinaDrive *drive, GError **error)
{
  switch (drive->bus)
    {
    case MARINA_BUS_IDE:
      if (drive->controller >= MARINA_IDE_CHANNELS || drive->unit >= MARINA_IDE_UNITS ||
          ide_slot_reserved (drive->controller, drive->unit))
        return marina_error_invalid (error, "IDE channel %u unit %u is no slot for '%s': the IDE "
                                     "bus has channels 0 and 1 with units 0 and 1, and unit 0 of "
                                     "each holds the boot disk and the CD/DVD drive",
                                     drive->controller, drive->unit, drive->path);
      return TRUE;
    case MARINA_BUS_SCSI:
      if (drive->controller >= MARINA_SCSI_CONTROLLERS || drive->unit >= MARINA_SCSI_UNITS)
        return marina_error_invalid (error, "SCSI controller %u id %u is no slot for '%s': there "
                                     "are controllers 0 to %u with ids 0 to %u", drive->controller,
                                     drive->unit, drive->path, MARINA_SCSI_CONTROLLERS - 1,
                                     MARINA_SCSI_UNITS - 1);
      return TRUE;
    case MARINA_BUS_VIRTIO:
      if (drive->controller != 0 || drive->unit >= MARINA_VIRTIO_DISKS_MAX)
        return marina_error_invalid (error, "virtio disk %u is no slot for '%s': there are at most "
                                     "%u additional virtio disks", drive->unit, drive->path,
                                     MARINA_VIRTIO_DISKS_MAX);
      return TRUE;
    }
  return marina_error_invalid (error, "Unknown disk bus %d", (int) drive->bus);
}

static MarinaDrive *
drive_at (GPtrArray *drives, MarinaBus bus, guint controller, guint unit)
{
  for (guint i = 0; i < drives->len; i++)
    {
      MarinaDrive *drive = drives->pdata[i];
      if (drive->bus == bus && drive->controller == controller && drive->unit == unit)
        return drive;
    }
  return NULL;
}

/**
 * marina_drive_list_validate:
 *
 * Every drive on a bus of the profile, in a slot that exists, no two in one
 * slot, no image twice. Refusals are MARINA_ERROR_INVALID_ARGUMENT.
 */
gboolean
marina_drive_list_validate (GPtrArray *drives, gboolean legacy, GError **error)
{
  for (guint i = 0; i < drives->len; i++)
    {
      MarinaDrive *drive = drives->pdata[i];
      MarinaDrive *first;

      if (drive->path == NULL || !g_path_is_absolute (drive->path))
        return marina_error_invalid (error, "An additional disk's path must be absolute, not '%s'",
                                     drive->path ? drive->path : "");
      if (!check_bus_of_profile (drive->bus, legacy, error) || !check_slot (drive, error))
        return FALSE;
      first = drive_at (drives, drive->bus, drive->controller, drive->unit);
      if (first != drive)
        return marina_error_invalid (error, "Two disks are in one slot (%s %u:%u): '%s' and '%s'",
                                     marina_bus_to_string (drive->bus), drive->controller,
                                     drive->unit, first ? first->path : "", drive->path);
      if (marina_drive_list_find (drives, drive->path) != drive)
        return marina_error_invalid (error, "The disk '%s' is attached twice", drive->path);
      /* Two writers of a qcow2 or VHD would tear its metadata; raw has none. */
      if (drive->shared && drive->format && g_strcmp0 (drive->format, "raw") != 0)
        return marina_error_invalid (error, "Only raw disks can be shared between machines; "
                                     "'%s' is %s", drive->path, drive->format);
    }
  return TRUE;
}

static gboolean
full_error (MarinaBus bus, GError **error)
{
  switch (bus)
    {
    case MARINA_BUS_IDE:
      return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INSUFFICIENT_RESOURCES,
                          "The IDE bus holds 4 drives (2 channels × 2), the boot disk and the "
                          "CD/DVD drive included, and all are in use; attach the disk on bus scsi "
                          "(4 controllers × 7 disks)"), FALSE;
    case MARINA_BUS_SCSI:
      return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INSUFFICIENT_RESOURCES,
                          "The SCSI buses hold %u disks (%u controllers × %u), and all are in use",
                          MARINA_SCSI_CONTROLLERS * MARINA_SCSI_UNITS, MARINA_SCSI_CONTROLLERS,
                          MARINA_SCSI_UNITS), FALSE;
    case MARINA_BUS_VIRTIO:
      break;
    }
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INSUFFICIENT_RESOURCES,
                      "A machine holds %u additional virtio disks, and all are in use",
                      MARINA_VIRTIO_DISKS_MAX), FALSE;
}

/**
 * marina_drive_list_place:
 * @drive: gets the first free slot of @bus
 *
 * Fails with MARINA_ERROR_INSUFFICIENT_RESOURCES, stating the limit, when
 * the bus is full.
 */
gboolean
marina_drive_list_place (GPtrArray *drives, gboolean legacy, MarinaBus bus, MarinaDrive *drive,
                         GError **error)
{
  guint controllers = bus == MARINA_BUS_IDE ? MARINA_IDE_CHANNELS
                      : bus == MARINA_BUS_SCSI ? MARINA_SCSI_CONTROLLERS : 1;
  guint units = bus == MARINA_BUS_IDE ? MARINA_IDE_UNITS
                : bus == MARINA_BUS_SCSI ? MARINA_SCSI_UNITS : MARINA_VIRTIO_DISKS_MAX;

  if (!check_bus_of_profile (bus, legacy, error))
    return FALSE;
  for (guint controller = 0; controller < controllers; controller++)
    for (guint unit = 0; unit < units; unit++)
      {
        if ((bus == MARINA_BUS_IDE && ide_slot_reserved (controller, unit)) ||
            drive_at (drives, bus, controller, unit))
          continue;
        drive->bus = bus;
        drive->controller = controller;
        drive->unit = unit;
        return TRUE;
      }
  return full_error (bus, error);
}
