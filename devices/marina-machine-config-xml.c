/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-devices"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "marina-devices-resources.h"
#include "marina-error.h"
#include "marina-machine-config.h"
#include "marina-xml.h"

/* The XML form of a machine configuration. Input comes from users and other
 * hosts (DefineMachine, SetConfig, RegisterMachine), so parsing refuses
 * DOCTYPEs (no entities, no DTD), never touches the network, and is bounded
 * in size; the structure is checked against a RelaxNG schema compiled into
 * this library, the values by marina_machine_config_validate(). */

#define WHAT "Machine configuration"
#define MACHINE_NS "http://marinavm.org/ns/machine/1"
#define SCHEMA_RESOURCE "/org/marinavm/Marina1/devices/marina-machine.rng"

/* libxml2's RelaxNG messages leave out what a person needs to fix the file:
 * which value was wrong, and that the children of <machine> have an order. */
static void
append_schema_hint (GString *text, xmlNodePtr node, const char *reason)
{
  if (g_str_equal (reason, "Error validating value"))
    {
      xmlChar *content = xmlNodeGetContent (node);
      const char *value = content ? (const char *) content : "";
      /* Enough to recognise the value; the element may hold a megabyte. */
      g_autofree char *shown = g_utf8_substring (value, 0, MIN (g_utf8_strlen (value, -1), 40));

      g_string_append_printf (text, " '%s'", shown);
      xmlFree (content);
    }
  else if (g_str_has_prefix (reason, "Expecting a namespace"))
    {
      g_string_append (text, " (add xmlns=\"" MACHINE_NS "\")");
    }
  else if (g_str_has_prefix (reason, "Did not expect element") &&
           node->parent != NULL && node->parent->type == XML_ELEMENT_NODE &&
           node->parent->parent != NULL && node->parent->parent->type == XML_DOCUMENT_NODE)
    {
      g_string_append (text, " (the elements of <machine> come in this order, each at most "
                       "once: name, notes, profile, memory, vcpus, accelerator, boot-disk, "
                       "cdrom, floppy, disks, undo-disks, boot-order, host-actions, cpu, scripts, access, "
                       "remote-console, network-adapters, ports; only name is required)");
    }
}

/* ---- the schema ---- */

static xmlRelaxNGPtr
load_schema (GError **error)
{
  g_autoptr(GBytes) bytes = NULL;
  xmlRelaxNGParserCtxtPtr parser;
  xmlRelaxNGPtr schema;
  gsize size;
  const char *data;

  bytes = g_resource_lookup_data (marina_devices_get_resource (), SCHEMA_RESOURCE,
                                  G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (bytes == NULL)
    return NULL;
  data = g_bytes_get_data (bytes, &size);
  parser = xmlRelaxNGNewMemParserCtxt (data, (int) size);
  schema = xmlRelaxNGParse (parser);
  xmlRelaxNGFreeParserCtxt (parser);
  if (schema == NULL)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                 "The built-in machine configuration schema is broken");
  return schema;
}

/* Compiled once and kept for the life of the process; libxml2 allows one
 * schema to serve any number of validation contexts. */
static xmlRelaxNGPtr
get_schema (GError **error)
{
  static xmlRelaxNGPtr schema;
  G_LOCK_DEFINE_STATIC (schema);
  xmlRelaxNGPtr result;

  G_LOCK (schema);
  if (schema == NULL)
    schema = load_schema (error);
  result = schema;
  G_UNLOCK (schema);
  return result;
}

static gboolean
validate_against_schema (xmlDocPtr doc, MarinaXmlTrap *trap, GError **error)
{
  xmlRelaxNGPtr schema = get_schema (error);
  xmlRelaxNGValidCtxtPtr context;
  int result;

  if (schema == NULL)
    return FALSE;
  g_clear_pointer (&trap->message, g_free);
  context = xmlRelaxNGNewValidCtxt (schema);
  xmlRelaxNGSetValidStructuredErrors (context, marina_xml_trap_structured_error, trap);
  result = xmlRelaxNGValidateDoc (context, doc);
  xmlRelaxNGFreeValidCtxt (context);
  if (result != 0)
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "Machine configuration does not match the schema: %s",
                   marina_xml_trap_message (trap));
      return FALSE;
    }
  return TRUE;
}

