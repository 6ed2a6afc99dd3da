/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-devices"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "marina-access.h"
#include "marina-error.h"
#include "marina-xml.h"

/* No NOENT (entity substitution), no DTDLOAD/DTDATTR/DTDVALID, no HUGE (keeps
 * libxml2's own limits); BIG_LINES so that line numbers in errors are right
 * past line 65535; NOERROR/NOWARNING as a second guard against printing. */
#define PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES | \
                       XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

/* ---- catching libxml2's errors ---- */

static char *
describe_xml_error (MarinaXmlTrap *trap, xmlErrorPtr xml_error)
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
  if (trap->hint != NULL && node != NULL && node->type == XML_ELEMENT_NODE &&
      xml_error->domain == XML_FROM_RELAXNGV)
    trap->hint (text, node, reason);
  return g_string_free (text, FALSE);
}

/* The first error is the most precise one: later ones are consequences
 * ("Element machine failed to validate content"). */
void
marina_xml_trap_structured_error (void *user_data, xmlErrorPtr xml_error)
{
  MarinaXmlTrap *trap = user_data;

  if (trap->message == NULL && xml_error->level >= XML_ERR_ERROR)
    trap->message = describe_xml_error (trap, xml_error);
}

static void
trap_generic_error (void *user_data, const char *format, ...)
{
  /* Only the structured errors carry a line; the rest would duplicate them. */
}

void
marina_xml_trap_begin (MarinaXmlTrap *trap, MarinaXmlHint hint)
{
  trap->saved_structured = xmlStructuredError;
  trap->saved_structured_context = xmlStructuredErrorContext;
  trap->saved_generic = xmlGenericError;
  trap->saved_generic_context = xmlGenericErrorContext;
  trap->hint = hint;
  trap->message = NULL;
  xmlSetStructuredErrorFunc (trap, marina_xml_trap_structured_error);
  xmlSetGenericErrorFunc (trap, trap_generic_error);
}

void
marina_xml_trap_end (MarinaXmlTrap *trap)
{
  xmlSetStructuredErrorFunc (trap->saved_structured_context, trap->saved_structured);
  xmlSetGenericErrorFunc (trap->saved_generic_context, trap->saved_generic);
  g_clear_pointer (&trap->message, g_free);
}

const char *
marina_xml_trap_message (MarinaXmlTrap *trap)
{
  return trap->message ? trap->message : "unknown error";
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

gboolean
marina_xml_check_size (const char *what, gsize length, gsize max, GError **error)
{
  g_autofree char *limit = NULL;

  if (length <= max)
    return TRUE;
  /* The limits are whole MiB or KiB; g_format_size() would say "1.0 MiB". */
  limit = max % (1024 * 1024) == 0 ? g_strdup_printf ("%" G_GSIZE_FORMAT " MiB", max >> 20)
                                   : g_strdup_printf ("%" G_GSIZE_FORMAT " KiB", max >> 10);
  g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
               "%s is %" G_GSIZE_FORMAT " bytes long; the limit is %" G_GSIZE_FORMAT
               " bytes (%s)", what, length, max, limit);
  return FALSE;
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

/**
 * marina_xml_parse:
 * @what: names the document in errors, e.g. "Machine configuration"
 *
 * Parses untrusted XML whose size the caller has already bounded. Every
 * refusal is MARINA_ERROR_INVALID_ARGUMENT.
 */
xmlDocPtr
marina_xml_parse (const char *what, const char *xml, gsize length, MarinaXmlTrap *trap,
                  GError **error)
{
  gboolean saw_doctype, well_formed;
  g_autoptr(xmlDoc) doc = run_parser (xml, length, &saw_doctype, &well_formed);

  if (saw_doctype)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                 "%s must not contain a DOCTYPE declaration", what);
  else if (length == 0)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT, "%s is empty", what);
  else if (!well_formed || doc == NULL || xmlDocGetRootElement (doc) == NULL)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                 "%s is not well-formed XML: %s", what, marina_xml_trap_message (trap));
  else
    return g_steal_pointer (&doc);
  return NULL;
}

/* ---- files ---- */

/* Reads at most the size limit plus one byte, so that a file that grows
 * (or lies in st_size) still cannot make us read without end. */
static gboolean
read_bounded (int fd, const char *what, const char *path, gsize max, GByteArray *contents,
              GError **error)
{
  guint8 buffer[65536];

  while (contents->len <= max)
    {
      ssize_t n = read (fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                       "Cannot read %s '%s': %s", what, path, g_strerror (saved_errno));
          return FALSE;
        }
      if (n == 0)
        break;
      g_byte_array_append (contents, buffer, (guint) n);
    }
  return marina_xml_check_size (what, contents->len, max, error);
}

