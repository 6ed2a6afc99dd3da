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

/* The XML form of a machine configuration. Input comes from users and other
 * hosts (DefineMachine, SetConfig, RegisterMachine), so parsing refuses
 * DOCTYPEs (no entities, no DTD), never touches the network, and is bounded
 * in size; the structure is checked against a RelaxNG schema compiled into
 * this library, the values by marina_machine_config_validate(). */

#define MACHINE_NS "http://marinavm.org/ns/machine/1"
#define SCHEMA_RESOURCE "/org/marinavm/Marina1/devices/marina-machine.rng"

/* No NOENT (entity substitution), no DTDLOAD/DTDATTR/DTDVALID, no HUGE (keeps
 * libxml2's own limits); BIG_LINES so that line numbers in errors are right
 * past line 65535; NOERROR/NOWARNING as a second guard against printing. */
#define PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES | \
                       XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)

/* ---- catching libxml2's errors ---- */

/* libxml2 prints errors on stderr unless a handler is installed. Its handlers
 * are per thread, so installing ours for the duration of one call and
 * restoring the previous ones afterwards disturbs no one else. */
typedef struct {
  xmlStructuredErrorFunc saved_structured;
  void *saved_structured_context;
  xmlGenericErrorFunc saved_generic;
  void *saved_generic_context;
  char *message;  /* the first error: "line N: element E: reason" */
} XmlErrorTrap;

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
                       "cdrom, boot-order, host-actions, cpu, scripts, access, remote-console; only name is required)");
    }
}

static char *
describe_xml_error (xmlErrorPtr xml_error)
{
  GString *text = g_string_new (NULL);
  xmlNodePtr node = xml_error->node;
  g_autofree char *reason = g_strdup (xml_error->message ? xml_error->message : "unknown error");

  /* Some messages have a second line (the offending bytes): keep one line. */
  g_strstrip (g_strdelimit (reason, "\n", ' '));
  if (xml_error->line > 0)
    g_string_append_printf (text, "line %d: ", xml_error->line);
  if (node != NULL && node->type == XML_ELEMENT_NODE && node->name != NULL)
    g_string_append_printf (text, "element %s: ", (const char *) node->name);
  g_string_append (text, reason);
  if (node != NULL && node->type == XML_ELEMENT_NODE && xml_error->domain == XML_FROM_RELAXNGV)
    append_schema_hint (text, node, reason);
  return g_string_free (text, FALSE);
}

/* The first error is the most precise one: later ones are consequences
 * ("Element machine failed to validate content"). */
static void
trap_structured_error (void *user_data, xmlErrorPtr xml_error)
{
  XmlErrorTrap *trap = user_data;

  if (trap->message == NULL && xml_error->level >= XML_ERR_ERROR)
    trap->message = describe_xml_error (xml_error);
}

static void
trap_generic_error (void *user_data, const char *format, ...)
{
  /* Only the structured errors carry a line; the rest would duplicate them. */
}

static void
xml_error_trap_begin (XmlErrorTrap *trap)
{
  trap->saved_structured = xmlStructuredError;
  trap->saved_structured_context = xmlStructuredErrorContext;
  trap->saved_generic = xmlGenericError;
  trap->saved_generic_context = xmlGenericErrorContext;
  trap->message = NULL;
  xmlSetStructuredErrorFunc (trap, trap_structured_error);
  xmlSetGenericErrorFunc (trap, trap_generic_error);
}

static void
xml_error_trap_end (XmlErrorTrap *trap)
{
  xmlSetStructuredErrorFunc (trap->saved_structured_context, trap->saved_structured);
  xmlSetGenericErrorFunc (trap->saved_generic_context, trap->saved_generic);
  g_clear_pointer (&trap->message, g_free);
}

