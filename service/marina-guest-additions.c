/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-guest-additions"
#include "config.h"

#include "marina-error.h"
#include "marina-guest-additions.h"
#include "marina-guest-agent.h"

/* A ping every few seconds while the machine runs. One missed answer can be
 * a busy host (TCG guests stall); two in a row mean the agent is gone. A
 * guest that does not answer is asked less often, so that a guest without
 * an agent costs little and its unread channel fills slowly. */
#define PING_INTERVAL_S 3
#define SILENT_INTERVAL_S 15
#define PINGS_BEFORE_SLOWING 10
#define PING_TIMEOUT_MS 3000
#define MISSES_BEFORE_LOST 2
#define INFO_TIMEOUT_MS 5000
#define ADDRESS_REFRESH_PINGS 10   /* every 30 s */

struct _MarinaGuestAdditions {
  GObject parent_instance;
  MarinaGuestAgent *agent;
  gboolean active;
  guint generation;          /* bumped on pause: answers to older pings are stale */
  guint tick_id;
  gboolean ping_in_flight;
  guint misses;
  guint pings_answered;
  gboolean heartbeat;
  gboolean agent_connected;  /* an agent answered during this run */
  gboolean time_sync_pending;
  char *os_name;
  GStrv addresses;
};

enum { SIGNAL_CHANGED, SIGNAL_LOG, SIGNAL_HEARTBEAT_LOST, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (MarinaGuestAdditions, marina_guest_additions, G_TYPE_OBJECT)

static void schedule_ping (MarinaGuestAdditions *self);

static void
emit_log (MarinaGuestAdditions *self, const char *severity, const char *message)
{
  g_signal_emit (self, signals[SIGNAL_LOG], 0, severity, message);
}

/* Each asynchronous call carries the generation it started in. */
typedef struct {
  MarinaGuestAdditions *self;
  guint generation;
} Ticket;

static Ticket *
ticket_new (MarinaGuestAdditions *self)
{
  Ticket *ticket = g_new0 (Ticket, 1);

  ticket->self = g_object_ref (self);
  ticket->generation = self->generation;
  return ticket;
}

/* Frees the ticket; returns its owner if the answer still counts. */
static MarinaGuestAdditions *
ticket_redeem (Ticket *ticket)
{
  MarinaGuestAdditions *self = ticket->self;
  gboolean current = ticket->generation == self->generation && self->active;

  g_free (ticket);
  if (current)
    return self;
  g_object_unref (self);
  return NULL;
}

/* ---- guest information ---- */

static const char *
string_member (JsonObject *object, const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING || *json_node_get_string (node) == '\0')
    return NULL;
  return json_node_get_string (node);
}

static JsonNode *
finish_info (GObject *source, GAsyncResult *result, const char *what)
{
  g_autoptr(GError) error = NULL;
  JsonNode *value = marina_guest_agent_execute_finish (MARINA_GUEST_AGENT (source), result,
                                                       &error);

  if (error)
    g_debug ("No %s from the guest agent: %s", what, error->message);
  return value;
}

static void
on_osinfo (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(JsonNode) value = finish_info (source, result, "OS information");
  g_autoptr(MarinaGuestAdditions) self = ticket_redeem (user_data);
  JsonObject *info = value && JSON_NODE_HOLDS_OBJECT (value) ? json_node_get_object (value) : NULL;
  const char *name = string_member (info, "pretty-name");

  if (self == NULL || info == NULL)
    return;
  name = name ? name : string_member (info, "name");
  name = name ? name : string_member (info, "kernel-release");
  if (name == NULL || g_strcmp0 (name, self->os_name) == 0)
    return;
  g_free (self->os_name);
  self->os_name = g_strdup (name);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

/* Addresses others can reach the guest at: loopback and IPv6 link-local
 * addresses are left out, so a guest without a NIC has none. */
static gboolean
is_reachable_address (const char *address)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);

  return inet && !g_inet_address_get_is_loopback (inet) &&
         !g_inet_address_get_is_link_local (inet);
}

static void
collect_addresses (JsonObject *interface, GPtrArray *addresses)
{
  JsonNode *list = json_object_get_member (interface, "ip-addresses");
  JsonArray *array = list && JSON_NODE_HOLDS_ARRAY (list) ? json_node_get_array (list) : NULL;

  for (guint i = 0; array && i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      const char *address = JSON_NODE_HOLDS_OBJECT (node)
        ? string_member (json_node_get_object (node), "ip-address") : NULL;

      if (address && is_reachable_address (address))
        g_ptr_array_add (addresses, g_strdup (address));
    }
}

