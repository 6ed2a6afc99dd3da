/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-devices"
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <glib/gstdio.h>

#include "marina-error.h"
#include "marina-image.h"
#include "marina-qemu-command-line.h"

/* Turns a configuration into QEMU's argv. The result goes straight to
 * execve(), never through a shell, so the only syntax to respect is QEMU's
 * own option syntax: in "key=value,key=value" a comma inside a value is
 * written twice. Every value that a user controls passes through
 * append_option(), which does that.
 *
 * The same configuration always gives the same argv, device for device: a
 * saved state can only be restored into the very same virtual hardware.
 *
 * Devices and their names, for QMP:
 *   disk0        boot disk (virtio-blk-pci modern, ide-hd on ide.0 legacy);
 *                block nodes "disk0-file" (file) and "disk0-format" (format)
 *   cd0          CD/DVD drive, always present, ide-cd on bus ide.1 unit 0; with
 *                media its nodes are "cd0-file" and "cd0-format"
 *   usb, tablet  USB controller (qemu-xhci modern, piix3-usb-uhci legacy) and
 *                usb-tablet on it, for an absolute pointer over VNC
 *   video0       VGA (modern) or cirrus-vga (legacy)
 *   scsi0        lsi53c895a (legacy only)
 *   agent-serial virtio-serial-pci, with the port "agent0" named
 *                org.qemu.guest_agent.0 on it
 *   chardevs "qmp" (QMP monitor), "serial0" (first serial port) and "agent"
 *   (the guest agent's port)
 *   com2, lpt1   isa-serial index 1 (0x2f8, IRQ 3) and isa-parallel index 0
 *                (0x378, IRQ 7), each on a chardev of its name, when connected
 */

/* Each machine keeps its translated code small; the default 1 GiB buffer
 * is much more than a server's worth of guests can afford. */
#define TCG_TB_SIZE_MIB 64

char *
marina_qemu_escape_option_value (const char *value)
{
  GString *escaped;

  g_return_val_if_fail (value != NULL, NULL);

  escaped = g_string_sized_new (strlen (value) + 8);
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == ',')
        g_string_append_c (escaped, ',');
      g_string_append_c (escaped, *p);
    }
  return g_string_free (escaped, FALSE);
}

/* QEMU wants the canonical 8-4-4-4-12 form; marina ids are the same 128
 * bits without dashes. */
char *
marina_qemu_uuid_from_id (const char *id)
{
  g_return_val_if_fail (id != NULL && strlen (id) == 32, NULL);

  return g_strdup_printf ("%.8s-%.4s-%.4s-%.4s-%.12s", id, id + 8, id + 12, id + 16, id + 20);
}

/* ---- building blocks ---- */

/* Appends ",key=value" (or "key=value" first) with @value escaped. */
static void
append_option (GString *options, const char *key, const char *value)
{
  g_autofree char *escaped = marina_qemu_escape_option_value (value);

  if (options->len > 0)
    g_string_append_c (options, ',');
  g_string_append_printf (options, "%s=%s", key, escaped);
}

static void
append_option_uint (GString *options, const char *key, guint64 value)
{
  g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT, value);

  append_option (options, key, text);
}

static void
add_arg (GPtrArray *argv, const char *arg)
{
  g_ptr_array_add (argv, g_strdup (arg));
}

/* Adds "@option @options" and frees @options. */
static void
add_option (GPtrArray *argv, const char *option, GString *options)
{
  add_arg (argv, option);
  g_ptr_array_add (argv, g_string_free (options, FALSE));
}

/* Starts the value of an option with a fixed prefix of ours, such as the
 * backend in "-chardev socket,...". Never pass a user's string here. */
static GString *
options_new (const char *keyword)
{
  return g_string_new (keyword);
}

/* Position in the boot order, from 1; 0 when not listed. "network" gets a
 * position too and will go to the first NIC once machines have them. */
static guint
boot_index_of (const MarinaMachineConfig *config, const char *device)
{
  for (guint i = 0; config->boot_order[i] != NULL; i++)
    {
      if (g_str_equal (config->boot_order[i], device))
        return i + 1;
    }
  return 0;
}