static const char *
xml_error_trap_message (XmlErrorTrap *trap)
{
  return trap->message ? trap->message : "unknown error";
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
validate_against_schema (xmlDocPtr doc, XmlErrorTrap *trap, GError **error)
{
  xmlRelaxNGPtr schema = get_schema (error);
  xmlRelaxNGValidCtxtPtr context;
  int result;

  if (schema == NULL)
    return FALSE;
  g_clear_pointer (&trap->message, g_free);
  context = xmlRelaxNGNewValidCtxt (schema);
  xmlRelaxNGSetValidStructuredErrors (context, trap_structured_error, trap);
  result = xmlRelaxNGValidateDoc (context, doc);
  xmlRelaxNGFreeValidCtxt (context);
  if (result != 0)
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "Machine configuration does not match the schema: %s",
                   xml_error_trap_message (trap));
      return FALSE;
    }
  return TRUE;
}

/* ---- parsing ---- */

/* Called as soon as "<!DOCTYPE name ...>" is read, before any internal
 * subset: stopping here means no entity is ever declared, let alone
 * expanded (billion laughs, external entities). */
static void
refuse_doctype (void          *user_data,
                const xmlChar *name,
                const xmlChar *external_id,
                const xmlChar *system_id)
{
  xmlParserCtxtPtr parser = user_data;
  gboolean *saw_doctype = parser->_private;

  *saw_doctype = TRUE;
  xmlStopParser (parser);
}

static gboolean
check_size (gsize length, GError **error)
{
  if (length > MARINA_MACHINE_CONFIG_MAX_BYTES)
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "Machine configuration is %" G_GSIZE_FORMAT " bytes long; the limit is "
                   "%d bytes (1 MiB)", length, MARINA_MACHINE_CONFIG_MAX_BYTES);
      return FALSE;
    }
  return TRUE;
}

/* Runs libxml2 over @xml. NULL only if libxml2 could not even start, as
 * for empty input. */
static xmlDocPtr
run_parser (const char *xml, gsize length, gboolean *saw_doctype, gboolean *well_formed)
{
  xmlParserCtxtPtr parser = xmlCreateMemoryParserCtxt (xml, (int) length);
  xmlDocPtr doc;

  *saw_doctype = FALSE;
  *well_formed = FALSE;
  if (parser == NULL)
    return NULL;
  xmlCtxtUseOptions (parser, PARSE_OPTIONS);
  parser->_private = saw_doctype;
  parser->sax->internalSubset = refuse_doctype;
  xmlParseDocument (parser);
  *well_formed = parser->wellFormed;
  doc = g_steal_pointer (&parser->myDoc);
  xmlFreeParserCtxt (parser);
  return doc;
}

static xmlDocPtr
parse_document (const char *xml, gsize length, XmlErrorTrap *trap, GError **error)
{
  gboolean saw_doctype, well_formed;
  g_autoptr(xmlDoc) doc = run_parser (xml, length, &saw_doctype, &well_formed);

  if (saw_doctype)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                 "Machine configuration must not contain a DOCTYPE declaration");
  else if (length == 0)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                 "Machine configuration is empty");
  else if (!well_formed || doc == NULL || xmlDocGetRootElement (doc) == NULL)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                 "Machine configuration is not well-formed XML: %s",
                 xml_error_trap_message (trap));
  else
    return g_steal_pointer (&doc);
  return NULL;
}

/* ---- from the tree to the record ---- */

static char *
node_text (xmlNodePtr node)
{
  xmlChar *content = xmlNodeGetContent (node);
  char *text = g_strdup (content ? (const char *) content : "");

  xmlFree (content);
  return text;
}

static char *
node_attribute (xmlNodePtr node, const char *name)
{
  xmlChar *value = xmlGetNoNsProp (node, (const xmlChar *) name);
  char *text = value ? g_strdup ((const char *) value) : NULL;

  xmlFree (value);
  return text;
}

