/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-vnc"
#include "config.h"

#include "marina-vnc-keymap.h"

/* Keys travel as positions, not as characters: QEMU's extended key event
 * takes the PC's XT (set 1) scancode, with the 0xe0 prefix folded into bit 7
 * ("qnum"). The guest's own layout then turns positions into characters,
 * which is the only way a German or French guest gets the keys printed on
 * the user's keyboard, AltGr included. */

/* Linux input codes 1 to 84 equal their set 1 scancodes. */
#define IDENTICAL_LAST 84

static const struct {
  guint16 evdev;
  guint16 qnum;
} extended_keys[] = {
  { 85, 0x76 },  /* KEY_ZENKAKUHANKAKU */
  { 86, 0x56 },  /* KEY_102ND: the key left of Z on ISO keyboards */
  { 87, 0x57 },  /* KEY_F11 */
  { 88, 0x58 },  /* KEY_F12 */
  { 89, 0x73 },  /* KEY_RO */
  { 90, 0x78 },  /* KEY_KATAKANA */
  { 91, 0x77 },  /* KEY_HIRAGANA */
  { 92, 0x79 },  /* KEY_HENKAN */
  { 93, 0x70 },  /* KEY_KATAKANAHIRAGANA */
  { 94, 0x7b },  /* KEY_MUHENKAN */
  { 95, 0x5c },  /* KEY_KPJPCOMMA */
  { 96, 0x9c },  /* KEY_KPENTER */
  { 97, 0x9d },  /* KEY_RIGHTCTRL */
  { 98, 0xb5 },  /* KEY_KPSLASH */
  { 99, 0xb7 },  /* KEY_SYSRQ */
  { 100, 0xb8 }, /* KEY_RIGHTALT (AltGr) */
  { 102, 0xc7 }, /* KEY_HOME */
  { 103, 0xc8 }, /* KEY_UP */
  { 104, 0xc9 }, /* KEY_PAGEUP */
  { 105, 0xcb }, /* KEY_LEFT */
  { 106, 0xcd }, /* KEY_RIGHT */
  { 107, 0xcf }, /* KEY_END */
  { 108, 0xd0 }, /* KEY_DOWN */
  { 109, 0xd1 }, /* KEY_PAGEDOWN */
  { 110, 0xd2 }, /* KEY_INSERT */
  { 111, 0xd3 }, /* KEY_DELETE */
  { 113, 0xa0 }, /* KEY_MUTE */
  { 114, 0xae }, /* KEY_VOLUMEDOWN */
  { 115, 0xb0 }, /* KEY_VOLUMEUP */
  { 116, 0xde }, /* KEY_POWER */
  { 117, 0x59 }, /* KEY_KPEQUAL */
  { 119, 0xc6 }, /* KEY_PAUSE */
  { 121, 0x7e }, /* KEY_KPCOMMA */
  { 122, 0xf2 }, /* KEY_HANGEUL */
  { 123, 0xf1 }, /* KEY_HANJA */
  { 124, 0x7d }, /* KEY_YEN */
  { 125, 0xdb }, /* KEY_LEFTMETA */
  { 126, 0xdc }, /* KEY_RIGHTMETA */
  { 127, 0xdd }, /* KEY_COMPOSE (menu) */
  { 142, 0xdf }, /* KEY_SLEEP */
  { 143, 0xe3 }, /* KEY_WAKEUP */
};

/* Returns 0 for keys a PC keyboard does not have. */
guint16
marina_vnc_keymap_scancode_from_evdev (guint evdev_code)
{
  if (evdev_code == 0)
    return 0;
  if (evdev_code <= IDENTICAL_LAST)
    return evdev_code;
  for (gsize i = 0; i < G_N_ELEMENTS (extended_keys); i++)
    if (extended_keys[i].evdev == evdev_code)
      return extended_keys[i].qnum;
  return 0;
}

/* X11 (with evdev) and Wayland both number keys as the Linux input code
 * plus 8, a leftover of X's minimum keycode. */
guint16
marina_vnc_keymap_scancode_from_gdk (guint hardware_keycode)
{
  if (hardware_keycode < 8)
    return 0;
  return marina_vnc_keymap_scancode_from_evdev (hardware_keycode - 8);
}
