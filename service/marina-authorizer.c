/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-authorizer"
#include "config.h"

#include <pwd.h>

#include "marina-authorizer.h"
#include "marina-error.h"

/* One authorizer decides every method call: the table below says which right
 * each method needs, and anything the table does not list is refused to
 * everyone, root included, so that a new method is closed until someone
 * decides who may call it (a unit test keeps the table complete).
 *
 * A caller has a right when it is root, when the server's or the object's
 * access list grants it, or else when polkit says yes to the action for that
 * right (administrators by default). Properties and the object list stay
 * readable by every caller: D-Bus broadcasts property changes to the whole
 * bus anyway, and they hold names and states, not configurations. */

#define MANAGER "org.marinavm.Marina1.Manager"
#define MACHINE "org.marinavm.Marina1.Machine"
#define JOB "org.marinavm.Marina1.Job"
#define DISK "org.marinavm.Marina1.Disk"
#define NETWORK "org.marinavm.Marina1.Network"
#define PUBLIC MARINA_RIGHT_NONE

static const struct {
  const char *interface;
  const char *method;
  MarinaRights right;
} method_rights[] = {
  { MANAGER, "CreateMachine", MARINA_RIGHT_CREATE },
  { MANAGER, "DefineMachine", MARINA_RIGHT_CREATE },
  { MANAGER, "RegisterMachine", MARINA_RIGHT_CREATE },
  { MANAGER, "ListMachines", PUBLIC },
  { MANAGER, "FindMachine", PUBLIC },
  { MANAGER, "GetEvents", PUBLIC },
  { MANAGER, "StopMachines", MARINA_RIGHT_SERVER },
  { MANAGER, "AttachScript", MARINA_RIGHT_SERVER },
  { MANAGER, "RemoveScript", MARINA_RIGHT_SERVER },
  { MANAGER, "ListScripts", PUBLIC },
  { MANAGER, "WatchMetrics", PUBLIC },
  { MANAGER, "UnwatchMetrics", PUBLIC },
  { MANAGER, "GetAccess", PUBLIC },
  { MANAGER, "SetAccess", MARINA_RIGHT_SERVER },
  /* Making and importing image files is the server's create right; reading
   * what a disk is stays public, like the properties that show it already.
   * A disk's own list (Disk.SetAccess) grants copying (use), changing
   * (configure) and deleting (full) that one disk. */
  { MANAGER, "CreateDisk", MARINA_RIGHT_CREATE },
  { MANAGER, "ImportDisk", MARINA_RIGHT_CREATE },
  { MANAGER, "ListDisks", PUBLIC },
  { DISK, "Inspect", PUBLIC },
  { DISK, "Convert", MARINA_RIGHT_CREATE },
  { DISK, "Delete", MARINA_RIGHT_ADMINISTER },
  { DISK, "GetAccess", MARINA_RIGHT_CONFIGURE },
  { DISK, "SetAccess", MARINA_RIGHT_ADMINISTER },
  { DISK, "Merge", MARINA_RIGHT_CREATE },
  { DISK, "MergeTo", MARINA_RIGHT_CREATE },
  { DISK, "Compact", MARINA_RIGHT_CREATE },
  { DISK, "Resize", MARINA_RIGHT_CREATE },
  { MANAGER, "CreateNetwork", MARINA_RIGHT_CREATE },
  { MANAGER, "ListNetworks", PUBLIC },
  { MANAGER, "FindNetwork", PUBLIC },
  { MACHINE, "Start", MARINA_RIGHT_USE },
  { MACHINE, "Pause", MARINA_RIGHT_USE },
  { MACHINE, "Resume", MARINA_RIGHT_USE },
  { MACHINE, "Save", MARINA_RIGHT_USE },
  { MACHINE, "DiscardSavedState", MARINA_RIGHT_USE },
  { MACHINE, "Shutdown", MARINA_RIGHT_USE },
  { MACHINE, "TurnOff", MARINA_RIGHT_USE },
  { MACHINE, "Reset", MARINA_RIGHT_USE },
  { MACHINE, "OpenConsole", MARINA_RIGHT_USE },
  { MACHINE, "OpenSerial", MARINA_RIGHT_USE },
  { MACHINE, "Screenshot", MARINA_RIGHT_USE },
  { MACHINE, "GetConfig", MARINA_RIGHT_USE },
  { MACHINE, "GetHistory", PUBLIC },
  { MACHINE, "ListScripts", PUBLIC },
  { MACHINE, "SetConfig", MARINA_RIGHT_CONFIGURE },
  { MACHINE, "SetCpuAllocation", MARINA_RIGHT_CONFIGURE },
  { MACHINE, "AttachScript", MARINA_RIGHT_CONFIGURE },
  { MACHINE, "RemoveScript", MARINA_RIGHT_CONFIGURE },
  { MACHINE, "GetAccess", MARINA_RIGHT_CONFIGURE },
  { MACHINE, "SetAccess", MARINA_RIGHT_ADMINISTER },
  { MACHINE, "SetConsolePassword", MARINA_RIGHT_CONFIGURE },
  { MACHINE, "Remove", MARINA_RIGHT_ADMINISTER },
  { MACHINE, "Delete", MARINA_RIGHT_ADMINISTER },
  { MACHINE, "AddNetworkAdapter", MARINA_RIGHT_CONFIGURE },
  { MACHINE, "RemoveNetworkAdapter", MARINA_RIGHT_CONFIGURE },
  { MACHINE, "ConfigureNetworkAdapter", MARINA_RIGHT_CONFIGURE },
  { MACHINE, "CommitUndoDisks", MARINA_RIGHT_CONFIGURE },
  { MACHINE, "AttachDisk", MARINA_RIGHT_CONFIGURE },
  { MACHINE, "DetachDisk", MARINA_RIGHT_CONFIGURE },
  { MACHINE, "InsertMedia", MARINA_RIGHT_USE },
  { MACHINE, "EjectMedia", MARINA_RIGHT_USE },
  { MACHINE, "DiscardUndoDisks", MARINA_RIGHT_CONFIGURE },
  { NETWORK, "Start", MARINA_RIGHT_CONFIGURE },
  { NETWORK, "Stop", MARINA_RIGHT_CONFIGURE },
  { NETWORK, "Configure", MARINA_RIGHT_CONFIGURE },
  { NETWORK, "GetConfig", MARINA_RIGHT_USE },
  { NETWORK, "GetLeases", MARINA_RIGHT_USE },
  { NETWORK, "GetAccess", MARINA_RIGHT_CONFIGURE },
  { NETWORK, "SetAccess", MARINA_RIGHT_ADMINISTER },
  { NETWORK, "Delete", MARINA_RIGHT_ADMINISTER },
  { JOB, "Wait", PUBLIC },
  { JOB, "Cancel", MARINA_RIGHT_USE },
};