/* Numbers and keywords may be surrounded by white space in hand-written files. */
static gboolean
parse_number (const char *what, const char *text, guint64 max, guint64 *number, GError **error)
{
  g_autofree char *copy = g_strstrip (g_strdup (text ? text : ""));
  g_autoptr(GError) local_error = NULL;

  if (!g_ascii_string_to_unsigned (copy, 10, 0, max, number, &local_error))
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "The %s '%s' is not valid: %s", what, copy, local_error->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_uint (const char *what, const char *text, guint *number, GError **error)
{
  guint64 value;

  if (!parse_number (what, text, G_MAXUINT, &value, error))
    return FALSE;
  *number = (guint) value;
  return TRUE;
}

static char *
stripped_text (xmlNodePtr node)
{
  return g_strstrip (node_text (node));
}

static gboolean
read_name (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_free (config->name);
  config->name = node_text (node);
  return TRUE;
}

static gboolean
read_notes (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_free (config->notes);
  config->notes = node_text (node);
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
  g_autofree char *unit = node_attribute (node, "unit");
  g_autofree char *text = node_text (node);
  gboolean gib = g_strcmp0 (unit, "GiB") == 0;

  /* GiB is there for people writing files by hand; marinad writes MiB. */
  if (!parse_number ("memory size", text, gib ? G_MAXUINT64 / 1024 : G_MAXUINT64,
                     &config->memory_mib, error))
    return FALSE;
  if (gib)
    config->memory_mib *= 1024;
  return TRUE;
}

static gboolean
read_vcpus (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_autofree char *text = node_text (node);

  return parse_uint ("number of virtual processors", text, &config->vcpus, error);
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
  config->boot_disk = node_attribute (node, "path");
  g_free (config->boot_disk_format);
  config->boot_disk_format = node_attribute (node, "format");
  return TRUE;
}

static gboolean
read_cdrom (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_free (config->cdrom);
  config->cdrom = node_attribute (node, "path");
  return TRUE;
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
  g_autofree char *autostart = node_attribute (node, "autostart");
  g_autofree char *delay = node_attribute (node, "autostart-delay");
  g_autofree char *stop_action = node_attribute (node, "stop-action");

  if (autostart != NULL &&
      !marina_autostart_from_string (g_strstrip (autostart), &config->autostart, error))
    return FALSE;
  if (delay != NULL &&
      !parse_uint ("autostart delay", delay, &config->autostart_delay, error))
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
      g_autofree char *text = node_attribute (node, fields[i].attribute);
      if (text != NULL && !parse_uint (fields[i].what, text, fields[i].field, error))
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
      g_hash_table_insert (config->scripts, node_attribute (child, "event"),
                           node_attribute (child, "path"));
    }
  return TRUE;
}

static gboolean
read_access (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  for (xmlNodePtr child = node->children; child != NULL; child = child->next)
    {
      g_autofree char *user = NULL, *group = NULL, *level = NULL;
      if (child->type != XML_ELEMENT_NODE)
        continue;
      user = node_attribute (child, "user");
      group = node_attribute (child, "group");
      level = node_attribute (child, "level");
      marina_access_list_add (config->access, user ? "user" : "group", user ? user : group,
                              level);
    }
  return TRUE;
}

static gboolean
read_remote_console (MarinaMachineConfig *config, xmlNodePtr node, GError **error)
{
  g_autofree char *port = node_attribute (node, "port");

  config->remote_console_listen = node_attribute (node, "listen");
  config->remote_console_auth = node_attribute (node, "auth");
  return parse_uint ("remote console port", port, &config->remote_console_port, error);
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
  { "boot-order", read_boot_order },
  { "host-actions", read_host_actions },
  { "cpu", read_cpu },
  { "scripts", read_scripts },
  { "access", read_access },
  { "remote-console", read_remote_console },
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
  g_autofree char *id = node_attribute (root, "id");

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
parse_config (const char *xml, gsize length, XmlErrorTrap *trap, GError **error)
{
  g_autoptr(xmlDoc) doc = parse_document (xml, length, trap, error);

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
  XmlErrorTrap trap;
  MarinaMachineConfig *config;
  gsize size;

  g_return_val_if_fail (xml != NULL, NULL);

  size = length < 0 ? strlen (xml) : (gsize) length;
  if (!check_size (size, error))
    return NULL;
  xml_error_trap_begin (&trap);
  config = parse_config (xml, size, &trap, error);
  xml_error_trap_end (&trap);
  return config;
}

/* ---- from the record to XML ---- */

static xmlNodePtr
add_text_child (xmlNodePtr parent, const char *name, const char *text)
{
  /* xmlNewTextChild escapes; xmlNewChild would parse entity references. */
  return xmlNewTextChild (parent, parent->ns, (const xmlChar *) name, (const xmlChar *) text);
}

static void
add_number_child (xmlNodePtr parent, const char *name, guint64 number)
{
  g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT, number);

  add_text_child (parent, name, text);
}

