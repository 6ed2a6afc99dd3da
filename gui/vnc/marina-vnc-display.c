/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-vnc"
#include "config.h"

#include <glib/gi18n.h>

#include <gvnc.h>

#include "marina-vnc-display.h"
#include "marina-vnc-frame.h"
#include "marina-vnc-keymap.h"

#ifdef GDK_WINDOWING_X11
#include <gdk/x11/gdkx.h>
#endif

/* A guest's screen on libgvnc: the framebuffer drawn through MarinaVncFrame,
 * keys sent as scancodes, the pointer as absolute positions (usb-tablet) or,
 * when the guest only has a relative mouse, as motion while grabbed. */

/* QEMU reads a relative motion as the position minus this, once the client
 * has announced the pointer type change pseudo-encoding. */
#define RELATIVE_ORIGIN 0x7fff

#define SCANCODE_LEFT_CTRL 0x1d
#define SCANCODE_LEFT_ALT 0x38

struct _MarinaVncDisplay {
  GtkWidget parent_instance;
  VncConnection *connection;
  MarinaVncFrame *frame;
  GdkCursor *guest_cursor;
  gboolean scaling;
  gboolean absolute;
  gboolean grabbed;
  gboolean initialized;
  gboolean fresh_content;
  guint8 button_mask;
  double last_x, last_y;
  double scroll_dy;
  gboolean pressed[256];
  guint frames;
  guint request_id;
  char *username;  /* for a direct console: SASL's user name, or NULL */
  char *password;  /* for a direct console: its VNC password or SASL's, or NULL */
};

G_DEFINE_FINAL_TYPE (MarinaVncDisplay, marina_vnc_display, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_SCALING, PROP_GRABBED, PROP_CONNECTED, PROP_DESKTOP_WIDTH,
       PROP_DESKTOP_HEIGHT, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { SIGNAL_CONNECTED, SIGNAL_DISCONNECTED, SIGNAL_ERROR, N_SIGNALS };
static guint signals[N_SIGNALS];

static const gint32 encodings[] = {
  /* Lossless only: a console must show the guest's pixels as they are. */
  VNC_CONNECTION_ENCODING_ZRLE,
  VNC_CONNECTION_ENCODING_HEXTILE,
  VNC_CONNECTION_ENCODING_RRE,
  VNC_CONNECTION_ENCODING_COPY_RECT,
  VNC_CONNECTION_ENCODING_RAW,
  VNC_CONNECTION_ENCODING_DESKTOP_RESIZE,
  VNC_CONNECTION_ENCODING_WMVi,
  VNC_CONNECTION_ENCODING_LAST_RECT,
  VNC_CONNECTION_ENCODING_RICH_CURSOR,
  VNC_CONNECTION_ENCODING_XCURSOR,
  VNC_CONNECTION_ENCODING_POINTER_CHANGE,
  VNC_CONNECTION_ENCODING_EXT_KEY_EVENT,
  VNC_CONNECTION_ENCODING_LED_STATE,
  VNC_CONNECTION_ENCODING_DESKTOP_NAME,
};

/* ---- geometry -------------------------------------------------------------- */

/* Where the frame goes in the widget: scaled to fit keeping its aspect, or
 * one guest pixel to one device pixel (not one logical pixel: on a HiDPI
 * screen 1:1 means sharp, not doubled). */
static gboolean
compute_dest (MarinaVncDisplay *self, graphene_rect_t *dest)
{
  double width = gtk_widget_get_width (GTK_WIDGET (self));
  double height = gtk_widget_get_height (GTK_WIDGET (self));
  int scale_factor = gtk_widget_get_scale_factor (GTK_WIDGET (self));
  double frame_width, frame_height, scale;

  if (self->frame == NULL)
    return FALSE;
  frame_width = marina_vnc_frame_get_width (self->frame);
  frame_height = marina_vnc_frame_get_height (self->frame);
  if (self->scaling)
    scale = MIN (width / frame_width, height / frame_height);
  else
    scale = 1.0 / scale_factor;
  graphene_rect_init (dest, MAX (0, (width - frame_width * scale) / 2),
                      MAX (0, (height - frame_height * scale) / 2),
                      frame_width * scale, frame_height * scale);
  return scale > 0;
}

static gboolean
widget_to_frame (MarinaVncDisplay *self, double x, double y, guint16 *frame_x, guint16 *frame_y)
{
  graphene_rect_t dest;
  double fx, fy;

  if (!compute_dest (self, &dest))
    return FALSE;
  fx = (x - dest.origin.x) * marina_vnc_frame_get_width (self->frame) / dest.size.width;
  fy = (y - dest.origin.y) * marina_vnc_frame_get_height (self->frame) / dest.size.height;
  *frame_x = CLAMP (fx, 0, marina_vnc_frame_get_width (self->frame) - 1);
  *frame_y = CLAMP (fy, 0, marina_vnc_frame_get_height (self->frame) - 1);
  return TRUE;
}

/* ---- drawing --------------------------------------------------------------- */

static void
marina_vnc_display_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  MarinaVncDisplay *self = MARINA_VNC_DISPLAY (widget);
  graphene_rect_t dest;

  gtk_snapshot_append_color (snapshot, &(GdkRGBA) { 0, 0, 0, 1 },
                             &GRAPHENE_RECT_INIT (0, 0, gtk_widget_get_width (widget),
                                                  gtk_widget_get_height (widget)));
  if (!compute_dest (self, &dest))
    return;
  marina_vnc_frame_snapshot (self->frame, snapshot, &dest, gtk_widget_get_scale_factor (widget));
  if (self->fresh_content)
    self->frames++;
  self->fresh_content = FALSE;
}

