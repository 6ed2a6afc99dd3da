/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "marina-access.h"
#include "marina-drive.h"
#include "marina-nic.h"
#include "marina-port.h"

G_BEGIN_DECLS

/* The hardware family a machine is built from. */
typedef enum {
  MARINA_PROFILE_MODERN,  /* q35, virtio disk, VGA, XHCI */
  MARINA_PROFILE_LEGACY,  /* i440fx, IDE disk, LSI SCSI, Cirrus, UHCI */
} MarinaProfile;

/* Whether marinad starts the machine when the host (marinad) starts. */
typedef enum {
  MARINA_AUTOSTART_NEVER,
  MARINA_AUTOSTART_ALWAYS,
  MARINA_AUTOSTART_IF_RUNNING,  /* only if it ran when the host stopped */
} MarinaAutostart;

/* What the host does to a running machine when it shuts down. */
typedef enum {
  MARINA_STOP_ACTION_SAVE,
  MARINA_STOP_ACTION_SHUTDOWN,
  MARINA_STOP_ACTION_TURN_OFF,
} MarinaStopAction;

/* What becomes of a run's changes to the disks when a machine with undo
 * disks powers off (as Virtual Server's undo disks). */
typedef enum {
  MARINA_UNDO_ACTION_KEEP,     /* the overlays stay; the next run goes on from them */
  MARINA_UNDO_ACTION_COMMIT,   /* written into the disks */
  MARINA_UNDO_ACTION_DISCARD,  /* thrown away */
} MarinaUndoAction;

/* Limits that validation enforces; exported so that clients and tests agree. */
#define MARINA_MACHINE_NAME_MAX_CHARS 64
#define MARINA_MACHINE_NOTES_MAX_BYTES 4096
#define MARINA_MACHINE_MEMORY_MIN_MIB 4
#define MARINA_MACHINE_VCPUS_MAX 255
#define MARINA_CPU_WEIGHT_DEFAULT 100
#define MARINA_CPU_WEIGHT_MAX 10000
/* The largest machine configuration (XML) accepted, in bytes. */
#define MARINA_MACHINE_CONFIG_MAX_BYTES (1024 * 1024)

/* A machine's configuration: a plain value, copied freely. Every string is
 * UTF-8 and owned by the record. The values are only known to be sane after
 * marina_machine_config_validate() (from_xml() runs it). */
typedef struct {
  char *id;               /* 32 lowercase hex digits, never NULL */
  char *name;             /* 1 to 64 characters, see marina_validate_machine_name() */
  char *notes;            /* free text; "" when none, never NULL */
  MarinaProfile profile;
  guint64 memory_mib;     /* guest RAM in MiB */
  guint vcpus;            /* virtual processors, 1 to 255 */
  char *accelerator;      /* "auto", "kvm" or "tcg" */
  char *boot_disk;        /* absolute path of the boot disk image, or NULL */
  char *boot_disk_format; /* "raw", "qcow2", "vpc", "vhdx", or NULL: probed when the
                           * command line is built */
  char *cdrom;            /* absolute path of the CD/DVD image, or NULL (empty drive) */
  char *floppy;           /* absolute path of the floppy image (legacy profile), or NULL */
  GPtrArray *drives;      /* of MarinaDrive: the additional hard disks; never NULL */
  gboolean undo_disks;    /* each run writes to overlays in the machine's folder */
  MarinaUndoAction undo_action;  /* what happens to them at power-off */
  GStrv boot_order;       /* of "disk", "cdrom", "network", each at most once; never
                           * NULL, may be empty */
  MarinaAutostart autostart;
  guint autostart_delay;  /* seconds to wait before an automatic start */
  MarinaStopAction stop_action;
  /* CPU allocation, as Virtual Server's resource allocation. Percentages are
   * of one host CPU, per virtual processor. */
  guint cpu_weight;       /* relative weight, 1 to 10000 */
  guint cpu_maximum;      /* cap, 1 to 100 percent */
  guint cpu_reserve;      /* reserve, 0 to 100 percent: admission-controlled */
  GHashTable *scripts;    /* event name → absolute path of the host script run on it;
                           * never NULL */
  /* A direct TCP console (Virtual Server's VMRC over SSL): QEMU's VNC with
   * TLS (x509) on this port, 0 for none. Local consoles need none of it. */
  guint remote_console_port;    /* 5900 to 65535, or 0 */
  char *remote_console_listen;  /* an IP address literal; NULL: 0.0.0.0 */
  char *remote_console_auth;    /* "password" or "sasl"; NULL: password */
  GPtrArray *access;      /* of MarinaAccessEntry: who may use, configure or
                           * administer this machine besides root and polkit;
                           * never NULL */
  GPtrArray *nics;        /* of MarinaNic, at most MARINA_NIC_MAX; never NULL */
  MarinaPort com2;        /* the second serial port (COM1 is the serial console) */
  MarinaPort lpt1;        /* the parallel port: legacy profile, none or file */
} MarinaMachineConfig;

