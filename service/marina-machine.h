/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "marina-dbus-generated.h"
#include "marina-machine-config.h"
#include "marina-machine-metrics.h"
#include "marina-manager.h"

G_BEGIN_DECLS

#define MARINA_MACHINE_PATH_PREFIX MARINA_OBJECT_ROOT "/Machine/"

#define MARINA_TYPE_MACHINE (marina_machine_get_type ())
G_DECLARE_FINAL_TYPE (MarinaMachine, marina_machine, MARINA, MACHINE, MarinaDBusMachineSkeleton)

MarinaMachine             *marina_machine_new             (MarinaManager       *manager,
                                                           MarinaMachineConfig *config,
                                                           const char          *machine_dir,
                                                           const char          *config_path);
const char                *marina_machine_get_object_path (MarinaMachine *self);
const MarinaMachineConfig *marina_machine_get_config      (MarinaMachine *self);
GPtrArray                 *marina_machine_get_access      (MarinaMachine *self);
uid_t                      marina_machine_get_qemu_uid    (MarinaMachine *self);
gboolean                   marina_machine_save_config     (MarinaMachine *self,
                                                           GError       **error);
void                       marina_machine_reattach_async  (MarinaMachine      *self,
                                                           GAsyncReadyCallback callback,
                                                           gpointer            user_data);
void                       marina_machine_autostart       (MarinaMachine *self);
void                       marina_machine_stop_for_host   (MarinaMachine      *self,
                                                           GAsyncReadyCallback callback,
                                                           gpointer            user_data);
gboolean                   marina_machine_is_active       (MarinaMachine *self);
gboolean                   marina_machine_has_undo_changes (MarinaMachine *self);
void                       marina_machine_run_script      (MarinaMachine *self,
                                                           const char    *event,
                                                           const char    *reason);
MarinaMachineMetrics      *marina_machine_get_metrics     (MarinaMachine *self);

G_END_DECLS
