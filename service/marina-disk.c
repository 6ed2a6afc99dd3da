/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-disk"
#include "config.h"

#include <json-glib/json-glib.h>

#include "marina-authorizer.h"
#include "marina-disk.h"
#include "marina-disks.h"
#include "marina-error.h"
#include "marina-storage.h"
#include "marina-vhd.h"

/* One virtual disk file on the bus. Its properties come from the image's
 * own headers (devices/marina-image.c), read again whenever the disk
 * changes; Inspect asks qemu-img for the whole chain and adds what the VHD
 * footer and dynamic header say. */

struct _MarinaDisk {
  MarinaDBusDiskSkeleton parent_instance;
  MarinaDisks *owner;  /* not a reference: the owner outlives its disks' exports */
  char *id;
  char *object_path;
  GPtrArray *access;   /* of MarinaAccessEntry: who may use, change or delete it */
  gboolean busy;       /* being created */
  guint readers;       /* jobs copying from it */
  const char *task;    /* what a job rewriting it does ("being merged"), or NULL */
};

static void marina_disk_iface_init (MarinaDBusDiskIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MarinaDisk, marina_disk, MARINA_DBUS_TYPE_DISK_SKELETON,
                               G_IMPLEMENT_INTERFACE (MARINA_DBUS_TYPE_DISK,
                                                      marina_disk_iface_init))

const char *
marina_disk_get_id (MarinaDisk *self)
{
  return self->id;
}

const char *
marina_disk_get_object_path (MarinaDisk *self)
{
  return self->object_path;
}

const char *
marina_disk_get_path (MarinaDisk *self)
{
  return marina_dbus_disk_get_path (MARINA_DBUS_DISK (self));
}

GPtrArray *
marina_disk_get_access (MarinaDisk *self)
{
  return self->access;
}

/* Takes @access; validated by the caller. */
void
marina_disk_set_access (MarinaDisk *self, GPtrArray *access)
{
  g_ptr_array_unref (self->access);
  self->access = access;
}

void
marina_disk_set_busy (MarinaDisk *self, gboolean busy)
{
  self->busy = busy;
}

gboolean
marina_disk_is_busy (MarinaDisk *self)
{
  return self->busy;
}

/* @change: +1 when a job starts copying from the disk, -1 when it ends. */
void
marina_disk_add_reader (MarinaDisk *self, int change)
{
  g_return_if_fail (change > 0 || self->readers > 0);
  self->readers += change;
}

gboolean
marina_disk_is_read (MarinaDisk *self)
{
  return self->readers > 0;
}

/* @task: a static string saying what a job does to the disk ("being
 * compacted"), NULL once it ends. */
void
marina_disk_set_task (MarinaDisk *self, const char *task)
{
  self->task = task;
}

const char *
marina_disk_get_task (MarinaDisk *self)
{
  return self->task;
}

/**
 * marina_disk_refresh:
 *
 * Reads the image's headers again and updates the properties. A missing or
 * unreadable file keeps the format and type last known and reports sizes of 0.
 */
gboolean
marina_disk_refresh (MarinaDisk *self, GError **error)
{
  MarinaDBusDisk *iface = MARINA_DBUS_DISK (self);
  g_autoptr(MarinaImageInfo) info = marina_image_info_read (marina_disk_get_path (self), error);

  if (info == NULL)
    {
      marina_dbus_disk_set_size_on_host (iface, 0);
      return FALSE;
    }
  marina_dbus_disk_set_format (iface, info->format);
  marina_dbus_disk_set_type_ (iface, info->type);
  if (info->virtual_size != 0)
    marina_dbus_disk_set_virtual_size (iface, info->virtual_size);
  marina_dbus_disk_set_size_on_host (iface, info->size_on_host);
  marina_dbus_disk_set_parent_path (iface, info->parent_path ? info->parent_path : "");
  return TRUE;
}

/* ---- Inspect ----------------------------------------------------------------- */

