/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-disk"
#include "config.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "marina-disk-creation.h"
#include "marina-disks.h"
#include "marina-error.h"
#include "marina-machine.h"
#include "marina-manager.h"
#include "marina-storage.h"
#include "marina-vhd.h"

/* Every disk marinad knows, created, imported or named by a machine, is a
 * Disk object with a stable id. The list survives restarts in
 * STATE/disks.conf (one group per id: path, format, type), written
 * atomically; the relations between disks (parent, in use as parent) and
 * machines (attached to) are worked out again from the images and machine
 * configurations whenever one of them changes. */

#define REGISTRY_FILE "disks.conf"
#define MAX_PARENT_DEPTH MARINA_IMAGE_MAX_CHAIN

struct _MarinaDisks {
  MarinaManager *manager;
  GDBusObjectManagerServer *object_manager;
  const MarinaSettings *settings;
  char *registry_path;
  GHashTable *disks;  /* id → MarinaDisk */
};

/* A creation cut short by marinad's own end leaves its temporary file
 * (".NAME.marina-XXXXXXXX", see marina-disk-creation.c); no image is ever
 * named so, and no other marinad shares this folder. */
static void
remove_stale_temp_files (const char *dir)
{
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  g_autoptr(GRegex) temp = g_regex_new ("^\\..+\\.marina-[0-9a-f]{8}$", 0, 0, NULL);
  const char *name;

  while (listing && (name = g_dir_read_name (listing)))
    if (g_regex_match (temp, name, 0, NULL))
      {
        g_autofree char *path = g_build_filename (dir, name, NULL);
        g_message ("Removing %s, left by a disk creation that did not finish", path);
        g_unlink (path);
      }
}

MarinaDisks *
marina_disks_new (MarinaManager *manager, GDBusObjectManagerServer *object_manager)
{
  MarinaDisks *self = g_new0 (MarinaDisks, 1);

  self->manager = manager;
  self->object_manager = object_manager;
  self->settings = marina_manager_get_settings (manager);
  self->registry_path = g_build_filename (self->settings->state_dir, REGISTRY_FILE, NULL);
  self->disks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  if (g_mkdir_with_parents (self->settings->storage_dir, 0750) != 0)
    g_warning ("Cannot create the storage directory %s: %s", self->settings->storage_dir,
               g_strerror (errno));
  remove_stale_temp_files (self->settings->storage_dir);
  return self;
}

void
marina_disks_free (MarinaDisks *self)
{
  g_hash_table_unref (self->disks);
  g_free (self->registry_path);
  g_free (self);
}

const char *const *
marina_disks_get_roots (MarinaDisks *self)
{
  return (const char *const *) self->settings->storage_paths;
}

/* Publishes a job of a disk's; returns its object path. */
const char *
marina_disks_add_job (MarinaDisks *self, MarinaJob *job)
{
  return marina_manager_add_job (self->manager, job);
}

const char *
marina_disks_get_qemu_img (MarinaDisks *self)
{
  return self->settings->qemu_img;
}

static int
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (marina_disk_get_path (*(MarinaDisk **) a),
                    marina_disk_get_path (*(MarinaDisk **) b));
}

/* Sorted by path. */
GPtrArray *
marina_disks_list (MarinaDisks *self)
{
  GPtrArray *list = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer disk;

  g_hash_table_iter_init (&iter, self->disks);
  while (g_hash_table_iter_next (&iter, NULL, &disk))
    g_ptr_array_add (list, disk);
  g_ptr_array_sort (list, compare_paths);
  return list;
}

MarinaDisk *
marina_disks_find_path (MarinaDisks *self, const char *path)
{
  GHashTableIter iter;
  gpointer disk;

  if (path == NULL || *path == '\0')
    return NULL;
  g_hash_table_iter_init (&iter, self->disks);
  while (g_hash_table_iter_next (&iter, NULL, &disk))
    if (g_str_equal (marina_disk_get_path (disk), path))
      return disk;
  return NULL;
}

MarinaDisk *
marina_disks_lookup (MarinaDisks *self, const char *object_path)
{
  if (object_path == NULL || !g_str_has_prefix (object_path, MARINA_DISK_PATH_PREFIX))
    return NULL;
  return g_hash_table_lookup (self->disks, object_path + strlen (MARINA_DISK_PATH_PREFIX));
}

/* ---- the registry ------------------------------------------------------------- */

/* "access=user:alice:use;group:ops:full;" — names are POSIX account names
 * (validated), which hold no ':' or ';'. */
static void
set_access (GKeyFile *keyfile, const char *id, GPtrArray *access)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func (g_free);

  if (access->len == 0)
    return;
  for (guint i = 0; i < access->len; i++)
    {
      MarinaAccessEntry *entry = access->pdata[i];
      g_ptr_array_add (entries, g_strjoin (":", entry->kind, entry->name, entry->level, NULL));
    }
  g_key_file_set_string_list (keyfile, id, "access", (const char *const *) entries->pdata,
                              entries->len);
}

static GPtrArray *
get_access (GKeyFile *keyfile, const char *id, GError **error)
{
  g_auto(GStrv) entries = g_key_file_get_string_list (keyfile, id, "access", NULL, NULL);
  g_autoptr(GPtrArray) access = marina_access_list_new ();

  for (guint i = 0; entries && entries[i]; i++)
    {
      g_auto(GStrv) parts = g_strsplit (entries[i], ":", 3);
      if (g_strv_length (parts) == 3)
        marina_access_list_add (access, parts[0], parts[1], parts[2]);
      else
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                            "access entry '%s' is not KIND:NAME:LEVEL", entries[i]), NULL;
    }
  if (!marina_access_list_validate (access, MARINA_ACCESS_SCOPE_OBJECT, error))
    return NULL;
  return g_steal_pointer (&access);
}

