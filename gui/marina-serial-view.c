/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-console"
#include "config.h"

#include <gio/gunixsocketaddress.h>

#include "marina-serial-view.h"

/* A plain terminal on a machine's first serial port: what the guest writes
 * is shown (escape sequences dropped, backspace honoured), and what the user
 * types is sent as a terminal would send it. Enough for a shell or a boot
 * log; a full-screen program wants a real terminal emulator. */

#define MAX_CHARS (256 * 1024)
#define READ_SIZE 4096

typedef enum { PLAIN, ESCAPE, CSI } ParserState;

struct _MarinaSerialView {
  GtkWidget parent_instance;
  GtkWidget *scrolled_window;
  GtkTextView *text_view;
  GSocketConnection *stream;
  GCancellable *cancellable;
  guint8 buffer[READ_SIZE];
  ParserState parser;
};

G_DEFINE_FINAL_TYPE (MarinaSerialView, marina_serial_view, GTK_TYPE_WIDGET)

enum { SIGNAL_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void read_more (MarinaSerialView *self);

static void
delete_last_char (GtkTextBuffer *buffer)
{
  GtkTextIter end, before;

  gtk_text_buffer_get_end_iter (buffer, &end);
  before = end;
  if (gtk_text_iter_backward_char (&before) && gtk_text_iter_get_char (&before) != '\n')
    gtk_text_buffer_delete (buffer, &before, &end);
}

/* Escape sequences (colours, cursor motion) have no meaning in a text view. */
static gboolean
skip_escape (MarinaSerialView *self, guint8 byte)
{
  switch (self->parser)
    {
    case ESCAPE:
      self->parser = byte == '[' ? CSI : PLAIN;
      return TRUE;
    case CSI:
      if (byte >= 0x40 && byte <= 0x7e)
        self->parser = PLAIN;
      return TRUE;
    case PLAIN:
    default:
      if (byte != 0x1b)
        return FALSE;
      self->parser = ESCAPE;
      return TRUE;
    }
}

static void
flush_text (GtkTextBuffer *buffer, GString *text)
{
  GtkTextIter end;

  if (text->len == 0)
    return;
  gtk_text_buffer_get_end_iter (buffer, &end);
  gtk_text_buffer_insert (buffer, &end, text->str, -1);
  g_string_truncate (text, 0);
}

static void
trim_history (GtkTextBuffer *buffer)
{
  GtkTextIter start, cut;
  int excess = gtk_text_buffer_get_char_count (buffer) - MAX_CHARS;

  if (excess <= 0)
    return;
  gtk_text_buffer_get_start_iter (buffer, &start);
  gtk_text_buffer_get_iter_at_offset (buffer, &cut, excess);
  gtk_text_buffer_delete (buffer, &start, &cut);
}

static void
append_output (MarinaSerialView *self, const guint8 *data, gsize length)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);
  g_autoptr(GString) text = g_string_new (NULL);
  GtkTextIter end;

  for (gsize i = 0; i < length; i++)
    {
      if (skip_escape (self, data[i]) || data[i] == '\r' || data[i] == '\a')
        continue;
      if (data[i] == '\b')
        {
          flush_text (buffer, text);
          delete_last_char (buffer);
          continue;
        }
      g_string_append_c (text, data[i]);
    }
  g_utf8_make_valid (text->str, text->len);
  flush_text (buffer, text);
  trim_history (buffer);
  gtk_text_buffer_get_end_iter (buffer, &end);
  gtk_text_view_scroll_to_iter (self->text_view, &end, 0, FALSE, 0, 0);
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MarinaSerialView *self = user_data;
  g_autoptr(GError) error = NULL;
  gssize length = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (length <= 0)
    {
      g_debug ("serial port closed: %s", error ? error->message : "end of stream");
      marina_serial_view_close (self);
      g_signal_emit (self, signals[SIGNAL_CLOSED], 0);
      return;
    }
  append_output (self, self->buffer, length);
  read_more (self);
}

