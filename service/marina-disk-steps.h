/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "marina-job.h"

G_BEGIN_DECLS

/* Work on images as a job: a few commands (qemu-img, cp) that write only
 * temporary files next to the images, then the renames or links that put them in
 * place. Nothing outside the temporary files changes until every command
 * has succeeded, so a cancelled or failed job leaves the disks as they were. */

typedef struct _MarinaDiskSteps MarinaDiskSteps;

MarinaDiskSteps *marina_disk_steps_new        (MarinaJob  *job,
                                               const char *action);
void             marina_disk_steps_free       (MarinaDiskSteps *self);
const char      *marina_disk_steps_temp       (MarinaDiskSteps *self,
                                               int              dir_fd,
                                               const char      *dir,
                                               const char      *name,
                                               GError         **error);
void             marina_disk_steps_add        (MarinaDiskSteps   *self,
                                               double             weight,
                                               const char *const *argv);
void             marina_disk_steps_add_copy   (MarinaDiskSteps *self,
                                               double           weight,
                                               const char      *source,
                                               const char      *temp);
void             marina_disk_steps_publish    (MarinaDiskSteps *self,
                                               const char      *temp,
                                               const char      *name,
                                               gboolean         replace);
void             marina_disk_steps_run_async  (MarinaDiskSteps    *self,
                                               GAsyncReadyCallback callback,
                                               gpointer            user_data);
gboolean         marina_disk_steps_run_finish (GAsyncResult *result,
                                               GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MarinaDiskSteps, marina_disk_steps_free)

G_END_DECLS