static gboolean
save_registry (MarinaDisks *self, GError **error)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GPtrArray) disks = marina_disks_list (self);
  g_autofree char *text = NULL;

  g_key_file_set_comment (keyfile, NULL, NULL,
                          " The disks marinad knows, by id. Written by marinad.", NULL);
  for (guint i = 0; i < disks->len; i++)
    {
      MarinaDisk *disk = disks->pdata[i];
      if (marina_disk_is_busy (disk))
        continue;  /* known for good once created */
      g_key_file_set_string (keyfile, marina_disk_get_id (disk), "path", marina_disk_get_path (disk));
      g_key_file_set_string (keyfile, marina_disk_get_id (disk), "format",
                             marina_dbus_disk_get_format (MARINA_DBUS_DISK (disk)));
      g_key_file_set_string (keyfile, marina_disk_get_id (disk), "type",
                             marina_dbus_disk_get_type_ (MARINA_DBUS_DISK (disk)));
      set_access (keyfile, marina_disk_get_id (disk), marina_disk_get_access (disk));
    }
  text = g_key_file_to_data (keyfile, NULL, NULL);
  return g_file_set_contents_full (self->registry_path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                   0640, error);
}

gboolean
marina_disks_save (MarinaDisks *self, GError **error)
{
  return save_registry (self, error);
}

void
marina_disks_store (MarinaDisks *self)
{
  g_autoptr(GError) error = NULL;

  if (!save_registry (self, &error))
    marina_manager_log (self->manager, "error", MARINA_MANAGER_PATH, "disk",
                        "Cannot store the list of disks: %s", error->message);
}

static MarinaDisk *
export_disk (MarinaDisks *self, const char *id, const char *path)
{
  MarinaDisk *disk = marina_disk_new (self, id, path);
  g_autoptr(MarinaDBusObjectSkeleton) object =
    marina_dbus_object_skeleton_new (marina_disk_get_object_path (disk));

  marina_disk_refresh (disk, NULL);
  marina_dbus_object_skeleton_set_disk (object, MARINA_DBUS_DISK (disk));
  g_dbus_object_manager_server_export (self->object_manager, G_DBUS_OBJECT_SKELETON (object));
  g_hash_table_insert (self->disks, g_strdup (id), disk);
  return disk;
}

static MarinaDisk *
add_disk (MarinaDisks *self, const char *path)
{
  g_autofree char *id = marina_machine_id_new ();

  return export_disk (self, id, path);
}

static void
forget_disk (MarinaDisks *self, MarinaDisk *disk)
{
  g_autofree char *id = g_strdup (marina_disk_get_id (disk));

  g_dbus_object_manager_server_unexport (self->object_manager, marina_disk_get_object_path (disk));
  g_hash_table_remove (self->disks, id);
}

static void
load_entry (MarinaDisks *self, GKeyFile *keyfile, const char *id)
{
  g_autofree char *path = g_key_file_get_string (keyfile, id, "path", NULL);
  g_autofree char *format = g_key_file_get_string (keyfile, id, "format", NULL);
  g_autofree char *type = g_key_file_get_string (keyfile, id, "type", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) access = NULL;
  MarinaDisk *disk;

  /* A hand-edited file must not give us an id that is no object path. */
  if (!marina_validate_machine_id (id, &error) || path == NULL || !g_path_is_absolute (path) ||
      g_hash_table_contains (self->disks, id))
    {
      marina_manager_log (self->manager, "warning", MARINA_MANAGER_PATH, "disk",
                          "Entry [%s] of %s is skipped: %s", id, self->registry_path,
                          error ? error->message : "it has no absolute path or comes twice");
      return;
    }
  access = get_access (keyfile, id, &error);
  if (access == NULL)
    {
      /* Without its list the disk is only reachable by root and polkit: safe. */
      marina_manager_log (self->manager, "warning", MARINA_MANAGER_PATH, "disk",
                          "The access list of [%s] in %s is ignored: %s", id,
                          self->registry_path, error->message);
      g_clear_error (&error);
    }
  disk = export_disk (self, id, path);
  if (access)
    marina_disk_set_access (disk, g_steal_pointer (&access));
  if (marina_disk_refresh (disk, &error))
    return;
  /* Kept, so that a disk on a storage that is not mounted yet comes back. */
  if (format)
    marina_dbus_disk_set_format (MARINA_DBUS_DISK (disk), format);
  if (type)
    marina_dbus_disk_set_type_ (MARINA_DBUS_DISK (disk), type);
  marina_manager_log (self->manager, "warning", marina_disk_get_object_path (disk), "disk",
                      "Disk %s cannot be read: %s", path, error->message);
}

void
marina_disks_load (MarinaDisks *self)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) ids = NULL;

  if (!g_key_file_load_from_file (keyfile, self->registry_path, G_KEY_FILE_NONE, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        marina_manager_log (self->manager, "error", MARINA_MANAGER_PATH, "disk",
                            "Cannot read the list of disks %s: %s", self->registry_path,
                            error->message);
      return;
    }
  ids = g_key_file_get_groups (keyfile, NULL);
  for (guint i = 0; ids[i]; i++)
    load_entry (self, keyfile, ids[i]);
  marina_disks_update_relations (self);
}

/* ---- relations ------------------------------------------------------------------ */

