/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A machine's additional hard disks (beside the boot disk) and the buses
 * that hold them. The legacy profile has the IDE controller of a PIIX board,
 * two channels of two drives, the boot disk being the first drive of the
 * first channel and the CD/DVD drive the first of the second, and LSI SCSI
 * controllers of seven disks each (id 7 is the controller's own). The modern
 * profile puts each disk on a virtio-blk PCI device. */

#define MARINA_IDE_CHANNELS 2
#define MARINA_IDE_UNITS 2
#define MARINA_SCSI_CONTROLLERS 4
#define MARINA_SCSI_UNITS 7
#define MARINA_VIRTIO_DISKS_MAX 16

typedef enum {
  MARINA_BUS_IDE,
  MARINA_BUS_SCSI,
  MARINA_BUS_VIRTIO,
} MarinaBus;

typedef struct {
  char *path;        /* absolute path of the image */
  char *format;      /* QEMU's driver (raw, qcow2, vpc, vhdx), or NULL: probed once */
  MarinaBus bus;
  guint controller;  /* IDE channel or SCSI controller; 0 on virtio */
  guint unit;        /* IDE unit, SCSI id, or the virtio disk's number */
  gboolean shared;   /* other machines may have it open at once (guest clusters on a
                      * shared SCSI bus, as in Virtual Server): raw images only */
} MarinaDrive;

MarinaDrive *marina_drive_new            (void);
void         marina_drive_free           (MarinaDrive *drive);
GPtrArray   *marina_drive_list_new       (void);
GPtrArray   *marina_drive_list_copy      (GPtrArray *drives);
gboolean     marina_drive_list_equal     (GPtrArray *a,
                                          GPtrArray *b);
gboolean     marina_drive_list_validate  (GPtrArray *drives,
                                          gboolean   legacy,
                                          GError   **error);
MarinaDrive *marina_drive_list_find      (GPtrArray  *drives,
                                          const char *path);
gboolean     marina_drive_list_place     (GPtrArray  *drives,
                                          gboolean    legacy,
                                          MarinaBus   bus,
                                          MarinaDrive *drive,
                                          GError    **error);
const char  *marina_bus_to_string        (MarinaBus bus);
gboolean     marina_bus_from_string      (const char *string,
                                          MarinaBus  *bus,
                                          GError    **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MarinaDrive, marina_drive_free)

G_END_DECLS