static GStrv
parse_addresses (JsonNode *value)
{
  GPtrArray *addresses = g_ptr_array_new ();
  JsonArray *interfaces = JSON_NODE_HOLDS_ARRAY (value) ? json_node_get_array (value) : NULL;

  for (guint i = 0; interfaces && i < json_array_get_length (interfaces); i++)
    {
      JsonNode *node = json_array_get_element (interfaces, i);

      if (JSON_NODE_HOLDS_OBJECT (node))
        collect_addresses (json_node_get_object (node), addresses);
    }
  g_ptr_array_add (addresses, NULL);
  return (GStrv) g_ptr_array_free (addresses, FALSE);
}

static void
on_interfaces (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(JsonNode) value = finish_info (source, result, "network interfaces");
  g_autoptr(MarinaGuestAdditions) self = ticket_redeem (user_data);
  g_auto(GStrv) addresses = NULL;

  if (self == NULL || value == NULL)
    return;
  addresses = parse_addresses (value);
  if (g_strv_equal ((const char *const *) addresses, (const char *const *) self->addresses))
    return;
  g_strfreev (self->addresses);
  self->addresses = g_steal_pointer (&addresses);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
ask (MarinaGuestAdditions *self, const char *command, JsonObject *arguments,
     GAsyncReadyCallback callback)
{
  marina_guest_agent_execute_async (self->agent, command, arguments, INFO_TIMEOUT_MS, callback,
                                    ticket_new (self));
}

/* ---- time ---- */

static void
on_time_set (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaGuestAdditions) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = marina_guest_agent_execute_finish (MARINA_GUEST_AGENT (source),
                                                                 result, &error);
  g_autofree char *message = NULL;

  if (error == NULL)
    return emit_log (self, "info", "the guest agent set the guest's clock to the host's time");
  message = g_strdup_printf ("could not set the guest's clock through its agent: %s",
                             error->message);
  emit_log (self, "warning", message);
}

/* Nanoseconds since the epoch: a guest restored from a saved state or
 * paused for long has a clock that stood still meanwhile. */
static void
set_guest_time (MarinaGuestAdditions *self)
{
  g_autoptr(JsonObject) args = json_object_new ();

  self->time_sync_pending = FALSE;
  json_object_set_int_member (args, "time", g_get_real_time () * 1000);
  marina_guest_agent_execute_async (self->agent, "guest-set-time", args, INFO_TIMEOUT_MS,
                                    on_time_set, g_object_ref (self));
}

/* ---- heartbeat ---- */