static void
append_boot_index (GString *options, const MarinaMachineConfig *config, const char *device)
{
  guint index = boot_index_of (config, device);

  /* Not in the boot order: no bootindex, so the firmware only tries it
   * after every listed device. */
  if (index > 0)
    append_option_uint (options, "bootindex", index);
}

/* ---- sections of the command line ---- */

static void
add_identity (GPtrArray *argv, const MarinaMachineConfig *config)
{
  GString *name = options_new (NULL);
  g_autofree char *uuid = marina_qemu_uuid_from_id (config->id);

  append_option (name, "guest", config->name);
  append_option (name, "debug-threads", "on");
  add_option (argv, "-name", name);
  add_arg (argv, "-uuid");
  add_arg (argv, uuid);
  add_arg (argv, "-msg");
  add_arg (argv, "timestamp=on");
  /* Only what this function adds: no default NIC, serial, parallel, floppy,
   * CD or monitor, and no /etc/qemu config files. */
  add_arg (argv, "-nodefaults");
  add_arg (argv, "-no-user-config");
  /* QEMU needs none of these once it runs: a guest that breaks out of the
   * emulator finds no exec, no setuid, no old syscalls, no scheduler knobs. */
  add_arg (argv, "-sandbox");
  add_arg (argv, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
  /* Paused until marinad has connected to QMP and sends "cont". */
  add_arg (argv, "-S");
}

static void
add_machine (GPtrArray *argv, const MarinaMachineConfig *config, const char *accelerator)
{
  GString *accel = options_new (accelerator);
  GString *memory = g_string_new (NULL);
  g_autofree char *vcpus = g_strdup_printf ("%u", config->vcpus);
  gboolean tcg = g_str_equal (accelerator, "tcg");

  add_arg (argv, "-machine");
  add_arg (argv, config->profile == MARINA_PROFILE_LEGACY ? "pc" : "q35");
  if (tcg)
    append_option_uint (accel, "tb-size", TCG_TB_SIZE_MIB);
  add_option (argv, "-accel", accel);
  add_arg (argv, "-cpu");
  add_arg (argv, tcg ? "max" : "host");
  g_string_append_printf (memory, "%" G_GUINT64_FORMAT, config->memory_mib);
  add_option (argv, "-m", memory);
  add_arg (argv, "-smp");
  add_arg (argv, vcpus);
}

/* A Unix socket QEMU listens on without waiting for a client. */
static GString *
listening_socket (const char *id, const char *path)
{
  GString *chardev = options_new ("socket");

  append_option (chardev, "id", id);
  append_option (chardev, "path", path);
  append_option (chardev, "server", "on");
  append_option (chardev, "wait", "off");
  return chardev;
}

static void
add_monitor (GPtrArray *argv, const MarinaQemuRuntime *runtime)
{
  add_option (argv, "-chardev", listening_socket ("qmp", runtime->qmp_socket_path));
  add_arg (argv, "-mon");
  add_arg (argv, "chardev=qmp,mode=control");
}

static void
add_serial (GPtrArray *argv, const MarinaQemuRuntime *runtime)
{
  GString *chardev = listening_socket ("serial0", runtime->serial_socket_path);

  if (runtime->serial_log_path != NULL)
    {
      append_option (chardev, "logfile", runtime->serial_log_path);
      append_option (chardev, "logappend", "on");
    }
  add_option (argv, "-chardev", chardev);
  add_arg (argv, "-device");
  add_arg (argv, "isa-serial,chardev=serial0,id=serial0");
}

/* A text file the guest's output is appended to, or COM2's pipe. */
static void
add_port (GPtrArray *argv, const char *id, const MarinaPort *port, const char *socket_path,
          const char *device)
{
  GString *chardev;

  if (port->kind == MARINA_PORT_NONE)
    return;
  if (port->kind == MARINA_PORT_PIPE)
    chardev = listening_socket (id, socket_path);
  else
    {
      chardev = options_new ("file");
      append_option (chardev, "id", id);
      append_option (chardev, "path", port->path);
      append_option (chardev, "append", "on");
    }
  add_option (argv, "-chardev", chardev);
  add_arg (argv, "-device");
  g_ptr_array_add (argv, g_strdup_printf ("%s,chardev=%s,id=%s", device, id, id));
}

static void
add_ports (GPtrArray *argv, const MarinaMachineConfig *config, const MarinaQemuRuntime *runtime)
{
  add_port (argv, "com2", &config->com2, runtime->com2_socket_path, "isa-serial,index=1");
  add_port (argv, "lpt1", &config->lpt1, NULL, "isa-parallel,index=0");
}

/* qemu-ga finds its port by this name. Every machine has it, the legacy
 * profile too (virtio-serial-pci is a plain PCI device): a guest without
 * the agent or the driver leaves the port closed and never answers. */
static void
add_guest_agent (GPtrArray *argv, const MarinaQemuRuntime *runtime)
{
  add_arg (argv, "-device");
  add_arg (argv, "virtio-serial-pci,id=agent-serial");
  add_option (argv, "-chardev", listening_socket ("agent", runtime->agent_socket_path));
  add_arg (argv, "-device");
  add_arg (argv, "virtserialport,bus=agent-serial.0,chardev=agent,name=org.qemu.guest_agent.0,"
                 "id=agent0");
}

/* "-vnc ADDRESS:DISPLAY,tls-creds=...,password=on": a remote console only
 * ever speaks TLS. The address is an IP literal (validated), in brackets for
 * IPv6 as QEMU wants. */
static void
add_remote_console (GPtrArray *argv, const MarinaMachineConfig *config,
                    const MarinaQemuRuntime *runtime)
{
  GString *tls = options_new ("tls-creds-x509");
  const char *listen = config->remote_console_listen ? config->remote_console_listen : "0.0.0.0";
  GString *vnc = g_string_new (NULL);

  append_option (tls, "id", "vnc-tls");
  append_option (tls, "dir", runtime->console_tls_dir);
  append_option (tls, "endpoint", "server");
  append_option (tls, "verify-peer", "off");
  add_option (argv, "-object", tls);
  g_string_append_printf (vnc, strchr (listen, ':') ? "[%s]:%u" : "%s:%u", listen,
                          config->remote_console_port - 5900);
  append_option (vnc, "tls-creds", "vnc-tls");
  append_option (vnc, g_strcmp0 (config->remote_console_auth, "sasl") == 0 ? "sasl" : "password",
                 "on");
  add_option (argv, "-vnc", vnc);
}

/* No window. Local VNC clients reach QEMU through marinad over QMP (getfd +
 * add_client protocol=vnc, authentication skipped); a TCP port only when a
 * remote console is configured. */
static void
add_display (GPtrArray *argv, const MarinaMachineConfig *config, const MarinaQemuRuntime *runtime)
{
  add_arg (argv, "-display");
  add_arg (argv, "none");
  if (config->remote_console_port != 0 && runtime->console_tls_dir != NULL)
    add_remote_console (argv, config, runtime);
  else
    {
      add_arg (argv, "-vnc");
      add_arg (argv, "none");
    }
  add_arg (argv, "-device");
  add_arg (argv, config->profile == MARINA_PROFILE_LEGACY ? "cirrus-vga,id=video0"
                                                           : "VGA,id=video0");
}

/* A USB tablet gives an absolute pointer, so that the VNC cursor and the
 * guest's agree without grabbing. Legacy puts UHCI where a real PIIX3 has
 * it (function 2 of the south bridge, as "-usb" does). */
static void
add_usb (GPtrArray *argv, const MarinaMachineConfig *config)
{
  add_arg (argv, "-device");
  add_arg (argv, config->profile == MARINA_PROFILE_LEGACY
                   ? "piix3-usb-uhci,id=usb,bus=pci.0,addr=0x1.0x2"
                   : "qemu-xhci,id=usb");
  add_arg (argv, "-device");
  add_arg (argv, "usb-tablet,id=tablet,bus=usb.0");
}

/* Two block nodes per image: the file, opened through the page cache
 * (no O_DIRECT, which tmpfs refuses), and the format on top of it, always
 * named, so that QEMU never probes. */
static void
add_image_nodes (GPtrArray  *argv,
                 const char *prefix,
                 const char *path,
                 const char *format,
                 gboolean    read_only)
{
  GString *file = g_string_new (NULL);
  GString *layer = g_string_new (NULL);
  g_autofree char *file_node = g_strconcat (prefix, "-file", NULL);
  g_autofree char *format_node = g_strconcat (prefix, "-format", NULL);

  append_option (file, "driver", marina_image_is_block_device (path) ? "host_device" : "file");
  append_option (file, "node-name", file_node);
  append_option (file, "filename", path);
  append_option (file, "cache.direct", "off");
  append_option (file, "read-only", read_only ? "on" : "off");
  add_option (argv, "-blockdev", file);

  append_option (layer, "driver", format);
  append_option (layer, "node-name", format_node);
  append_option (layer, "file", file_node);
  append_option (layer, "read-only", read_only ? "on" : "off");
  if (!read_only)
    append_option (layer, "discard", "unmap");
  add_option (argv, "-blockdev", layer);
}

/* Undo disks: the boot disk read-only under "disk0-base-format", and the
 * run's overlay on it as "disk0-format", which the device uses. */
static void
add_overlay_nodes (GPtrArray *argv, const char *overlay)
{
  GString *file = g_string_new (NULL);
  GString *layer = g_string_new (NULL);

  append_option (file, "driver", "file");
  append_option (file, "node-name", "disk0-file");
  append_option (file, "filename", overlay);
  append_option (file, "cache.direct", "off");
  add_option (argv, "-blockdev", file);

  append_option (layer, "driver", "qcow2");
  append_option (layer, "node-name", "disk0-format");
  append_option (layer, "file", "disk0-file");
  append_option (layer, "backing", "disk0-base-format");
  append_option (layer, "discard", "unmap");
  add_option (argv, "-blockdev", layer);
}

/* QEMU would say so too, but only in its log and after it started. */
static gboolean
check_image_exists (const char *what, const char *path, GError **error)
{
  GStatBuf st;
  int saved_errno;

  if (g_stat (path, &st) == 0)
    return TRUE;
  saved_errno = errno;
  if (saved_errno == ENOENT)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                 "%s '%s' does not exist", what, path);
  else
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                 "Cannot use %s '%s': %s", what, path, g_strerror (saved_errno));
  return FALSE;
}

