/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>
#include <gvnc.h>

G_BEGIN_DECLS

#define MARINA_TYPE_VNC_FRAME (marina_vnc_frame_get_type ())
G_DECLARE_FINAL_TYPE (MarinaVncFrame, marina_vnc_frame, MARINA, VNC_FRAME, GObject)

MarinaVncFrame *marina_vnc_frame_new             (guint16               width,
                                                  guint16               height,
                                                  const VncPixelFormat *remote_format);
const VncPixelFormat *marina_vnc_frame_get_local_format (void);
VncFramebuffer *marina_vnc_frame_get_framebuffer (MarinaVncFrame *self);
guint           marina_vnc_frame_get_width       (MarinaVncFrame *self);
guint           marina_vnc_frame_get_height      (MarinaVncFrame *self);
void            marina_vnc_frame_damage          (MarinaVncFrame *self,
                                                  guint           x,
                                                  guint           y,
                                                  guint           width,
                                                  guint           height);
guint           marina_vnc_frame_get_uploads     (MarinaVncFrame *self);
void            marina_vnc_frame_snapshot        (MarinaVncFrame        *self,
                                                  GtkSnapshot           *snapshot,
                                                  const graphene_rect_t *dest,
                                                  int                    scale_factor);
GdkTexture     *marina_vnc_frame_to_texture      (MarinaVncFrame *self);

G_END_DECLS