/* The polkit action that can grant each right (service/data/org.marinavm.Marina1.policy). */
static const struct {
  MarinaRights right;
  const char *action;
} right_actions[] = {
  { MARINA_RIGHT_USE, "org.marinavm.Marina1.use-machines" },
  { MARINA_RIGHT_CONFIGURE, "org.marinavm.Marina1.configure-machines" },
  { MARINA_RIGHT_ADMINISTER, "org.marinavm.Marina1.configure-machines" },
  { MARINA_RIGHT_CREATE, "org.marinavm.Marina1.create-machines" },
  { MARINA_RIGHT_SERVER, "org.marinavm.Marina1.administer" },
};

#define ACCESS_FILE "access.conf"
#define ACCESS_GROUP "access"
#define ACCESS_KEY "allow"
/* An interactive polkit check waits for a person typing a password. */
#define POLKIT_INTERACTIVE_TIMEOUT_MS (5 * 60 * 1000)
#define POLKIT_TIMEOUT_MS (25 * 1000)
#define CALLER_UID_KEY "marina-caller-uid"

struct _MarinaAuthorizer {
  GObject parent_instance;
  char *access_path;
  gboolean enforcing;
  GPtrArray *server_access;
  MarinaAccessLookup lookup;
  gpointer lookup_data;
};

