/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

G_BEGIN_DECLS

/* libFuzzer's entry point; fuzz-replay.c calls it too, so that the corpus
 * replays as a plain unit test without clang. */
int  LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Drops GLib's messages, but turns criticals into crashes: a g_critical on
 * hostile input is a bug the fuzzer must report, and printing every warning
 * would slow it to a crawl. Safe to call on every input. */
void marina_fuzz_setup      (void);

G_END_DECLS
