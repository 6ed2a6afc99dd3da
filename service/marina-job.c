/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-job"
#include "config.h"

#include "marina-error.h"
#include "marina-authorizer.h"
#include "marina-job.h"

struct _MarinaJob {
  MarinaDBusJobSkeleton parent_instance;
  GCancellable *cancellable;
  GError *error;
  gboolean finished;
  GPtrArray *waiters; /* GDBusMethodInvocation waiting in Wait() */
};

enum { SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void marina_job_iface_init (MarinaDBusJobIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MarinaJob, marina_job, MARINA_DBUS_TYPE_JOB_SKELETON,
                               G_IMPLEMENT_INTERFACE (MARINA_DBUS_TYPE_JOB, marina_job_iface_init))

static void
answer_waiter (MarinaJob *self, GDBusMethodInvocation *invocation)
{
  if (self->error)
    g_dbus_method_invocation_return_gerror (invocation, self->error);
  else
    marina_dbus_job_complete_wait (MARINA_DBUS_JOB (self), invocation);
}

static gboolean
handle_wait (MarinaDBusJob *job, GDBusMethodInvocation *invocation)
{
  MarinaJob *self = MARINA_JOB (job);

  if (self->finished)
    answer_waiter (self, invocation);
  else
    g_ptr_array_add (self->waiters, g_object_ref (invocation));
  return TRUE;
}

static gboolean
handle_cancel (MarinaDBusJob *job, GDBusMethodInvocation *invocation)
{
  MarinaJob *self = MARINA_JOB (job);

  if (self->finished || !marina_dbus_job_get_cancellable (job))
    {
      g_dbus_method_invocation_return_error (invocation, MARINA_ERROR, MARINA_ERROR_INVALID_STATE,
                                             "Job '%s' is %s and cannot be cancelled",
                                             marina_dbus_job_get_operation (job),
                                             self->finished ? "finished" : "not cancellable");
      return TRUE;
    }
  g_cancellable_cancel (self->cancellable);
  marina_dbus_job_complete_cancel (job, invocation);
  return TRUE;
}

static void
marina_job_iface_init (MarinaDBusJobIface *iface)
{
  iface->handle_wait = handle_wait;
  iface->handle_cancel = handle_cancel;
}

GCancellable *
marina_job_get_cancellable (MarinaJob *self)
{
  return self->cancellable;
}

gboolean
marina_job_is_finished (MarinaJob *self)
{
  return self->finished;
}

void
marina_job_set_progress (MarinaJob *self, double progress)
{
  progress = CLAMP (progress, 0.0, 1.0);
  /* Round to whole percents: scripts and the GUI need no finer steps, and it
   * keeps PropertiesChanged traffic small. */
  progress = ((int) (progress * 100.0)) / 100.0;
  if (progress != marina_dbus_job_get_progress (MARINA_DBUS_JOB (self)))
    marina_dbus_job_set_progress (MARINA_DBUS_JOB (self), progress);
}

static const char *
status_for_error (const GError *error)
{
  if (error == NULL)
    return "completed";
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      g_error_matches (error, MARINA_ERROR, MARINA_ERROR_CANCELLED))
    return "cancelled";
  return "failed";
}

void
marina_job_complete (MarinaJob *self, const GError *error, const char *message)
{
  MarinaDBusJob *job = MARINA_DBUS_JOB (self);
  g_autofree char *error_name = NULL;

  g_return_if_fail (!self->finished);
  self->finished = TRUE;
  if (error)
    {
      self->error = g_error_copy (error);
      error_name = g_dbus_error_encode_gerror (error);
      message = error->message;
    }
  else
    marina_dbus_job_set_progress (job, 1.0);
  marina_dbus_job_set_status (job, status_for_error (error));
  marina_dbus_job_set_error_name (job, error_name ? error_name : "");
  marina_dbus_job_set_message (job, message ? message : "");
  marina_dbus_job_set_finished_at (job, g_get_real_time ());
  marina_dbus_job_set_cancellable (job, FALSE);
  marina_dbus_job_emit_completed (job, error == NULL, error_name ? error_name : "",
                                  message ? message : "");
  for (guint i = 0; i < self->waiters->len; i++)
    answer_waiter (self, self->waiters->pdata[i]);
  g_ptr_array_set_size (self->waiters, 0);
  g_signal_emit (self, signals[SIGNAL_FINISHED], 0);
}

static void
marina_job_finalize (GObject *object)
{
  MarinaJob *self = MARINA_JOB (object);

  g_clear_object (&self->cancellable);
  g_clear_error (&self->error);
  g_ptr_array_unref (self->waiters);
  G_OBJECT_CLASS (marina_job_parent_class)->finalize (object);
}

static void
marina_job_class_init (MarinaJobClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = marina_job_finalize;
  marina_authorizer_guard_class (G_DBUS_INTERFACE_SKELETON_CLASS (klass));
  signals[SIGNAL_FINISHED] =
    g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
marina_job_init (MarinaJob *self)
{
  self->cancellable = g_cancellable_new ();
  self->waiters = g_ptr_array_new_with_free_func (g_object_unref);
}

MarinaJob *
marina_job_new (const char *operation, const char *object_path, gboolean cancellable)
{
  MarinaJob *self = g_object_new (MARINA_TYPE_JOB, NULL);
  MarinaDBusJob *job = MARINA_DBUS_JOB (self);

  marina_dbus_job_set_operation (job, operation);
  marina_dbus_job_set_object (job, object_path);
  marina_dbus_job_set_cancellable (job, cancellable);
  marina_dbus_job_set_status (job, "running");
  marina_dbus_job_set_error_name (job, "");
  marina_dbus_job_set_message (job, "");
  marina_dbus_job_set_started_at (job, g_get_real_time ());
  return self;
}