static void
marina_vnc_display_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                            int *minimum, int *natural, int *minimum_baseline,
                            int *natural_baseline)
{
  MarinaVncDisplay *self = MARINA_VNC_DISPLAY (widget);
  int scale_factor = gtk_widget_get_scale_factor (widget);
  int size = 0;

  if (self->frame)
    size = (orientation == GTK_ORIENTATION_HORIZONTAL
            ? marina_vnc_frame_get_width (self->frame)
            : marina_vnc_frame_get_height (self->frame)) / scale_factor;
  *natural = size > 0 ? size : (orientation == GTK_ORIENTATION_HORIZONTAL ? 640 : 480);
  *minimum = self->scaling ? 32 : *natural;
}

/* ---- the connection's events ---------------------------------------------- */

static void
set_frame (MarinaVncDisplay *self, MarinaVncFrame *frame)
{
  g_set_object (&self->frame, frame);
  vnc_connection_set_framebuffer (self->connection, marina_vnc_frame_get_framebuffer (frame));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DESKTOP_WIDTH]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DESKTOP_HEIGHT]);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

static void
new_frame (MarinaVncDisplay *self, guint16 width, guint16 height)
{
  g_autoptr(MarinaVncFrame) frame =
    marina_vnc_frame_new (width, height, vnc_connection_get_pixel_format (self->connection));

  set_frame (self, frame);
  /* The new buffer starts black: ask for all of it, not for changes. */
  vnc_connection_framebuffer_update_request (self->connection, FALSE, 0, 0, width, height);
}

static void
on_vnc_initialized (VncConnection *connection, MarinaVncDisplay *self)
{
  /* Asking for our own pixel layout makes libgvnc's copy a plain memcpy. */
  vnc_connection_set_pixel_format (connection, marina_vnc_frame_get_local_format ());
  vnc_connection_set_encodings (connection, G_N_ELEMENTS (encodings), (gint32 *) encodings);
  self->absolute = vnc_connection_get_abs_pointer (connection);
  self->initialized = TRUE;
  new_frame (self, vnc_connection_get_width (connection), vnc_connection_get_height (connection));
  g_debug ("connected: %dx%d", vnc_connection_get_width (connection),
           vnc_connection_get_height (connection));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
  g_signal_emit (self, signals[SIGNAL_CONNECTED], 0);
}

static void
on_vnc_desktop_resize (VncConnection *connection, guint16 width, guint16 height,
                       MarinaVncDisplay *self)
{
  g_debug ("guest resolution %ux%u", width, height);
  new_frame (self, width, height);
}

