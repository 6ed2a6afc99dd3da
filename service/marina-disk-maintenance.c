/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-disk"
#include "config.h"

#include <unistd.h>

#include "marina-disk-creation.h"
#include "marina-disk-steps.h"
#include "marina-disks.h"
#include "marina-error.h"
#include "marina-image.h"
#include "marina-manager.h"
#include "marina-qemu-command-line.h"
#include "marina-storage.h"
#include "marina-vhd.h"

/* Merge, Compact and Resize: jobs that change a disk the service knows.
 * None of them writes the disk itself. The new image is made under a
 * temporary name next to it (a copy, then qemu-img on the copy) and renamed
 * over it once complete, so that a cancelled or failed job, or a marinad
 * that dies meanwhile, leaves the disk as it was; the rename is atomic, so
 * a reader sees the old image or the new one. The price is a copy of the
 * image (shared blocks where the file system can reflink). */

typedef struct {
  MarinaDisks *disks;
  GPtrArray *held;  /* MarinaDisk, each with its task set until the job ends */
  MarinaJob *job;
  char *done;       /* for the event log: "Disk a merged into b" */
} Maintenance;

/* An image in a storage folder, opened for rewriting. */
typedef struct {
  int dir_fd;
  char *dir;
  char *name;
  char *path;
} Image;

static void
image_clear (Image *image)
{
  if (image->dir_fd >= 0)
    close (image->dir_fd);
  g_free (image->dir);
  g_free (image->name);
  g_free (image->path);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Image, image_clear)

static gboolean
open_image (MarinaDisks *self, MarinaDisk *disk, Image *image, GError **error)
{
  image->path = marina_storage_resolve_existing (marina_disks_get_roots (self),
                                                 marina_disk_get_path (disk), error);
  if (image->path == NULL)
    return g_prefix_error (error, "Marina rewrites only disks in its storage folders: "), FALSE;
  image->dir_fd = marina_storage_open_folder (image->path, &image->name, error);
  image->dir = g_path_get_dirname (image->path);
  return image->dir_fd >= 0;
}

static double
weight_of (MarinaDisk *disk)
{
  return MAX (1.0, (double) marina_dbus_disk_get_size_on_host (MARINA_DBUS_DISK (disk)));
}

static const char *
qemu_format (MarinaDisk *disk)
{
  return marina_image_format_to_qemu (marina_dbus_disk_get_format (MARINA_DBUS_DISK (disk)));
}

static void
maintenance_free (Maintenance *maintenance)
{
  for (guint i = 0; i < maintenance->held->len; i++)
    marina_disk_set_task (maintenance->held->pdata[i], NULL);
  g_ptr_array_unref (maintenance->held);
  g_object_unref (maintenance->job);
  g_free (maintenance->done);
  g_free (maintenance);
}

static void
on_steps_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Maintenance *maintenance = user_data;
  MarinaDisks *self = maintenance->disks;
  MarinaManager *manager = marina_disks_get_manager (self);
  MarinaDisk *first = maintenance->held->pdata[0];
  g_autoptr(GError) error = NULL;
  gboolean done = marina_disk_steps_run_finish (result, &error);

  for (guint i = 0; i < maintenance->held->len; i++)
    marina_disk_refresh (maintenance->held->pdata[i], NULL);
  marina_disks_store (self);
  marina_disks_update_relations (self);
  marina_manager_log (manager, done ? "info" : "warning", marina_disk_get_object_path (first),
                      "disk", "%s", done ? maintenance->done : error->message);
  marina_job_complete (maintenance->job, error, done ? maintenance->done : NULL);
  maintenance_free (maintenance);
}

/* Holds @disks (NULL-terminated) with @task until the job ends. Takes @steps. */
static MarinaJob *
start (MarinaDisks *self, MarinaDiskSteps *steps, MarinaJob *job, char *done, const char *task,
       MarinaDisk *const *disks)
{
  Maintenance *maintenance = g_new0 (Maintenance, 1);

  maintenance->disks = self;
  maintenance->job = g_object_ref (job);
  maintenance->done = done;
  maintenance->held = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; disks[i]; i++)
    {
      marina_disk_set_task (disks[i], task);
      g_ptr_array_add (maintenance->held, g_object_ref (disks[i]));
    }
  marina_disk_steps_run_async (steps, on_steps_done, maintenance);
  return job;
}

