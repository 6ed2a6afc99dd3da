/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-console"
#include "config.h"

#include <glib/gi18n.h>

#include "marina-console-window.h"
#include "marina-gui-util.h"
#include "marina-serial-view.h"
#include "marina-vnc-display.h"

/* One machine's console: its screen (or serial port), its state in the
 * header, and its lifecycle as actions. The window follows the machine: it
 * connects when the machine runs, shows why it cannot otherwise, reconnects
 * after restarts, and closes when the machine is removed. */

#define RECONNECT_DELAY_MS 1000

struct _MarinaConsoleWindow {
  AdwApplicationWindow parent_instance;
  AdwWindowTitle *window_title;
  GtkRevealer *header_revealer;
  AdwToastOverlay *toast_overlay;
  GtkStack *stack;
  AdwStatusPage *status_page;
  MarinaVncDisplay *display;
  GtkRevealer *grab_revealer;
  GtkLabel *grab_label;
  MarinaSerialView *serial_view;

  MarinaConsoleSession *session;
  MarinaConsoleKind kind;
  GCancellable *cancellable;
  gboolean opening;
  guint reconnect_id;
  guint printed_frames;
};

G_DEFINE_FINAL_TYPE (MarinaConsoleWindow, marina_console_window, ADW_TYPE_APPLICATION_WINDOW)

static void sync_console (MarinaConsoleWindow *self);

/* ---- what the header and the status page say -------------------------------- */

static void
update_title (MarinaConsoleWindow *self)
{
  const char *name = marina_console_session_get_name (self->session);
  const char *state = marina_gui_state_label (marina_console_session_get_state (self->session));
  g_autofree char *title = g_strdup_printf ("%s — %s", name, state);

  adw_window_title_set_title (self->window_title, name);
  adw_window_title_set_subtitle (self->window_title, state);
  /* The window manager's title too: task switchers and tests read it. */
  gtk_window_set_title (GTK_WINDOW (self), title);
}

static void
show_status (MarinaConsoleWindow *self, const char *title, const char *description)
{
  adw_status_page_set_title (self->status_page, title);
  adw_status_page_set_description (self->status_page, description);
  gtk_stack_set_visible_child_name (self->stack, "status");
}

static void
show_machine_status (MarinaConsoleWindow *self)
{
  const char *status = marina_console_session_get_status (self->session);
  const char *state = marina_console_session_get_state (self->session);

  if (status)
    show_status (self, marina_console_session_get_name (self->session), status);
  else if (marina_console_session_has_console (self->session))
    show_status (self, _("Connecting…"), NULL);
  else
    show_status (self, marina_gui_state_label (state), _("The console shows when the machine runs."));
}

static void
show_toast (MarinaConsoleWindow *self, const char *message)
{
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

static void
set_action_enabled (MarinaConsoleWindow *self, const char *name, gboolean enabled)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), name);

  g_simple_action_set_enabled (G_SIMPLE_ACTION (action), enabled);
}

static void
update_actions (MarinaConsoleWindow *self)
{
  const char *state = marina_console_session_get_state (self->session);
  gboolean running = g_strcmp0 (state, "running") == 0;
  gboolean paused = g_strcmp0 (state, "paused") == 0;
  gboolean screen = self->kind == MARINA_CONSOLE_DISPLAY && (running || paused);

  set_action_enabled (self, "pause", running);
  set_action_enabled (self, "resume", paused);
  set_action_enabled (self, "reset", running || paused);
  set_action_enabled (self, "shutdown", running);
  set_action_enabled (self, "turn-off", running || paused || g_strcmp0 (state, "stopping") == 0);
  set_action_enabled (self, "screenshot", screen);
  set_action_enabled (self, "save-screenshot", screen);
  set_action_enabled (self, "send-keys", screen);
}

/* ---- connecting ------------------------------------------------------------ */

static gboolean
is_connected (MarinaConsoleWindow *self)
{
  return self->kind == MARINA_CONSOLE_SERIAL
         ? marina_serial_view_is_connected (self->serial_view)
         : marina_vnc_display_is_connected (self->display);
}

static void
disconnect_console (MarinaConsoleWindow *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->opening = FALSE;
  g_clear_handle_id (&self->reconnect_id, g_source_remove);
  marina_vnc_display_close (self->display);
  marina_serial_view_close (self->serial_view);
}

