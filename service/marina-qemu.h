/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include "marina-qmp.h"

#include "marina-confinement.h"

G_BEGIN_DECLS

#define MARINA_TYPE_QEMU (marina_qemu_get_type ())
G_DECLARE_FINAL_TYPE (MarinaQemu, marina_qemu, MARINA, QEMU, GObject)

MarinaQemu *marina_qemu_spawn               (const char *const *argv,
                                             const char        *log_path,
                                             const MarinaQemuIdentity *identity,
                                             const int         *source_fds,
                                             const int         *target_fds,
                                             guint              n_fds,
                                             GError           **error);
MarinaQemu *marina_qemu_adopt               (GPid        pid,
                                             const char *log_path,
                                             GError    **error);
void        marina_qemu_connect_qmp_async   (MarinaQemu         *self,
                                             const char         *socket_path,
                                             GCancellable       *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer            user_data);
gboolean    marina_qemu_connect_qmp_finish  (MarinaQemu   *self,
                                             GAsyncResult *result,
                                             GError      **error);
MarinaQmp  *marina_qemu_get_qmp             (MarinaQemu *self);
GPid        marina_qemu_get_pid             (MarinaQemu *self);
gboolean    marina_qemu_has_exited          (MarinaQemu *self);
void        marina_qemu_kill                (MarinaQemu *self,
                                             int         signum);
char       *marina_qemu_read_log_tail       (const char *log_path,
                                             guint       max_lines);
gboolean    marina_qemu_pid_matches         (GPid        pid,
                                             const char *uuid);

G_END_DECLS
