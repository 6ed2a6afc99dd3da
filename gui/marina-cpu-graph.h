/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define MARINA_TYPE_CPU_GRAPH (marina_cpu_graph_get_type ())
G_DECLARE_FINAL_TYPE (MarinaCpuGraph, marina_cpu_graph, MARINA, CPU_GRAPH, GtkWidget)

void  marina_cpu_graph_add   (MarinaCpuGraph *self,
                              double          percent);
void  marina_cpu_graph_clear (MarinaCpuGraph *self);
guint marina_cpu_graph_get_n_samples (MarinaCpuGraph *self);

G_END_DECLS