static void
on_console_opened (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MarinaConsoleWindow *self = user_data;
  g_autoptr(GError) error = NULL;
  int fd = marina_console_session_open_finish (MARINA_CONSOLE_SESSION (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self->opening = FALSE;
  if (fd < 0)
    {
      g_autofree char *message = marina_gui_error_message (error);
      g_debug ("no console: %s", message);
      return show_status (self, _("No Console"), message);
    }
  if (self->kind == MARINA_CONSOLE_SERIAL)
    {
      marina_serial_view_open_fd (self->serial_view, fd);
      gtk_stack_set_visible_child_name (self->stack, "serial");
      g_debug ("serial console connected");
    }
  else if (!marina_vnc_display_open_fd (self->display, fd, &error))
    show_status (self, _("No Console"), error->message);
}

static void
open_console (MarinaConsoleWindow *self)
{
  self->opening = TRUE;
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  show_machine_status (self);
  marina_console_session_open_async (self->session, self->kind, self->cancellable,
                                     on_console_opened, self);
}

/* Connects when there is a console to connect to, and otherwise says why
 * there is none. Called on every change of the machine or the service. */
static void
sync_console (MarinaConsoleWindow *self)
{
  update_title (self);
  update_actions (self);
  if (!marina_console_session_has_console (self->session))
    {
      disconnect_console (self);
      return show_machine_status (self);
    }
  if (!is_connected (self) && !self->opening && self->reconnect_id == 0)
    open_console (self);
}

static void
clear_reconnect_and_sync (MarinaConsoleWindow *self)
{
  self->reconnect_id = 0;
  sync_console (self);
}

static void
reconnect_later (MarinaConsoleWindow *self)
{
  show_machine_status (self);
  if (self->reconnect_id || !marina_console_session_has_console (self->session))
    return;
  /* The machine may be restarting: give QEMU a moment, then try again. */
  self->reconnect_id = g_timeout_add_once (RECONNECT_DELAY_MS,
                                           (GSourceOnceFunc) clear_reconnect_and_sync, self);
}

/* A direct TCP console asks for these; marinad's sockets never do. */
void
marina_console_window_set_credentials (MarinaConsoleWindow *self, const char *username,
                                       const char *password)
{
  marina_vnc_display_set_credentials (self->display, username, password);
}

static void
on_display_connected (MarinaConsoleWindow *self)
{
  g_debug ("console connected: %dx%d", marina_vnc_display_get_desktop_width (self->display),
           marina_vnc_display_get_desktop_height (self->display));
  gtk_stack_set_visible_child_name (self->stack, "display");
  gtk_widget_grab_focus (GTK_WIDGET (self->display));
}

static void
on_display_disconnected (MarinaConsoleWindow *self)
{
  g_debug ("console disconnected");
  reconnect_later (self);
}

static void
on_display_error (MarinaConsoleWindow *self, const char *message)
{
  show_toast (self, message);
}

static void
on_serial_closed (MarinaConsoleWindow *self)
{
  reconnect_later (self);
}

static void
on_display_grabbed (MarinaConsoleWindow *self)
{
  g_autofree char *hint = g_strdup_printf (_("Press %s to release the pointer"),
                                           marina_vnc_display_get_release_hint (self->display));

  gtk_label_set_text (self->grab_label, hint);
  gtk_revealer_set_reveal_child (self->grab_revealer,
                                 marina_vnc_display_get_grabbed (self->display));
}

static void
on_session_changed (MarinaConsoleWindow *self)
{
  sync_console (self);
}

static void
on_machine_removed (MarinaConsoleWindow *self)
{
  g_printerr (_("The machine %s was removed.\n"), marina_console_session_get_name (self->session));
  gtk_window_destroy (GTK_WINDOW (self));
}

/* ---- actions ----------------------------------------------------------------- */

static void
on_method_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaConsoleWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!marina_console_session_call_finish (MARINA_CONSOLE_SESSION (source), result, &error))
    {
      /* A refusal reads as the service words it. */
      g_autofree char *message = marina_gui_error_message (error);
      show_toast (self, message);
    }
}

static void
action_machine (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  static const struct { const char *action, *method; } methods[] = {
    { "pause", "Pause" }, { "resume", "Resume" }, { "reset", "Reset" },
    { "shutdown", "Shutdown" }, { "turn-off", "TurnOff" },
  };
  MarinaConsoleWindow *self = user_data;
  const char *name = g_action_get_name (G_ACTION (action));

  for (gsize i = 0; i < G_N_ELEMENTS (methods); i++)
    if (g_str_equal (name, methods[i].action))
      marina_console_session_call_async (self->session, methods[i].method, on_method_done,
                                         g_object_ref (self));
}