/* An image qemu-storage-daemon serves: QEMU reaches it through NBD, which
 * (unlike the vpc and vhdx drivers) never blocks migration, so a machine on
 * a VHD can save its state. The export is always "disk0"; @prefix names the
 * node ("disk0-base" under an undo overlay). */
static void
add_nbd_node (GPtrArray *argv, const char *prefix, const char *socket_path, gboolean read_only)
{
  GString *node = g_string_new (NULL);
  g_autofree char *node_name = g_strconcat (prefix, "-format", NULL);

  append_option (node, "driver", "nbd");
  append_option (node, "node-name", node_name);
  append_option (node, "server.type", "unix");
  append_option (node, "server.path", socket_path);
  append_option (node, "export", "disk0");  /* the daemon's one export */
  append_option (node, "read-only", read_only ? "on" : "off");
  add_option (argv, "-blockdev", node);
}

static gboolean
add_boot_disk (GPtrArray *argv, const MarinaMachineConfig *config,
               const MarinaQemuRuntime *runtime, GError **error)
{
  g_autofree char *format = NULL;
  GString *device;

  if (config->boot_disk == NULL)
    return TRUE;
  if (!check_image_exists ("Disk image", config->boot_disk, error))
    return FALSE;
  if (config->boot_disk_format != NULL)
    format = g_strdup (config->boot_disk_format);
  else
    format = marina_image_probe_format (config->boot_disk, error);
  if (format == NULL)
    return FALSE;

  if (runtime->boot_disk_overlay)
    {
      if (runtime->boot_disk_nbd_socket != NULL)
        add_nbd_node (argv, "disk0-base", runtime->boot_disk_nbd_socket, TRUE);
      else
        add_image_nodes (argv, "disk0-base", config->boot_disk, format, TRUE);
      add_overlay_nodes (argv, runtime->boot_disk_overlay);
    }
  else if (runtime->boot_disk_nbd_socket != NULL)
    add_nbd_node (argv, "disk0", runtime->boot_disk_nbd_socket, FALSE);
  else
    add_image_nodes (argv, "disk0", config->boot_disk, format, FALSE);
  if (config->profile == MARINA_PROFILE_LEGACY)
    device = options_new ("ide-hd,bus=ide.0,unit=0");
  else
    device = options_new ("virtio-blk-pci");
  append_option (device, "drive", "disk0-format");
  append_option (device, "id", "disk0");
  append_boot_index (device, config, "disk");
  add_option (argv, "-device", device);
  return TRUE;
}

