/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina"
#include "config.h"

#include "marina-preferences.h"

/* The manager's preferences: whether it keeps running in the background
 * when its window closes (so that notifications still come), and which
 * events notify. A key file, $XDG_CONFIG_HOME/marina/manager.conf, rather
 * than GSettings, whose schema an uninstalled build cannot find. Each
 * property is written back as soon as it changes. */

#define GROUP "notifications"

struct _MarinaPreferences {
  GObject parent_instance;
  char *path;
  gboolean background;
  gboolean stopped, saved, heartbeat, jobs;
};

G_DEFINE_FINAL_TYPE (MarinaPreferences, marina_preferences, G_TYPE_OBJECT)

enum { PROP_0, PROP_BACKGROUND, PROP_STOPPED, PROP_SAVED, PROP_HEARTBEAT, PROP_JOBS, N_PROPS };
/* The key file's keys, by property. */
static const char *const keys[N_PROPS] = { NULL, "background", "stopped", "saved", "heartbeat",
                                           "jobs" };

static gboolean *
slot (MarinaPreferences *self, guint prop_id)
{
  gboolean *slots[N_PROPS] = { NULL, &self->background, &self->stopped, &self->saved,
                               &self->heartbeat, &self->jobs };

  return slots[prop_id];
}

/* kind: stopped, saved, heartbeat or jobs, as the notifier names them. */
gboolean
marina_preferences_notifies (MarinaPreferences *self, const char *kind)
{
  for (guint i = PROP_STOPPED; i < N_PROPS; i++)
    if (g_str_equal (keys[i], kind))
      return *slot (self, i);
  return TRUE;
}

gboolean
marina_preferences_background (MarinaPreferences *self)
{
  return self->background;
}

static void
save (MarinaPreferences *self)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (self->path);

  for (guint i = 1; i < N_PROPS; i++)
    g_key_file_set_boolean (file, GROUP, keys[i], *slot (self, i));
  if (g_mkdir_with_parents (dir, 0700) != 0 || !g_key_file_save_to_file (file, self->path, &error))
    g_warning ("Cannot save the preferences in %s: %s", self->path,
               error ? error->message : g_strerror (errno));
  else
    g_debug ("preferences saved");
}

/* A missing file or key keeps the default: everything on. */
static void
load (MarinaPreferences *self)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();

  if (!g_key_file_load_from_file (file, self->path, G_KEY_FILE_NONE, NULL))
    return;
  for (guint i = 1; i < N_PROPS; i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean value = g_key_file_get_boolean (file, GROUP, keys[i], &error);
      if (error == NULL)
        *slot (self, i) = value;
    }
}

static void
marina_preferences_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  g_value_set_boolean (value, *slot (MARINA_PREFERENCES (object), prop_id));
}

static void
marina_preferences_set_property (GObject *object, guint prop_id, const GValue *value,
                                 GParamSpec *pspec)
{
  MarinaPreferences *self = MARINA_PREFERENCES (object);

  if (*slot (self, prop_id) == g_value_get_boolean (value))
    return;
  *slot (self, prop_id) = g_value_get_boolean (value);
  save (self);
  g_object_notify_by_pspec (object, pspec);
}

static void
marina_preferences_finalize (GObject *object)
{
  g_free (MARINA_PREFERENCES (object)->path);
  G_OBJECT_CLASS (marina_preferences_parent_class)->finalize (object);
}

static void
marina_preferences_class_init (MarinaPreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = marina_preferences_get_property;
  object_class->set_property = marina_preferences_set_property;
  object_class->finalize = marina_preferences_finalize;
  for (guint i = 1; i < N_PROPS; i++)
    g_object_class_install_property (object_class, i,
                                     g_param_spec_boolean (keys[i], NULL, NULL, TRUE,
                                                           G_PARAM_READWRITE
                                                           | G_PARAM_EXPLICIT_NOTIFY
                                                           | G_PARAM_STATIC_STRINGS));
}

static void
marina_preferences_init (MarinaPreferences *self)
{
  self->background = self->stopped = self->saved = self->heartbeat = self->jobs = TRUE;
  self->path = g_build_filename (g_get_user_config_dir (), "marina", "manager.conf", NULL);
  load (self);
}

MarinaPreferences *
marina_preferences_new (void)
{
  return g_object_new (MARINA_TYPE_PREFERENCES, NULL);
}
