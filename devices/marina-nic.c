/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "marina-devices"
#include "config.h"

#include <string.h>

#include "marina-error.h"
#include "marina-nic.h"

static const char *const nic_models[] = { "virtio", "e1000", "tulip", NULL };

MarinaNic *
marina_nic_new (void)
{
  MarinaNic *nic = g_new0 (MarinaNic, 1);

  nic->connected = TRUE;
  return nic;
}

MarinaNic *
marina_nic_copy (const MarinaNic *nic)
{
  MarinaNic *copy = marina_nic_new ();

  copy->id = g_strdup (nic->id);
  copy->mac = g_strdup (nic->mac);
  copy->model = g_strdup (nic->model);
  copy->network = g_strdup (nic->network);
  copy->connected = nic->connected;
  return copy;
}

void
marina_nic_free (MarinaNic *nic)
{
  if (nic == NULL)
    return;
  g_free (nic->id);
  g_free (nic->mac);
  g_free (nic->model);
  g_free (nic->network);
  g_free (nic);
}

gboolean
marina_nic_equal (const MarinaNic *a, const MarinaNic *b)
{
  return g_strcmp0 (a->id, b->id) == 0 && g_strcmp0 (a->mac, b->mac) == 0 &&
         g_strcmp0 (a->model, b->model) == 0 && g_strcmp0 (a->network, b->network) == 0 &&
         a->connected == b->connected;
}

GPtrArray *
marina_nic_list_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) marina_nic_free);
}

GPtrArray *
marina_nic_list_copy (GPtrArray *nics)
{
  GPtrArray *copy = marina_nic_list_new ();

  for (guint i = 0; i < nics->len; i++)
    g_ptr_array_add (copy, marina_nic_copy (g_ptr_array_index (nics, i)));
  return copy;
}

gboolean
marina_nic_list_equal (GPtrArray *a, GPtrArray *b)
{
  if (a->len != b->len)
    return FALSE;
  for (guint i = 0; i < a->len; i++)
    {
      if (!marina_nic_equal (g_ptr_array_index (a, i), g_ptr_array_index (b, i)))
        return FALSE;
    }
  return TRUE;
}

MarinaNic *
marina_nic_list_find (GPtrArray *nics, const char *id)
{
  for (guint i = 0; i < nics->len; i++)
    {
      MarinaNic *nic = g_ptr_array_index (nics, i);
      if (g_strcmp0 (nic->id, id) == 0)
        return nic;
    }
  return NULL;
}

MarinaNic *
marina_nic_list_find_mac (GPtrArray *nics, const char *mac)
{
  for (guint i = 0; i < nics->len; i++)
    {
      MarinaNic *nic = g_ptr_array_index (nics, i);
      if (g_strcmp0 (nic->mac, mac) == 0)
        return nic;
    }
  return NULL;
}

/* The lowest "nicN" not in use; NULL when the machine has all it may have. */
char *
marina_nic_list_free_id (GPtrArray *nics)
{
  for (guint n = 0; n < MARINA_NIC_MAX; n++)
    {
      g_autofree char *id = g_strdup_printf ("nic%u", n);
      if (marina_nic_list_find (nics, id) == NULL)
        return g_steal_pointer (&id);
    }
  return NULL;
}

gboolean
marina_validate_nic_model (const char *model, GError **error)
{
  if (model == NULL || g_strv_contains (nic_models, model))
    return TRUE;
  return marina_error_invalid (error, "Network adapter model '%s' is not known; use virtio, "
                               "e1000 or tulip", model);
}

static gboolean
validate_nic_id (const char *id, GError **error)
{
  if (id != NULL && strlen (id) == 4 && g_str_has_prefix (id, "nic") && id[3] >= '0' &&
      id[3] < '0' + MARINA_NIC_MAX)
    return TRUE;
  return marina_error_invalid (error, "Network adapter id '%s' is not valid; adapters are "
                               "nic0 to nic%d", id ? id : "", MARINA_NIC_MAX - 1);
}

