/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-dnsmasq"
#include "config.h"

#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>

#include "marina-dnsmasq.h"
#include "marina-error.h"

struct _MarinaDnsmasq {
  GObject parent_instance;

  char *runtime_dir;  /* its configuration, hosts file and pid file */
  char *lease_file;   /* in the state directory: leases outlive restarts */
  int netns_fd;       /* where it runs; -1: marinad's namespace */
  GSubprocess *process;
  GCancellable *cancellable;
};

enum { SIGNAL_EXITED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (MarinaDnsmasq, marina_dnsmasq, G_TYPE_OBJECT)

static char *
dir_file (MarinaDnsmasq *self, const char *name)
{
  return g_build_filename (self->runtime_dir, name, NULL);
}

/* Every value below was validated by marina_network_config_validate(): IPv4
 * literals, interface names, plain paths and host names, none with a comma
 * or a line break, so none can add an option of its own. */
static void
append_dhcp (GString *conf, const MarinaNetworkConfig *config)
{
  g_autofree char *gateway = marina_network_config_gateway (config);
  guint32 mask = config->prefix ? G_MAXUINT32 << (32 - config->prefix) : 0;

  g_string_append_printf (conf, "dhcp-range=%s,%s,%u.%u.%u.%u,%u\n", config->dhcp_start,
                          config->dhcp_end, mask >> 24, (mask >> 16) & 0xff, (mask >> 8) & 0xff,
                          mask & 0xff, config->lease_time);
  /* An empty option 3 tells clients there is no router: host-only and
   * internal networks lead nowhere. */
  if (gateway)
    g_string_append_printf (conf, "dhcp-option=option:router,%s\n", gateway);
  else
    g_string_append (conf, "dhcp-option=option:router\n");
  if (config->dns_servers[0])
    {
      g_autofree char *servers = g_strjoinv (",", config->dns_servers);
      g_string_append_printf (conf, "dhcp-option=option:dns-server,%s\n", servers);
    }
  g_string_append (conf, "dhcp-authoritative\n");
}

static void
append_pxe (GString *conf, const MarinaNetworkConfig *config)
{
  if (config->pxe_root == NULL)
    return;
  g_string_append_printf (conf, "enable-tftp\ntftp-root=%s\ndhcp-boot=%s\n", config->pxe_root,
                          config->pxe_boot_file);
}

/* In the configuration file itself, which dnsmasq reads as root: a hosts
 * file would be read after it became "nobody". */
static void
append_reservations (GString *conf, const MarinaNetworkConfig *config)
{
  for (guint i = 0; i < config->reservations->len; i++)
    {
      MarinaDhcpHost *host = g_ptr_array_index (config->reservations, i);
      g_string_append_printf (conf, "dhcp-host=%s,%s%s%s\n", host->mac, host->address,
                              host->hostname ? "," : "", host->hostname ? host->hostname : "");
    }
}

static char *
build_conf (MarinaDnsmasq *self, const MarinaNetworkConfig *config, const char *interface)
{
  GString *conf = g_string_new ("# Written by marinad for network ");

  g_string_append_printf (conf, "%s; changes are overwritten.\n", config->id);
  g_string_append_printf (conf, "interface=%s\nbind-interfaces\nexcept-interface=lo\n", interface);
  /* DHCP and TFTP only: no DNS service, no host files, nothing read from
   * the host's resolver configuration. */
  g_string_append (conf, "port=0\nno-resolv\nno-hosts\n");
  g_string_append_printf (conf, "dhcp-leasefile=%s\n", self->lease_file);
  append_dhcp (conf, config);
  append_reservations (conf, config);
  append_pxe (conf, config);
  return g_string_free (conf, FALSE);
}

static gboolean
write_file (const char *path, const char *contents, GError **error)
{
  return g_file_set_contents_full (path, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                   error);
}

static void
enter_namespace (gpointer user_data)
{
  int fd = GPOINTER_TO_INT (user_data);

  if (fd >= 0 && setns (fd, CLONE_NEWNET) != 0)
    _exit (127);
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(MarinaDnsmasq) self = user_data;
  GSubprocess *process = G_SUBPROCESS (source);

  if (!g_subprocess_wait_finish (process, result, NULL) || self->process != process)
    return;  /* stopped on purpose, or replaced */
  g_clear_object (&self->process);
  g_signal_emit (self, signals[SIGNAL_EXITED], 0);
}

static void
write_pid (MarinaDnsmasq *self)
{
  g_autofree char *path = dir_file (self, "dnsmasq.pid");
  g_autofree char *text = g_strdup_printf ("%s\n", g_subprocess_get_identifier (self->process));

  write_file (path, text, NULL);
}

/* "dhcp-script" and friends are never used: dnsmasq runs nothing. */
gboolean
marina_dnsmasq_start (MarinaDnsmasq *self, const MarinaNetworkConfig *config,
                      const char *interface, GError **error)
{
  g_autofree char *conf_path = dir_file (self, "dnsmasq.conf");
  g_autofree char *conf = build_conf (self, config, interface);
  g_autofree char *conf_option = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;

  marina_dnsmasq_stop (self);
  if (g_mkdir_with_parents (self->runtime_dir, 0700) != 0)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot create %s: %s",
                        self->runtime_dir, g_strerror (errno)), FALSE;
  if (!write_file (conf_path, conf, error))
    return FALSE;
  if (!g_file_test (self->lease_file, G_FILE_TEST_EXISTS) &&
      !write_file (self->lease_file, "", error))
    return FALSE;
  conf_option = g_strconcat ("--conf-file=", conf_path, NULL);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  g_subprocess_launcher_set_child_setup (launcher, enter_namespace,
                                         GINT_TO_POINTER (self->netns_fd), NULL);
  self->process = g_subprocess_launcher_spawn (launcher, error, "dnsmasq", "--keep-in-foreground",
                                               "--pid-file=", conf_option, NULL);
  if (self->process == NULL)
    return FALSE;
  write_pid (self);
  self->cancellable = g_cancellable_new ();
  g_subprocess_wait_async (self->process, self->cancellable, on_exited, g_object_ref (self));
  return TRUE;
}