G_DEFINE_FINAL_TYPE (MarinaAuthorizer, marina_authorizer, G_TYPE_OBJECT)

static MarinaAuthorizer *default_authorizer;

gboolean
marina_authorizer_lookup_method (const char *interface_name, const char *method_name,
                                 MarinaRights *right)
{
  for (guint i = 0; i < G_N_ELEMENTS (method_rights); i++)
    {
      if (g_str_equal (method_rights[i].interface, interface_name) &&
          g_str_equal (method_rights[i].method, method_name))
        {
          *right = method_rights[i].right;
          return TRUE;
        }
    }
  return FALSE;
}

static const char *
right_action (MarinaRights right)
{
  for (guint i = 0; i < G_N_ELEMENTS (right_actions); i++)
    {
      if (right_actions[i].right == right)
        return right_actions[i].action;
    }
  g_return_val_if_reached (NULL);
}

/* ---- the server's access list ------------------------------------------- */

/* Stored as "kind:name=level" strings: names cannot hold ':' or '='. */
static GPtrArray *
access_from_strings (char **strings)
{
  GPtrArray *list = marina_access_list_new ();

  for (guint i = 0; strings != NULL && strings[i]; i++)
    {
      g_auto(GStrv) kind_rest = g_strsplit (strings[i], ":", 2);
      g_auto(GStrv) name_level = kind_rest[1] ? g_strsplit (kind_rest[1], "=", 2) : NULL;
      if (name_level != NULL && name_level[1] != NULL)
        marina_access_list_add (list, kind_rest[0], name_level[0], name_level[1]);
    }
  return list;
}

static void
load_server_access (MarinaAuthorizer *self)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) strings = NULL;
  g_autoptr(GPtrArray) list = NULL;

  if (!g_key_file_load_from_file (file, self->access_path, G_KEY_FILE_NONE, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("Server access list %s is unreadable, so it grants nothing: %s",
                   self->access_path, error->message);
      return;
    }
  strings = g_key_file_get_string_list (file, ACCESS_GROUP, ACCESS_KEY, NULL, NULL);
  list = access_from_strings (strings);
  if (!marina_access_list_validate (list, MARINA_ACCESS_SCOPE_SERVER, &error))
    {
      g_warning ("Server access list %s is invalid, so it grants nothing: %s",
                 self->access_path, error->message);
      return;
    }
  g_ptr_array_unref (self->server_access);
  self->server_access = g_steal_pointer (&list);
}

static gboolean
store_server_access (const char *path, GPtrArray *list, GError **error)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *data = NULL;
  gsize length;

  for (guint i = 0; i < list->len; i++)
    {
      MarinaAccessEntry *entry = g_ptr_array_index (list, i);
      g_ptr_array_add (strings, g_strdup_printf ("%s:%s=%s", entry->kind, entry->name,
                                                 entry->level));
    }
  g_key_file_set_comment (file, NULL, NULL,
                          " Who may use, configure, create or administer everything on this "
                          "server.\n Written by marinad (Manager.SetAccess).", NULL);
  g_key_file_set_string_list (file, ACCESS_GROUP, ACCESS_KEY,
                              (const char *const *) strings->pdata, strings->len);
  data = g_key_file_to_data (file, &length, NULL);
  return g_file_set_contents_full (path, data, length, G_FILE_SET_CONTENTS_CONSISTENT,
                                   0600, error);
}

GPtrArray *
marina_authorizer_get_server_access (MarinaAuthorizer *self)
{
  return self->server_access;
}

gboolean
marina_authorizer_set_server_access (MarinaAuthorizer *self, GPtrArray *access, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!marina_access_list_validate (access, MARINA_ACCESS_SCOPE_SERVER, error) ||
      !marina_access_list_check_accounts (access, error))
    return FALSE;
  if (!store_server_access (self->access_path, access, &local_error))
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                   "Cannot store the server's access list: %s", local_error->message);
      return FALSE;
    }
  g_ptr_array_unref (self->server_access);
  self->server_access = marina_access_list_copy (access);
  return TRUE;
}

/* ---- one authorization -------------------------------------------------- */