static void
on_vnc_pixel_format_changed (VncConnection *connection, VncPixelFormat *format,
                             MarinaVncDisplay *self)
{
  new_frame (self, vnc_connection_get_width (connection), vnc_connection_get_height (connection));
}

/* RFB sends one update per request. Asking again from an idle, once libgvnc
 * has read all that arrived, keeps one request outstanding however many
 * rectangles an update held; QEMU answers it when the screen next changes. */
static void
request_update (MarinaVncDisplay *self)
{
  self->request_id = 0;
  if (!self->initialized || self->frame == NULL)
    return;
  vnc_connection_framebuffer_update_request (self->connection, TRUE, 0, 0,
                                             marina_vnc_frame_get_width (self->frame),
                                             marina_vnc_frame_get_height (self->frame));
}

static void
on_vnc_framebuffer_update (VncConnection *connection, guint16 x, guint16 y, guint16 width,
                           guint16 height, MarinaVncDisplay *self)
{
  if (self->frame == NULL)
    return;
  marina_vnc_frame_damage (self->frame, x, y, width, height);
  self->fresh_content = TRUE;
  /* GTK's frame clock merges every update until the next frame into one draw. */
  gtk_widget_queue_draw (GTK_WIDGET (self));
  if (self->request_id == 0)
    self->request_id = g_idle_add_once ((GSourceOnceFunc) request_update, self);
}

static void
update_cursor (MarinaVncDisplay *self)
{
  if (self->grabbed)
    gtk_widget_set_cursor_from_name (GTK_WIDGET (self), "none");
  else
    gtk_widget_set_cursor (GTK_WIDGET (self), self->guest_cursor);
}

static GdkCursor *
cursor_from_vnc (VncCursor *cursor)
{
  guint16 width = vnc_cursor_get_width (cursor);
  guint16 height = vnc_cursor_get_height (cursor);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GdkTexture) texture = NULL;

  if (width == 0 || height == 0)
    return gdk_cursor_new_from_name ("none", NULL);
  bytes = g_bytes_new (vnc_cursor_get_data (cursor), (gsize) width * height * 4);
  texture = gdk_memory_texture_new (width, height, GDK_MEMORY_R8G8B8A8, bytes, width * 4);
  return gdk_cursor_new_from_texture (texture, vnc_cursor_get_hotx (cursor),
                                      vnc_cursor_get_hoty (cursor), NULL);
}

/* The guest draws no cursor of its own over VNC: show its shape locally so
 * that pointing feels immediate instead of a round trip late. */
static void
on_vnc_cursor_changed (VncConnection *connection, VncCursor *cursor, MarinaVncDisplay *self)
{
  g_clear_object (&self->guest_cursor);
  if (cursor)
    self->guest_cursor = cursor_from_vnc (cursor);
  update_cursor (self);
}

static void
on_vnc_pointer_mode_changed (VncConnection *connection, gboolean absolute,
                             MarinaVncDisplay *self)
{
  g_debug ("pointer mode: %s", absolute ? "absolute" : "relative");
  self->absolute = absolute;
  if (absolute)
    marina_vnc_display_release_grab (self);
}

static gboolean
offers (GValueArray *types, guint type)
{
  for (guint i = 0; i < types->n_values; i++)
    if ((guint) g_value_get_enum (g_value_array_get_nth (types, i)) == type)
      return TRUE;
  return FALSE;
}

/* marinad hands its sockets over with authentication skipped: the bus
 * already decided who may see the console. A direct TCP console offers
 * only VeNCrypt, TLS with x509, and then a password or SASL. */
static void
on_vnc_auth_choose_type (VncConnection *connection, GValueArray *types, MarinaVncDisplay *self)
{
  if (offers (types, VNC_CONNECTION_AUTH_NONE))
    vnc_connection_set_auth_type (connection, VNC_CONNECTION_AUTH_NONE);
  else if (offers (types, VNC_CONNECTION_AUTH_VENCRYPT))
    vnc_connection_set_auth_type (connection, VNC_CONNECTION_AUTH_VENCRYPT);
  else
    vnc_connection_set_auth_type (connection, VNC_CONNECTION_AUTH_VNC);
}

