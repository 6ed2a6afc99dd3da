/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>

#include "marina-error.h"
#include "marina-image.h"
#include "marina-vhd.h"

/* VHD footers and dynamic headers built byte by byte from the
 * specification, so that the parser is checked against the format rather
 * than against QEMU's reading of it (the integration tests do that). */

#define MIB (G_GUINT64_CONSTANT (1024) * 1024)

static void
put_be16 (guint8 *p, guint16 v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

static void
put_be32 (guint8 *p, guint32 v)
{
  put_be16 (p, v >> 16);
  put_be16 (p + 2, v & 0xffff);
}

static void
put_be64 (guint8 *p, guint64 v)
{
  put_be32 (p, v >> 32);
  put_be32 (p + 4, v & 0xffffffff);
}

static void
seal (guint8 *data, gsize length, gsize checksum_offset)
{
  put_be32 (data + checksum_offset, 0);
  put_be32 (data + checksum_offset, marina_vhd_checksum (data, length, checksum_offset));
}

static void
make_footer (guint8 footer[512], MarinaVhdType type, guint64 size, guint64 data_offset)
{
  static const guint8 uuid[16] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                                   1, 2, 3, 4, 5, 6, 7, 8 };

  memset (footer, 0, 512);
  memcpy (footer, "conectix", 8);
  put_be32 (footer + 8, 2);
  put_be32 (footer + 12, 0x00010000);
  put_be64 (footer + 16, data_offset);
  put_be32 (footer + 24, 86400);  /* 2000-01-02 */
  memcpy (footer + 28, "qem2", 4);
  put_be32 (footer + 32, 0x00050003);
  memcpy (footer + 36, "Wi2k", 4);
  put_be64 (footer + 40, size);
  put_be64 (footer + 48, size);
  put_be16 (footer + 56, 65535);
  footer[58] = 16;
  footer[59] = 255;
  put_be32 (footer + 60, type);
  memcpy (footer + 68, uuid, 16);
  seal (footer, 512, 64);
}

static void
test_footer_parses (void)
{
  guint8 data[512];
  MarinaVhdFooter footer;
  g_autoptr(GError) error = NULL;
  g_autofree char *uuid = NULL;

  make_footer (data, MARINA_VHD_TYPE_DYNAMIC, 100 * MIB, 512);
  g_assert_true (marina_vhd_footer_parse (data, sizeof data, &footer, &error));
  g_assert_no_error (error);
  g_assert_cmpint (footer.disk_type, ==, MARINA_VHD_TYPE_DYNAMIC);
  g_assert_cmpuint (footer.current_size, ==, 100 * MIB);
  g_assert_cmpuint (footer.data_offset, ==, 512);
  g_assert_cmpstr (footer.creator_app, ==, "qem2");
  g_assert_cmpstr (footer.creator_os, ==, "Wi2k");
  g_assert_cmpuint (footer.cylinders, ==, 65535);
  g_assert_cmpuint (footer.heads, ==, 16);
  g_assert_cmpuint (footer.sectors, ==, 255);
  g_assert_cmpint (marina_vhd_time_to_unix (footer.timestamp), ==, 946684800 + 86400);
  uuid = marina_vhd_uuid_to_string (footer.uuid);
  g_assert_cmpstr (uuid, ==, "12345678-9abc-def0-0102-030405060708");
}

static void
expect_refused (const guint8 *data, const char *fragment)
{
  MarinaVhdFooter footer;
  g_autoptr(GError) error = NULL;

  g_assert_false (marina_vhd_footer_parse (data, 512, &footer, &error));
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, fragment) == NULL)
    g_error ("'%s' does not say '%s'", error->message, fragment);
}