/* Everything a method call carries, kept until it is allowed or refused. */
typedef struct {
  GDBusInterfaceMethodCallFunc method_call;
  GDBusConnection *connection;
  char *sender;
  char *object_path;
  char *interface_name;
  char *method_name;
  GVariant *parameters;
  GDBusMethodInvocation *invocation;
  GDBusInterfaceSkeleton *skeleton;
  MarinaRights right;
  uid_t uid;
} Check;

static void
check_free (Check *check)
{
  g_object_unref (check->connection);
  g_free (check->sender);
  g_free (check->object_path);
  g_free (check->interface_name);
  g_free (check->method_name);
  g_variant_unref (check->parameters);
  g_clear_object (&check->invocation);
  g_object_unref (check->skeleton);
  g_free (check);
}

static void
allow (Check *check)
{
  check->method_call (check->connection, check->sender, check->object_path,
                      check->interface_name, check->method_name, check->parameters,
                      g_steal_pointer (&check->invocation), check->skeleton);
  check_free (check);
}

static char *
user_name (uid_t uid)
{
  struct passwd *user = getpwuid (uid);

  return user ? g_strdup (user->pw_name) : g_strdup_printf ("uid %u", (guint) uid);
}

/* How an administrator would grant what was missing. */
static const char *
grant_hint (const Check *check)
{
  if (check->right & (MARINA_RIGHT_CREATE | MARINA_RIGHT_SERVER))
    return "Manager.SetAccess";
  return "Machine.SetAccess or Manager.SetAccess";
}

static void
refuse (Check *check, const char *polkit_problem)
{
  g_autofree char *who = user_name (check->uid);
  g_autofree char *description = NULL;
  g_autoptr(GPtrArray) access = NULL;
  g_autofree char *message = NULL;

  access = default_authorizer->lookup (check->object_path, &description,
                                       default_authorizer->lookup_data);
  message = g_strdup_printf (
    "%s may not call %s.%s%s%s: that needs the '%s' right. An administrator can grant it "
    "with %s, or allow the polkit action %s%s%s",
    who, strrchr (check->interface_name, '.') + 1, check->method_name,
    description ? " on " : "", description ? description : "",
    marina_rights_describe (check->right), grant_hint (check), right_action (check->right),
    polkit_problem ? " (" : "", polkit_problem ? polkit_problem : "");
  if (polkit_problem)
    {
      char *closed = g_strconcat (message, ")", NULL);
      g_free (message);
      message = closed;
    }
  g_dbus_method_invocation_return_dbus_error (g_steal_pointer (&check->invocation),
                                              "org.freedesktop.DBus.Error.AccessDenied",
                                              message);
  check_free (check);
}

static void
on_polkit_checked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Check *check = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source),
                                                             result, &error);
  gboolean authorized = FALSE, challenge = FALSE;

  if (reply == NULL)
    {
      g_autofree char *remote = g_dbus_error_get_remote_error (error);
      g_message ("polkit could not be asked about %s: %s", right_action (check->right),
                 error->message);
      refuse (check, g_strcmp0 (remote, "org.freedesktop.DBus.Error.ServiceUnknown") == 0
                       ? "polkit is not running on this bus"
                       : "polkit could not be asked");
      return;
    }
  g_variant_get (reply, "((bb@a{ss}))", &authorized, &challenge, NULL);
  if (authorized)
    allow (check);
  else
    refuse (check, challenge ? "polkit wants authentication, which this call did not allow"
                             : NULL);
}

static void
ask_polkit (Check *check)
{
  GDBusMessage *message = g_dbus_method_invocation_get_message (check->invocation);
  gboolean interactive =
    (g_dbus_message_get_flags (message) & G_DBUS_MESSAGE_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION) != 0;
  GVariantBuilder subject;

  g_variant_builder_init (&subject, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&subject, "{sv}", "name", g_variant_new_string (check->sender));
  g_dbus_connection_call (check->connection, "org.freedesktop.PolicyKit1",
                          "/org/freedesktop/PolicyKit1/Authority",
                          "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
                          g_variant_new ("((sa{sv})sa{ss}us)", "system-bus-name", &subject,
                                         right_action (check->right), NULL,
                                         interactive ? 1u : 0u, ""),
                          G_VARIANT_TYPE ("((bba{ss}))"), G_DBUS_CALL_FLAGS_NONE,
                          interactive ? POLKIT_INTERACTIVE_TIMEOUT_MS : POLKIT_TIMEOUT_MS,
                          NULL, on_polkit_checked, check);
}