static void
read_more (MarinaSerialView *self)
{
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (self->stream));

  g_input_stream_read_async (input, self->buffer, sizeof self->buffer, G_PRIORITY_DEFAULT,
                             self->cancellable, on_read, self);
}

/* What a VT100 sends for the keys that are not characters. */
static const char *
key_sequence (guint keyval)
{
  switch (keyval)
    {
    case GDK_KEY_Return: case GDK_KEY_KP_Enter: return "\r";
    case GDK_KEY_BackSpace: return "\x7f";
    case GDK_KEY_Tab: return "\t";
    case GDK_KEY_Escape: return "\x1b";
    case GDK_KEY_Up: return "\x1b[A";
    case GDK_KEY_Down: return "\x1b[B";
    case GDK_KEY_Right: return "\x1b[C";
    case GDK_KEY_Left: return "\x1b[D";
    case GDK_KEY_Home: return "\x1b[H";
    case GDK_KEY_End: return "\x1b[F";
    case GDK_KEY_Delete: return "\x1b[3~";
    default: return NULL;
    }
}

static gboolean
on_key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode,
                GdkModifierType state, MarinaSerialView *self)
{
  const char *sequence = key_sequence (keyval);
  gunichar c = gdk_keyval_to_unicode (keyval);
  char utf8[8];
  int length;

  if (sequence)
    return marina_serial_view_send (self, sequence, -1), TRUE;
  if (c == 0)
    return FALSE;
  if ((state & GDK_CONTROL_MASK) && c >= '@' && c <= '~')
    {
      char control = c & 0x1f;
      return marina_serial_view_send (self, &control, 1), TRUE;
    }
  length = g_unichar_to_utf8 (c, utf8);
  marina_serial_view_send (self, utf8, length);
  return TRUE;
}

static void
marina_serial_view_dispose (GObject *object)
{
  MarinaSerialView *self = MARINA_SERIAL_VIEW (object);

  marina_serial_view_close (self);
  gtk_widget_dispose_template (GTK_WIDGET (self), MARINA_TYPE_SERIAL_VIEW);
  G_OBJECT_CLASS (marina_serial_view_parent_class)->dispose (object);
}

static void
marina_serial_view_class_init (MarinaSerialViewClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = marina_serial_view_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/marinavm/Console/marina-serial-view.ui");
  gtk_widget_class_bind_template_child (widget_class, MarinaSerialView, scrolled_window);
  gtk_widget_class_bind_template_child (widget_class, MarinaSerialView, text_view);
  gtk_widget_class_bind_template_callback (widget_class, on_key_pressed);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
marina_serial_view_init (MarinaSerialView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
marina_serial_view_new (void)
{
  return g_object_new (MARINA_TYPE_SERIAL_VIEW, NULL);
}

/* Takes ownership of fd, a socket from Machine.OpenSerial(). */
void
marina_serial_view_open_fd (MarinaSerialView *self, int fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, &error);

  marina_serial_view_close (self);
  if (socket == NULL)
    {
      g_warning ("serial port socket: %s", error->message);
      return;
    }
  self->stream = g_socket_connection_factory_create_connection (socket);
  self->cancellable = g_cancellable_new ();
  read_more (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
}

void
marina_serial_view_close (MarinaSerialView *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->stream)
    g_io_stream_close (G_IO_STREAM (self->stream), NULL, NULL);
  g_clear_object (&self->stream);
}

gboolean
marina_serial_view_is_connected (MarinaSerialView *self)
{
  return self->stream != NULL;
}

/* Writes are small and the socket is local: a blocking write is fine. */
void
marina_serial_view_send (MarinaSerialView *self, const char *text, gssize length)
{
  GOutputStream *output;

  if (self->stream == NULL)
    return;
  output = g_io_stream_get_output_stream (G_IO_STREAM (self->stream));
  g_output_stream_write_all (output, text, length < 0 ? strlen (text) : (gsize) length, NULL,
                             NULL, NULL);
}