static void
add_vhd_details (GVariantDict *entry, const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaVhd) vhd = marina_vhd_read (path, &error);
  const MarinaVhdFooter *footer;
  g_autofree char *uuid = NULL;
  g_autofree char *geometry = NULL;

  g_variant_dict_insert (entry, "vhd-checksum-valid", "b", vhd != NULL);
  if (vhd == NULL)
    {
      g_variant_dict_insert (entry, "vhd-error", "s", error->message);
      return;
    }
  footer = &vhd->footer;
  uuid = marina_vhd_uuid_to_string (footer->uuid);
  geometry = g_strdup_printf ("%u/%u/%u", footer->cylinders, footer->heads, footer->sectors);
  g_variant_dict_insert (entry, "vhd-disk-type", "s", marina_vhd_type_to_string (footer->disk_type));
  g_variant_dict_insert (entry, "vhd-current-size", "t", footer->current_size);
  g_variant_dict_insert (entry, "vhd-original-size", "t", footer->original_size);
  g_variant_dict_insert (entry, "vhd-geometry", "s", geometry);
  g_variant_dict_insert (entry, "vhd-creator-app", "s", footer->creator_app);
  g_variant_dict_insert (entry, "vhd-creator-os", "s", footer->creator_os);
  g_variant_dict_insert (entry, "vhd-uuid", "s", uuid);
  g_variant_dict_insert (entry, "vhd-timestamp", "x", marina_vhd_time_to_unix (footer->timestamp));
  if (footer->disk_type != MARINA_VHD_TYPE_DIFFERENCING)
    return;
  g_free (uuid);
  uuid = marina_vhd_uuid_to_string (vhd->header->parent_uuid);
  g_variant_dict_insert (entry, "vhd-parent-uuid", "s", uuid);
  g_variant_dict_insert (entry, "vhd-parent-timestamp", "x",
                         marina_vhd_time_to_unix (vhd->header->parent_timestamp));
  g_variant_dict_insert (entry, "vhd-parent-name", "s", vhd->header->parent_name);
  g_variant_dict_insert_value (entry, "vhd-parent-locators",
                               g_variant_new_strv ((const char *const *) vhd->parent_locators->pdata,
                                                   vhd->parent_locators->len));
}

static GVariant *
chain_entry (MarinaDisk *self, JsonObject *image)
{
  g_auto(GVariantDict) entry = G_VARIANT_DICT_INIT (NULL);
  const char *path = json_object_get_string_member_with_default (image, "filename", "");
  const char *format = marina_image_format_from_qemu (
    json_object_get_string_member_with_default (image, "format", ""));
  const char *backing = json_object_get_string_member_with_default (image, "full-backing-filename",
                                                                    NULL);
  MarinaDisk *known = marina_disks_find_path (self->owner, path);

  g_variant_dict_insert (&entry, "path", "s", path);
  g_variant_dict_insert (&entry, "format", "s", format);
  g_variant_dict_insert (&entry, "virtual-size", "t",
                         (guint64) json_object_get_int_member_with_default (image, "virtual-size", 0));
  g_variant_dict_insert (&entry, "size-on-host", "t",
                         (guint64) json_object_get_int_member_with_default (image, "actual-size", 0));
  if (backing)
    g_variant_dict_insert (&entry, "backing-path", "s", backing);
  if (known)
    g_variant_dict_insert (&entry, "disk", "o", marina_disk_get_object_path (known));
  if (g_str_equal (format, "vhd"))
    add_vhd_details (&entry, path);
  return g_variant_dict_end (&entry);
}

static GVariant *
inspect_result (MarinaDisk *self, JsonArray *images)
{
  MarinaDBusDisk *iface = MARINA_DBUS_DISK (self);
  g_auto(GVariantDict) info = G_VARIANT_DICT_INIT (NULL);
  g_auto(GVariantBuilder) chain = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("aa{sv}"));

  for (guint i = 0; i < json_array_get_length (images); i++)
    g_variant_builder_add_value (&chain, chain_entry (self, json_array_get_object_element (images, i)));
  g_variant_dict_insert (&info, "path", "s", marina_dbus_disk_get_path (iface));
  g_variant_dict_insert (&info, "format", "s", marina_dbus_disk_get_format (iface));
  g_variant_dict_insert (&info, "type", "s", marina_dbus_disk_get_type_ (iface));
  g_variant_dict_insert (&info, "virtual-size", "t", marina_dbus_disk_get_virtual_size (iface));
  g_variant_dict_insert (&info, "size-on-host", "t", marina_dbus_disk_get_size_on_host (iface));
  g_variant_dict_insert_value (&info, "chain", g_variant_builder_end (&chain));
  return g_variant_dict_end (&info);
}