static void
set_attribute (xmlNodePtr node, const char *name, const char *value)
{
  xmlSetProp (node, (const xmlChar *) name, (const xmlChar *) value);
}

static void
add_path_child (xmlNodePtr parent, const char *name, const char *path, const char *format)
{
  xmlNodePtr node;

  if (path == NULL)
    return;
  node = xmlNewChild (parent, parent->ns, (const xmlChar *) name, NULL);
  set_attribute (node, "path", path);
  if (format != NULL)
    set_attribute (node, "format", format);
}

static void
add_boot_order (xmlNodePtr parent, const char *const *boot_order)
{
  xmlNodePtr node = xmlNewChild (parent, parent->ns, (const xmlChar *) "boot-order", NULL);

  for (guint i = 0; boot_order != NULL && boot_order[i] != NULL; i++)
    add_text_child (node, "device", boot_order[i]);
}

static void
add_host_actions (xmlNodePtr parent, const MarinaMachineConfig *config)
{
  xmlNodePtr node = xmlNewChild (parent, parent->ns, (const xmlChar *) "host-actions", NULL);
  g_autofree char *delay = g_strdup_printf ("%u", config->autostart_delay);

  set_attribute (node, "autostart", marina_autostart_to_string (config->autostart));
  set_attribute (node, "autostart-delay", delay);
  set_attribute (node, "stop-action", marina_stop_action_to_string (config->stop_action));
}

static void
add_cpu (xmlNodePtr parent, const MarinaMachineConfig *config)
{
  xmlNodePtr node = xmlNewChild (parent, parent->ns, (const xmlChar *) "cpu", NULL);
  g_autofree char *weight = g_strdup_printf ("%u", config->cpu_weight);
  g_autofree char *maximum = g_strdup_printf ("%u", config->cpu_maximum);
  g_autofree char *reserve = g_strdup_printf ("%u", config->cpu_reserve);

  set_attribute (node, "weight", weight);
  set_attribute (node, "maximum", maximum);
  set_attribute (node, "reserve", reserve);
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
      set_attribute (script, "event", events[i]);
      set_attribute (script, "path", g_hash_table_lookup (scripts, events[i]));
    }
}