static void
change_fullscreen (GSimpleAction *action, GVariant *value, gpointer user_data)
{
  MarinaConsoleWindow *self = user_data;

  if (g_variant_get_boolean (value))
    gtk_window_fullscreen (GTK_WINDOW (self));
  else
    gtk_window_unfullscreen (GTK_WINDOW (self));
}

static void
on_fullscreened (MarinaConsoleWindow *self, GParamSpec *pspec, gpointer user_data)
{
  gboolean fullscreen = gtk_window_is_fullscreen (GTK_WINDOW (self));
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), "fullscreen");

  gtk_revealer_set_reveal_child (self->header_revealer, !fullscreen);
  g_simple_action_set_state (G_SIMPLE_ACTION (action), g_variant_new_boolean (fullscreen));
}

static void
change_scaling (GSimpleAction *action, GVariant *value, gpointer user_data)
{
  MarinaConsoleWindow *self = user_data;

  marina_vnc_display_set_scaling (self->display, g_variant_get_boolean (value));
  g_simple_action_set_state (action, value);
}

gboolean
marina_console_window_save_screenshot (MarinaConsoleWindow *self, const char *path,
                                       GError **error)
{
  g_autoptr(GdkTexture) texture = marina_vnc_display_get_texture (self->display);

  if (texture == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, _("The console shows nothing yet"));
      return FALSE;
    }
  if (!gdk_texture_save_to_png (texture, path))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot write %s"), path);
      return FALSE;
    }
  return TRUE;
}

static void
save_screenshot_and_tell (MarinaConsoleWindow *self, const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  if (marina_console_window_save_screenshot (self, path, &error))
    message = g_strdup_printf (_("Screenshot saved to %s"), path);
  else
    message = g_strdup (error->message);
  g_debug ("%s", message);
  show_toast (self, message);
}

static void
action_save_screenshot (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  save_screenshot_and_tell (user_data, g_variant_get_string (parameter, NULL));
}

/* Into the Pictures folder, named after the machine and the moment. */
static void
action_screenshot (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaConsoleWindow *self = user_data;
  const char *folder = g_get_user_special_dir (G_USER_DIRECTORY_PICTURES);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%d %H-%M-%S");
  g_autofree char *name = g_strdup_printf ("%s %s.png",
                                           marina_console_session_get_name (self->session), stamp);
  g_autofree char *path = g_build_filename (folder ? folder : g_get_home_dir (), name, NULL);

  save_screenshot_and_tell (self, path);
}

/* Scancodes of the key names the send-keys action understands. */
static guint16
scancode_for_name (const char *name)
{
  static const struct { const char *name; guint16 scancode; } keys[] = {
    { "ctrl", 0x1d }, { "alt", 0x38 }, { "shift", 0x2a }, { "super", 0xdb },
    { "delete", 0xd3 }, { "backspace", 0x0e }, { "print", 0xb7 }, { "tab", 0x0f },
    { "escape", 0x01 }, { "return", 0x1c }, { "space", 0x39 },
    { "f1", 0x3b }, { "f2", 0x3c }, { "f3", 0x3d }, { "f4", 0x3e }, { "f5", 0x3f },
    { "f6", 0x40 }, { "f7", 0x41 }, { "f8", 0x42 }, { "f9", 0x43 }, { "f10", 0x44 },
    { "f11", 0x57 }, { "f12", 0x58 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    if (g_ascii_strcasecmp (name, keys[i].name) == 0)
      return keys[i].scancode;
  return 0;
}

/* "ctrl+alt+delete": keys the local desktop would take for itself. */
static void
action_send_keys (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  MarinaConsoleWindow *self = user_data;
  g_auto(GStrv) names = g_strsplit (g_variant_get_string (parameter, NULL), "+", -1);
  g_autoptr(GArray) scancodes = g_array_new (FALSE, FALSE, sizeof (guint16));

  for (guint i = 0; names[i]; i++)
    {
      guint16 scancode = scancode_for_name (names[i]);
      if (scancode == 0)
        return show_toast (self, _("Unknown key in the combination"));
      g_array_append_val (scancodes, scancode);
    }
  marina_vnc_display_send_keys (self->display, (guint16 *) scancodes->data, scancodes->len);
}

static void
action_close (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  gtk_window_close (GTK_WINDOW (user_data));
}

static const GActionEntry actions[] = {
  { "pause", action_machine },
  { "resume", action_machine },
  { "reset", action_machine },
  { "shutdown", action_machine },
  { "turn-off", action_machine },
  { "fullscreen", NULL, NULL, "false", change_fullscreen },
  { "scaling", NULL, NULL, "true", change_scaling },
  { "screenshot", action_screenshot },
  { "save-screenshot", action_save_screenshot, "s" },
  { "send-keys", action_send_keys, "s" },
  { "close", action_close },
};

/* ---- benchmarks -------------------------------------------------------------- */

/* One line per frame that showed new guest content, with the monotonic
 * clock: tests/bench reads fps and input-to-screen latency from it. */
static void
on_after_paint (GdkFrameClock *clock, MarinaConsoleWindow *self)
{
  guint frames = marina_vnc_display_get_frames (self->display);

  if (frames == self->printed_frames)
    return;
  self->printed_frames = frames;
  g_print ("frame %" G_GINT64_FORMAT "\n", g_get_monotonic_time ());
  fflush (stdout);
}

static void
on_realize_for_frames (MarinaConsoleWindow *self)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (self));

  g_signal_connect_object (clock, "after-paint", G_CALLBACK (on_after_paint), self, 0);
}