static JsonArray *
parse_chain (const char *text, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (!json_parser_load_from_data (parser, text, -1, error))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                        "qemu-img info gave no list of images"), NULL;
  return json_array_ref (json_node_get_array (root));
}

typedef struct {
  MarinaDisk *disk;
  GDBusMethodInvocation *invocation;
} Inspection;

static void
on_info_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Inspection *inspection = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonArray) images = NULL;
  GSubprocess *process = G_SUBPROCESS (source);

  if (!g_subprocess_communicate_utf8_finish (process, result, &out, &err, &error))
    g_prefix_error (&error, "Cannot run qemu-img: ");
  else if (!g_subprocess_get_successful (process))
    g_set_error (&error, MARINA_ERROR, MARINA_ERROR_FAILED, "qemu-img cannot read the chain of "
                 "'%s': %s", marina_disk_get_path (inspection->disk), g_strstrip (err));
  else
    images = parse_chain (out, &error);
  marina_disk_refresh (inspection->disk, NULL);
  if (images)
    marina_dbus_disk_complete_inspect (MARINA_DBUS_DISK (inspection->disk), inspection->invocation,
                                       inspect_result (inspection->disk, images));
  else
    g_dbus_method_invocation_return_gerror (inspection->invocation, error);
  g_object_unref (inspection->disk);
  g_object_unref (process);
  g_free (inspection);
}

static gboolean
handle_inspect (MarinaDBusDisk *iface, GDBusMethodInvocation *invocation)
{
  MarinaDisk *self = MARINA_DISK (iface);
  GError *error = NULL;
  const char *argv[] = {
    marina_disks_get_qemu_img (self->owner), "info", "--output=json", "--backing-chain", "-U",
    "-f", marina_image_format_to_qemu (marina_dbus_disk_get_format (iface)),
    marina_disk_get_path (self), NULL,
  };
  GSubprocess *process = NULL;
  Inspection *inspection;

  if (self->busy)
    error = g_error_new (MARINA_ERROR, MARINA_ERROR_BUSY, "Disk '%s' is still being created",
                         marina_disk_get_path (self));
  else if (marina_disks_check_chain (self->owner, marina_disk_get_path (self), &error))
    process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                 &error);
  if (process == NULL)
    {
      g_dbus_method_invocation_take_error (invocation, error);
      return TRUE;
    }
  inspection = g_new0 (Inspection, 1);
  inspection->disk = g_object_ref (self);
  inspection->invocation = invocation;
  g_subprocess_communicate_utf8_async (process, NULL, NULL, on_info_done, inspection);
  return TRUE;
}

static gboolean
handle_delete (MarinaDBusDisk *iface, GDBusMethodInvocation *invocation)
{
  g_autoptr(MarinaDisk) self = g_object_ref (MARINA_DISK (iface));
  GError *error = NULL;

  if (!marina_disks_delete (self->owner, self, &error))
    g_dbus_method_invocation_take_error (invocation, error);
  else
    marina_dbus_disk_complete_delete (iface, invocation);
  return TRUE;
}

static gboolean
handle_convert (MarinaDBusDisk *iface, GDBusMethodInvocation *invocation, const char *path,
                GVariant *options)
{
  MarinaDisk *self = MARINA_DISK (iface);
  MarinaJob *job = NULL;
  GError *error = NULL;

  if (!marina_disks_convert (self->owner, self, path, options, &job, &error))
    g_dbus_method_invocation_take_error (invocation, error);
  else
    marina_dbus_disk_complete_convert (iface, invocation, marina_disks_add_job (self->owner, job));
  return TRUE;
}

static gboolean
handle_get_access (MarinaDBusDisk *iface, GDBusMethodInvocation *invocation)
{
  MarinaDisk *self = MARINA_DISK (iface);

  marina_dbus_disk_complete_get_access (iface, invocation,
                                        marina_access_list_to_variant (self->access));
  return TRUE;
}

static gboolean
handle_set_access (MarinaDBusDisk *iface, GDBusMethodInvocation *invocation, GVariant *access)
{
  MarinaDisk *self = MARINA_DISK (iface);
  g_autoptr(GPtrArray) list = marina_access_list_from_variant (access);
  g_autoptr(GPtrArray) old = g_ptr_array_ref (self->access);
  GError *error = NULL;

  if (!marina_access_list_validate (list, MARINA_ACCESS_SCOPE_OBJECT, &error) ||
      !marina_access_list_check_accounts (list, &error))
    {
      g_dbus_method_invocation_take_error (invocation, error);
      return TRUE;
    }
  marina_disk_set_access (self, g_steal_pointer (&list));
  if (!marina_disks_save (self->owner, &error))
    {
      marina_disk_set_access (self, g_steal_pointer (&old));  /* nothing half-changed */
      g_dbus_method_invocation_take_error (invocation, error);
      return TRUE;
    }
  marina_dbus_disk_complete_set_access (iface, invocation);
  return TRUE;
}