static void
test_footer_refusals (void)
{
  guint8 data[512];

  make_footer (data, MARINA_VHD_TYPE_FIXED, 64 * MIB, G_MAXUINT64);
  data[100] ^= 1;  /* a flipped bit in the reserved area */
  expect_refused (data, "checksum");
  make_footer (data, MARINA_VHD_TYPE_FIXED, 64 * MIB, G_MAXUINT64);
  data[0] = 'C';
  expect_refused (data, "conectix");
  make_footer (data, 5, 64 * MIB, 512);
  expect_refused (data, "disk type 5");
  make_footer (data, MARINA_VHD_TYPE_FIXED, 64 * MIB + 100, G_MAXUINT64);
  expect_refused (data, "multiple of 512");
  make_footer (data, MARINA_VHD_TYPE_FIXED, 64 * MIB, 512);
  expect_refused (data, "must not have");
  make_footer (data, MARINA_VHD_TYPE_FIXED, 64 * MIB, G_MAXUINT64);
  data[58] = 0;  /* no heads */
  seal (data, 512, 64);
  expect_refused (data, "geometry 65535/0/255");
  make_footer (data, MARINA_VHD_TYPE_DYNAMIC, 64 * MIB, G_MAXUINT64);
  expect_refused (data, "needs");
}

static void
put_utf16be (guint8 *p, const char *text)
{
  for (guint i = 0; text[i]; i++)
    put_be16 (p + 2 * i, (guchar) text[i]);
}

/* A differencing VHD as Virtual PC writes one: footer copy, dynamic header
 * naming the parent, a W2ru locator, an empty block table, footer. */
static char *
write_differencing_vhd (const char *dir, guint32 header_checksum_damage)
{
  const gsize locator_at = 512 + 1024;
  const gsize table_at = locator_at + 512;
  const gsize size = table_at + 512 + 512;
  g_autofree guint8 *file = g_malloc0 (size);
  guint8 *header = file + 512;
  const char *relative = ".\\base.vhd";
  char *path = g_build_filename (dir, "child.vhd", NULL);

  make_footer (file, MARINA_VHD_TYPE_DIFFERENCING, 32 * MIB, 512);
  memcpy (file + size - 512, file, 512);
  memcpy (header, "cxsparse", 8);
  put_be64 (header + 8, G_MAXUINT64);
  put_be64 (header + 16, table_at);
  put_be32 (header + 24, 0x00010000);
  put_be32 (header + 28, 16);
  put_be32 (header + 32, 2 * MIB);
  memset (header + 40, 0xab, 16);
  put_be32 (header + 56, 4242);
  put_utf16be (header + 64, "base.vhd");
  put_be32 (header + 576, 0x57327275);  /* W2ru */
  put_be32 (header + 580, 512);
  put_be32 (header + 584, 2 * strlen (relative));
  put_be64 (header + 592, locator_at);
  for (guint i = 0; relative[i]; i++)
    file[locator_at + 2 * i] = relative[i];  /* UTF-16LE */
  memset (file + table_at, 0xff, 512);
  seal (header, 1024, 36);
  put_be32 (header + 36, marina_vhd_checksum (header, 1024, 36) + header_checksum_damage);
  g_assert_true (g_file_set_contents (path, (char *) file, size, NULL));
  return path;
}

static void
test_dynamic_header (void)
{
  g_autofree char *dir = g_dir_make_tmp ("marina-vhd-XXXXXX", NULL);
  g_autofree char *path = write_differencing_vhd (dir, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaVhd) vhd = marina_vhd_read (path, &error);
  g_autofree char *parent_uuid = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (vhd->header);
  g_assert_cmpint (vhd->footer.disk_type, ==, MARINA_VHD_TYPE_DIFFERENCING);
  g_assert_cmpstr (vhd->header->parent_name, ==, "base.vhd");
  g_assert_cmpuint (vhd->header->parent_timestamp, ==, 4242);
  g_assert_cmpuint (vhd->header->block_size, ==, 2 * MIB);
  parent_uuid = marina_vhd_uuid_to_string (vhd->header->parent_uuid);
  g_assert_cmpstr (parent_uuid, ==, "abababab-abab-abab-abab-abababababab");
  g_assert_cmpuint (vhd->parent_locators->len, ==, 1);
  g_assert_cmpstr (vhd->parent_locators->pdata[0], ==, ".\\base.vhd");
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_dynamic_header_damaged (void)
{
  g_autofree char *dir = g_dir_make_tmp ("marina-vhd-XXXXXX", NULL);
  g_autofree char *path = write_differencing_vhd (dir, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaVhd) vhd = marina_vhd_read (path, &error);

  g_assert_null (vhd);
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "dynamic header's checksum"));
  g_unlink (path);
  g_rmdir (dir);
}