/* The drive is there even without media, as in a real machine, so that a
 * later medium change needs no new hardware. ide.1 is the secondary IDE
 * channel on i440fx and the second AHCI port on q35. */
static gboolean
add_cdrom (GPtrArray *argv, const MarinaMachineConfig *config, GError **error)
{
  GString *device = options_new ("ide-cd,bus=ide.1,unit=0");

  if (config->cdrom != NULL)
    {
      if (!check_image_exists ("CD/DVD image", config->cdrom, error))
        {
          g_string_free (device, TRUE);
          return FALSE;
        }
      add_image_nodes (argv, "cd0", config->cdrom, "raw", TRUE);
      append_option (device, "drive", "cd0-format");
    }
  append_option (device, "id", "cd0");
  append_boot_index (device, config, "cdrom");
  add_option (argv, "-device", device);
  return TRUE;
}

/* The floppy drive of the PC board's controller, there without media too,
 * so that a floppy can be inserted later ("fd0", as the CD/DVD's "cd0"). */
static gboolean
add_floppy (GPtrArray *argv, const MarinaMachineConfig *config, GError **error)
{
  GString *device;

  if (config->profile != MARINA_PROFILE_LEGACY)
    return TRUE;
  device = options_new ("floppy,unit=0");
  if (config->floppy != NULL)
    {
      if (!check_image_exists ("Floppy image", config->floppy, error))
        {
          g_string_free (device, TRUE);
          return FALSE;
        }
      add_image_nodes (argv, "fd0", config->floppy, "raw", FALSE);
      append_option (device, "drive", "fd0-format");
    }
  append_option (device, "id", "fd0");
  add_option (argv, "-device", device);
  return TRUE;
}

