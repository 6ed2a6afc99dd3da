/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

G_BEGIN_DECLS

/* Safe reading and writing of the XML documents marinad keeps (machines,
 * networks). Input comes from users and other hosts, so parsing refuses
 * DOCTYPEs (no entities, no DTD), never touches the network and is bounded
 * in size. */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)

typedef void (*MarinaXmlHint) (GString *text, xmlNodePtr node, const char *reason);

/* libxml2 prints errors on stderr unless a handler is installed. Its handlers
 * are per thread, so installing ours for the duration of one call and
 * restoring the previous ones afterwards disturbs no one else. */
typedef struct {
  xmlStructuredErrorFunc saved_structured;
  void *saved_structured_context;
  xmlGenericErrorFunc saved_generic;
  void *saved_generic_context;
  MarinaXmlHint hint;  /* adds what a person needs to a schema error; may be NULL */
  char *message;       /* the first error: "line N: element E: reason" */
} MarinaXmlTrap;

void        marina_xml_trap_begin    (MarinaXmlTrap *trap,
                                      MarinaXmlHint  hint);
void        marina_xml_trap_end      (MarinaXmlTrap *trap);
const char *marina_xml_trap_message  (MarinaXmlTrap *trap);
/* For libxml2's validators, which take their own error handler. */
void        marina_xml_trap_structured_error (void        *trap,
                                              xmlErrorPtr  xml_error);

gboolean    marina_xml_check_size    (const char *what,
                                      gsize       length,
                                      gsize       max,
                                      GError    **error);
xmlDocPtr   marina_xml_parse         (const char    *what,
                                      const char    *xml,
                                      gsize          length,
                                      MarinaXmlTrap *trap,
                                      GError       **error);
GByteArray *marina_xml_read_file     (const char *what,
                                      const char *path,
                                      gsize       max,
                                      GError    **error);

char       *marina_xml_node_text      (xmlNodePtr node);
char       *marina_xml_node_attribute (xmlNodePtr  node,
                                       const char *name);
gboolean    marina_xml_parse_number   (const char *what,
                                       const char *text,
                                       guint64     max,
                                       guint64    *number,
                                       GError    **error);
gboolean    marina_xml_parse_uint     (const char *what,
                                       const char *text,
                                       guint      *number,
                                       GError    **error);
xmlNodePtr  marina_xml_add_text_child (xmlNodePtr  parent,
                                       const char *name,
                                       const char *text);
void        marina_xml_add_number_child (xmlNodePtr  parent,
                                         const char *name,
                                         guint64     number);
void        marina_xml_set_attribute  (xmlNodePtr  node,
                                       const char *name,
                                       const char *value);
void        marina_xml_set_uint_attribute (xmlNodePtr  node,
                                           const char *name,
                                           guint64     value);
char       *marina_xml_document_to_string (xmlNodePtr root);
void        marina_xml_read_access    (xmlNodePtr  node,
                                       GPtrArray  *access);
void        marina_xml_add_access     (xmlNodePtr  parent,
                                       GPtrArray  *access);

G_END_DECLS
