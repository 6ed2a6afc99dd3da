/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "marina-error.h"
#include "marina-network-config.h"
#include "marina-nic.h"

static MarinaNetworkConfig *
network_new (const char *name, GVariant *options)
{
  MarinaNetworkConfig *config = marina_network_config_new ();
  g_autoptr(GError) error = NULL;

  config->name = g_strdup (name);
  marina_network_config_set_defaults (config, 7);
  if (options != NULL)
    {
      g_variant_ref_sink (options);
      marina_network_config_apply_options (config, options, &error);
      g_assert_no_error (error);
      g_variant_unref (options);
    }
  g_assert_no_error (error);
  return config;
}

static void
assert_refused (GVariant *options, const char *expected)
{
  g_autoptr(MarinaNetworkConfig) config = marina_network_config_new ();
  g_autoptr(GError) error = NULL;

  config->name = g_strdup ("n");
  marina_network_config_set_defaults (config, 1);
  g_variant_ref_sink (options);
  if (marina_network_config_apply_options (config, options, &error))
    marina_network_config_validate (config, &error);
  g_variant_unref (options);
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, expected) == NULL)
    g_error ("'%s' lacks '%s'", error->message, expected);
}

/* A fresh nat network: 10.77.N.1/24, DHCP over the upper half, the host as
 * the gateway, a bridge named after the id. */