/* Network ids are object ids: 32 lowercase hex digits. */
static gboolean
validate_network_reference (const char *network, GError **error)
{
  if (network == NULL)
    return TRUE;
  for (const char *c = network; *c; c++)
    {
      if (!g_ascii_isxdigit (*c) || g_ascii_isupper (*c))
        break;
      if (c - network == 31 && c[1] == '\0')
        return TRUE;
    }
  return marina_error_invalid (error, "Network id '%s' is not valid: it must be 32 lowercase "
                               "hex digits", network);
}

static gboolean
validate_nic (const MarinaNic *nic, GError **error)
{
  g_autofree char *mac = NULL;

  if (!validate_nic_id (nic->id, error))
    return FALSE;
  mac = marina_mac_normalize (nic->mac, error);
  if (mac == NULL)
    return FALSE;
  if (!g_str_equal (mac, nic->mac))
    return marina_error_invalid (error, "MAC address '%s' must be written in lowercase with "
                                 "colons, as %s", nic->mac, mac);
  return marina_validate_nic_model (nic->model, error) &&
         validate_network_reference (nic->network, error);
}

/* Each adapter valid, at most four, ids and MAC addresses unique within
 * the machine (across machines the service checks). */
gboolean
marina_nic_list_validate (GPtrArray *nics, GError **error)
{
  if (nics->len > MARINA_NIC_MAX)
    return marina_error_invalid (error, "A machine can have at most %d network adapters; "
                                 "this one has %u", MARINA_NIC_MAX, nics->len);
  for (guint i = 0; i < nics->len; i++)
    {
      MarinaNic *nic = g_ptr_array_index (nics, i);
      if (!validate_nic (nic, error))
        return FALSE;
      for (guint j = 0; j < i; j++)
        {
          MarinaNic *other = g_ptr_array_index (nics, j);
          if (g_str_equal (nic->id, other->id))
            return marina_error_invalid (error, "Network adapter %s is listed twice", nic->id);
          if (g_str_equal (nic->mac, other->mac))
            return marina_error_invalid (error, "Network adapters %s and %s have the same MAC "
                                         "address %s", other->id, nic->id, nic->mac);
        }
    }
  return TRUE;
}

char *
marina_mac_generate (void)
{
  return g_strdup_printf (MARINA_MAC_PREFIX ":%02x:%02x:%02x", g_random_int_range (0, 256),
                          g_random_int_range (0, 256), g_random_int_range (0, 256));
}

static int
hex_value (char c)
{
  return g_ascii_xdigit_value (c);
}

/* Six hex bytes separated by ':' or '-', in either case. */
static gboolean
parse_mac_bytes (const char *mac, guint8 bytes[6])
{
  if (mac == NULL || strlen (mac) != 17)
    return FALSE;
  for (guint i = 0; i < 6; i++)
    {
      const char *p = mac + i * 3;
      if (hex_value (p[0]) < 0 || hex_value (p[1]) < 0 ||
          (i < 5 && p[2] != ':' && p[2] != '-'))
        return FALSE;
      bytes[i] = (guint8) (hex_value (p[0]) << 4 | hex_value (p[1]));
    }
  return TRUE;
}

/* Refuses group (multicast) and all-zero addresses, which no adapter may
 * have. Returns the lowercase colon form. */
char *
marina_mac_normalize (const char *mac, GError **error)
{
  guint8 bytes[6];

  if (!parse_mac_bytes (mac, bytes))
    marina_error_invalid (error, "MAC address '%s' is not valid: write six hex bytes with "
                          "colons, as 02:4d:52:12:34:56", mac ? mac : "");
  else if (bytes[0] & 1)
    marina_error_invalid (error, "MAC address '%s' is a multicast address; an adapter needs "
                          "a unicast one (the first byte even)", mac);
  else if ((bytes[0] | bytes[1] | bytes[2] | bytes[3] | bytes[4] | bytes[5]) == 0)
    marina_error_invalid (error, "MAC address 00:00:00:00:00:00 is not usable");
  else
    return g_strdup_printf ("%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                            bytes[3], bytes[4], bytes[5]);
  return NULL;
}
