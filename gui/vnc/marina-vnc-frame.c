/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-vnc"
#include "config.h"

#include <math.h>
#include <string.h>

#include "marina-vnc-frame.h"

/* The guest's screen as libgvnc writes it, and as GTK draws it.
 *
 * GTK 4.8 cannot update part of a texture, so the screen is cut into
 * full-width stripes, each its own GdkMemoryTexture. An update from the guest
 * only marks stripes dirty; the next snapshot re-creates those and re-uses
 * the rest, so a blinking text cursor uploads one stripe, not the frame, and
 * many small updates within one frame cost one upload each stripe. */

#define STRIPE_ROWS 32
#define BYTES_PER_PIXEL 4

struct _MarinaVncFrame {
  GObject parent_instance;
  guint width;
  guint height;
  guint8 *pixels;          /* written by libgvnc; its alpha byte is junk */
  VncFramebuffer *framebuffer;
  GdkTexture **stripes;
  gboolean *dirty;
  guint n_stripes;
  guint uploads;           /* stripes uploaded so far, for benchmarks */
};

G_DEFINE_FINAL_TYPE (MarinaVncFrame, marina_vnc_frame, G_TYPE_OBJECT)

/* B, G, R, unused in memory: what GDK's fastest format expects. */
static const VncPixelFormat local_format = {
  .bits_per_pixel = 32,
  .depth = 24,
  .byte_order = G_BYTE_ORDER,
  .true_color_flag = 1,
  .red_max = 255,
  .green_max = 255,
  .blue_max = 255,
  .red_shift = 16,
  .green_shift = 8,
  .blue_shift = 0,
};

#if G_BYTE_ORDER == G_LITTLE_ENDIAN
#define TEXTURE_FORMAT GDK_MEMORY_B8G8R8A8_PREMULTIPLIED
#else
#define TEXTURE_FORMAT GDK_MEMORY_A8R8G8B8_PREMULTIPLIED
#endif

const VncPixelFormat *
marina_vnc_frame_get_local_format (void)
{
  return &local_format;
}

static void
marina_vnc_frame_finalize (GObject *object)
{
  MarinaVncFrame *self = MARINA_VNC_FRAME (object);

  for (guint i = 0; i < self->n_stripes; i++)
    g_clear_object (&self->stripes[i]);
  g_free (self->stripes);
  g_free (self->dirty);
  g_clear_object (&self->framebuffer);
  g_free (self->pixels);
  G_OBJECT_CLASS (marina_vnc_frame_parent_class)->finalize (object);
}

static void
marina_vnc_frame_class_init (MarinaVncFrameClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = marina_vnc_frame_finalize;
}

static void
marina_vnc_frame_init (MarinaVncFrame *self)
{
}

MarinaVncFrame *
marina_vnc_frame_new (guint16 width, guint16 height, const VncPixelFormat *remote_format)
{
  MarinaVncFrame *self = g_object_new (MARINA_TYPE_VNC_FRAME, NULL);
  int rowstride = width * BYTES_PER_PIXEL;

  self->width = width;
  self->height = height;
  self->pixels = g_malloc0 ((gsize) rowstride * height);
  self->framebuffer = VNC_FRAMEBUFFER (vnc_base_framebuffer_new (self->pixels, width, height,
                                                                  rowstride, &local_format,
                                                                  remote_format));
  self->n_stripes = (height + STRIPE_ROWS - 1) / STRIPE_ROWS;
  self->stripes = g_new0 (GdkTexture *, self->n_stripes);
  self->dirty = g_new (gboolean, self->n_stripes);
  for (guint i = 0; i < self->n_stripes; i++)
    self->dirty[i] = TRUE;
  return self;
}

VncFramebuffer *
marina_vnc_frame_get_framebuffer (MarinaVncFrame *self)
{
  return self->framebuffer;
}

guint
marina_vnc_frame_get_width (MarinaVncFrame *self)
{
  return self->width;
}

guint
marina_vnc_frame_get_height (MarinaVncFrame *self)
{
  return self->height;
}

guint
marina_vnc_frame_get_uploads (MarinaVncFrame *self)
{
  return self->uploads;
}

void
marina_vnc_frame_damage (MarinaVncFrame *self, guint x, guint y, guint width, guint height)
{
  guint last;

  if (height == 0 || y >= self->height)
    return;
  last = MIN (y + height, self->height) - 1;
  for (guint i = y / STRIPE_ROWS; i <= last / STRIPE_ROWS; i++)
    self->dirty[i] = TRUE;
}

/* Copies rows [first, first + rows) and makes them opaque: libgvnc leaves
 * the fourth byte of each pixel at zero, which GDK would read as alpha. */
static GdkTexture *
texture_from_rows (MarinaVncFrame *self, guint first, guint rows)
{
  gsize n_pixels = (gsize) self->width * rows;
  const guint32 *src = (const guint32 *) (self->pixels + (gsize) first * self->width * BYTES_PER_PIXEL);
  guint32 *copy = g_new (guint32, n_pixels);
  g_autoptr(GBytes) bytes = NULL;

  for (gsize i = 0; i < n_pixels; i++)
    copy[i] = src[i] | 0xff000000u;
  bytes = g_bytes_new_take (copy, n_pixels * sizeof (guint32));
  return gdk_memory_texture_new (self->width, rows, TEXTURE_FORMAT, bytes,
                                 self->width * BYTES_PER_PIXEL);
}

static guint
stripe_rows (MarinaVncFrame *self, guint stripe)
{
  return MIN (STRIPE_ROWS, self->height - stripe * STRIPE_ROWS);
}

static void
upload_dirty_stripes (MarinaVncFrame *self)
{
  for (guint i = 0; i < self->n_stripes; i++)
    {
      if (!self->dirty[i])
        continue;
      g_set_object (&self->stripes[i], NULL);
      self->stripes[i] = texture_from_rows (self, i * STRIPE_ROWS, stripe_rows (self, i));
      self->dirty[i] = FALSE;
      self->uploads++;
    }
}

/* Rounds to the device pixel grid, so that neighbouring stripes share an
 * edge exactly and no seam shows when the frame is scaled. */
static float
snap (double value, int scale_factor)
{
  return (float) (round (value * scale_factor) / scale_factor);
}

void
marina_vnc_frame_snapshot (MarinaVncFrame *self, GtkSnapshot *snapshot,
                           const graphene_rect_t *dest, int scale_factor)
{
  double row_height = dest->size.height / self->height;
  float left = snap (dest->origin.x, scale_factor);
  float right = snap (dest->origin.x + dest->size.width, scale_factor);

  upload_dirty_stripes (self);
  for (guint i = 0; i < self->n_stripes; i++)
    {
      float top = snap (dest->origin.y + i * STRIPE_ROWS * row_height, scale_factor);
      float bottom = snap (dest->origin.y + (i * STRIPE_ROWS + stripe_rows (self, i)) * row_height,
                           scale_factor);

      gtk_snapshot_append_texture (snapshot, self->stripes[i],
                                   &GRAPHENE_RECT_INIT (left, top, right - left, bottom - top));
    }
}

/* The whole frame as one texture, for screenshots. */
GdkTexture *
marina_vnc_frame_to_texture (MarinaVncFrame *self)
{
  return texture_from_rows (self, 0, self->height);
}