static void
on_vnc_auth_choose_subtype (VncConnection *connection, guint type, GValueArray *subtypes,
                            MarinaVncDisplay *self)
{
  static const guint preferred[] = { VNC_CONNECTION_AUTH_VENCRYPT_X509VNC,
                                     VNC_CONNECTION_AUTH_VENCRYPT_X509SASL,
                                     VNC_CONNECTION_AUTH_VENCRYPT_X509NONE };

  for (guint i = 0; i < G_N_ELEMENTS (preferred); i++)
    if (offers (subtypes, preferred[i]))
      {
        vnc_connection_set_auth_subtype (connection, preferred[i]);
        return;
      }
  g_signal_emit (self, signals[SIGNAL_ERROR], 0,
                 _("The console does not offer TLS with certificates (x509): refusing to "
                   "send a password in the clear"));
  vnc_connection_shutdown (connection);
}

/* CLIENTNAME makes gvnc load the x509 files: the authority from
 * ~/.pki/CA/cacert.pem or SYSCONFDIR/pki/CA/cacert.pem, a client
 * certificate from ~/.pki/marina-console/ when the server wants one. */
static void
on_vnc_auth_credential (VncConnection *connection, GValueArray *credentials,
                        MarinaVncDisplay *self)
{
  for (guint i = 0; i < credentials->n_values; i++)
    {
      int credential = g_value_get_enum (g_value_array_get_nth (credentials, i));
      const char *value = credential == VNC_CONNECTION_CREDENTIAL_PASSWORD ? self->password
                        : credential == VNC_CONNECTION_CREDENTIAL_USERNAME ? self->username
                        : "marina-console";
      if (value == NULL)
        {
          g_signal_emit (self, signals[SIGNAL_ERROR], 0,
                         credential == VNC_CONNECTION_CREDENTIAL_PASSWORD
                           ? _("The console asks for a password (--password-file)")
                           : _("The console asks for a user name (--username)"));
          vnc_connection_shutdown (connection);
          return;
        }
      vnc_connection_set_credential (connection, credential, value);
    }
}

static void
on_vnc_auth_failure (VncConnection *connection, const char *reason, MarinaVncDisplay *self)
{
  g_autofree char *message = g_strdup_printf (_("The console refused the login: %s"), reason);

  g_debug ("error: %s", message);
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, message);
}

void
marina_vnc_display_set_credentials (MarinaVncDisplay *self, const char *username,
                                    const char *password)
{
  g_free (self->username);
  g_free (self->password);
  self->username = g_strdup (username);
  self->password = g_strdup (password);
}

static void
on_vnc_error (VncConnection *connection, const char *message, MarinaVncDisplay *self)
{
  g_debug ("error: %s", message);
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, message);
}

static void
drop_connection (MarinaVncDisplay *self)
{
  g_clear_handle_id (&self->request_id, g_source_remove);
  if (self->connection == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->connection, self);
  vnc_connection_shutdown (self->connection);
  /* libgvnc may still be inside one of its own handlers: let it return first. */
  g_idle_add_once ((GSourceOnceFunc) g_object_unref, g_steal_pointer (&self->connection));
}

static void
on_vnc_disconnected (VncConnection *connection, MarinaVncDisplay *self)
{
  g_debug ("disconnected");
  drop_connection (self);
  self->initialized = FALSE;
  marina_vnc_display_release_grab (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
  g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0);
}

/* ---- keyboard --------------------------------------------------------------- */

static void
send_key (MarinaVncDisplay *self, gboolean down, guint keyval, guint16 scancode)
{
  if (!self->initialized)
    return;
  vnc_connection_key_event (self->connection, down, keyval, scancode);
  if (scancode < G_N_ELEMENTS (self->pressed))
    self->pressed[scancode] = down;
}

/* A key still down when focus leaves would stay down in the guest. */
static void
release_all_keys (MarinaVncDisplay *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->pressed); i++)
    if (self->pressed[i])
      send_key (self, FALSE, 0, i);
}

static gboolean
is_release_combination (MarinaVncDisplay *self, guint16 scancode)
{
  return (scancode == SCANCODE_LEFT_CTRL && self->pressed[SCANCODE_LEFT_ALT]) ||
         (scancode == SCANCODE_LEFT_ALT && self->pressed[SCANCODE_LEFT_CTRL]);
}

