/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-nat"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <nftables/libnftables.h>

#include "marina-error.h"
#include "marina-nat.h"

/* NAT of one network: a table of its own that Marina owns, so that taking
 * the network down removes every rule it added and touches no one else's.
 * Every name and address here was validated (interface names, IPv4
 * literals); none is a user's free text. */

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"

static gboolean
run_nft (const char *commands, GError **error)
{
  struct nft_ctx *nft = nft_ctx_new (NFT_CTX_DEFAULT);
  const char *output;
  int result;

  if (nft == NULL)
    return g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED,
                        "Cannot start libnftables"), FALSE;
  nft_ctx_buffer_error (nft);
  nft_ctx_buffer_output (nft);
  result = nft_run_cmd_from_buffer (nft, commands);
  output = nft_ctx_get_error_buffer (nft);
  if (result != 0)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "nftables refused the NAT rules: %s",
                 output && *output ? output : "unknown error");
  nft_ctx_free (nft);
  return result == 0;
}

/* Forwarding must be on for masquerading to mean anything; it is a host
 * setting, so it is turned on and never back off (other networks and other
 * software may rely on it). */
static gboolean
enable_forwarding (GError **error)
{
  int fd = open (IP_FORWARD, O_WRONLY | O_CLOEXEC);
  gboolean ok = fd >= 0 && write (fd, "1\n", 2) == 2;
  int saved_errno = errno;

  if (fd >= 0)
    close (fd);
  if (!ok)
    g_set_error (error, MARINA_ERROR, MARINA_ERROR_FAILED, "Cannot turn on IPv4 forwarding "
                 "(%s): %s", IP_FORWARD, g_strerror (saved_errno));
  return ok;
}

/**
 * marina_nat_add:
 * @table: the table's name, unique per network
 * @subnet: "10.77.1.0/24"
 *
 * Masquerades what the network's machines send anywhere but their own
 * subnet, and forwards it; replies come back through connection tracking.
 */
gboolean
marina_nat_add (const char *table, const char *bridge, const char *subnet, GError **error)
{
  g_autofree char *commands = g_strdup_printf (
    "table ip %1$s\n"
    "delete table ip %1$s\n"
    "table ip %1$s {\n"
    "  chain postrouting {\n"
    "    type nat hook postrouting priority srcnat; policy accept;\n"
    "    ip saddr %3$s ip daddr != %3$s masquerade\n"
    "  }\n"
    "  chain forward {\n"
    "    type filter hook forward priority filter; policy accept;\n"
    "    iifname \"%2$s\" ip saddr %3$s accept\n"
    "    oifname \"%2$s\" ip daddr %3$s ct state established,related accept\n"
    "    oifname \"%2$s\" ip daddr %3$s drop\n"
    "  }\n"
    "}\n", table, bridge, subnet);

  return enable_forwarding (error) && run_nft (commands, error);
}

gboolean
marina_nat_remove (const char *table, GError **error)
{
  g_autofree char *commands = g_strdup_printf ("table ip %1$s\ndelete table ip %1$s\n", table);

  return run_nft (commands, error);
}

gboolean
marina_nat_exists (const char *table)
{
  g_autofree char *commands = g_strdup_printf ("list table ip %s\n", table);

  return run_nft (commands, NULL);
}