/* Legacy machines have the SCSI controller of their era: the first always,
 * more as their disks need them. */
static void
add_scsi_controllers (GPtrArray *argv, const MarinaMachineConfig *config)
{
  guint controllers = 1;

  for (guint i = 0; i < config->drives->len; i++)
    {
      const MarinaDrive *drive = config->drives->pdata[i];
      if (drive->bus == MARINA_BUS_SCSI)
        controllers = MAX (controllers, drive->controller + 1);
    }
  for (guint i = 0; i < controllers; i++)
    {
      add_arg (argv, "-device");
      g_ptr_array_add (argv, g_strdup_printf ("lsi53c895a,id=scsi%u", i));
    }
}

static GString *
drive_device (const MarinaDrive *drive)
{
  GString *device = g_string_new (NULL);

  switch (drive->bus)
    {
    case MARINA_BUS_IDE:
      g_string_printf (device, "ide-hd,bus=ide.%u,unit=%u", drive->controller, drive->unit);
      break;
    case MARINA_BUS_SCSI:
      g_string_printf (device, "scsi-hd,bus=scsi%u.0,scsi-id=%u", drive->controller,
                       drive->unit);
      break;
    case MARINA_BUS_VIRTIO:
      g_string_assign (device, "virtio-blk-pci");
      break;
    }
  return device;
}