static char *
stripped_text (xmlNodePtr node)
{
  return g_strstrip (marina_xml_node_text (node));
}

static gboolean
read_name (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_free (config->name);
  config->name = marina_xml_node_text (node);
  return TRUE;
}

static gboolean
read_notes (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_free (config->notes);
  config->notes = marina_xml_node_text (node);
  return TRUE;
}

static gboolean
read_profile (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_autofree char *text = stripped_text (node);

  return marina_profile_from_string (text, &config->profile, error);
}

static gboolean
read_memory (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_autofree char *unit = marina_xml_node_attribute (node, "unit");
  g_autofree char *text = marina_xml_node_text (node);
  gboolean gib = g_strcmp0 (unit, "GiB") == 0;

  /* GiB is there for people writing files by hand; marinad writes MiB. */
  if (!marina_xml_parse_number ("memory size", text, gib ? G_MAXUINT64 / 1024 : G_MAXUINT64,
                     &config->memory_mib, error))
    return FALSE;
  if (gib)
    config->memory_mib *= 1024;
  return TRUE;
}

static gboolean
read_vcpus (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_autofree char *text = marina_xml_node_text (node);

  return marina_xml_parse_uint ("number of virtual processors", text, &config->vcpus, error);
}

static gboolean
read_accelerator (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_free (config->accelerator);
  config->accelerator = stripped_text (node);
  return TRUE;
}

static gboolean
read_boot_disk (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_free (config->boot_disk);
  config->boot_disk = marina_xml_node_attribute (node, "path");
  g_free (config->boot_disk_format);
  config->boot_disk_format = marina_xml_node_attribute (node, "format");
  return TRUE;
}

static gboolean
read_cdrom (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_free (config->cdrom);
  config->cdrom = marina_xml_node_attribute (node, "path");
  return TRUE;
}

static gboolean
read_floppy (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_free (config->floppy);
  config->floppy = marina_xml_node_attribute (node, "path");
  return TRUE;
}

static gboolean
read_drive (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_autoptr(MarinaDrive) drive = marina_drive_new ();
  g_autofree char *bus = marina_xml_node_attribute (node, "bus");
  g_autofree char *controller = marina_xml_node_attribute (node, "controller");
  g_autofree char *unit = marina_xml_node_attribute (node, "unit");
  g_autofree char *shared = marina_xml_node_attribute (node, "shared");

  drive->shared = g_strcmp0 (shared, "yes") == 0;
  drive->path = marina_xml_node_attribute (node, "path");
  drive->format = marina_xml_node_attribute (node, "format");
  if (!marina_bus_from_string (bus, &drive->bus, error) ||
      !marina_xml_parse_uint ("disk controller", controller, &drive->controller, error) ||
      !marina_xml_parse_uint ("disk unit", unit, &drive->unit, error))
    return FALSE;
  g_ptr_array_add (config->drives, g_steal_pointer (&drive));
  return TRUE;
}

static gboolean
read_disks (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  for (xmlNodePtr child = node->children; child != NULL; child = child->next)
    if (child->type == XML_ELEMENT_NODE && !read_drive (config, child, error))
      return FALSE;
  return TRUE;
}

static gboolean
read_undo_disks (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_autofree char *enabled = marina_xml_node_attribute (node, "enabled");
  g_autofree char *action = marina_xml_node_attribute (node, "action");

  config->undo_disks = g_strcmp0 (enabled, "no") != 0;
  return action == NULL ||
         marina_undo_action_from_string (g_strstrip (action), &config->undo_action, error);
}

static gboolean
read_boot_order (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  GPtrArray *devices = g_ptr_array_new ();

  for (xmlNodePtr child = node->children; child != NULL; child = child->next)
    {
      if (child->type == XML_ELEMENT_NODE)
        g_ptr_array_add (devices, stripped_text (child));
    }
  g_ptr_array_add (devices, NULL);
  g_strfreev (config->boot_order);
  config->boot_order = (GStrv) g_ptr_array_free (devices, FALSE);
  return TRUE;
}