gboolean
marina_disks_is_parent (MarinaDisks *self, MarinaDisk *parent)
{
  GHashTableIter iter;
  gpointer disk;

  g_hash_table_iter_init (&iter, self->disks);
  while (g_hash_table_iter_next (&iter, NULL, &disk))
    if (g_str_equal (marina_dbus_disk_get_parent_path (disk), marina_disk_get_path (parent)))
      return TRUE;
  return FALSE;
}

void
marina_disks_update_relations (MarinaDisks *self)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->disks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      MarinaDBusDisk *disk = value;
      MarinaDisk *parent = marina_disks_find_path (self, marina_dbus_disk_get_parent_path (disk));
      const char *parent_path = parent ? marina_disk_get_object_path (parent) : "/";

      if (g_strcmp0 (marina_dbus_disk_get_parent (disk), parent_path) != 0)
        marina_dbus_disk_set_parent (disk, parent_path);
      if (marina_dbus_disk_get_in_use_as_parent (disk) != marina_disks_is_parent (self, value))
        marina_dbus_disk_set_in_use_as_parent (disk, !marina_dbus_disk_get_in_use_as_parent (disk));
    }
}

static void
attach (GHashTable *attached, const char *path, const char *machine)
{
  GPtrArray *machines;

  if (path == NULL || *path == '\0')
    return;
  machines = g_hash_table_lookup (attached, path);
  if (machines == NULL)
    {
      machines = g_ptr_array_new ();
      g_hash_table_insert (attached, (gpointer) path, machines);
    }
  g_ptr_array_add (machines, (gpointer) machine);
}

static void
set_attached (MarinaDisk *disk, GPtrArray *machines)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new ();
  const char *const *now = marina_dbus_disk_get_attached_to (MARINA_DBUS_DISK (disk));

  for (guint i = 0; machines && i < machines->len; i++)
    g_ptr_array_add (paths, machines->pdata[i]);
  g_ptr_array_add (paths, NULL);
  if (now == NULL || !g_strv_equal (now, (const char *const *) paths->pdata))
    marina_dbus_disk_set_attached_to (MARINA_DBUS_DISK (disk), (const char *const *) paths->pdata);
}

/**
 * marina_disks_sync:
 * @machines: every MarinaMachine
 *
 * Makes each machine's boot disk and CD/DVD image a known disk and sets
 * every disk's AttachedTo.
 */
void
marina_disks_sync (MarinaDisks *self, GPtrArray *machines)
{
  g_autoptr(GHashTable) attached = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                          (GDestroyNotify) g_ptr_array_unref);
  GHashTableIter iter;
  gpointer key, disk;
  gboolean added = FALSE;

  for (guint i = 0; i < machines->len; i++)
    {
      const MarinaMachineConfig *config = marina_machine_get_config (machines->pdata[i]);
      const char *object_path = marina_machine_get_object_path (machines->pdata[i]);
      attach (attached, config->boot_disk, object_path);
      attach (attached, config->cdrom, object_path);
      attach (attached, config->floppy, object_path);
      for (guint j = 0; j < config->drives->len; j++)
        attach (attached, ((MarinaDrive *) config->drives->pdata[j])->path, object_path);
    }
  g_hash_table_iter_init (&iter, attached);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (marina_disks_find_path (self, key) == NULL && g_path_is_absolute (key))
      {
        add_disk (self, key);
        added = TRUE;
      }
  g_hash_table_iter_init (&iter, self->disks);
  while (g_hash_table_iter_next (&iter, NULL, &disk))
    set_attached (disk, g_hash_table_lookup (attached, marina_disk_get_path (disk)));
  if (added)
    {
      marina_disks_store (self);
      marina_disks_update_relations (self);
    }
}

/**
 * marina_disks_check_chain:
 * @path: a disk (which may be a machine's, outside storage)
 *
 * Before qemu-img follows a chain, every parent in it must lie in a storage
 * folder: a qcow2 naming /etc/shadow as its backing file must not make a
 * root service open it.
 */
gboolean
marina_disks_check_chain (MarinaDisks *self, const char *path, GError **error)
{
  g_autofree char *current = g_strdup (path);

  for (guint depth = 0; current != NULL; depth++)
    {
      g_autofree char *resolved = NULL;
      g_autoptr(MarinaImageInfo) info = NULL;

      if (depth == MAX_PARENT_DEPTH)
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                            "The chain of '%s' is more than %u images deep (a loop?)", path,
                            MAX_PARENT_DEPTH), FALSE;
      if (depth > 0 &&
          !(resolved = marina_storage_resolve_existing (marina_disks_get_roots (self), current,
                                                        error)))
        return g_prefix_error (error, "A parent in the chain of '%s': ", path), FALSE;
      info = marina_image_info_read (current, error);
      if (info == NULL)
        return FALSE;
      g_free (current);
      current = g_steal_pointer (&info->parent_path);
    }
  return TRUE;
}

/* ---- import ------------------------------------------------------------------------ */

static MarinaDisk *
import_at_depth (MarinaDisks *self, const char *path, guint depth, GError **error)
{
  g_autofree char *resolved = marina_storage_resolve_existing (marina_disks_get_roots (self), path,
                                                               error);
  g_autoptr(MarinaImageInfo) info = NULL;
  MarinaDisk *known;
  int fd;

  if (resolved == NULL)
    return NULL;
  known = marina_disks_find_path (self, resolved);
  if (known)
    return known;
  if (depth == MAX_PARENT_DEPTH)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        "'%s' has more than %u parents (a loop?)", path, MAX_PARENT_DEPTH), NULL;
  fd = marina_storage_open (resolved, error);
  if (fd < 0)
    return NULL;
  info = marina_image_info_read_fd (fd, resolved, error);
  close (fd);
  if (info == NULL)
    return NULL;
  /* A differencing disk comes with its parents, which must be in storage too. */
  if (info->parent_path && !import_at_depth (self, info->parent_path, depth + 1, error))
    return g_prefix_error (error, "The parent of '%s': ", resolved), NULL;
  return add_disk (self, resolved);
}