static void
heartbeat_answered (MarinaGuestAdditions *self)
{
  gboolean first = !self->agent_connected;

  self->misses = 0;
  if (self->time_sync_pending)
    set_guest_time (self);
  if (!first && self->heartbeat && ++self->pings_answered % ADDRESS_REFRESH_PINGS != 0)
    return;
  if (first)
    ask (self, "guest-get-osinfo", NULL, on_osinfo);
  ask (self, "guest-network-get-interfaces", NULL, on_interfaces);
  if (self->heartbeat)
    return;
  emit_log (self, "info", first ? "its guest agent answers: heartbeat started"
                                : "its guest agent answers again: heartbeat is back");
  self->heartbeat = self->agent_connected = TRUE;
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
heartbeat_missed (MarinaGuestAdditions *self, const GError *error)
{
  g_autofree char *message = NULL;

  g_debug ("Heartbeat missed: %s", error->message);
  if (++self->misses < MISSES_BEFORE_LOST || !self->heartbeat)
    return;
  self->heartbeat = FALSE;
  message = g_strdup_printf ("HeartbeatLost: its guest agent stopped answering (%s)",
                             error->message);
  emit_log (self, "warning", message);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  g_signal_emit (self, signals[SIGNAL_HEARTBEAT_LOST], 0);
}

static void
on_ping (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = marina_guest_agent_execute_finish (MARINA_GUEST_AGENT (source),
                                                                 result, &error);
  Ticket *ticket = user_data;
  g_autoptr(MarinaGuestAdditions) self = NULL;

  if ((self = ticket_redeem (ticket)) == NULL)
    return; /* set_active() forgot this ping already */
  self->ping_in_flight = FALSE;
  if (error)
    heartbeat_missed (self, error);
  else
    heartbeat_answered (self);
  schedule_ping (self);
}

static gboolean
on_tick (gpointer user_data)
{
  MarinaGuestAdditions *self = user_data;

  self->tick_id = 0;
  self->ping_in_flight = TRUE;
  marina_guest_agent_execute_async (self->agent, "guest-ping", NULL, PING_TIMEOUT_MS, on_ping,
                                    ticket_new (self));
  return G_SOURCE_REMOVE;
}

static void
schedule_ping (MarinaGuestAdditions *self)
{
  guint interval = self->heartbeat || self->misses < PINGS_BEFORE_SLOWING ? PING_INTERVAL_S
                                                                          : SILENT_INTERVAL_S;

  if (self->active && self->tick_id == 0 && !self->ping_in_flight)
    self->tick_id = g_timeout_add_seconds (interval, on_tick, self);
}

void
marina_guest_additions_set_active (MarinaGuestAdditions *self, gboolean active)
{
  g_return_if_fail (MARINA_IS_GUEST_ADDITIONS (self));

  if (self->active == active)
    return;
  self->active = active;
  self->generation++;
  self->misses = 0;
  self->ping_in_flight = FALSE; /* its answer is stale now */
  g_clear_handle_id (&self->tick_id, g_source_remove);
  if (active)
    self->tick_id = g_idle_add (on_tick, self);
}

void
marina_guest_additions_sync_time (MarinaGuestAdditions *self)
{
  g_return_if_fail (MARINA_IS_GUEST_ADDITIONS (self));

  self->time_sync_pending = TRUE;
}

/* ---- shutdown ---- */

static void
on_agent_shutdown (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (marina_guest_agent_shutdown_finish (MARINA_GUEST_AGENT (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
marina_guest_additions_shutdown_async (MarinaGuestAdditions *self,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  if (!self->heartbeat)
    return g_task_return_new_error (task, MARINA_ERROR, MARINA_ERROR_FAILED,
                                    "no guest agent answers");
  marina_guest_agent_shutdown_async (self->agent, on_agent_shutdown, g_steal_pointer (&task));
}

gboolean
marina_guest_additions_shutdown_finish (MarinaGuestAdditions *self, GAsyncResult *result,
                                        GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- getters and object ---- */

gboolean
marina_guest_additions_get_heartbeat (MarinaGuestAdditions *self)
{
  return self->heartbeat;
}

gboolean
marina_guest_additions_get_agent_connected (MarinaGuestAdditions *self)
{
  return self->agent_connected;
}

const char *
marina_guest_additions_get_os_name (MarinaGuestAdditions *self)
{
  return self->os_name ? self->os_name : "";
}

const char *const *
marina_guest_additions_get_addresses (MarinaGuestAdditions *self)
{
  return (const char *const *) self->addresses;
}

static void
marina_guest_additions_dispose (GObject *object)
{
  MarinaGuestAdditions *self = MARINA_GUEST_ADDITIONS (object);

  g_clear_handle_id (&self->tick_id, g_source_remove);
  if (self->agent)
    marina_guest_agent_close (self->agent);
  g_clear_object (&self->agent);
  G_OBJECT_CLASS (marina_guest_additions_parent_class)->dispose (object);
}

static void
marina_guest_additions_finalize (GObject *object)
{
  MarinaGuestAdditions *self = MARINA_GUEST_ADDITIONS (object);

  g_free (self->os_name);
  g_strfreev (self->addresses);
  G_OBJECT_CLASS (marina_guest_additions_parent_class)->finalize (object);
}

static void
marina_guest_additions_class_init (MarinaGuestAdditionsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = marina_guest_additions_dispose;
  object_class->finalize = marina_guest_additions_finalize;

  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
  signals[SIGNAL_LOG] =
    g_signal_new ("log", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_HEARTBEAT_LOST] =
    g_signal_new ("heartbeat-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
}

static void
marina_guest_additions_init (MarinaGuestAdditions *self)
{
  self->addresses = g_new0 (char *, 1);
}

MarinaGuestAdditions *
marina_guest_additions_new (const char *agent_socket_path)
{
  MarinaGuestAdditions *self = g_object_new (MARINA_TYPE_GUEST_ADDITIONS, NULL);

  self->agent = marina_guest_agent_new (agent_socket_path);
  return self;
}
