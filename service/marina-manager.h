/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "marina-dbus-generated.h"
#include "marina-authorizer.h"
#include "marina-cgroups.h"
#include "marina-disk.h"
#include "marina-job.h"
#include "marina-metrics.h"
#include "marina-machine-config.h"

G_BEGIN_DECLS

/* What main() learned from the command line and marina.conf. */
typedef struct {
  char *state_dir;
  char *runtime_dir;
  char *qemu_binary;
  char *accelerator;        /* auto, kvm or tcg */
  guint shutdown_timeout;   /* seconds a guest gets for a cooperative shutdown */
  guint event_log_max;      /* events kept */
  guint64 memory_reserve_mib;  /* host memory never given to machines */
  guint64 qemu_overhead_mib;   /* counted per running machine on top of its memory */
  char *metrics_socket;        /* Prometheus text served here; NULL: not at all */
  char *cgroup_fs;             /* where cgroup hierarchies are mounted */
  char *cgroup_name;           /* Marina's group below the cpu hierarchy */
  char *systemd_bus;           /* where systemd is reached; NULL: the system bus if it runs */
  guint script_timeout;        /* seconds an event script may run */
  gboolean enforce_access;     /* authorize callers (not on a session bus) */
  gboolean confine_qemu;       /* each QEMU runs as a uid of its own */
  guint qemu_uid_base;         /* the first of those uids */
  guint qemu_uid_count;        /* how many there are */
  char *console_tls_dir;       /* x509 files of remote consoles */
  char *qemu_img;              /* the qemu-img binary */
  char *storage_daemon;        /* qemu-storage-daemon, for VHD and VHDX disks */
  char *storage_dir;           /* Marina's own folder for disk images */
  GStrv storage_paths;         /* every folder images may be created and opened in */
  gboolean user_networking;    /* no bridges or taps: QEMU's user-mode NAT only
                                * (--session, or not root) */
} MarinaSettings;

void marina_settings_free (MarinaSettings *settings);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MarinaSettings, marina_settings_free)

#define MARINA_OBJECT_ROOT "/org/marinavm/Marina1"
#define MARINA_MANAGER_PATH MARINA_OBJECT_ROOT "/Manager"

#define MARINA_TYPE_MANAGER (marina_manager_get_type ())
G_DECLARE_FINAL_TYPE (MarinaManager, marina_manager, MARINA, MANAGER, MarinaDBusManagerSkeleton)

MarinaManager        *marina_manager_new                  (GDBusConnection *connection,
                                                           MarinaSettings  *settings);
void                  marina_manager_load_async           (MarinaManager      *self,
                                                           GAsyncReadyCallback callback,
                                                           gpointer            user_data);
const MarinaSettings *marina_manager_get_settings         (MarinaManager *self);
MarinaMetrics        *marina_manager_get_metrics          (MarinaManager *self);
guint64               marina_manager_get_host_memory_mib  (MarinaManager *self);
void                  marina_manager_log                  (MarinaManager *self,
                                                           const char    *severity,
                                                           const char    *object_path,
                                                           const char    *category,
                                                           const char    *format,
                                                           ...) G_GNUC_PRINTF (5, 6);
const char           *marina_manager_add_job              (MarinaManager *self,
                                                           MarinaJob     *job);
gboolean              marina_manager_check_memory         (MarinaManager *self,
                                                           const char    *id,
                                                           GError       **error);
gboolean              marina_manager_check_cpu_reserve    (MarinaManager *self,
                                                           const char    *id,
                                                           guint          vcpus,
                                                           guint          reserve,
                                                           GError       **error);
MarinaAuthorizer     *marina_manager_get_authorizer       (MarinaManager *self);
uid_t                 marina_manager_allocate_qemu_uid    (MarinaManager *self,
                                                           GError       **error);
MarinaCgroups        *marina_manager_get_cgroups          (MarinaManager *self);
void                  marina_manager_run_host_script      (MarinaManager      *self,
                                                           const char         *event,
                                                           GAsyncReadyCallback callback,
                                                           gpointer            user_data);
gboolean              marina_manager_check_name_free      (MarinaManager *self,
                                                           const char    *name,
                                                           const char    *except_id,
                                                           GError       **error);
void                  marina_manager_forget_machine       (MarinaManager *self,
                                                           const char    *id);
void                  marina_manager_sync_disks           (MarinaManager *self);
gboolean              marina_manager_check_disks_idle     (MarinaManager             *self,
                                                           const MarinaMachineConfig *config,
                                                           GError                   **error);
MarinaDisk           *marina_manager_import_disk          (MarinaManager *self,
                                                           const char    *path,
                                                           GError       **error);
MarinaDisk           *marina_manager_lookup_disk          (MarinaManager *self,
                                                           const char    *object_path);
gboolean              marina_manager_check_storage        (MarinaManager             *self,
                                                           const MarinaMachineConfig *config,
                                                           GError                   **error);
struct _MarinaMachine *marina_manager_find_machine_path   (MarinaManager *self,
                                                           const char    *object_path);
typedef struct _MarinaNetwork MarinaNetwork;
MarinaNetwork        *marina_manager_get_network          (MarinaManager *self,
                                                           const char    *id);
void                  marina_manager_forget_network       (MarinaManager *self,
                                                           const char    *id);
gboolean              marina_manager_check_network_name_free (MarinaManager *self,
                                                              const char    *name,
                                                              const char    *except_id,
                                                              GError       **error);
GStrv                 marina_manager_network_users        (MarinaManager *self,
                                                           const char    *id,
                                                           gboolean       running_only);
void                  marina_manager_refresh_network_users (MarinaManager *self);
gboolean              marina_manager_check_no_parents     (MarinaManager             *self,
                                                           const MarinaMachineConfig *config,
                                                           GError                   **error);
gboolean              marina_manager_check_macs_free      (MarinaManager             *self,
                                                           const MarinaMachineConfig *config,
                                                           GError                   **error);
const char           *marina_manager_mac_owner            (MarinaManager *self,
                                                           const char    *mac,
                                                           const char    *except_id);

G_END_DECLS