static gboolean
on_key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode,
                GdkModifierType state, MarinaVncDisplay *self)
{
  guint16 scancode = marina_vnc_keymap_scancode_from_gdk (keycode);

  if (self->grabbed && is_release_combination (self, scancode))
    {
      release_all_keys (self);
      marina_vnc_display_release_grab (self);
      return TRUE;
    }
  send_key (self, TRUE, keyval, scancode);
  return TRUE;
}

static void
on_key_released (GtkEventControllerKey *controller, guint keyval, guint keycode,
                 GdkModifierType state, MarinaVncDisplay *self)
{
  guint16 scancode = marina_vnc_keymap_scancode_from_gdk (keycode);

  if (scancode < G_N_ELEMENTS (self->pressed) && !self->pressed[scancode])
    return;
  send_key (self, FALSE, keyval, scancode);
}

static void
on_focus_leave (GtkEventControllerFocus *controller, MarinaVncDisplay *self)
{
  release_all_keys (self);
}

/* ---- pointer ---------------------------------------------------------------- */

static void
warp_to_centre (MarinaVncDisplay *self)
{
  self->last_x = gtk_widget_get_width (GTK_WIDGET (self)) / 2.0;
  self->last_y = gtk_widget_get_height (GTK_WIDGET (self)) / 2.0;
#ifdef GDK_WINDOWING_X11
  {
    GtkNative *native = gtk_widget_get_native (GTK_WIDGET (self));
    GdkSurface *surface = gtk_native_get_surface (native);
    int scale = gdk_surface_get_scale_factor (surface);
    double x, y, nx, ny;

    if (!GDK_IS_X11_SURFACE (surface))
      return;
    gtk_native_get_surface_transform (native, &nx, &ny);
    if (!gtk_widget_translate_coordinates (GTK_WIDGET (self), GTK_WIDGET (native),
                                           self->last_x, self->last_y, &x, &y))
      return;
    XWarpPointer (GDK_SURFACE_XDISPLAY (surface), None, GDK_SURFACE_XID (surface), 0, 0, 0, 0,
                  (int) ((x + nx) * scale), (int) ((y + ny) * scale));
  }
#endif
}

static void
send_relative (MarinaVncDisplay *self, double x, double y)
{
  int dx = (int) (x - self->last_x);
  int dy = (int) (y - self->last_y);

  if (dx == 0 && dy == 0)
    return;
  vnc_connection_pointer_event (self->connection, self->button_mask,
                                RELATIVE_ORIGIN + CLAMP (dx, -0x7fff, 0x7fff),
                                RELATIVE_ORIGIN + CLAMP (dy, -0x7fff, 0x7fff));
  warp_to_centre (self);
}

static void
send_pointer (MarinaVncDisplay *self, double x, double y)
{
  guint16 frame_x, frame_y;

  if (!self->initialized)
    return;
  if (!self->absolute)
    {
      if (self->grabbed)
        send_relative (self, x, y);
      return;
    }
  if (widget_to_frame (self, x, y, &frame_x, &frame_y))
    vnc_connection_pointer_event (self->connection, self->button_mask, frame_x, frame_y);
  self->last_x = x;
  self->last_y = y;
}

static void
grab (MarinaVncDisplay *self, GdkEvent *event)
{
  GdkSurface *surface = gtk_native_get_surface (gtk_widget_get_native (GTK_WIDGET (self)));

  self->grabbed = TRUE;
  /* Alt+Tab and friends belong to the guest while it holds the pointer. */
  if (GDK_IS_TOPLEVEL (surface))
    gdk_toplevel_inhibit_system_shortcuts (GDK_TOPLEVEL (surface), event);
  gtk_widget_grab_focus (GTK_WIDGET (self));
  update_cursor (self);
  warp_to_centre (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_GRABBED]);
}

/* Buttons 1, 2, 3 are bits 0, 1, 2 of RFB's mask; the wheel is 3 to 6. */
static guint8
button_bit (guint button)
{
  return button >= 1 && button <= 3 ? 1 << (button - 1) : 0;
}

