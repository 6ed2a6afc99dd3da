/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

guint16 marina_vnc_keymap_scancode_from_evdev (guint evdev_code);
guint16 marina_vnc_keymap_scancode_from_gdk   (guint hardware_keycode);

G_END_DECLS