static gboolean
read_host_actions (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_autofree char *autostart = marina_xml_node_attribute (node, "autostart");
  g_autofree char *delay = marina_xml_node_attribute (node, "autostart-delay");
  g_autofree char *stop_action = marina_xml_node_attribute (node, "stop-action");

  if (autostart != NULL &&
      !marina_autostart_from_string (g_strstrip (autostart), &config->autostart, error))
    return FALSE;
  if (delay != NULL &&
      !marina_xml_parse_uint ("autostart delay", delay, &config->autostart_delay, error))
    return FALSE;
  if (stop_action != NULL &&
      !marina_stop_action_from_string (g_strstrip (stop_action), &config->stop_action, error))
    return FALSE;
  return TRUE;
}

static gboolean
read_cpu (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  const struct { const char *attribute; const char *what; guint *field; } fields[] = {
    { "weight", "CPU weight", &config->cpu_weight },
    { "maximum", "CPU maximum", &config->cpu_maximum },
    { "reserve", "CPU reserve", &config->cpu_reserve },
  };

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      g_autofree char *text = marina_xml_node_attribute (node, fields[i].attribute);
      if (text != NULL && !marina_xml_parse_uint (fields[i].what, text, fields[i].field, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
read_scripts (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  for (xmlNodePtr child = node->children; child != NULL; child = child->next)
    {
      if (child->type != XML_ELEMENT_NODE)
        continue;
      g_hash_table_insert (config->scripts, marina_xml_node_attribute (child, "event"),
                           marina_xml_node_attribute (child, "path"));
    }
  return TRUE;
}

static gboolean
read_access (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  marina_xml_read_access (node, config->access);
  return TRUE;
}

static gboolean
read_remote_console (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_autofree char *port = marina_xml_node_attribute (node, "port");

  config->remote_console_listen = marina_xml_node_attribute (node, "listen");
  config->remote_console_auth = marina_xml_node_attribute (node, "auth");
  return marina_xml_parse_uint ("remote console port", port, &config->remote_console_port, error);
}

static gboolean
read_network_adapters (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  for (xmlNodePtr child = node->children; child != NULL; child = child->next)
    {
      g_autofree char *connected = NULL;
      MarinaNic *nic;

      if (child->type != XML_ELEMENT_NODE)
        continue;
      nic = marina_nic_new ();
      g_ptr_array_add (config->nics, nic);
      nic->id = marina_xml_node_attribute (child, "id");
      nic->mac = marina_xml_node_attribute (child, "mac");
      nic->model = marina_xml_node_attribute (child, "model");
      nic->network = marina_xml_node_attribute (child, "network");
      connected = marina_xml_node_attribute (child, "connected");
      nic->connected = g_strcmp0 (connected, "no") != 0;
    }
  return TRUE;
}

/* <ports><com2 type="..." path="..."/><lpt1 .../></ports> */
static gboolean
read_ports (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  for (xmlNodePtr child = node->children; child != NULL; child = child->next)
    {
      MarinaPort *port;
      g_autofree char *type = NULL;

      if (child->type != XML_ELEMENT_NODE)
        continue;
      port = g_str_equal ((const char *) child->name, "com2") ? &config->com2 : &config->lpt1;
      type = marina_xml_node_attribute (child, "type");
      marina_port_clear (port);
      if (!marina_port_kind_from_string (type, &port->kind, error))
        return FALSE;
      port->path = marina_xml_node_attribute (child, "path");
    }
  return TRUE;
}

typedef gboolean (*ElementReader) (MarinaMachineConfig *config,
                                   xmlNodePtr           node,
                                   GError             **error);

/* The children of <machine>; the schema has already checked their order
 * and multiplicity. */
static const struct {
  const char *name;
  ElementReader read;
} element_readers[] = {
  { "name", read_name },
  { "notes", read_notes },
  { "profile", read_profile },
  { "memory", read_memory },
  { "vcpus", read_vcpus },
  { "accelerator", read_accelerator },
  { "boot-disk", read_boot_disk },
  { "cdrom", read_cdrom },
  { "floppy", read_floppy },
  { "disks", read_disks },
  { "undo-disks", read_undo_disks },
  { "boot-order", read_boot_order },
  { "host-actions", read_host_actions },
  { "cpu", read_cpu },
  { "scripts", read_scripts },
  { "access", read_access },
  { "remote-console", read_remote_console },
  { "network-adapters", read_network_adapters },
  { "ports", read_ports },
};

static gboolean
read_element (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (element_readers); i++)
    {
      if (g_str_equal ((const char *) node->name, element_readers[i].name))
        return element_readers[i].read (config, node, error);
    }
  /* Only reached if the schema learns an element this code does not. */
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
               "Machine configuration: line %ld: element %s is not supported",
               xmlGetLineNo (node), (const char *) node->name);
  return FALSE;
}

static MarinaMachineConfig *
config_from_document (xmlDocPtr doc, GError **error)
{
  g_autoptr(MarinaMachineConfig) config = marina_machine_config_new ();
  xmlNodePtr root = xmlDocGetRootElement (doc);
  g_autofree char *id = marina_xml_node_attribute (root, "id");

  /* Without an id (a hand-written file) the fresh one from _new() stays. */
  if (id != NULL)
    {
      g_free (config->id);
      config->id = g_steal_pointer (&id);
    }
  for (xmlNodePtr node = root->children; node != NULL; node = node->next)
    {
      if (node->type == XML_ELEMENT_NODE && !read_element (config, node, error))
        return NULL;
    }
  if (!marina_machine_config_validate (config, 0, error))
    return NULL;
  return g_steal_pointer (&config);
}

static MarinaMachineConfig *
parse_config (const char *xml, gsize length, MarinaXmlTrap *trap, GError **error)
{
  g_autoptr(xmlDoc) doc = marina_xml_parse (WHAT, xml, length, trap, error);

  if (doc == NULL || !validate_against_schema (doc, trap, error))
    return NULL;
  return config_from_document (doc, error);
}

/**
 * marina_machine_config_from_xml:
 * @xml: the configuration
 * @length: its length in bytes, or -1 if it is nul-terminated
 *
 * Parses and validates a machine configuration (without a host memory
 * limit). A missing id attribute gets a fresh id. Every refusal is
 * MARINA_ERROR_INVALID_ARGUMENT.
 */
MarinaMachineConfig *
marina_machine_config_from_xml (const char *xml, gssize length, GError **error)
{
  MarinaXmlTrap trap;
  MarinaMachineConfig *config;
  gsize size;

  g_return_val_if_fail (xml != NULL, NULL);

  size = length < 0 ? strlen (xml) : (gsize) length;
  if (!marina_xml_check_size (WHAT, size, MARINA_MACHINE_CONFIG_MAX_BYTES, error))
    return NULL;
  marina_xml_trap_begin (&trap, append_schema_hint);
  config = parse_config (xml, size, &trap, error);
  marina_xml_trap_end (&trap);
  return config;
}

/* ---- from the record to XML ---- */

static void
add_path_child (xmlNodePtr parent, const char *name, const char *path, const char *format)
{
  xmlNodePtr node;

  if (path == NULL)
    return;
  node = xmlNewChild (parent, parent->ns, (const xmlChar *) name, NULL);
  marina_xml_set_attribute (node, "path", path);
  if (format != NULL)
    marina_xml_set_attribute (node, "format", format);
}

static void
add_boot_order (xmlNodePtr parent, const char *const *boot_order)
{
  xmlNodePtr node = xmlNewChild (parent, parent->ns, (const xmlChar *) "boot-order", NULL);

  for (guint i = 0; boot_order != NULL && boot_order[i] != NULL; i++)
    marina_xml_add_text_child (node, "device", boot_order[i]);
}

static void
add_host_actions (xmlNodePtr parent, const MarinaMachineConfig *config)
{
  xmlNodePtr node = xmlNewChild (parent, parent->ns, (const xmlChar *) "host-actions", NULL);
  g_autofree char *delay = g_strdup_printf ("%u", config->autostart_delay);

  marina_xml_set_attribute (node, "autostart", marina_autostart_to_string (config->autostart));
  marina_xml_set_attribute (node, "autostart-delay", delay);
  marina_xml_set_attribute (node, "stop-action", marina_stop_action_to_string (config->stop_action));
}

static void
add_disks (xmlNodePtr parent, GPtrArray *drives)
{
  xmlNodePtr node;

  if (drives->len == 0)
    return;
  node = xmlNewChild (parent, parent->ns, (const xmlChar *) "disks", NULL);
  for (guint i = 0; i < drives->len; i++)
    {
      MarinaDrive *drive = drives->pdata[i];
      xmlNodePtr disk = xmlNewChild (node, node->ns, (const xmlChar *) "disk", NULL);
      g_autofree char *controller = g_strdup_printf ("%u", drive->controller);
      g_autofree char *unit = g_strdup_printf ("%u", drive->unit);

      marina_xml_set_attribute (disk, "path", drive->path);
      if (drive->format)
        marina_xml_set_attribute (disk, "format", drive->format);
      marina_xml_set_attribute (disk, "bus", marina_bus_to_string (drive->bus));
      marina_xml_set_attribute (disk, "controller", controller);
      marina_xml_set_attribute (disk, "unit", unit);
      if (drive->shared)
        marina_xml_set_attribute (disk, "shared", "yes");
    }
}

/* Written only when it says something, so older files stay as they were. */
static void
add_undo_disks (xmlNodePtr parent, const MarinaMachineConfig *config)
{
  xmlNodePtr node;

  if (!config->undo_disks && config->undo_action == MARINA_UNDO_ACTION_KEEP)
    return;
  node = xmlNewChild (parent, parent->ns, (const xmlChar *) "undo-disks", NULL);
  marina_xml_set_attribute (node, "enabled", config->undo_disks ? "yes" : "no");
  marina_xml_set_attribute (node, "action", marina_undo_action_to_string (config->undo_action));
}

static void
add_cpu (xmlNodePtr parent, const MarinaMachineConfig *config)
{
  xmlNodePtr node = xmlNewChild (parent, parent->ns, (const xmlChar *) "cpu", NULL);
  g_autofree char *weight = g_strdup_printf ("%u", config->cpu_weight);
  g_autofree char *maximum = g_strdup_printf ("%u", config->cpu_maximum);
  g_autofree char *reserve = g_strdup_printf ("%u", config->cpu_reserve);

  marina_xml_set_attribute (node, "weight", weight);
  marina_xml_set_attribute (node, "maximum", maximum);
  marina_xml_set_attribute (node, "reserve", reserve);
}

static void
add_scripts (xmlNodePtr parent, GHashTable *scripts)
{
  g_auto(GStrv) events = marina_scripts_sorted_events (scripts);
  xmlNodePtr node;

  if (events[0] == NULL)
    return;
  node = xmlNewChild (parent, parent->ns, (const xmlChar *) "scripts", NULL);
  for (guint i = 0; events[i]; i++)
    {
      xmlNodePtr script = xmlNewChild (node, node->ns, (const xmlChar *) "script", NULL);
      marina_xml_set_attribute (script, "event", events[i]);
      marina_xml_set_attribute (script, "path", g_hash_table_lookup (scripts, events[i]));
    }
}

static void
add_remote_console (xmlNodePtr parent, const MarinaMachineConfig *config)
{
  xmlNodePtr node;
  g_autofree char *port = NULL;

  if (config->remote_console_port == 0)
    return;
  node = xmlNewChild (parent, parent->ns, (const xmlChar *) "remote-console", NULL);
  port = g_strdup_printf ("%u", config->remote_console_port);
  marina_xml_set_attribute (node, "port", port);
  if (config->remote_console_listen)
    marina_xml_set_attribute (node, "listen", config->remote_console_listen);
  if (config->remote_console_auth)
    marina_xml_set_attribute (node, "auth", config->remote_console_auth);
}

static void
add_network_adapters (xmlNodePtr parent, GPtrArray *nics)
{
  xmlNodePtr node;

  if (nics->len == 0)
    return;
  node = xmlNewChild (parent, parent->ns, (const xmlChar *) "network-adapters", NULL);
  for (guint i = 0; i < nics->len; i++)
    {
      MarinaNic *nic = g_ptr_array_index (nics, i);
      xmlNodePtr adapter = xmlNewChild (node, node->ns, (const xmlChar *) "adapter", NULL);
      marina_xml_set_attribute (adapter, "id", nic->id);
      marina_xml_set_attribute (adapter, "mac", nic->mac);
      if (nic->model)
        marina_xml_set_attribute (adapter, "model", nic->model);
      if (nic->network)
        marina_xml_set_attribute (adapter, "network", nic->network);
      marina_xml_set_attribute (adapter, "connected", nic->connected ? "yes" : "no");
    }
}

/* Written only when a port is connected, so older files stay as they were. */
static void
add_ports (xmlNodePtr parent, const MarinaMachineConfig *config)
{
  const struct { const char *name; const MarinaPort *port; } ports[] = {
    { "com2", &config->com2 }, { "lpt1", &config->lpt1 },
  };
  xmlNodePtr node;

  if (config->com2.kind == MARINA_PORT_NONE && config->lpt1.kind == MARINA_PORT_NONE)
    return;
  node = xmlNewChild (parent, parent->ns, (const xmlChar *) "ports", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (ports); i++)
    {
      xmlNodePtr port;
      if (ports[i].port->kind == MARINA_PORT_NONE)
        continue;
      port = xmlNewChild (node, node->ns, (const xmlChar *) ports[i].name, NULL);
      marina_xml_set_attribute (port, "type", marina_port_kind_to_string (ports[i].port->kind));
      if (ports[i].port->path)
        marina_xml_set_attribute (port, "path", ports[i].port->path);
    }
}

static xmlNodePtr
build_machine_node (xmlDocPtr doc, const MarinaMachineConfig *config)
{
  xmlNodePtr root = xmlNewDocNode (doc, NULL, (const xmlChar *) "machine", NULL);
  xmlNodePtr memory;

  xmlSetNs (root, xmlNewNs (root, (const xmlChar *) MACHINE_NS, NULL));
  marina_xml_set_attribute (root, "id", config->id);
  marina_xml_add_text_child (root, "name", config->name);
  marina_xml_add_text_child (root, "notes", config->notes ? config->notes : "");
  marina_xml_add_text_child (root, "profile", marina_profile_to_string (config->profile));
  marina_xml_add_number_child (root, "memory", config->memory_mib);
  memory = xmlGetLastChild (root);
  marina_xml_set_attribute (memory, "unit", "MiB");
  marina_xml_add_number_child (root, "vcpus", config->vcpus);
  marina_xml_add_text_child (root, "accelerator", config->accelerator);
  add_path_child (root, "boot-disk", config->boot_disk, config->boot_disk_format);
  add_path_child (root, "cdrom", config->cdrom, NULL);
  add_path_child (root, "floppy", config->floppy, NULL);
  add_disks (root, config->drives);
  add_undo_disks (root, config);
  add_boot_order (root, (const char *const *) config->boot_order);
  add_host_actions (root, config);
  add_cpu (root, config);
  add_scripts (root, config->scripts);
  marina_xml_add_access (root, config->access);
  add_remote_console (root, config);
  add_network_adapters (root, config->nics);
  add_ports (root, config);
  return root;
}

/**
 * marina_machine_config_to_xml:
 *
 * Returns: the configuration as an indented UTF-8 XML document, which
 * marina_machine_config_from_xml() reads back into an equal record as long
 * as @config is valid.
 */
char *
marina_machine_config_to_xml (const MarinaMachineConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);

  return marina_xml_document_to_string (build_machine_node (xmlNewDoc ((const xmlChar *) "1.0"),
                                                            config));
}

/* ---- files ---- */

MarinaMachineConfig *
marina_machine_config_load_file (const char *path, GError **error)
{
  g_autoptr(GByteArray) contents = NULL;
  g_autoptr(GError) local_error = NULL;
  MarinaMachineConfig *config;

  g_return_val_if_fail (path != NULL, NULL);

  contents = marina_xml_read_file (WHAT, path, MARINA_MACHINE_CONFIG_MAX_BYTES, error);
  if (contents == NULL)
    return NULL;
  config = marina_machine_config_from_xml (contents->len ? (const char *) contents->data : "",
                                           contents->len, &local_error);
  if (config == NULL)
    g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ", path);
  return config;
}