MarinaDisk *
marina_disks_import (MarinaDisks *self, const char *path, GError **error)
{
  guint known = g_hash_table_size (self->disks);
  MarinaDisk *disk = import_at_depth (self, path, 0, error);

  if (disk == NULL || g_hash_table_size (self->disks) == known)
    return disk;
  marina_disks_store (self);
  marina_disks_update_relations (self);
  marina_manager_log (self->manager, "info", marina_disk_get_object_path (disk), "disk",
                      "Disk %s imported", marina_disk_get_path (disk));
  return disk;
}

/* ---- delete -------------------------------------------------------------------------- */

/* The paths of @parent's children, for a person ("a.qcow2, b.qcow2"). */
char *
marina_disks_children_of (MarinaDisks *self, MarinaDisk *parent)
{
  g_autoptr(GPtrArray) disks = marina_disks_list (self);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();

  for (guint i = 0; i < disks->len; i++)
    if (g_str_equal (marina_dbus_disk_get_parent_path (disks->pdata[i]), marina_disk_get_path (parent)))
      g_ptr_array_add (names, (gpointer) marina_disk_get_path (disks->pdata[i]));
  g_ptr_array_add (names, NULL);
  return g_strjoinv (", ", (char **) names->pdata);
}

static char *
machine_names (MarinaDisks *self, const char *const *object_paths)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; object_paths[i]; i++)
    {
      MarinaMachine *machine = marina_manager_find_machine_path (self->manager, object_paths[i]);
      g_ptr_array_add (names, g_strdup_printf ("'%s'", machine ? marina_machine_get_config (machine)->name
                                                              : object_paths[i]));
    }
  g_ptr_array_add (names, NULL);
  return g_strjoinv (", ", (char **) names->pdata);
}

static gboolean
check_deletable (MarinaDisks *self, MarinaDisk *disk, GError **error)
{
  const char *const *attached = marina_dbus_disk_get_attached_to (MARINA_DBUS_DISK (disk));
  const char *path = marina_disk_get_path (disk);

  if (marina_disk_is_busy (disk))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                        "Disk '%s' is being created; cancel its job first", path), FALSE;
  if (marina_disk_is_read (disk))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                        "Disk '%s' is being converted into another disk; wait for that job or "
                        "cancel it first", path), FALSE;
  if (marina_disk_get_task (disk))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                        "Disk '%s' is %s; wait for that job or cancel it first", path,
                        marina_disk_get_task (disk)), FALSE;
  if (attached && attached[0])
    {
      g_autofree char *names = machine_names (self, attached);
      return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                          "Disk '%s' is attached to the machine%s %s; take it out of their "
                          "configuration first", path, attached[1] ? "s" : "", names), FALSE;
    }
  if (marina_disks_is_parent (self, disk))
    {
      g_autofree char *children = marina_disks_children_of (self, disk);
      return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                          "Disk '%s' is the parent of %s; delete or merge those first", path,
                          children), FALSE;
    }
  return TRUE;
}

static gboolean
unlink_image (MarinaDisks *self, const char *path, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *resolved = marina_storage_resolve_existing (marina_disks_get_roots (self), path,
                                                               &local_error);

  if (resolved == NULL && g_error_matches (local_error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND))
    return TRUE;  /* gone already: only the object is left to forget */
  if (resolved == NULL)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                        "Marina deletes only images in its storage folders: %s",
                        local_error->message), FALSE;
  if (g_unlink (resolved) != 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot delete '%s': %s",
                        resolved, g_strerror (errno)), FALSE;
  return TRUE;
}

gboolean
marina_disks_delete (MarinaDisks *self, MarinaDisk *disk, GError **error)
{
  g_autofree char *path = g_strdup (marina_disk_get_path (disk));

  if (!check_deletable (self, disk, error) || !unlink_image (self, path, error))
    return FALSE;
  marina_manager_log (self->manager, "info", marina_disk_get_object_path (disk), "disk",
                      "Disk %s deleted", path);
  forget_disk (self, disk);
  marina_disks_store (self);
  marina_disks_update_relations (self);
  return TRUE;
}

/* ---- create ------------------------------------------------------------------------- */

static const MarinaOptionType create_options[] = {
  { "format", "s" }, { "type", "s" }, { "size", "t" }, { "parent", "s" }, { NULL, NULL },
};
static const MarinaOptionType convert_options[] = { { "format", "s" }, { "type", "s" }, { NULL, NULL } };
static const char *const formats[] = { "vhd", "vhdx", "qcow2", "raw", NULL };
static const char *const types[] = { "dynamic", "fixed", "differencing", NULL };

static const MarinaOptionType *
find_option (const MarinaOptionType *known, const char *key)
{
  for (; known->key; known++)
    if (g_str_equal (known->key, key))
      return known;
  return NULL;
}

/**
 * marina_disks_check_options:
 * @known: the keys and their types, ending with { NULL, NULL }
 * @names: the options, for a person ("format and type")
 *
 * Refuses unknown keys and values of the wrong type. A parent may be given
 * as a path or a Disk object path.
 */
