/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include "marina-cpu-graph.h"

/* A machine's CPU use over the last minute, one sample a second, drawn as
 * a filled line from 0 to 100 % (a busy machine with several vCPUs is
 * clipped at the top: the label beside it has the number). */

#define N_SAMPLES 60

struct _MarinaCpuGraph {
  GtkWidget parent_instance;
  double samples[N_SAMPLES];
  guint n_samples;  /* how many of samples[] are filled */
  guint next;       /* where the next sample goes */
};

G_DEFINE_FINAL_TYPE (MarinaCpuGraph, marina_cpu_graph, GTK_TYPE_WIDGET)

void
marina_cpu_graph_add (MarinaCpuGraph *self, double percent)
{
  self->samples[self->next] = CLAMP (percent, 0.0, 100.0);
  self->next = (self->next + 1) % N_SAMPLES;
  self->n_samples = MIN (self->n_samples + 1, N_SAMPLES);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
marina_cpu_graph_clear (MarinaCpuGraph *self)
{
  self->n_samples = 0;
  self->next = 0;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint
marina_cpu_graph_get_n_samples (MarinaCpuGraph *self)
{
  return self->n_samples;
}

/* The i-th sample, oldest first. */
static double
sample (MarinaCpuGraph *self, guint i)
{
  return self->samples[(self->next + N_SAMPLES - self->n_samples + i) % N_SAMPLES];
}

/* The newest sample at the right edge; older ones move left. */
static void
trace (MarinaCpuGraph *self, cairo_t *cr, int width, int height)
{
  double step = (double) width / (N_SAMPLES - 1);
  double x0 = width - step * (self->n_samples - 1);

  cairo_move_to (cr, x0, height);
  for (guint i = 0; i < self->n_samples; i++)
    cairo_line_to (cr, x0 + step * i, height - sample (self, i) / 100.0 * height);
  cairo_line_to (cr, width, height);
  cairo_close_path (cr);
}

static void
marina_cpu_graph_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  MarinaCpuGraph *self = MARINA_CPU_GRAPH (widget);
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  GdkRGBA color;
  cairo_t *cr;

  if (self->n_samples < 2 || width <= 0 || height <= 0)
    return;
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &color);
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  trace (self, cr, width, height);
  cairo_set_source_rgba (cr, color.red, color.green, color.blue, color.alpha * 0.25);
  cairo_fill_preserve (cr);
  cairo_set_source_rgba (cr, color.red, color.green, color.blue, color.alpha);
  cairo_set_line_width (cr, 1.5);
  cairo_stroke (cr);
  cairo_destroy (cr);
}

static void
marina_cpu_graph_class_init (MarinaCpuGraphClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  widget_class->snapshot = marina_cpu_graph_snapshot;
  gtk_widget_class_set_css_name (widget_class, "cpugraph");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
marina_cpu_graph_init (MarinaCpuGraph *self)
{
}