static void
add_access (xmlNodePtr parent, GPtrArray *access)
{
  xmlNodePtr node;

  if (access->len == 0)
    return;
  node = xmlNewChild (parent, parent->ns, (const xmlChar *) "access", NULL);
  for (guint i = 0; i < access->len; i++)
    {
      MarinaAccessEntry *entry = g_ptr_array_index (access, i);
      xmlNodePtr allow = xmlNewChild (node, node->ns, (const xmlChar *) "allow", NULL);
      set_attribute (allow, entry->kind, entry->name);
      set_attribute (allow, "level", entry->level);
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
  set_attribute (node, "port", port);
  if (config->remote_console_listen)
    set_attribute (node, "listen", config->remote_console_listen);
  if (config->remote_console_auth)
    set_attribute (node, "auth", config->remote_console_auth);
}

static xmlNodePtr
build_machine_node (xmlDocPtr doc, const MarinaMachineConfig *config)
{
  xmlNodePtr root = xmlNewDocNode (doc, NULL, (const xmlChar *) "machine", NULL);
  xmlNodePtr memory;

  xmlSetNs (root, xmlNewNs (root, (const xmlChar *) MACHINE_NS, NULL));
  set_attribute (root, "id", config->id);
  add_text_child (root, "name", config->name);
  add_text_child (root, "notes", config->notes ? config->notes : "");
  add_text_child (root, "profile", marina_profile_to_string (config->profile));
  add_number_child (root, "memory", config->memory_mib);
  memory = xmlGetLastChild (root);
  set_attribute (memory, "unit", "MiB");
  add_number_child (root, "vcpus", config->vcpus);
  add_text_child (root, "accelerator", config->accelerator);
  add_path_child (root, "boot-disk", config->boot_disk, config->boot_disk_format);
  add_path_child (root, "cdrom", config->cdrom, NULL);
  add_boot_order (root, (const char *const *) config->boot_order);
  add_host_actions (root, config);
  add_cpu (root, config);
  add_scripts (root, config->scripts);
  add_access (root, config->access);
  add_remote_console (root, config);
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
  XmlErrorTrap trap;
  xmlDocPtr doc;
  xmlChar *buffer = NULL;
  int size = 0;
  char *xml;

  g_return_val_if_fail (config != NULL, NULL);

  xml_error_trap_begin (&trap);
  doc = xmlNewDoc ((const xmlChar *) "1.0");
  xmlDocSetRootElement (doc, build_machine_node (doc, config));
  xmlDocDumpFormatMemoryEnc (doc, &buffer, &size, "UTF-8", 1);
  xmlFreeDoc (doc);
  if (trap.message != NULL)
    g_warning ("Writing the configuration of machine %s: %s", config->id, trap.message);
  xml_error_trap_end (&trap);
  xml = g_strndup ((const char *) buffer, size);
  xmlFree (buffer);
  return xml;
}

/* ---- files ---- */

/* Reads at most the size limit plus one byte, so that a file that grows
 * (or lies in st_size) still cannot make us read without end. */
static gboolean
read_bounded (int fd, const char *path, GByteArray *contents, GError **error)
{
  guint8 buffer[65536];

  while (contents->len <= MARINA_MACHINE_CONFIG_MAX_BYTES)
    {
      ssize_t n = read (fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                       "Cannot read machine configuration '%s': %s", path,
                       g_strerror (saved_errno));
          return FALSE;
        }
      if (n == 0)
        break;
      g_byte_array_append (contents, buffer, (guint) n);
    }
  return check_size (contents->len, error);
}

/* O_NONBLOCK: a FIFO planted at @path must not hang marinad in open(). */
static int
open_config_file (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  int saved_errno = errno;
  struct stat st;

  if (fd < 0 && saved_errno == ENOENT)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND,
                 "Machine configuration '%s' does not exist", path);
  else if (fd < 0)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                 "Cannot open machine configuration '%s': %s", path, g_strerror (saved_errno));
  if (fd < 0)
    return -1;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "Machine configuration '%s' is not a regular file", path);
      close (fd);
      return -1;
    }
  if (!check_size ((gsize) st.st_size, error))
    {
      close (fd);
      return -1;
    }
  return fd;
}

MarinaMachineConfig *
marina_machine_config_load_file (const char *path, GError **error)
{
  g_autoptr(GByteArray) contents = g_byte_array_new ();
  g_autoptr(GError) local_error = NULL;
  MarinaMachineConfig *config;
  gboolean ok;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  fd = open_config_file (path, error);
  if (fd < 0)
    return NULL;
  ok = read_bounded (fd, path, contents, error);
  close (fd);
  if (!ok)
    return NULL;
  config = marina_machine_config_from_xml (contents->len ? (const char *) contents->data : "",
                                           contents->len, &local_error);
  if (config == NULL)
    g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ", path);
  return config;
}