/* The image reader names a VHD's parent next to the child, from the
 * Windows-style relative locator. */
static void
test_image_info_differencing (void)
{
  g_autofree char *dir = g_dir_make_tmp ("marina-vhd-XXXXXX", NULL);
  g_autofree char *path = write_differencing_vhd (dir, 0);
  g_autofree char *base = g_build_filename (dir, "base.vhd", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaImageInfo) info = NULL;

  g_assert_true (g_file_set_contents (base, "", 0, NULL));
  info = marina_image_info_read (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->format, ==, "vhd");
  g_assert_cmpstr (info->type, ==, "differencing");
  g_assert_cmpuint (info->virtual_size, ==, 32 * MIB);
  g_assert_cmpstr (info->parent_path, ==, base);
  /* QEMU would read it without its parent: refused for running and copying. */
  g_assert_false (marina_image_check_qemu_reads (path, &error));
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "differencing VHD"));
  g_assert_true (marina_image_check_qemu_reads (base, NULL));
  g_unlink (base);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_image_info_fixed (void)
{
  g_autofree char *dir = g_dir_make_tmp ("marina-vhd-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "fixed.vhd", NULL);
  g_autofree guint8 *file = g_malloc0 (MIB + 512);
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaImageInfo) info = NULL;

  make_footer (file + MIB, MARINA_VHD_TYPE_FIXED, MIB, G_MAXUINT64);
  g_assert_true (g_file_set_contents (path, (char *) file, MIB + 512, NULL));
  info = marina_image_info_read (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->format, ==, "vhd");
  g_assert_cmpstr (info->type, ==, "fixed");
  g_assert_cmpuint (info->virtual_size, ==, MIB);
  g_assert_null (info->parent_path);
  g_unlink (path);
  g_rmdir (dir);
}

/* The first 32 bytes of a qcow2 header and a backing file name after them. */
static void
test_image_info_qcow2_backing (void)
{
  g_autofree char *dir = g_dir_make_tmp ("marina-vhd-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "child.qcow2", NULL);
  g_autofree char *base = g_build_filename (dir, "base.vhd", NULL);
  guint8 header[512] = { 'Q', 'F', 'I', 0xfb };
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaImageInfo) info = NULL;

  put_be32 (header + 4, 3);
  put_be64 (header + 8, 72);      /* backing file name offset */
  put_be32 (header + 16, 8);      /* its length */
  put_be32 (header + 20, 16);     /* cluster bits */
  put_be64 (header + 24, 5 * MIB);
  memcpy (header + 72, "base.vhd", 8);
  g_assert_true (g_file_set_contents (path, (char *) header, sizeof header, NULL));
  info = marina_image_info_read (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->format, ==, "qcow2");
  g_assert_cmpstr (info->type, ==, "differencing");
  g_assert_cmpuint (info->virtual_size, ==, 5 * MIB);
  g_assert_cmpstr (info->parent_path, ==, base);
  g_clear_pointer (&info, marina_image_info_free);
  /* A name longer than the file claims to hold is refused, not read past. */
  put_be32 (header + 16, 100000);
  g_assert_true (g_file_set_contents (path, (char *) header, sizeof header, NULL));
  info = marina_image_info_read (path, &error);
  g_assert_null (info);
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vhd/footer/parses", test_footer_parses);
  g_test_add_func ("/vhd/footer/refusals", test_footer_refusals);
  g_test_add_func ("/vhd/dynamic-header/parses", test_dynamic_header);
  g_test_add_func ("/vhd/dynamic-header/damaged", test_dynamic_header_damaged);
  g_test_add_func ("/image/info/vhd-differencing", test_image_info_differencing);
  g_test_add_func ("/image/info/vhd-fixed", test_image_info_fixed);
  g_test_add_func ("/image/info/qcow2-backing", test_image_info_qcow2_backing);
  return g_test_run ();
}