static MarinaJob *
new_job (const char *operation, MarinaDisk *disk)
{
  return marina_job_new (operation, marina_disk_get_object_path (disk), TRUE);
}

/* A parent stays as it is while it has children (they read through it). */
static gboolean
check_not_parent (MarinaDisks *self, MarinaDisk *disk, const char *doing, GError **error)
{
  g_autofree char *children = NULL;

  if (!marina_disks_is_parent (self, disk))
    return TRUE;
  children = marina_disks_children_of (self, disk);
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                      "Disk '%s' is the parent of %s and stays as it is while it has children; "
                      "merge or delete them before %s", marina_disk_get_path (disk), children,
                      doing), FALSE;
}

/* ---- Merge ------------------------------------------------------------------------ */

static MarinaDisk *
merge_parent (MarinaDisks *self, MarinaDisk *child, GError **error)
{
  MarinaDBusDisk *iface = MARINA_DBUS_DISK (child);
  const char *parent_path = marina_dbus_disk_get_parent_path (iface);

  if (*parent_path == '\0')
    return marina_error_invalid (error, "Disk '%s' has no parent to merge into",
                                 marina_disk_get_path (child)), NULL;
  if (!g_str_equal (marina_dbus_disk_get_format (iface), "qcow2"))
    return marina_error_invalid (error, "Disk '%s' is a differencing %s, which QEMU cannot "
                                 "merge; MergeTo copies its chain into a new disk",
                                 marina_disk_get_path (child), marina_dbus_disk_get_format (iface)),
           NULL;
  if (!marina_disks_check_chain (self, marina_disk_get_path (child), error))
    return NULL;
  return marina_disks_import (self, parent_path, error);
}

/* Other children would read the parent changed under them. */
static gboolean
check_only_child (MarinaDisks *self, MarinaDisk *parent, MarinaDisk *child, GError **error)
{
  g_autoptr(GPtrArray) disks = marina_disks_list (self);
  g_autoptr(GPtrArray) others = g_ptr_array_new ();
  g_autofree char *names = NULL;

  for (guint i = 0; i < disks->len; i++)
    if (disks->pdata[i] != child &&
        g_str_equal (marina_dbus_disk_get_parent_path (disks->pdata[i]), marina_disk_get_path (parent)))
      g_ptr_array_add (others, (gpointer) marina_disk_get_path (disks->pdata[i]));
  if (others->len == 0)
    return TRUE;
  g_ptr_array_add (others, NULL);
  names = g_strjoinv (", ", (char **) others->pdata);
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                      "Disk '%s' is also the parent of %s, which would read it changed; merge or "
                      "delete %s first", marina_disk_get_path (parent), names,
                      others->len > 2 ? "those" : "that disk"), FALSE;
}

/* The parent is copied, the child committed into the copy (named as its
 * backing here, whatever the child's header says, and -d: the child itself
 * is only read); then the copy replaces the parent and a new, empty child
 * over it the child, which keeps its place in machines and chains. In
 * between, the child reads the same as before: its data is then in both. */
