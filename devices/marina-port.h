/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A machine's second serial port (COM2) and its parallel port (LPT1), as
 * Virtual Server had them: connected to nothing, to a text file on the host
 * (which the guest's output is appended to), or, COM2 only, to a named pipe
 * (a Unix socket QEMU listens on in the machine's runtime folder, for a host
 * program to connect to). COM1 is always Marina's serial console
 * (Machine.OpenSerial). LPT1 is an ISA parallel port of the legacy profile. */

typedef enum {
  MARINA_PORT_NONE,
  MARINA_PORT_FILE,
  MARINA_PORT_PIPE,
} MarinaPortKind;

typedef struct {
  MarinaPortKind kind;
  char *path;  /* MARINA_PORT_FILE: absolute path of the text file; NULL otherwise */
} MarinaPort;

/* COM2's pipe, in the machine's runtime folder (RUNTIME/machines/<id>/). */
#define MARINA_COM2_PIPE_NAME "com2.sock"

void        marina_port_copy             (MarinaPort       *dest,
                                          const MarinaPort *port);
void        marina_port_clear            (MarinaPort       *port);
gboolean    marina_port_equal            (const MarinaPort *a,
                                          const MarinaPort *b);
const char *marina_port_kind_to_string   (MarinaPortKind    kind);
gboolean    marina_port_kind_from_string (const char       *string,
                                          MarinaPortKind   *kind,
                                          GError          **error);

G_END_DECLS