gboolean
marina_disks_check_options (GVariant *options, const char *method, const MarinaOptionType *known,
                            const char *names, GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr(GVariant) owned = value;
      const MarinaOptionType *option = find_option (known, key);
      if (option == NULL)
        return marina_error_invalid (error, "%s has no option '%s'; it takes %s", method, key,
                                     names);
      if (g_str_equal (key, "parent") && g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH))
        continue;
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE (option->type)))
        return marina_error_invalid (error, "%s option '%s' must be of type '%s', not '%s'", method,
                                     key, option->type, g_variant_get_type_string (value));
    }
  return TRUE;
}

static gboolean
check_choice (const char *what, const char *value, const char *const *choices, GError **error)
{
  g_autofree char *list = NULL;

  if (g_strv_contains (choices, value))
    return TRUE;
  list = g_strjoinv (", ", (char **) choices);
  return marina_error_invalid (error, "Unknown disk %s '%s'; use one of %s", what, value, list);
}

/* The parent by object path or by path: it must be a readable image in storage. */
static MarinaDisk *
find_parent (MarinaDisks *self, const char *name, GError **error)
{
  MarinaDisk *disk;

  if (g_variant_is_object_path (name) && g_str_has_prefix (name, MARINA_DISK_PATH_PREFIX))
    {
      disk = marina_disks_lookup (self, name);
      if (disk == NULL)
        return g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                            "There is no disk %s to be the parent", name), NULL;
      name = marina_disk_get_path (disk);
    }
  disk = marina_disks_import (self, name, error);
  if (disk == NULL)
    return g_prefix_error (error, "The parent disk: "), NULL;
  if (marina_disk_is_busy (disk))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                        "The parent disk '%s' is still being created", name), NULL;
  if (marina_disk_get_task (disk))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                        "The parent disk '%s' is %s", name, marina_disk_get_task (disk)), NULL;
  if (!marina_image_check_qemu_reads (marina_disk_get_path (disk), error))
    return NULL;
  return disk;
}

static gboolean
check_size (const MarinaDiskSpec *spec, GError **error)
{
  if (spec->size == 0 && spec->parent_path == NULL)
    return marina_error_invalid (error, "A %s disk needs a size (option 'size', in bytes)",
                                 spec->type);
  if (spec->size % 512 != 0)
    return marina_error_invalid (error, "The size %" G_GUINT64_FORMAT " is not a multiple of 512 "
                                 "bytes (one sector)", spec->size);
  if (g_str_equal (spec->format, "vhd") && spec->size > MARINA_VHD_MAX_SIZE)
    return marina_error_invalid (error, "A VHD holds at most 2040 GiB (%" G_GUINT64_FORMAT " "
                                 "bytes); %" G_GUINT64_FORMAT " is too large: use vhdx or qcow2",
                                 MARINA_VHD_MAX_SIZE, spec->size);
  return TRUE;
}

static gboolean
check_format_and_type (const MarinaDiskSpec *spec, gboolean has_parent, GError **error)
{
  gboolean differencing = g_str_equal (spec->type, "differencing");

  if (!check_choice ("format", spec->format, formats, error) ||
      !check_choice ("type", spec->type, types, error))
    return FALSE;
  if (differencing && !g_str_equal (spec->format, "qcow2"))
    return marina_error_invalid (error, "QEMU cannot write differencing %s disks; make a qcow2 "
                                 "differencing disk (format qcow2), over a parent of any format",
                                 spec->format);
  if (differencing && !has_parent)
    return marina_error_invalid (error, "A differencing disk needs a parent (option 'parent': a "
                                 "path or a Disk object path)");
  if (!differencing && has_parent)
    return marina_error_invalid (error, "Only a differencing disk has a parent; set type to "
                                 "differencing");
  if (g_str_equal (spec->format, "qcow2") && g_str_equal (spec->type, "fixed"))
    return marina_error_invalid (error, "qcow2 disks are dynamic or differencing; for a fixed "
                                 "disk use vhd or raw");
  return TRUE;
}

static gboolean
apply_parent (MarinaDisks *self, MarinaDiskSpec *spec, const char *name, GError **error)
{
  MarinaDisk *parent = find_parent (self, name, error);
  guint64 parent_size;

  if (parent == NULL)
    return FALSE;
  spec->parent_path = g_strdup (marina_disk_get_path (parent));
  spec->parent_format = g_strdup (marina_dbus_disk_get_format (MARINA_DBUS_DISK (parent)));
  parent_size = marina_dbus_disk_get_virtual_size (MARINA_DBUS_DISK (parent));
  if (spec->size != 0 && spec->size < parent_size)
    return marina_error_invalid (error, "A differencing disk of %" G_GUINT64_FORMAT " bytes would "
                                 "be smaller than its parent '%s' (%" G_GUINT64_FORMAT " bytes)",
                                 spec->size, spec->parent_path, parent_size);
  return TRUE;
}