static MarinaRights
granted_rights (Check *check, const gid_t *gids, guint n_gids)
{
  MarinaAuthorizer *self = default_authorizer;
  MarinaRights rights = marina_access_list_rights (self->server_access,
                                                   MARINA_ACCESS_SCOPE_SERVER, check->uid,
                                                   gids, n_gids);
  g_autoptr(GPtrArray) object_access = self->lookup (check->object_path, NULL,
                                                     self->lookup_data);

  if (object_access != NULL)
    rights |= marina_access_list_rights (object_access, MARINA_ACCESS_SCOPE_OBJECT,
                                         check->uid, gids, n_gids);
  return rights;
}

static void
decide (Check *check, const gid_t *gids, guint n_gids)
{
  g_object_set_data (G_OBJECT (check->invocation), CALLER_UID_KEY,
                     GUINT_TO_POINTER ((guint) check->uid + 1));
  if (check->uid == 0 || (granted_rights (check, gids, n_gids) & check->right))
    allow (check);
  else if (check->sender != NULL)
    ask_polkit (check);
  else
    refuse (check, "a peer-to-peer caller cannot be asked about through polkit");
}

static void
on_credentials (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Check *check = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source),
                                                             result, &error);
  g_autoptr(GVariant) credentials = NULL;
  g_autoptr(GVariant) groups = NULL;
  const gid_t *gids = NULL;
  gsize n_gids = 0;
  guint32 uid;

  if (reply == NULL)
    {
      g_dbus_method_invocation_return_dbus_error (g_steal_pointer (&check->invocation),
                                                  "org.freedesktop.DBus.Error.AccessDenied",
                                                  "The bus did not say who the caller is");
      check_free (check);
      return;
    }
  credentials = g_variant_get_child_value (reply, 0);
  if (!g_variant_lookup (credentials, "UnixUserID", "u", &uid))
    uid = G_MAXUINT32;  /* nobody we know: only polkit may still say yes */
  check->uid = uid;
  groups = g_variant_lookup_value (credentials, "UnixGroupIDs", G_VARIANT_TYPE ("au"));
  if (groups)
    gids = g_variant_get_fixed_array (groups, &n_gids, sizeof (guint32));
  decide (check, gids, n_gids);
}

static void
find_caller (Check *check)
{
  GCredentials *peer = g_dbus_connection_get_peer_credentials (check->connection);

  if (check->sender == NULL)
    {
      /* A peer-to-peer connection: the other end is the caller. */
      check->uid = peer ? g_credentials_get_unix_user (peer, NULL) : (uid_t) -1;
      decide (check, NULL, 0);
      return;
    }
  g_dbus_connection_call (check->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionCredentials",
                          g_variant_new ("(s)", check->sender), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_credentials, check);
}

gboolean
marina_authorizer_get_caller_uid (GDBusMethodInvocation *invocation, uid_t *uid)
{
  guint stored = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (invocation), CALLER_UID_KEY));

  if (stored == 0)
    return FALSE;
  *uid = stored - 1;
  return TRUE;
}

/* ---- the hook into the generated skeletons -------------------------------- */

typedef GDBusInterfaceVTable *(*GetVTableFunc) (GDBusInterfaceSkeleton *skeleton);

/* Per guarded class: the generated vtable's method_call, and a copy of that
 * vtable that calls method_call_authorized instead. */
typedef struct {
  GetVTableFunc generated_get_vtable;
  GDBusInterfaceMethodCallFunc generated_method_call;
  GDBusInterfaceVTable vtable;
} Guard;

static GQuark
guard_quark (void)
{
  return g_quark_from_static_string ("marina-authorizer-guard");
}

