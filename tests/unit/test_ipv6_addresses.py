"""Which IPv6 addresses a webhook may reach: global unicast (2000::/3) less its special ranges, and the IPv4 an
address carries judged as IPv4. Forms that carry IPv4 or are not global unicast used to pass as public."""

from __future__ import annotations

import ipaddress

import pytest

from batchyard.core.webhook_urls import is_public
from batchyard.errors import WebhookUrlRefused
from batchyard.service.addresses import check_new_webhook_url

NOT_PUBLIC = [
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64 (RFC 8215): 169.254.169.254 in the /96 form
    "64:ff9b:1:7f00:1::",  # local-use NAT64, the /48 form of RFC 6052: 127.0.1.0
    "64:ff9b:1::5db8:d70e",  # local-use NAT64 of a public IPv4: where it goes is the operator's choice
    "::ffff:0:a00:1",  # SIIT's IPv4-translated form (RFC 2765) of 10.0.0.1
    "fec0::1",  # site-local (deprecated, still routed inside some sites)
    "5f00::1",  # SRv6 segment identifiers (RFC 9602)
    "3fff::1",  # documentation (RFC 9637)
    "2001:db8::1",  # documentation
    "100::1",  # discard-only
    "ff0e::1",  # multicast
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_ipv6_outside_global_unicast_or_carrying_a_private_ipv4_is_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_a_url_naming_one_is_refused(address: str) -> None:
    with pytest.raises(WebhookUrlRefused):
        check_new_webhook_url(f"http://[{address}]/hook", allow_private=False)


@pytest.mark.parametrize(
    "address",
    [
        "2606:2800:220:1:248:1893:25c8:1946",  # global unicast
        "64:ff9b::5db8:d70e",  # the well-known NAT64 prefix: an IPv6-only host reaching 93.184.215.14
        "::ffff:93.184.215.14",  # IPv4-mapped: the socket connects to 93.184.215.14
        "2002:5db8:d70e::1",  # 6to4 of a public IPv4
    ],
)
def test_global_unicast_and_ipv4_forms_of_public_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))