static void
add_merge_steps (MarinaDiskSteps *steps, MarinaDisk *child, MarinaDisk *parent,
                 const Image *child_image, const Image *parent_image, const char *qemu_img,
                 const char *const temps[2])
{
  g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT,
                                           marina_dbus_disk_get_virtual_size (MARINA_DBUS_DISK (child)));
  g_autofree char *child_path = marina_qemu_escape_option_value (child_image->path);
  g_autofree char *copy_path = marina_qemu_escape_option_value (temps[0]);
  g_autofree char *image = g_strdup_printf ("driver=qcow2,file.driver=file,file.filename=%s,"
                                            "backing.driver=%s,backing.file.driver=file,"
                                            "backing.file.filename=%s", child_path,
                                            qemu_format (parent), copy_path);
  const char *commit[] = { qemu_img, "commit", "-p", "-d", "--image-opts", image, NULL };
  const char *empty[] = { qemu_img, "create", "-q", "-f", "qcow2", "-u", "-b", parent_image->path,
                          "-F", qemu_format (parent), temps[1], size, NULL };

  marina_disk_steps_add_copy (steps, weight_of (parent), parent_image->path, temps[0]);
  marina_disk_steps_add (steps, weight_of (child), commit);
  marina_disk_steps_add (steps, 1.0, empty);
  marina_disk_steps_publish (steps, temps[0], parent_image->name, TRUE);
  marina_disk_steps_publish (steps, temps[1], child_image->name, TRUE);
}

/**
 * marina_disks_merge:
 *
 * Virtual Server's Merge: writes what a differencing disk holds into its
 * parent; the child is left empty over it.
 */
MarinaJob *
marina_disks_merge (MarinaDisks *self, MarinaDisk *child, GError **error)
{
  MarinaDisk *parent = merge_parent (self, child, error);
  g_auto(Image) child_image = { -1 };
  g_auto(Image) parent_image = { -1 };
  g_autoptr(MarinaJob) job = NULL;
  g_autoptr(MarinaDiskSteps) steps = NULL;
  g_autofree char *action = NULL;
  const char *temps[2];

  if (parent == NULL || !check_only_child (self, parent, child, error) ||
      !marina_disks_check_idle (self, child, TRUE, "merging it", error) ||
      !marina_disks_check_idle (self, parent, TRUE, "merging into it", error) ||
      !open_image (self, child, &child_image, error) ||
      !open_image (self, parent, &parent_image, error))
    return NULL;
  job = new_job ("merge-disk", child);
  action = g_strdup_printf ("merge '%s' into '%s'", child_image.path, parent_image.path);
  steps = marina_disk_steps_new (job, action);
  if (!(temps[0] = marina_disk_steps_temp (steps, parent_image.dir_fd, parent_image.dir,
                                           parent_image.name, error)) ||
      !(temps[1] = marina_disk_steps_temp (steps, child_image.dir_fd, child_image.dir,
                                           child_image.name, error)))
    return NULL;
  add_merge_steps (steps, child, parent, &child_image, &parent_image,
                   marina_disks_get_qemu_img (self), temps);
  return start (self, g_steal_pointer (&steps), job,
                g_strdup_printf ("Disk %s merged into %s", child_image.path, parent_image.path),
                "being merged", (MarinaDisk *const[]) { child, parent, NULL });
}

/* ---- Compact ------------------------------------------------------------------------ */

static gboolean
check_compactable (MarinaDisk *disk, GError **error)
{
  const char *format = marina_dbus_disk_get_format (MARINA_DBUS_DISK (disk));
  const char *type = marina_dbus_disk_get_type_ (MARINA_DBUS_DISK (disk));

  if (g_str_equal (format, "raw"))
    return marina_error_invalid (error, "Disk '%s' is a raw image, which has no block table to "
                                 "compact; convert it to qcow2 or a dynamic VHD",
                                 marina_disk_get_path (disk));
  if (g_str_equal (type, "fixed"))
    return marina_error_invalid (error, "Disk '%s' is a fixed disk, which takes its whole size "
                                 "by design; convert it to a dynamic disk to make it smaller",
                                 marina_disk_get_path (disk));
  return TRUE;
}