static void
handle_button (MarinaVncDisplay *self, GdkEvent *event, gboolean down, double x, double y)
{
  guint8 bit = button_bit (gdk_button_event_get_button (event));

  if (down && !self->absolute && !self->grabbed && self->initialized)
    return grab (self, event);
  if (down)
    gtk_widget_grab_focus (GTK_WIDGET (self));
  self->button_mask = down ? self->button_mask | bit : self->button_mask & ~bit;
  send_pointer (self, x, y);
}

static void
click_wheel (MarinaVncDisplay *self, guint8 bit, double x, double y)
{
  guint8 saved = self->button_mask;

  self->button_mask |= bit;
  send_pointer (self, x, y);
  self->button_mask = saved;
  send_pointer (self, x, y);
}

static guint8
wheel_bit (GdkEvent *event, MarinaVncDisplay *self)
{
  double dx, dy;

  switch (gdk_scroll_event_get_direction (event))
    {
    case GDK_SCROLL_UP: return 1 << 3;
    case GDK_SCROLL_DOWN: return 1 << 4;
    case GDK_SCROLL_LEFT: return 1 << 5;
    case GDK_SCROLL_RIGHT: return 1 << 6;
    case GDK_SCROLL_SMOOTH:
    default:
      break;
    }
  /* Touchpads scroll smoothly: one wheel click per unit travelled. */
  gdk_scroll_event_get_deltas (event, &dx, &dy);
  self->scroll_dy += dy;
  if (self->scroll_dy <= -1 || self->scroll_dy >= 1)
    {
      guint8 bit = self->scroll_dy < 0 ? 1 << 3 : 1 << 4;
      self->scroll_dy = 0;
      return bit;
    }
  return 0;
}

static gboolean
on_pointer_event (GtkEventControllerLegacy *controller, GdkEvent *event, MarinaVncDisplay *self)
{
  GtkNative *native = gtk_widget_get_native (GTK_WIDGET (self));
  double sx, sy, nx, ny, x, y;
  GdkEventType type;
  guint8 bit;

  if (!gdk_event_get_position (event, &sx, &sy))
    return FALSE;
  /* Legacy events carry surface coordinates. */
  gtk_native_get_surface_transform (native, &nx, &ny);
  if (!gtk_widget_translate_coordinates (GTK_WIDGET (native), GTK_WIDGET (self), sx - nx, sy - ny,
                                         &x, &y))
    return FALSE;
  type = gdk_event_get_event_type (event);
  if (type == GDK_MOTION_NOTIFY)
    send_pointer (self, x, y);
  else if (type == GDK_BUTTON_PRESS || type == GDK_BUTTON_RELEASE)
    handle_button (self, event, type == GDK_BUTTON_PRESS, x, y);
  else if (type == GDK_SCROLL && (bit = wheel_bit (event, self)) != 0)
    click_wheel (self, bit, x, y);
  else
    return type == GDK_SCROLL;
  return TRUE;
}

/* ---- GObject ------------------------------------------------------------- */