void
marina_console_window_print_frames (MarinaConsoleWindow *self)
{
  g_signal_connect (self, "realize", G_CALLBACK (on_realize_for_frames), NULL);
}

/* ---- GObject ------------------------------------------------------------------ */

static void
marina_console_window_dispose (GObject *object)
{
  MarinaConsoleWindow *self = MARINA_CONSOLE_WINDOW (object);

  disconnect_console (self);
  if (self->session)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);
  G_OBJECT_CLASS (marina_console_window_parent_class)->dispose (object);
}

static void
bind_template (GtkWidgetClass *widget_class)
{
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/marinavm/Console/marina-console-window.ui");
  gtk_widget_class_bind_template_child (widget_class, MarinaConsoleWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, MarinaConsoleWindow, header_revealer);
  gtk_widget_class_bind_template_child (widget_class, MarinaConsoleWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, MarinaConsoleWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, MarinaConsoleWindow, status_page);
  gtk_widget_class_bind_template_child (widget_class, MarinaConsoleWindow, display);
  gtk_widget_class_bind_template_child (widget_class, MarinaConsoleWindow, grab_revealer);
  gtk_widget_class_bind_template_child (widget_class, MarinaConsoleWindow, grab_label);
  gtk_widget_class_bind_template_child (widget_class, MarinaConsoleWindow, serial_view);
  gtk_widget_class_bind_template_callback (widget_class, on_display_connected);
  gtk_widget_class_bind_template_callback (widget_class, on_display_disconnected);
  gtk_widget_class_bind_template_callback (widget_class, on_display_error);
  gtk_widget_class_bind_template_callback (widget_class, on_display_grabbed);
  gtk_widget_class_bind_template_callback (widget_class, on_serial_closed);
}

static void
marina_console_window_class_init (MarinaConsoleWindowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = marina_console_window_dispose;
  g_type_ensure (MARINA_TYPE_VNC_DISPLAY);
  g_type_ensure (MARINA_TYPE_SERIAL_VIEW);
  bind_template (GTK_WIDGET_CLASS (klass));
}

static void
marina_console_window_init (MarinaConsoleWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  g_action_map_add_action_entries (G_ACTION_MAP (self), actions, G_N_ELEMENTS (actions), self);
  g_signal_connect (self, "notify::fullscreened", G_CALLBACK (on_fullscreened), NULL);
}

MarinaConsoleWindow *
marina_console_window_new (GtkApplication *application, MarinaConsoleSession *session,
                           MarinaConsoleKind kind)
{
  MarinaConsoleWindow *self = g_object_new (MARINA_TYPE_CONSOLE_WINDOW,
                                            "application", application, NULL);

  self->session = g_object_ref (session);
  self->kind = kind;
  g_signal_connect_swapped (session, "notify", G_CALLBACK (on_session_changed), self);
  g_signal_connect_swapped (session, "removed", G_CALLBACK (on_machine_removed), self);
  sync_console (self);
  return self;
}