static MarinaDiskSpec *
make_spec (MarinaDisks *self, const char *path, GVariant *options, GError **error)
{
  g_autoptr(MarinaDiskSpec) spec = g_new0 (MarinaDiskSpec, 1);
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (options);
  g_autoptr(GVariant) parent = NULL;

  spec->dir_fd = -1;
  spec->qemu_img = g_strdup (self->settings->qemu_img);
  if (!marina_disks_check_options (options, "CreateDisk", create_options, "format, type, size and parent",
                      error))
    return NULL;
  if (!g_variant_dict_lookup (&dict, "format", "s", &spec->format))
    spec->format = g_strdup ("vhd");
  if (!g_variant_dict_lookup (&dict, "type", "s", &spec->type))
    spec->type = g_strdup ("dynamic");
  g_variant_dict_lookup (&dict, "size", "t", &spec->size);
  parent = g_variant_dict_lookup_value (&dict, "parent", NULL);
  if (!check_format_and_type (spec, parent != NULL, error) ||
      (parent && !apply_parent (self, spec, g_variant_get_string (parent, NULL), error)) ||
      !check_size (spec, error))
    return NULL;
  spec->path = marina_storage_resolve_new (marina_disks_get_roots (self), path, &spec->dir_fd,
                                           &spec->name, error);
  if (spec->path == NULL)
    return NULL;
  if (marina_disks_find_path (self, spec->path))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_EXISTS,
                        "A disk at '%s' is known already (being created, or its file is missing); "
                        "delete that disk first or choose another name", spec->path), NULL;
  return g_steal_pointer (&spec);
}

typedef struct {
  MarinaDisks *disks;
  MarinaDisk *disk;
  MarinaDisk *source;  /* Convert's, held as read until the job ends */
  MarinaJob *job;
} Creating;

static void
on_created (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Creating *creating = user_data;
  MarinaDisks *self = creating->disks;
  MarinaDisk *disk = creating->disk;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_strdup (marina_disk_get_path (disk));

  marina_disk_set_busy (disk, FALSE);
  if (marina_disk_create_finish (result, &error))
    {
      marina_disk_refresh (disk, NULL);
      marina_disks_store (self);
      marina_disks_update_relations (self);
      marina_manager_log (self->manager, "info", marina_disk_get_object_path (disk), "disk",
                          "Disk %s created", path);
      marina_job_complete (creating->job, NULL, "created");
    }
  else
    {
      forget_disk (self, disk);
      marina_manager_log (self->manager, "warning", MARINA_MANAGER_PATH, "disk",
                          "Disk %s not created: %s", path, error->message);
      marina_job_complete (creating->job, error, NULL);
    }
  if (creating->source)
    {
      marina_disk_add_reader (creating->source, -1);
      g_object_unref (creating->source);
    }
  g_object_unref (disk);
  g_object_unref (creating->job);
  g_free (creating);
}

/* The new disk's object shows what was asked for until the image exists. */
static void
describe_new_disk (MarinaDisk *disk, const MarinaDiskSpec *spec)
{
  MarinaDBusDisk *iface = MARINA_DBUS_DISK (disk);

  marina_dbus_disk_set_format (iface, spec->format);
  marina_dbus_disk_set_type_ (iface, spec->type);
  marina_dbus_disk_set_virtual_size (iface, spec->size);
  marina_dbus_disk_set_parent_path (iface, spec->parent_path ? spec->parent_path : "");
}

/* The new disk is on the bus, busy, while its job runs. Takes @spec. */
static MarinaDisk *
start_creation (MarinaDisks *self, MarinaDiskSpec *spec, MarinaDisk *source,
                const char *operation, MarinaJob **job)
{
  Creating *creating = g_new0 (Creating, 1);

  if (source)
    {
      creating->source = g_object_ref (source);
      marina_disk_add_reader (source, +1);
    }
  creating->disks = self;
  creating->disk = g_object_ref (add_disk (self, spec->path));
  marina_disk_set_busy (creating->disk, TRUE);
  describe_new_disk (creating->disk, spec);
  creating->job = marina_job_new (operation, marina_disk_get_object_path (creating->disk), TRUE);
  *job = creating->job;
  marina_disks_update_relations (self);
  marina_disk_create_async (spec, creating->job, on_created, creating);
  return creating->disk;
}

/* A linked disk is a host block device (one of [storage] devices=) used as
 * it is: nothing is created, the device becomes a known disk, and the job
 * is done at once. @path is the device; an option "device" may say it too. */
static MarinaDisk *
link_device (MarinaDisks *self, const char *path, GVariant *options, MarinaJob **job,
             GError **error)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (options);
  g_autofree char *device = NULL;
  GVariantIter iter;
  const char *key;
  MarinaDisk *disk;

  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&sv}", &key, NULL))
    if (!g_str_equal (key, "type") && !g_str_equal (key, "device"))
      return marina_error_invalid (error, "A linked disk takes the options type and device, not "
                                   "'%s'", key), NULL;
  if (!g_variant_dict_lookup (&dict, "device", "s", &device))
    device = g_strdup (path);
  if (g_strcmp0 (device, path) != 0 && *path != '\0')
    return marina_error_invalid (error, "A linked disk is the device itself: give its path "
                                 "(%s) once", device), NULL;
  if (!g_file_test (device, G_FILE_TEST_EXISTS) || !marina_image_is_block_device (device))
    return marina_error_invalid (error, "'%s' is not a host block device; a linked disk is one "
                                 "(listed in [storage] devices= of marina.conf)", device), NULL;
  disk = marina_disks_import (self, device, error);
  if (disk == NULL)
    return NULL;
  *job = marina_job_new ("link-disk", marina_disk_get_object_path (disk), FALSE);
  marina_job_complete (*job, NULL, "The device is a linked disk");
  return disk;
}

MarinaDisk *
marina_disks_create (MarinaDisks *self, const char *path, GVariant *options, MarinaJob **job,
                     GError **error)
{
  g_autoptr(GVariant) type = g_variant_lookup_value (options, "type", G_VARIANT_TYPE_STRING);
  MarinaDiskSpec *spec;

  if (type && g_str_equal (g_variant_get_string (type, NULL), "linked"))
    return link_device (self, path, options, job, error);
  spec = make_spec (self, path, options, error);

  if (spec == NULL)
    return NULL;
  return start_creation (self, spec, NULL, "create-disk", job);
}