void
marina_dnsmasq_stop (MarinaDnsmasq *self)
{
  g_autofree char *pid_path = dir_file (self, "dnsmasq.pid");

  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->process)
    {
      g_subprocess_send_signal (self->process, SIGTERM);
      g_subprocess_wait (self->process, NULL, NULL);
    }
  g_clear_object (&self->process);
  g_unlink (pid_path);
}

gboolean
marina_dnsmasq_is_running (MarinaDnsmasq *self)
{
  return self->process != NULL;
}

GPid
marina_dnsmasq_get_pid (MarinaDnsmasq *self)
{
  const char *id = self->process ? g_subprocess_get_identifier (self->process) : NULL;

  return id ? (GPid) atoi (id) : 0;
}

/* A dnsmasq left by a marinad that ended (crash, restart) still serves the
 * network; the new marinad starts its own in its place, with the same lease
 * file, so that no client notices. The pid is only trusted if it still is
 * dnsmasq with our configuration. */
void
marina_dnsmasq_kill_stale (const char *runtime_dir)
{
  g_autofree char *pid_path = g_build_filename (runtime_dir, "dnsmasq.pid", NULL);
  g_autofree char *conf_path = g_build_filename (runtime_dir, "dnsmasq.conf", NULL);
  g_autofree char *text = NULL, *cmdline_path = NULL, *cmdline = NULL;
  gsize length = 0;
  gint64 pid;

  if (!g_file_get_contents (pid_path, &text, NULL, NULL) ||
      !g_ascii_string_to_signed (g_strstrip (text), 10, 2, G_MAXINT, &pid, NULL))
    return;
  cmdline_path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/cmdline", pid);
  if (g_file_get_contents (cmdline_path, &cmdline, &length, NULL) &&
      memmem (cmdline, length, conf_path, strlen (conf_path)) != NULL)
    kill ((pid_t) pid, SIGTERM);
  g_unlink (pid_path);
}

/* dnsmasq's lease file: "EXPIRY MAC ADDRESS HOSTNAME CLIENT-ID" per line,
 * "*" for an unknown host name. */
GVariant *
marina_dnsmasq_read_leases (const char *lease_file)
{
  GVariantBuilder leases;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  g_variant_builder_init (&leases, G_VARIANT_TYPE ("a(ssst)"));
  if (g_file_get_contents (lease_file, &text, NULL, NULL))
    lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines && lines[i]; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 5);
      guint64 expiry;
      if (g_strv_length (fields) < 4 ||
          !g_ascii_string_to_unsigned (fields[0], 10, 0, G_MAXUINT64, &expiry, NULL) ||
          !g_utf8_validate (fields[3], -1, NULL))
        continue;
      g_variant_builder_add (&leases, "(ssst)", fields[1], fields[2],
                             g_str_equal (fields[3], "*") ? "" : fields[3], expiry);
    }
  return g_variant_builder_end (&leases);
}

static void
marina_dnsmasq_dispose (GObject *object)
{
  MarinaDnsmasq *self = MARINA_DNSMASQ (object);

  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->process);
  G_OBJECT_CLASS (marina_dnsmasq_parent_class)->dispose (object);
}

static void
marina_dnsmasq_finalize (GObject *object)
{
  MarinaDnsmasq *self = MARINA_DNSMASQ (object);

  g_free (self->runtime_dir);
  g_free (self->lease_file);
  G_OBJECT_CLASS (marina_dnsmasq_parent_class)->finalize (object);
}

static void
marina_dnsmasq_class_init (MarinaDnsmasqClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = marina_dnsmasq_dispose;
  G_OBJECT_CLASS (klass)->finalize = marina_dnsmasq_finalize;
  signals[SIGNAL_EXITED] = g_signal_new ("exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
marina_dnsmasq_init (MarinaDnsmasq *self)
{
}

/* @netns_fd is borrowed and must stay open as long as the server may start. */
MarinaDnsmasq *
marina_dnsmasq_new (const char *runtime_dir, const char *lease_file, int netns_fd)
{
  MarinaDnsmasq *self = g_object_new (MARINA_TYPE_DNSMASQ, NULL);

  self->runtime_dir = g_strdup (runtime_dir);
  self->lease_file = g_strdup (lease_file);
  self->netns_fd = netns_fd;
  return self;
}
