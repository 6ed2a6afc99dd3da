/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "marina-machine-config.h"

G_BEGIN_DECLS

/* What the service decides for one run of QEMU, beside the configuration.
 * All strings are borrowed. */
typedef struct {
  const char *qemu_binary;        /* e.g. "qemu-system-x86_64" or an absolute path */
  const char *accelerator;        /* resolved: "kvm" or "tcg", never "auto" */
  const char *qmp_socket_path;    /* QEMU listens here for QMP (marinad connects) */
  const char *serial_socket_path; /* QEMU listens here for the first serial port */
  const char *serial_log_path;    /* receives the serial output too; NULL for none */
  const char *agent_socket_path;  /* QEMU listens here for the guest agent's port */
  const char *com2_socket_path;   /* QEMU listens here for COM2 when it is a pipe */
  gboolean incoming;              /* add "-incoming defer" (restore of a saved state) */
  const char *console_tls_dir;    /* x509 files of a remote console (ca-cert.pem,
                                   * server-cert.pem, server-key.pem) */
  const char *boot_disk_overlay;  /* undo disks: the qcow2 overlay the run writes to, over
                                   * the boot disk, which is then opened read-only; or NULL */
  const char *const *nic_backends;/* per adapter of the configuration, in order: the
                                   * -netdev backend without its id ("tap,fd=10,vhost=off",
                                   * "user,..."), or NULL for none; NULL: no adapter has one */
  const char *boot_disk_nbd_socket; /* the boot disk is served by qemu-storage-daemon on this
                                    * Unix socket (NBD export "disk0"), or NULL */
} MarinaQemuRuntime;

GStrv marina_qemu_command_line        (const MarinaMachineConfig *config,
                                       const MarinaQemuRuntime   *runtime,
                                       GError                   **error);
char *marina_qemu_escape_option_value (const char *value);
gboolean marina_image_format_blocks_migration (const char *format);
GStrv marina_storage_daemon_command_line (const char *binary,
                                         const char *image,
                                         const char *format,
                                         const char *socket_path);
char *marina_qemu_uuid_from_id        (const char *id);

G_END_DECLS