static MarinaDiskSpec *
compact_spec (MarinaDisks *self, MarinaDisk *disk)
{
  MarinaDBusDisk *iface = MARINA_DBUS_DISK (disk);
  MarinaDiskSpec *spec = g_new0 (MarinaDiskSpec, 1);
  MarinaDisk *parent = marina_disks_find_path (self, marina_dbus_disk_get_parent_path (iface));

  spec->dir_fd = -1;
  spec->qemu_img = g_strdup (marina_disks_get_qemu_img (self));
  spec->format = g_strdup (marina_dbus_disk_get_format (iface));
  spec->type = g_strdup ("dynamic");
  spec->source_path = g_strdup (marina_disk_get_path (disk));
  spec->source_format = g_strdup (spec->format);
  if (parent)
    {
      /* A child stays a child: only what it holds over its parent is copied. */
      spec->parent_path = g_strdup (marina_disk_get_path (parent));
      spec->parent_format = g_strdup (marina_dbus_disk_get_format (MARINA_DBUS_DISK (parent)));
    }
  return spec;
}

/**
 * marina_disks_compact:
 *
 * Rewrites a dynamic or differencing disk without the blocks it does not
 * use (those the guest zeroed), as Virtual Server's Compact.
 */
MarinaJob *
marina_disks_compact (MarinaDisks *self, MarinaDisk *disk, GError **error)
{
  g_auto(Image) image = { -1 };
  g_autoptr(MarinaJob) job = NULL;
  g_autoptr(MarinaDiskSteps) steps = NULL;
  g_autoptr(MarinaDiskSpec) spec = NULL;
  g_autoptr(GPtrArray) argv = NULL;
  g_autofree char *action = NULL;
  const char *temp;

  if (!check_compactable (disk, error) ||
      !check_not_parent (self, disk, "compacting it", error) ||
      !marina_disks_check_idle (self, disk, TRUE, "compacting it", error) ||
      !marina_disks_check_chain (self, marina_disk_get_path (disk), error) ||
      !marina_image_check_qemu_reads (marina_disk_get_path (disk), error) ||
      !open_image (self, disk, &image, error))
    return NULL;
  if (*marina_dbus_disk_get_parent_path (MARINA_DBUS_DISK (disk)) &&
      !marina_disks_import (self, marina_dbus_disk_get_parent_path (MARINA_DBUS_DISK (disk)), error))
    return NULL;
  job = new_job ("compact-disk", disk);
  action = g_strdup_printf ("compact '%s'", image.path);
  steps = marina_disk_steps_new (job, action);
  if (!(temp = marina_disk_steps_temp (steps, image.dir_fd, image.dir, image.name, error)))
    return NULL;
  spec = compact_spec (self, disk);
  argv = marina_disk_command_line (spec, temp);
  marina_disk_steps_add (steps, 1.0, (const char *const *) argv->pdata);
  marina_disk_steps_publish (steps, temp, image.name, TRUE);
  return start (self, g_steal_pointer (&steps), job,
                g_strdup_printf ("Disk %s compacted", image.path), "being compacted",
                (MarinaDisk *const[]) { disk, NULL });
}

/* ---- Resize ------------------------------------------------------------------------- */

static gboolean
check_new_size (MarinaDisk *disk, guint64 size, GError **error)
{
  MarinaDBusDisk *iface = MARINA_DBUS_DISK (disk);
  guint64 now = marina_dbus_disk_get_virtual_size (iface);

  if (size % 512 != 0)
    return marina_error_invalid (error, "The size %" G_GUINT64_FORMAT " is not a multiple of 512 "
                                 "bytes (one sector)", size);
  if (size <= now)
    return marina_error_invalid (error, "Disk '%s' holds %" G_GUINT64_FORMAT " bytes; Resize only "
                                 "grows a disk (shrinking would cut off what the guest stored "
                                 "there), so give more than that", marina_disk_get_path (disk), now);
  if (g_str_equal (marina_dbus_disk_get_format (iface), "vhd") && size > MARINA_VHD_MAX_SIZE)
    return marina_error_invalid (error, "A VHD holds at most 2040 GiB (%" G_GUINT64_FORMAT " "
                                 "bytes); convert the disk to vhdx or qcow2 first",
                                 MARINA_VHD_MAX_SIZE);
  return TRUE;
}

