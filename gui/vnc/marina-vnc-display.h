/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define MARINA_TYPE_VNC_DISPLAY (marina_vnc_display_get_type ())
G_DECLARE_FINAL_TYPE (MarinaVncDisplay, marina_vnc_display, MARINA, VNC_DISPLAY, GtkWidget)

GtkWidget  *marina_vnc_display_new                (void);
void        marina_vnc_display_set_credentials    (MarinaVncDisplay *self,
                                                   const char       *username,
                                                   const char       *password);
gboolean    marina_vnc_display_open_fd            (MarinaVncDisplay *self,
                                                   int               fd,
                                                   GError          **error);
void        marina_vnc_display_close              (MarinaVncDisplay *self);
gboolean    marina_vnc_display_is_connected       (MarinaVncDisplay *self);
void        marina_vnc_display_send_keys          (MarinaVncDisplay *self,
                                                   const guint16    *scancodes,
                                                   gsize             n_scancodes);
void        marina_vnc_display_set_scaling        (MarinaVncDisplay *self,
                                                   gboolean          scaling);
gboolean    marina_vnc_display_get_scaling        (MarinaVncDisplay *self);
gboolean    marina_vnc_display_get_grabbed        (MarinaVncDisplay *self);
void        marina_vnc_display_release_grab       (MarinaVncDisplay *self);
const char *marina_vnc_display_get_release_hint   (MarinaVncDisplay *self);
int         marina_vnc_display_get_desktop_width  (MarinaVncDisplay *self);
int         marina_vnc_display_get_desktop_height (MarinaVncDisplay *self);
guint       marina_vnc_display_get_frames         (MarinaVncDisplay *self);
GdkTexture *marina_vnc_display_get_texture        (MarinaVncDisplay *self);

G_END_DECLS