/* "disk1", "disk2"... in the order of the configuration; "disk0" is the boot disk. */
static gboolean
add_drives (GPtrArray *argv, const MarinaMachineConfig *config, GError **error)
{
  for (guint i = 0; i < config->drives->len; i++)
    {
      const MarinaDrive *drive = config->drives->pdata[i];
      g_autofree char *name = g_strdup_printf ("disk%u", i + 1);
      g_autofree char *format_node = g_strconcat (name, "-format", NULL);
      g_autofree char *format = NULL;
      GString *device;

      if (!check_image_exists ("Disk image", drive->path, error))
        return FALSE;
      format = drive->format ? g_strdup (drive->format) : marina_image_probe_format (drive->path, error);
      if (format == NULL)
        return FALSE;
      add_image_nodes (argv, name, drive->path, format, FALSE);
      device = drive_device (drive);
      append_option (device, "drive", format_node);
      append_option (device, "id", name);
      /* The other machines' QEMUs take the image's write lock in shared mode too. */
      if (drive->shared)
        append_option (device, "share-rw", "on");
      add_option (argv, "-device", device);
    }
  return TRUE;
}

static gboolean
add_storage (GPtrArray *argv, const MarinaMachineConfig *config,
             const MarinaQemuRuntime *runtime, GError **error)
{
  if (config->profile == MARINA_PROFILE_LEGACY)
    add_scsi_controllers (argv, config);
  return add_boot_disk (argv, config, runtime, error) && add_cdrom (argv, config, error) &&
         add_floppy (argv, config, error) && add_drives (argv, config, error);
}

/* ---- checks of the runtime ---- */

static gboolean
check_socket_path (const char *what, const char *path, GError **error)
{
  struct sockaddr_un address;

  if (path == NULL || !g_path_is_absolute (path))
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "The %s socket path must be absolute", what);
      return FALSE;
    }
  if (strlen (path) >= sizeof address.sun_path)
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "The %s socket path '%s' is longer than the %zu bytes a Unix socket "
                   "address can hold", what, path, sizeof address.sun_path - 1);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_runtime (const MarinaMachineConfig *config, const MarinaQemuRuntime *runtime,
               GError **error)
{
  if (runtime->qemu_binary == NULL || *runtime->qemu_binary == '\0')
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "No QEMU binary given");
      return FALSE;
    }
  if (g_strcmp0 (runtime->accelerator, "kvm") != 0 &&
      g_strcmp0 (runtime->accelerator, "tcg") != 0)
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "QEMU runs with accelerator 'kvm' or 'tcg', not '%s'",
                   runtime->accelerator ? runtime->accelerator : "");
      return FALSE;
    }
  return check_socket_path ("QMP", runtime->qmp_socket_path, error) &&
         check_socket_path ("serial port", runtime->serial_socket_path, error) &&
         check_socket_path ("guest agent", runtime->agent_socket_path, error) &&
         (config->com2.kind != MARINA_PORT_PIPE ||
          check_socket_path ("COM2 pipe", runtime->com2_socket_path, error));
}

/* ---- qemu-storage-daemon ---- */

/* QEMU refuses to migrate (and so to save) a machine with a vpc or vhdx
 * image open: those formats go through qemu-storage-daemon. */
gboolean
marina_image_format_blocks_migration (const char *format)
{
  return g_strcmp0 (format, "vpc") == 0 || g_strcmp0 (format, "vhdx") == 0;
}

/**
 * marina_storage_daemon_command_line:
 *
 * qemu-storage-daemon serving @image (of @format) as the writable NBD export
 * "disk0" on @socket_path, for one run of one machine.
 */
