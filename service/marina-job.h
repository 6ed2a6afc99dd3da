/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "marina-dbus-generated.h"

G_BEGIN_DECLS

#define MARINA_TYPE_JOB (marina_job_get_type ())
G_DECLARE_FINAL_TYPE (MarinaJob, marina_job, MARINA, JOB, MarinaDBusJobSkeleton)

MarinaJob    *marina_job_new             (const char *operation,
                                          const char *object_path,
                                          gboolean    cancellable);
GCancellable *marina_job_get_cancellable (MarinaJob *self);
void          marina_job_set_progress    (MarinaJob *self,
                                          double     progress);
void          marina_job_complete        (MarinaJob    *self,
                                          const GError *error,
                                          const char   *message);
gboolean      marina_job_is_finished     (MarinaJob *self);

G_END_DECLS