/* qcow2 and raw: qemu-img resize on a copy; a fixed raw image stays allocated. */
static void
add_copy_and_resize (MarinaDiskSteps *steps, MarinaDisks *self, MarinaDisk *disk,
                     const Image *image, const char *temp, const char *size)
{
  gboolean fixed = g_str_equal (marina_dbus_disk_get_type_ (MARINA_DBUS_DISK (disk)), "fixed");
  const char *resize[] = { marina_disks_get_qemu_img (self), "resize", "-q",
                           fixed ? "--preallocation=full" : "-q", "-f", qemu_format (disk), temp,
                           size, NULL };

  marina_disk_steps_add_copy (steps, weight_of (disk), image->path, temp);
  marina_disk_steps_add (steps, fixed ? weight_of (disk) : 1.0, resize);
}

/* VHD and VHDX, which qemu-img cannot resize: a new image of the new size
 * (allocated in full when fixed), and the data copied into it. */
static void
add_recreate (MarinaDiskSteps *steps, MarinaDisks *self, MarinaDisk *disk, const Image *image,
              const char *temp, guint64 size)
{
  MarinaDBusDisk *iface = MARINA_DBUS_DISK (disk);
  g_autoptr(MarinaDiskSpec) spec = g_new0 (MarinaDiskSpec, 1);
  g_autoptr(GPtrArray) create = NULL;
  const char *copy[] = { marina_disks_get_qemu_img (self), "convert", "-p", "-n", "-f",
                         qemu_format (disk), image->path, "-O", qemu_format (disk), temp, NULL };

  spec->dir_fd = -1;
  spec->qemu_img = g_strdup (marina_disks_get_qemu_img (self));
  spec->format = g_strdup (marina_dbus_disk_get_format (iface));
  spec->type = g_strdup (marina_dbus_disk_get_type_ (iface));
  spec->size = size;
  create = marina_disk_command_line (spec, temp);
  marina_disk_steps_add (steps, g_str_equal (spec->type, "fixed") ? (double) size : 1.0,
                         (const char *const *) create->pdata);
  marina_disk_steps_add (steps, weight_of (disk), copy);
}

/**
 * marina_disks_resize:
 *
 * Grows a disk that no running machine uses. The guest sees the new space
 * at the end of the disk; its partitions and file systems are its own to grow.
 */
MarinaJob *
marina_disks_resize (MarinaDisks *self, MarinaDisk *disk, guint64 size, GError **error)
{
  g_auto(Image) image = { -1 };
  g_autoptr(MarinaJob) job = NULL;
  g_autoptr(MarinaDiskSteps) steps = NULL;
  g_autofree char *action = NULL;
  g_autofree char *size_text = g_strdup_printf ("%" G_GUINT64_FORMAT, size);
  const char *format = marina_dbus_disk_get_format (MARINA_DBUS_DISK (disk));
  const char *temp;

  if (!check_new_size (disk, size, error) ||
      !check_not_parent (self, disk, "resizing it", error) ||
      !marina_disks_check_idle (self, disk, TRUE, "resizing it", error) ||
      !marina_disks_check_chain (self, marina_disk_get_path (disk), error) ||
      !marina_image_check_qemu_reads (marina_disk_get_path (disk), error) ||
      !open_image (self, disk, &image, error))
    return NULL;
  job = new_job ("resize-disk", disk);
  action = g_strdup_printf ("resize '%s' to %s bytes", image.path, size_text);
  steps = marina_disk_steps_new (job, action);
  if (!(temp = marina_disk_steps_temp (steps, image.dir_fd, image.dir, image.name, error)))
    return NULL;
  if (g_str_equal (format, "vhd") || g_str_equal (format, "vhdx"))
    add_recreate (steps, self, disk, &image, temp, size);
  else
    add_copy_and_resize (steps, self, disk, &image, temp, size_text);
  marina_disk_steps_publish (steps, temp, image.name, TRUE);
  return start (self, g_steal_pointer (&steps), job,
                g_strdup_printf ("Disk %s grown to %s bytes", image.path, size_text),
                "being resized", (MarinaDisk *const[]) { disk, NULL });
}