GStrv
marina_storage_daemon_command_line (const char *binary, const char *image, const char *format,
                                    const char *socket_path)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  GString *server = options_new ("addr.type=unix");

  add_arg (argv, binary);
  add_image_nodes (argv, "disk0", image, format, FALSE);
  /* The daemon spells it --blockdev; the nodes are the same as QEMU's. */
  for (guint i = 1; i < argv->len; i++)
    if (g_str_equal (argv->pdata[i], "-blockdev"))
      {
        g_free (argv->pdata[i]);
        argv->pdata[i] = g_strdup ("--blockdev");
      }
  append_option (server, "addr.path", socket_path);
  add_option (argv, "--nbd-server", server);
  add_arg (argv, "--export");
  add_arg (argv, "type=nbd,id=export0,node-name=disk0-format,name=disk0,writable=on");
  g_ptr_array_add (argv, NULL);
  return (GStrv) g_ptr_array_free (argv, FALSE);
}

/* ---- network adapters ---- */

static const char *
nic_driver (const MarinaMachineConfig *config, const MarinaNic *nic)
{
  const char *model = nic->model;

  if (model == NULL)
    model = config->profile == MARINA_PROFILE_LEGACY ? "e1000" : "virtio";
  if (g_str_equal (model, "virtio"))
    return "virtio-net-pci";
  return model;  /* "e1000" and "tulip" are QEMU's own device names */
}

/* The backend comes from the service (a tap's fd, user-mode NAT); an adapter
 * without one gets a hub port of its own: present in the guest, connected
 * to nothing. The first adapter carries the boot index of "network", so
 * its iPXE ROM boots. */
static void
add_network_adapter (GPtrArray *argv, const MarinaMachineConfig *config,
                     const MarinaQemuRuntime *runtime, guint index)
{
  MarinaNic *nic = g_ptr_array_index (config->nics, index);
  const char *backend = runtime->nic_backends ? runtime->nic_backends[index] : NULL;
  g_autofree char *netdev_id = g_strconcat ("net-", nic->id, NULL);
  GString *netdev = options_new (backend);
  GString *device = options_new (nic_driver (config, nic));

  if (backend == NULL)
    g_string_append_printf (netdev, "hubport,hubid=%u", 100 + index);
  append_option (netdev, "id", netdev_id);
  add_option (argv, "-netdev", netdev);
  append_option (device, "netdev", netdev_id);
  append_option (device, "mac", nic->mac);
  append_option (device, "id", nic->id);
  if (index == 0)
    append_boot_index (device, config, "network");
  add_option (argv, "-device", device);
}

static void
add_network_adapters (GPtrArray *argv, const MarinaMachineConfig *config,
                      const MarinaQemuRuntime *runtime)
{
  for (guint i = 0; i < config->nics->len; i++)
    add_network_adapter (argv, config, runtime, i);
}


/**
 * marina_qemu_command_line:
 *
 * Builds QEMU's argv for @config. Validates @config first; probes the boot
 * disk's format if the configuration does not name it.
 *
 * Returns: (transfer full): the argv, argv[0] being runtime->qemu_binary
 */
GStrv
marina_qemu_command_line (const MarinaMachineConfig *config,
                          const MarinaQemuRuntime   *runtime,
                          GError                   **error)
{
  g_autoptr(GPtrArray) argv = NULL;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (runtime != NULL, NULL);

  if (!marina_machine_config_validate (config, 0, error) || !check_runtime (config, runtime, error))
    return NULL;

  argv = g_ptr_array_new_with_free_func (g_free);
  add_arg (argv, runtime->qemu_binary);
  add_identity (argv, config);
  add_machine (argv, config, runtime->accelerator);
  add_monitor (argv, runtime);
  add_display (argv, config, runtime);
  add_usb (argv, config);
  if (!add_storage (argv, config, runtime, error))
    return NULL;
  add_serial (argv, runtime);
  add_ports (argv, config, runtime);
  add_guest_agent (argv, runtime);
  add_network_adapters (argv, config, runtime);
  if (runtime->incoming)
    {
      add_arg (argv, "-incoming");
      add_arg (argv, "defer");
    }
  g_ptr_array_add (argv, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&argv), FALSE);
}