/* ---- convert ------------------------------------------------------------------------ */

/* Whether @disk is @user or in its chain of parents. */
static gboolean
chain_contains (MarinaDisks *self, MarinaDisk *user, MarinaDisk *disk)
{
  MarinaDisk *current = user;

  for (guint depth = 0; current && depth < MAX_PARENT_DEPTH; depth++)
    {
      if (current == disk)
        return TRUE;
      current = marina_disks_find_path (self,
                                        marina_dbus_disk_get_parent_path (MARINA_DBUS_DISK (current)));
    }
  return FALSE;
}

/* A running machine attached to @disk or to a disk whose chain goes
 * through it; with @saved also a saved one, whose saved state expects the
 * disks as they were, and one with undo changes, whose overlay does. */
static MarinaMachine *
find_running_user (MarinaDisks *self, MarinaDisk *disk, gboolean saved)
{
  g_autoptr(GPtrArray) disks = marina_disks_list (self);

  for (guint i = 0; i < disks->len; i++)
    {
      const char *const *attached = marina_dbus_disk_get_attached_to (disks->pdata[i]);
      if (!chain_contains (self, disks->pdata[i], disk))
        continue;
      for (guint j = 0; attached && attached[j]; j++)
        {
          MarinaMachine *machine = marina_manager_find_machine_path (self->manager, attached[j]);
          if (machine && (marina_machine_is_active (machine) ||
                          (saved && (g_str_equal (marina_dbus_machine_get_state (
                                                    MARINA_DBUS_MACHINE (machine)), "saved") ||
                                     marina_machine_has_undo_changes (machine)))))
            return machine;
        }
    }
  return NULL;
}

/**
 * marina_disks_check_idle:
 * @writes: the job rewrites @disk (else it only copies from it)
 * @doing: what is refused, for the message ("converting the disk")
 *
 * A disk a running guest writes to would be copied torn, and one another
 * job works on must wait for it.
 */
gboolean
marina_disks_check_idle (MarinaDisks *self, MarinaDisk *disk, gboolean writes, const char *doing,
                         GError **error)
{
  const char *path = marina_disk_get_path (disk);
  MarinaMachine *machine;

  if (marina_disk_is_busy (disk))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY, "Disk '%s' is still being "
                        "created", path), FALSE;
  if (marina_disk_get_task (disk))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY, "Disk '%s' is %s; wait for that "
                        "job or cancel it before %s", path, marina_disk_get_task (disk),
                        doing), FALSE;
  if (writes && marina_disk_is_read (disk))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY, "Disk '%s' is being copied into "
                        "another disk; wait for that job or cancel it before %s", path,
                        doing), FALSE;
  machine = find_running_user (self, disk, writes);
  if (machine && !writes)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                        "Disk '%s' is in use by the running machine '%s'; turn it off "
                        "(or save it) before %s", path, marina_machine_get_config (machine)->name,
                        doing), FALSE;
  if (machine && !marina_machine_is_active (machine) &&
      g_str_equal (marina_dbus_machine_get_state (MARINA_DBUS_MACHINE (machine)), "off"))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                        "Machine '%s' has undo changes over disk '%s'; commit or discard them "
                        "before %s", marina_machine_get_config (machine)->name, path,
                        doing), FALSE;
  if (machine)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_BUSY,
                        "Disk '%s' is in use by the %s machine '%s'; turn it off before %s", path,
                        marina_dbus_machine_get_state (MARINA_DBUS_MACHINE (machine)),
                        marina_machine_get_config (machine)->name, doing), FALSE;
  return TRUE;
}

static gboolean
is_differencing_vhd (MarinaDisk *disk)
{
  return g_str_equal (marina_dbus_disk_get_format (MARINA_DBUS_DISK (disk)), "vhd") &&
         g_str_equal (marina_dbus_disk_get_type_ (MARINA_DBUS_DISK (disk)), "differencing");
}

/* The child names its parent's UUID: a parent replaced or rebuilt since
 * would give the child's sectors another disk to lie on. */
static gboolean
check_vhd_parent_id (const char *child_path, const char *parent_path, guint64 *size,
                     GError **error)
{
  g_autoptr(MarinaVhd) child = marina_vhd_read (child_path, error);
  g_autoptr(MarinaVhd) parent = NULL;
  g_autofree char *wanted = NULL, *found = NULL;

  if (child == NULL || child->header == NULL)
    return child != NULL;
  /* The footer's size, exact: QEMU would give one rounded to CHS geometry. */
  *size = child->footer.current_size;
  parent = marina_vhd_read (parent_path, NULL);
  if (parent == NULL)
    return TRUE;  /* a parent of another format has no VHD id to compare */
  wanted = marina_vhd_uuid_to_string (child->header->parent_uuid);
  found = marina_vhd_uuid_to_string (parent->footer.uuid);
  if (g_str_equal (wanted, found))
    return TRUE;
  return g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                      "'%s' was made over a parent with id %s, but '%s' has id %s: the parent "
                      "changed since (restore the original parent)", child_path, wanted,
                      parent_path, found), FALSE;
}

/* A differencing VHD from Virtual PC, Virtual Server or Hyper-V: QEMU reads
 * it as if it had no parent, so marinad lays the child's own sectors over
 * a copy of the parent (marina_vhd_copy_sectors) and converts that:
 * by default into a qcow2 child of the same parent holding only what
 * differs ("type" differencing), or into a standalone disk. Either returns
 * every byte the original chain does. */