static void
test_defaults (void)
{
  g_autoptr(MarinaNetworkConfig) config = network_new ("default", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *bridge = marina_network_config_bridge_name (config);
  g_autofree char *gateway = marina_network_config_gateway (config);

  g_assert_true (marina_network_config_validate (config, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (config->address, ==, "10.77.7.1");
  g_assert_cmpstr (config->dhcp_start, ==, "10.77.7.128");
  g_assert_cmpstr (config->dhcp_end, ==, "10.77.7.254");
  g_assert_cmpstr (gateway, ==, "10.77.7.1");
  g_assert_cmpuint (strlen (bridge), ==, 11);
  g_assert_true (g_str_has_prefix (bridge, "mrn"));
}

static void
test_round_trip (void)
{
  GVariantBuilder hosts;
  g_autoptr(MarinaNetworkConfig) config = NULL;
  g_autoptr(MarinaNetworkConfig) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL, *again = NULL;
  const char *dns[] = { "10.0.0.53", "10.0.0.54", NULL };

  g_variant_builder_init (&hosts, G_VARIANT_TYPE ("a(sss)"));
  g_variant_builder_add (&hosts, "(sss)", "02:4D:52:AA:BB:CC", "192.168.50.10", "web");
  config = network_new ("lab <&> net", g_variant_new_parsed (
    "{'kind': <'host'>, 'address': <'192.168.50.1'>, 'prefix': <uint32 24>, "
    "'lease-time': <uint32 600>, 'dns-servers': <%^as>, 'reservations': <%@a(sss)>, "
    "'pxe-root': <'/srv/tftp'>, 'pxe-boot-file': <'boot/pxelinux.0'>}",
    dns, g_variant_builder_end (&hosts)));
  g_assert_true (marina_network_config_validate (config, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (config->dhcp_start, ==, "192.168.50.128");
  xml = marina_network_config_to_xml (config);
  back = marina_network_config_from_xml (xml, -1, &error);
  g_assert_no_error (error);
  again = marina_network_config_to_xml (back);
  g_assert_cmpstr (xml, ==, again);
  g_assert_cmpstr (back->name, ==, "lab <&> net");
  g_assert_cmpint (back->kind, ==, MARINA_NETWORK_HOST);
  g_assert_cmpuint (back->lease_time, ==, 600);
  g_assert_cmpstr (back->dns_servers[1], ==, "10.0.0.54");
  g_assert_cmpuint (back->reservations->len, ==, 1);
  g_assert_cmpstr (((MarinaDhcpHost *) back->reservations->pdata[0])->mac, ==,
                   "02:4d:52:aa:bb:cc");
  g_assert_cmpstr (back->pxe_boot_file, ==, "boot/pxelinux.0");
}

static void
test_refusals (void)
{
  assert_refused (g_variant_new_parsed ("{'kind': <'bridge'>}"), "kind 'bridge' is not known");
  assert_refused (g_variant_new_parsed ("{'address': <'10.1.2'>}"), "not an IPv4 address");
  assert_refused (g_variant_new_parsed ("{'prefix': <uint32 31>}"), "use 8 to 30");
  assert_refused (g_variant_new_parsed ("{'prefix': <'24'>}"), "must be of type 'u'");
  assert_refused (g_variant_new_parsed ("{'colour': <'blue'>}"), "'colour' is not known");
  assert_refused (g_variant_new_parsed ("{'dhcp-range': <('10.77.1.200', '10.77.1.100')>}"),
                  "backwards");
  assert_refused (g_variant_new_parsed ("{'dhcp-range': <('10.77.1.2', '10.77.2.9')>}"),
                  "outside the network 10.77.1.0/24");
  assert_refused (g_variant_new_parsed ("{'dhcp-range': <('10.77.1.1', '10.77.1.9')>}"),
                  "holds the network's own address");
  assert_refused (g_variant_new_parsed ("{'address': <'10.77.1.255'>}"), "broadcast");
  assert_refused (g_variant_new_parsed ("{'bridge': <'br0;reboot'>}"), "may only hold");
  assert_refused (g_variant_new_parsed ("{'bridge': <'a-very-long-bridge'>}"), "1 to 15");
  assert_refused (g_variant_new_parsed ("{'kind': <'external'>}"), "needs host-interface");
  assert_refused (g_variant_new_parsed ("{'kind': <'external'>, 'host-interface': <'eth0'>, "
                                        "'dhcp': <true>}"), "give it no address and no dhcp");
  assert_refused (g_variant_new_parsed ("{'host-interface': <'eth0'>}"),
                  "Only external networks");
  assert_refused (g_variant_new_parsed ("{'reservations': <[('01:00:5e:00:00:01', "
                                        "'10.77.1.5', '')]>}"), "multicast");
  assert_refused (g_variant_new_parsed ("{'reservations': <[('02:00:00:00:00:01', "
                                        "'10.77.1.5', 'a'), ('02:00:00:00:00:01', "
                                        "'10.77.1.6', 'b')]>}"), "collide");
  assert_refused (g_variant_new_parsed ("{'reservations': <[('02:00:00:00:00:01', "
                                        "'10.77.1.5', 'bad name')]>}"), "Host name");
  assert_refused (g_variant_new_parsed ("{'pxe-root': <'/srv/tftp'>}"), "needs both");
  assert_refused (g_variant_new_parsed ("{'pxe-root': <'/srv/t,ftp'>, 'pxe-boot-file': <'x'>}"),
                  "absolute path of letters");
  assert_refused (g_variant_new_parsed ("{'pxe-root': <'/srv'>, 'pxe-boot-file': <'../x'>}"),
                  "inside the PXE root");
  assert_refused (g_variant_new_parsed ("{'port-forwards': <['tcp:80:80']>}"),
                  "host port 1024 to 65535");
  assert_refused (g_variant_new_parsed ("{'kind': <'host'>, 'port-forwards': <['tcp:2222:22']>}"),
                  "nat networks only");
  assert_refused (g_variant_new_parsed ("{'dns-servers': <['8.8.8.8\\nserver=x']>}"),
                  "not an IPv4 address");
  assert_refused (g_variant_new_parsed ("{'name': <'a/b'>}"), "network name cannot contain '/'");
}

static void
test_xml_refusals (void)
{
  const struct { const char *xml; const char *expected; } cases[] = {
    { "", "is empty" },
    { "<network><name>x</name><kind>nat</kind>", "not well-formed" },
    { "<!DOCTYPE n [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><network/>", "DOCTYPE" },
    { "<machine/>", "root element must be <network>" },
    { "<network><name>x</name><colour/></network>", "element <colour> is not known" },
    { "<network><name>x</name><kind>internal</kind><ipv4 address='10.1.1.1' prefix='x'/>"
      "</network>", "prefix length 'x'" },
    { "<network><name>x</name><kind>host</kind><ipv4 address='10.1.1.1'/><dhcp><dns/>"
      "<dns server='10.0.0.1'/></dhcp></network>", "<dns> needs a server" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MarinaNetworkConfig) config = marina_network_config_from_xml (cases[i].xml, -1,
                                                                              &error);
      g_assert_null (config);
      g_assert_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT);
      if (strstr (error->message, cases[i].expected) == NULL)
        g_error ("'%s' lacks '%s'", error->message, cases[i].expected);
    }
}

/* A hand-written internal network without DHCP needs no address at all. */
static void
test_internal_without_address (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MarinaNetworkConfig) config = marina_network_config_from_xml (
    "<network xmlns='http://marinavm.org/ns/network/1'><name>wire</name>"
    "<kind>internal</kind></network>", -1, &error);

  g_assert_no_error (error);
  g_assert_false (config->dhcp);
  g_assert_null (config->address);
}

static void
test_macs (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *normal = marina_mac_normalize ("02-4D-52-0A-0B-0C", &error);
  g_autofree char *generated = marina_mac_generate ();
  g_autofree char *checked = marina_mac_normalize (generated, &error);
  g_autofree char *bad = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (normal, ==, "02:4d:52:0a:0b:0c");
  g_assert_true (g_str_has_prefix (generated, MARINA_MAC_PREFIX ":"));
  g_assert_cmpstr (checked, ==, generated);
  bad = marina_mac_normalize ("02:4d:52:0a:0b", &error);
  g_assert_null (bad);
  g_assert_error (error, MARINA_ERROR, MARINA_ERROR_INVALID_ARGUMENT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/devices/network/defaults", test_defaults);
  g_test_add_func ("/devices/network/round-trip", test_round_trip);
  g_test_add_func ("/devices/network/refusals", test_refusals);
  g_test_add_func ("/devices/network/xml-refusals", test_xml_refusals);
  g_test_add_func ("/devices/network/internal-without-address", test_internal_without_address);
  g_test_add_func ("/devices/network/macs", test_macs);
  return g_test_run ();
}
