/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define MARINA_TYPE_SERIAL_VIEW (marina_serial_view_get_type ())
G_DECLARE_FINAL_TYPE (MarinaSerialView, marina_serial_view, MARINA, SERIAL_VIEW, GtkWidget)

GtkWidget *marina_serial_view_new          (void);
void       marina_serial_view_open_fd      (MarinaSerialView *self,
                                            int               fd);
void       marina_serial_view_close        (MarinaSerialView *self);
gboolean   marina_serial_view_is_connected (MarinaSerialView *self);
void       marina_serial_view_send         (MarinaSerialView *self,
                                            const char       *text,
                                            gssize            length);

G_END_DECLS