/* Completes a call that answers with a job; takes @error. */
static void
complete_with_job (MarinaDisk *self, GDBusMethodInvocation *invocation, MarinaJob *job,
                   GError *error)
{
  if (job == NULL)
    g_dbus_method_invocation_take_error (invocation, error);
  else
    g_dbus_method_invocation_return_value (invocation,
                                           g_variant_new ("(o)", marina_disks_add_job (self->owner,
                                                                                       job)));
}

static gboolean
handle_merge (MarinaDBusDisk *iface, GDBusMethodInvocation *invocation)
{
  MarinaDisk *self = MARINA_DISK (iface);
  GError *error = NULL;
  MarinaJob *job = marina_disks_merge (self->owner, self, &error);

  complete_with_job (self, invocation, job, error);
  return TRUE;
}

static gboolean
handle_merge_to (MarinaDBusDisk *iface, GDBusMethodInvocation *invocation, const char *path)
{
  MarinaDisk *self = MARINA_DISK (iface);
  GError *error = NULL;
  MarinaJob *job = NULL;

  marina_disks_merge_to (self->owner, self, path, &job, &error);
  complete_with_job (self, invocation, job, error);
  return TRUE;
}

static gboolean
handle_compact (MarinaDBusDisk *iface, GDBusMethodInvocation *invocation)
{
  MarinaDisk *self = MARINA_DISK (iface);
  GError *error = NULL;
  MarinaJob *job = marina_disks_compact (self->owner, self, &error);

  complete_with_job (self, invocation, job, error);
  return TRUE;
}

static gboolean
handle_resize (MarinaDBusDisk *iface, GDBusMethodInvocation *invocation, guint64 size)
{
  MarinaDisk *self = MARINA_DISK (iface);
  GError *error = NULL;
  MarinaJob *job = marina_disks_resize (self->owner, self, size, &error);

  complete_with_job (self, invocation, job, error);
  return TRUE;
}

static void
marina_disk_iface_init (MarinaDBusDiskIface *iface)
{
  iface->handle_get_access = handle_get_access;
  iface->handle_set_access = handle_set_access;
  iface->handle_inspect = handle_inspect;
  iface->handle_convert = handle_convert;
  iface->handle_merge = handle_merge;
  iface->handle_merge_to = handle_merge_to;
  iface->handle_compact = handle_compact;
  iface->handle_resize = handle_resize;
  iface->handle_delete = handle_delete;
}

static void
marina_disk_finalize (GObject *object)
{
  MarinaDisk *self = MARINA_DISK (object);

  g_free (self->id);
  g_free (self->object_path);
  g_ptr_array_unref (self->access);
  G_OBJECT_CLASS (marina_disk_parent_class)->finalize (object);
}

static void
marina_disk_class_init (MarinaDiskClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = marina_disk_finalize;
  marina_authorizer_guard_class (G_DBUS_INTERFACE_SKELETON_CLASS (klass));
}

static void
marina_disk_init (MarinaDisk *self)
{
  self->access = marina_access_list_new ();
}

MarinaDisk *
marina_disk_new (MarinaDisks *owner, const char *id, const char *path)
{
  MarinaDisk *self = g_object_new (MARINA_TYPE_DISK, NULL);
  MarinaDBusDisk *iface = MARINA_DBUS_DISK (self);

  self->owner = owner;
  self->id = g_strdup (id);
  self->object_path = g_strconcat (MARINA_DISK_PATH_PREFIX, id, NULL);
  marina_dbus_disk_set_path (iface, path);
  marina_dbus_disk_set_format (iface, "raw");
  marina_dbus_disk_set_type_ (iface, "fixed");
  marina_dbus_disk_set_parent (iface, "/");
  marina_dbus_disk_set_parent_path (iface, "");
  marina_dbus_disk_set_attached_to (iface, (const char *const[]) { NULL });
  return self;
}