MarinaMachineConfig *marina_machine_config_new    (void);
MarinaMachineConfig *marina_machine_config_copy   (const MarinaMachineConfig *config);
void                 marina_machine_config_free   (MarinaMachineConfig *config);
gboolean             marina_machine_config_equal  (const MarinaMachineConfig *a,
                                                   const MarinaMachineConfig *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MarinaMachineConfig, marina_machine_config_free)

const char *marina_profile_to_string         (MarinaProfile profile);
gboolean    marina_profile_from_string       (const char    *string,
                                              MarinaProfile *profile,
                                              GError       **error);
const char *marina_autostart_to_string       (MarinaAutostart autostart);
gboolean    marina_autostart_from_string     (const char      *string,
                                              MarinaAutostart *autostart,
                                              GError         **error);
const char *marina_undo_action_to_string     (MarinaUndoAction action);
gboolean    marina_undo_action_from_string   (const char       *string,
                                              MarinaUndoAction *action,
                                              GError          **error);
const char *marina_stop_action_to_string     (MarinaStopAction action);
gboolean    marina_stop_action_from_string   (const char       *string,
                                              MarinaStopAction *action,
                                              GError          **error);

char       *marina_machine_id_new            (void);
gboolean    marina_validate_machine_id       (const char *id,
                                              GError    **error);
gboolean    marina_validate_name             (const char *what,
                                              const char *name,
                                              GError    **error);
gboolean    marina_validate_machine_name     (const char *name,
                                              GError    **error);
gboolean    marina_validate_path             (const char *what,
                                              const char *path,
                                              GError    **error);
gboolean    marina_machine_config_validate_ports (const MarinaMachineConfig *config,
                                                  GError                   **error);
gboolean    marina_machine_config_validate   (const MarinaMachineConfig *config,
                                              guint64                    host_memory_mib,
                                              GError                   **error);
gboolean    marina_machine_config_apply_options (MarinaMachineConfig *config,
                                                 GVariant            *options,
                                                 GError             **error);
gboolean    marina_machine_config_probe_formats (MarinaMachineConfig *config,
                                                 GError             **error);
extern const char *const marina_machine_script_events[];
gboolean    marina_validate_script_event     (const char *const *events,
                                              const char        *event,
                                              GError           **error);
GHashTable *marina_scripts_new               (void);
GHashTable *marina_scripts_copy              (GHashTable *scripts);
GStrv       marina_scripts_sorted_events     (GHashTable *scripts);
gboolean    marina_validate_cpu_allocation   (guint    weight,
                                              guint    maximum,
                                              guint    reserve,
                                              GError **error);
const char *marina_machine_config_hardware_differs (const MarinaMachineConfig *a,
                                                    const MarinaMachineConfig *b);

/* The XML form: marina-machine-config-xml.c */
MarinaMachineConfig *marina_machine_config_from_xml  (const char *xml,
                                                      gssize      length,
                                                      GError    **error);
char                *marina_machine_config_to_xml    (const MarinaMachineConfig *config);
MarinaMachineConfig *marina_machine_config_load_file (const char *path,
                                                      GError    **error);

G_END_DECLS