static Guard *
class_guard (gpointer instance)
{
  return g_type_get_qdata (G_TYPE_FROM_INSTANCE (instance), guard_quark ());
}

static void
method_call_authorized (GDBusConnection *connection, const char *sender,
                        const char *object_path, const char *interface_name,
                        const char *method_name, GVariant *parameters,
                        GDBusMethodInvocation *invocation, gpointer user_data)
{
  Guard *guard = class_guard (user_data);
  MarinaRights right;
  Check *check;

  if (!marina_authorizer_lookup_method (interface_name, method_name, &right))
    {
      g_dbus_method_invocation_return_dbus_error (
        invocation, "org.freedesktop.DBus.Error.AccessDenied",
        "This method is not in marinad's authorization table, so nobody may call it");
      return;
    }
  if (right == PUBLIC || default_authorizer == NULL || !default_authorizer->enforcing)
    {
      guard->generated_method_call (connection, sender, object_path, interface_name,
                                    method_name, parameters, invocation, user_data);
      return;
    }
  check = g_new0 (Check, 1);
  check->method_call = guard->generated_method_call;
  check->connection = g_object_ref (connection);
  check->sender = g_strdup (sender);
  check->object_path = g_strdup (object_path);
  check->interface_name = g_strdup (interface_name);
  check->method_name = g_strdup (method_name);
  check->parameters = g_variant_ref (parameters);
  check->invocation = invocation;
  check->skeleton = g_object_ref (user_data);
  check->right = right;
  find_caller (check);
}

static GDBusInterfaceVTable *
get_vtable_authorized (GDBusInterfaceSkeleton *skeleton)
{
  Guard *guard = class_guard (skeleton);

  if (guard->generated_method_call == NULL)
    {
      guard->vtable = *guard->generated_get_vtable (skeleton);
      guard->generated_method_call = guard->vtable.method_call;
      guard->vtable.method_call = method_call_authorized;
    }
  return &guard->vtable;
}

void
marina_authorizer_guard_class (GDBusInterfaceSkeletonClass *klass)
{
  Guard *guard = g_new0 (Guard, 1);

  guard->generated_get_vtable = klass->get_vtable;
  g_type_set_qdata (G_TYPE_FROM_CLASS (klass), guard_quark (), guard);
  klass->get_vtable = get_vtable_authorized;
}

/* ---- the object ----------------------------------------------------------- */

static void
marina_authorizer_finalize (GObject *object)
{
  MarinaAuthorizer *self = MARINA_AUTHORIZER (object);

  if (default_authorizer == self)
    default_authorizer = NULL;
  g_free (self->access_path);
  g_ptr_array_unref (self->server_access);
  G_OBJECT_CLASS (marina_authorizer_parent_class)->finalize (object);
}

static void
marina_authorizer_class_init (MarinaAuthorizerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = marina_authorizer_finalize;
}

static void
marina_authorizer_init (MarinaAuthorizer *self)
{
  self->server_access = marina_access_list_new ();
}

static GPtrArray *
no_object_access (const char *object_path, char **description, gpointer user_data)
{
  return NULL;
}

/**
 * marina_authorizer_new:
 * @enforcing: FALSE for a session instance, where the bus itself admits
 *   only its user: then every listed method is allowed.
 *
 * Returns: an authorizer that keeps the server's access list in
 * @state_dir/access.conf.
 */
MarinaAuthorizer *
marina_authorizer_new (const char *state_dir, gboolean enforcing, MarinaAccessLookup lookup,
                       gpointer lookup_data)
{
  MarinaAuthorizer *self = g_object_new (MARINA_TYPE_AUTHORIZER, NULL);

  self->access_path = g_build_filename (state_dir, ACCESS_FILE, NULL);
  self->enforcing = enforcing;
  self->lookup = lookup ? lookup : no_object_access;
  self->lookup_data = lookup_data;
  load_server_access (self);
  return self;
}

/* The one authorizer the guarded classes consult; not a reference. */
void
marina_authorizer_set_default (MarinaAuthorizer *self)
{
  default_authorizer = self;
}

gboolean
marina_authorizer_is_enforcing (MarinaAuthorizer *self)
{
  return self->enforcing;
}