static void
marina_vnc_display_get_property (GObject *object, guint prop_id, GValue *value,
                                 GParamSpec *pspec)
{
  MarinaVncDisplay *self = MARINA_VNC_DISPLAY (object);

  switch (prop_id)
    {
    case PROP_SCALING:
      g_value_set_boolean (value, self->scaling);
      break;
    case PROP_GRABBED:
      g_value_set_boolean (value, self->grabbed);
      break;
    case PROP_CONNECTED:
      g_value_set_boolean (value, self->initialized);
      break;
    case PROP_DESKTOP_WIDTH:
      g_value_set_int (value, marina_vnc_display_get_desktop_width (self));
      break;
    case PROP_DESKTOP_HEIGHT:
      g_value_set_int (value, marina_vnc_display_get_desktop_height (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
marina_vnc_display_set_property (GObject *object, guint prop_id, const GValue *value,
                                 GParamSpec *pspec)
{
  MarinaVncDisplay *self = MARINA_VNC_DISPLAY (object);

  switch (prop_id)
    {
    case PROP_SCALING:
      marina_vnc_display_set_scaling (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
marina_vnc_display_dispose (GObject *object)
{
  MarinaVncDisplay *self = MARINA_VNC_DISPLAY (object);

  drop_connection (self);
  g_clear_object (&self->frame);
  g_clear_object (&self->guest_cursor);
  g_clear_pointer (&self->username, g_free);
  g_clear_pointer (&self->password, g_free);
  G_OBJECT_CLASS (marina_vnc_display_parent_class)->dispose (object);
}

static void
install_properties (GObjectClass *object_class)
{
  properties[PROP_SCALING] =
    g_param_spec_boolean ("scaling", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_GRABBED] =
    g_param_spec_boolean ("grabbed", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONNECTED] =
    g_param_spec_boolean ("connected", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_DESKTOP_WIDTH] =
    g_param_spec_int ("desktop-width", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_DESKTOP_HEIGHT] =
    g_param_spec_int ("desktop-height", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
install_signals (GObjectClass *object_class)
{
  signals[SIGNAL_CONNECTED] = g_signal_new ("connected", G_TYPE_FROM_CLASS (object_class),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                            G_TYPE_NONE, 0);
  signals[SIGNAL_DISCONNECTED] = g_signal_new ("disconnected", G_TYPE_FROM_CLASS (object_class),
                                               G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                               G_TYPE_NONE, 0);
  signals[SIGNAL_ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (object_class),
                                        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                        G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
marina_vnc_display_class_init (MarinaVncDisplayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = marina_vnc_display_get_property;
  object_class->set_property = marina_vnc_display_set_property;
  object_class->dispose = marina_vnc_display_dispose;
  widget_class->snapshot = marina_vnc_display_snapshot;
  widget_class->measure = marina_vnc_display_measure;
  install_properties (object_class);
  install_signals (object_class);
  gtk_widget_class_set_css_name (widget_class, "vnc-display");
}

static void
add_controllers (MarinaVncDisplay *self)
{
  GtkEventController *key = gtk_event_controller_key_new ();
  GtkEventController *focus = gtk_event_controller_focus_new ();
  GtkEventController *pointer = gtk_event_controller_legacy_new ();

  g_signal_connect (key, "key-pressed", G_CALLBACK (on_key_pressed), self);
  g_signal_connect (key, "key-released", G_CALLBACK (on_key_released), self);
  g_signal_connect (focus, "leave", G_CALLBACK (on_focus_leave), self);
  g_signal_connect (pointer, "event", G_CALLBACK (on_pointer_event), self);
  gtk_widget_add_controller (GTK_WIDGET (self), key);
  gtk_widget_add_controller (GTK_WIDGET (self), focus);
  gtk_widget_add_controller (GTK_WIDGET (self), pointer);
}

static void
marina_vnc_display_init (MarinaVncDisplay *self)
{
  self->scaling = TRUE;
  self->absolute = TRUE;
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_focus_on_click (GTK_WIDGET (self), TRUE);
  add_controllers (self);
}

/* ---- public API -------------------------------------------------------------- */

GtkWidget *
marina_vnc_display_new (void)
{
  return g_object_new (MARINA_TYPE_VNC_DISPLAY, NULL);
}

static void
connect_signals (MarinaVncDisplay *self)
{
  g_signal_connect (self->connection, "vnc-initialized", G_CALLBACK (on_vnc_initialized), self);
  g_signal_connect (self->connection, "vnc-desktop-resize",
                    G_CALLBACK (on_vnc_desktop_resize), self);
  g_signal_connect (self->connection, "vnc-pixel-format-changed",
                    G_CALLBACK (on_vnc_pixel_format_changed), self);
  g_signal_connect (self->connection, "vnc-framebuffer-update",
                    G_CALLBACK (on_vnc_framebuffer_update), self);
  g_signal_connect (self->connection, "vnc-cursor-changed",
                    G_CALLBACK (on_vnc_cursor_changed), self);
  g_signal_connect (self->connection, "vnc-pointer-mode-changed",
                    G_CALLBACK (on_vnc_pointer_mode_changed), self);
  g_signal_connect (self->connection, "vnc-auth-choose-type",
                    G_CALLBACK (on_vnc_auth_choose_type), self);
  g_signal_connect (self->connection, "vnc-auth-choose-subtype",
                    G_CALLBACK (on_vnc_auth_choose_subtype), self);
  g_signal_connect (self->connection, "vnc-auth-credential",
                    G_CALLBACK (on_vnc_auth_credential), self);
  g_signal_connect (self->connection, "vnc-auth-failure", G_CALLBACK (on_vnc_auth_failure), self);
  g_signal_connect (self->connection, "vnc-error", G_CALLBACK (on_vnc_error), self);
  g_signal_connect (self->connection, "vnc-disconnected", G_CALLBACK (on_vnc_disconnected), self);
}

/* Takes ownership of fd, a socket speaking RFB (Machine.OpenConsole()). */
gboolean
marina_vnc_display_open_fd (MarinaVncDisplay *self, int fd, GError **error)
{
  g_return_val_if_fail (MARINA_IS_VNC_DISPLAY (self), FALSE);

  marina_vnc_display_close (self);
  self->connection = vnc_connection_new ();
  connect_signals (self);
  if (!vnc_connection_open_fd (self->connection, fd))
    {
      drop_connection (self);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot use the console socket"));
      return FALSE;
    }
  return TRUE;
}

void
marina_vnc_display_close (MarinaVncDisplay *self)
{
  gboolean was_connected = self->initialized;

  drop_connection (self);
  self->initialized = FALSE;
  marina_vnc_display_release_grab (self);
  if (was_connected)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
}

gboolean
marina_vnc_display_is_connected (MarinaVncDisplay *self)
{
  return self->initialized;
}

/* Presses the keys in order and releases them in reverse, as fingers do. */
void
marina_vnc_display_send_keys (MarinaVncDisplay *self, const guint16 *scancodes, gsize n_scancodes)
{
  for (gsize i = 0; i < n_scancodes; i++)
    send_key (self, TRUE, 0, scancodes[i]);
  for (gsize i = n_scancodes; i > 0; i--)
    send_key (self, FALSE, 0, scancodes[i - 1]);
}

void
marina_vnc_display_set_scaling (MarinaVncDisplay *self, gboolean scaling)
{
  if (self->scaling == !!scaling)
    return;
  self->scaling = !!scaling;
  gtk_widget_queue_resize (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SCALING]);
}

gboolean
marina_vnc_display_get_scaling (MarinaVncDisplay *self)
{
  return self->scaling;
}

gboolean
marina_vnc_display_get_grabbed (MarinaVncDisplay *self)
{
  return self->grabbed;
}

void
marina_vnc_display_release_grab (MarinaVncDisplay *self)
{
  GtkNative *native = gtk_widget_get_native (GTK_WIDGET (self));
  GdkSurface *surface = native ? gtk_native_get_surface (native) : NULL;

  if (!self->grabbed)
    return;
  self->grabbed = FALSE;
  if (GDK_IS_TOPLEVEL (surface))
    gdk_toplevel_restore_system_shortcuts (GDK_TOPLEVEL (surface));
  update_cursor (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_GRABBED]);
}

/* What the user presses to get the pointer back, to show while grabbed. */
const char *
marina_vnc_display_get_release_hint (MarinaVncDisplay *self)
{
  /* Translators: the keys, named as printed on the keyboard */
  return C_("keys", "Ctrl+Alt");
}

int
marina_vnc_display_get_desktop_width (MarinaVncDisplay *self)
{
  return self->frame ? (int) marina_vnc_frame_get_width (self->frame) : 0;
}

int
marina_vnc_display_get_desktop_height (MarinaVncDisplay *self)
{
  return self->frame ? (int) marina_vnc_frame_get_height (self->frame) : 0;
}

/* Frames drawn with new content from the guest, for benchmarks. */
guint
marina_vnc_display_get_frames (MarinaVncDisplay *self)
{
  return self->frames;
}

/* The guest's screen as last received, or NULL before the first frame. */
GdkTexture *
marina_vnc_display_get_texture (MarinaVncDisplay *self)
{
  return self->frame ? marina_vnc_frame_to_texture (self->frame) : NULL;
}