/* O_NONBLOCK: a FIFO planted at @path must not hang marinad in open(). */
static int
open_document (const char *what, const char *path, gsize max, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  int saved_errno = errno;
  struct stat st;

  if (fd < 0 && saved_errno == ENOENT)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_NOT_FOUND, "%s '%s' does not exist",
                 what, path);
  else if (fd < 0)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot open %s '%s': %s",
                 what, path, g_strerror (saved_errno));
  if (fd < 0)
    return -1;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT,
                   "%s '%s' is not a regular file", what, path);
      close (fd);
      return -1;
    }
  if (!marina_xml_check_size (what, (gsize) st.st_size, max, error))
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* The file's bytes, at most @max of them. */
GByteArray *
marina_xml_read_file (const char *what, const char *path, gsize max, GError **error)
{
  g_autoptr(GByteArray) contents = g_byte_array_new ();
  int fd = open_document (what, path, max, error);
  gboolean ok;

  if (fd < 0)
    return NULL;
  ok = read_bounded (fd, what, path, max, contents, error);
  close (fd);
  return ok ? g_steal_pointer (&contents) : NULL;
}

/* ---- from the tree ---- */

char *
marina_xml_node_text (xmlNodePtr node)
{
  xmlChar *content = xmlNodeGetContent (node);
  char *text = g_strdup (content ? (const char *) content : "");

  xmlFree (content);
  return text;
}

char *
marina_xml_node_attribute (xmlNodePtr node, const char *name)
{
  xmlChar *value = xmlGetNoNsProp (node, (const xmlChar *) name);
  char *text = value ? g_strdup ((const char *) value) : NULL;

  xmlFree (value);
  return text;
}

/* Numbers and keywords may be surrounded by white space in hand-written files. */
gboolean
marina_xml_parse_number (const char *what, const char *text, guint64 max, guint64 *number,
                         GError **error)
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

gboolean
marina_xml_parse_uint (const char *what, const char *text, guint *number, GError **error)
{
  guint64 value;

  if (!marina_xml_parse_number (what, text, G_MAXUINT, &value, error))
    return FALSE;
  *number = (guint) value;
  return TRUE;
}

/* ---- to the tree ---- */

xmlNodePtr
marina_xml_add_text_child (xmlNodePtr parent, const char *name, const char *text)
{
  /* xmlNewTextChild escapes; xmlNewChild would parse entity references. */
  return xmlNewTextChild (parent, parent->ns, (const xmlChar *) name, (const xmlChar *) text);
}

void
marina_xml_add_number_child (xmlNodePtr parent, const char *name, guint64 number)
{
  g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT, number);

  marina_xml_add_text_child (parent, name, text);
}

void
marina_xml_set_attribute (xmlNodePtr node, const char *name, const char *value)
{
  xmlSetProp (node, (const xmlChar *) name, (const xmlChar *) value);
}

void
marina_xml_set_uint_attribute (xmlNodePtr node, const char *name, guint64 value)
{
  g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT, value);

  marina_xml_set_attribute (node, name, text);
}

/* An indented UTF-8 document with @root (of a fresh xmlDoc) as its root. */
char *
marina_xml_document_to_string (xmlNodePtr root)
{
  MarinaXmlTrap trap;
  xmlChar *buffer = NULL;
  int size = 0;
  char *xml;

  marina_xml_trap_begin (&trap, NULL);
  xmlDocSetRootElement (root->doc, root);
  xmlDocDumpFormatMemoryEnc (root->doc, &buffer, &size, "UTF-8", 1);
  if (trap.message != NULL)
    g_warning ("Writing %s: %s", (const char *) root->name, trap.message);
  marina_xml_trap_end (&trap);
  xmlFreeDoc (root->doc);
  xml = g_strndup ((const char *) buffer, size);
  xmlFree (buffer);
  return xml;
}

/* ---- access lists, the same in every document ---- */

/* <access><allow user="NAME" level="use"/><allow group="NAME" .../></access>;
 * validation comes with the document's. */
void
marina_xml_read_access (xmlNodePtr node, GPtrArray *access)
{
  for (xmlNodePtr child = node->children; child != NULL; child = child->next)
    {
      g_autofree char *user = NULL, *group = NULL, *level = NULL;
      if (child->type != XML_ELEMENT_NODE)
        continue;
      user = marina_xml_node_attribute (child, "user");
      group = marina_xml_node_attribute (child, "group");
      level = marina_xml_node_attribute (child, "level");
      marina_access_list_add (access, user ? "user" : "group", user ? user : group, level);
    }
}

void
marina_xml_add_access (xmlNodePtr parent, GPtrArray *access)
{
  xmlNodePtr node;

  if (access->len == 0)
    return;
  node = xmlNewChild (parent, parent->ns, (const xmlChar *) "access", NULL);
  for (guint i = 0; i < access->len; i++)
    {
      MarinaAccessEntry *entry = g_ptr_array_index (access, i);
      xmlNodePtr allow = xmlNewChild (node, node->ns, (const xmlChar *) "allow", NULL);
      marina_xml_set_attribute (allow, entry->kind, entry->name);
      marina_xml_set_attribute (allow, "level", entry->level);
    }
}
