/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

#include "marina-dbus-generated.h"

G_BEGIN_DECLS

#define MARINA_TYPE_JOB_ROW (marina_job_row_get_type ())
G_DECLARE_FINAL_TYPE (MarinaJobRow, marina_job_row, MARINA, JOB_ROW, GtkListBoxRow)

MarinaJobRow  *marina_job_row_new     (MarinaDBusJob *job,
                                       const char    *title);
MarinaDBusJob *marina_job_row_get_job (MarinaJobRow  *self);
void           marina_job_row_cancel  (MarinaJobRow  *self);

G_END_DECLS
