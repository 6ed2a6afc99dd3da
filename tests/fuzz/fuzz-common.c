/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-fuzz"
#include "config.h"

#include <stdlib.h>

#include "fuzz.h"

static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags   log_level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  if (log_level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    {
      g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

void
marina_fuzz_setup (void)
{
  static gsize done;

  if (g_once_init_enter (&done))
    {
      g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
      g_once_init_leave (&done, 1);
    }
}