static gboolean
plan_vhd_import (MarinaDiskSpec *spec, GVariantDict *dict, GError **error)
{
  g_autoptr(MarinaImageInfo) child = marina_image_info_read (spec->source_path, error);
  g_autoptr(MarinaImageInfo) parent = NULL;

  if (child == NULL)
    return FALSE;
  if (child->parent_path == NULL || !g_file_test (child->parent_path, G_FILE_TEST_IS_REGULAR))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                        "The parent of the differencing VHD '%s' is not found%s%s; put it "
                        "where its locators point", spec->source_path,
                        child->parent_path ? " at " : "",
                        child->parent_path ? child->parent_path : ""), FALSE;
  parent = marina_image_info_read (child->parent_path, error);
  if (parent == NULL || !check_vhd_parent_id (spec->source_path, child->parent_path, &spec->size, error))
    return FALSE;
  if (g_str_equal (parent->type, "differencing"))
    return marina_error_invalid (error, "The parent '%s' of '%s' is itself a differencing disk; "
                                 "convert the parent to a standalone disk first",
                                 child->parent_path, spec->source_path);
  if (!g_variant_dict_contains (dict, "type"))
    {
      g_free (spec->type);
      spec->type = g_strdup ("differencing");
    }
  if (!g_variant_dict_contains (dict, "format"))
    {
      g_free (spec->format);
      spec->format = g_strdup ("qcow2");
    }
  spec->flatten_vhd = g_strdup (spec->source_path);
  spec->flatten_parent = g_strdup (child->parent_path);
  spec->flatten_parent_format = g_strdup (parent->format);
  /* Copied with -B: only what differs from the parent goes into the child. */
  spec->keep_parent = g_str_equal (spec->type, "differencing");
  if (spec->keep_parent)
    {
      spec->parent_path = g_strdup (child->parent_path);
      spec->parent_format = g_strdup (parent->format);
    }
  return TRUE;
}

static MarinaDiskSpec *
make_convert_spec (MarinaDisks *self, MarinaDisk *source, const char *path, GVariant *options,
                   GError **error)
{
  g_autoptr(MarinaDiskSpec) spec = g_new0 (MarinaDiskSpec, 1);
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (options);
  MarinaDBusDisk *from = MARINA_DBUS_DISK (source);

  spec->dir_fd = -1;
  spec->qemu_img = g_strdup (self->settings->qemu_img);
  if (!marina_disks_check_options (options, "Convert", convert_options, "format and type", error) ||
      !marina_disks_check_idle (self, source, FALSE, "converting the disk", error))
    return NULL;
  if (!g_variant_dict_lookup (&dict, "format", "s", &spec->format))
    spec->format = g_strdup (marina_dbus_disk_get_format (from));
  if (!g_variant_dict_lookup (&dict, "type", "s", &spec->type))
    spec->type = g_strdup ("dynamic");
  spec->size = marina_dbus_disk_get_virtual_size (from);
  spec->source_path = g_strdup (marina_disk_get_path (source));
  spec->source_format = g_strdup (marina_dbus_disk_get_format (from));
  if (is_differencing_vhd (source))
    {
      if (!plan_vhd_import (spec, &dict, error))
        return NULL;
    }
  else if (g_str_equal (spec->type, "differencing"))
    return marina_error_invalid (error, "Convert makes a standalone disk from the whole chain; "
                                 "a differencing child is made with CreateDisk"), NULL;
  if (!check_format_and_type (spec, spec->keep_parent, error) ||
      (spec->size && !check_size (spec, error)) ||
      !marina_disks_check_chain (self, spec->source_path, error) ||
      (spec->flatten_vhd == NULL && !marina_image_check_qemu_reads (spec->source_path, error)))
    return NULL;
  spec->path = marina_storage_resolve_new (marina_disks_get_roots (self), path, &spec->dir_fd,
                                           &spec->name, error);
  if (spec->path == NULL)
    return NULL;
  return g_steal_pointer (&spec);
}

/**
 * marina_disks_convert:
 *
 * Copies @source, with its whole chain flattened, into a new image at @path
 * of another format or type.
 */
MarinaDisk *
marina_disks_convert (MarinaDisks *self, MarinaDisk *source, const char *path, GVariant *options,
                      MarinaJob **job, GError **error)
{
  MarinaDiskSpec *spec = make_convert_spec (self, source, path, options, error);

  if (spec == NULL)
    return NULL;
  return start_creation (self, spec, source, "convert-disk", job);
}

/**
 * marina_disks_merge_to:
 *
 * Virtual Server's MergeTo: a differencing disk and its parents, flattened
 * into a new standalone disk of the child's format. Both stay as they are.
 */
MarinaDisk *
marina_disks_merge_to (MarinaDisks *self, MarinaDisk *source, const char *path, MarinaJob **job,
                       GError **error)
{
  g_autoptr(GVariant) options = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  MarinaDiskSpec *spec;

  if (*marina_dbus_disk_get_parent_path (MARINA_DBUS_DISK (source)) == '\0')
    return marina_error_invalid (error, "Disk '%s' has no parent to merge with; Convert copies a "
                                 "standalone disk", marina_disk_get_path (source)), NULL;
  spec = make_convert_spec (self, source, path, options, error);
  if (spec == NULL)
    return NULL;
  return start_creation (self, spec, source, "merge-disk-to", job);
}

MarinaManager *
marina_disks_get_manager (MarinaDisks *self)
{
  return self->manager;
}
