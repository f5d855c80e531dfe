"""The URL fetcher connects to globally routable addresses only: every special-purpose range of the IPv4
and IPv6 registries is refused, and so is an IPv6 address that carries traffic to such an IPv4 address
(IPv4-mapped, IPv4-compatible, 6to4, NAT64), whether it is in the URL or what the host name resolves to."""

import socket

import pytest

from trainer.datasets import fetching as datasets

IPV4_REFUSED = [
    "0.0.0.0",  # noqa: S104 (an address to refuse, not one to bind): "this network", 0.0.0.0/8
    "0.1.2.3",
    "10.1.2.3",  # private, 10.0.0.0/8
    "100.64.0.1",  # shared address space (carrier-grade NAT), 100.64.0.0/10
    "100.100.100.200",  # a cloud's metadata service, in the shared address space
    "100.127.255.254",
    "127.0.0.1",  # loopback, 127.0.0.0/8
    "127.255.255.254",
    "169.254.169.254",  # link-local, 169.254.0.0/16: cloud metadata
    "172.16.0.1",  # private, 172.16.0.0/12
    "172.31.255.254",
    "192.0.0.1",  # IETF protocol assignments, 192.0.0.0/24
    "192.0.0.170",
    "192.0.2.1",  # documentation, TEST-NET-1
    "192.168.1.1",  # private, 192.168.0.0/16
    "198.18.0.1",  # benchmarking, 198.18.0.0/15
    "198.19.255.254",
    "198.51.100.1",  # documentation, TEST-NET-2
    "203.0.113.1",  # documentation, TEST-NET-3
    "224.0.0.1",  # multicast, 224.0.0.0/4
    "239.255.255.250",
    "240.0.0.1",  # reserved, 240.0.0.0/4
    "255.255.255.255",  # limited broadcast
]
IPV6_REFUSED = [
    "::",  # unspecified
    "::1",  # loopback
    "100::1",  # discard-only, 100::/64
    "2001::1",  # Teredo, 2001::/32 (a tunnel: where it leads is not ours to check)
    "2001:2::1",  # benchmarking, 2001:2::/48
    "2001:10::1",  # ORCHID
    "2001:20::1",  # ORCHIDv2
    "2001:db8::1",  # documentation, 2001:db8::/32
    "3fff::1",  # documentation, 3fff::/20
    "64:ff9b:1::a00:1",  # NAT64 for local use, 64:ff9b:1::/48
    "fc00::1",  # unique local, fc00::/7
    "fd12:3456::1",
    "fe80::1",  # link-local, fe80::/10
    "fec0::1",  # site-local (deprecated), fec0::/10
    "ff02::1",  # multicast, ff00::/8
    "ff0e::1",
]
EMBEDDED_REFUSED = [
    "::ffff:127.0.0.1",  # IPv4-mapped, ::ffff:0:0/96
    "::ffff:10.0.0.1",
    "::ffff:100.100.100.200",
    "::127.0.0.1",  # IPv4-compatible (deprecated), ::/96
    "::169.254.169.254",
    "2002:7f00:1::",  # 6to4, 2002::/16, embedding 127.0.0.1
    "2002:a9fe:a9fe::1",  # 169.254.169.254
    "2002:6464:64c8::",  # 100.100.100.200
    "2002:c0a8:101::1",  # 192.168.1.1
    "64:ff9b::127.0.0.1",  # NAT64's well-known prefix, 64:ff9b::/96
    "64:ff9b::169.254.169.254",
    "64:ff9b::100.100.100.200",
    "64:ff9b::10.0.0.1",
]
ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82b::200e",
    "::ffff:8.8.8.8",  # each embedding of a public IPv4 address reaches that public address
    "2002:808:808::1",
    "64:ff9b::8.8.8.8",
]
REFUSED = IPV4_REFUSED + IPV6_REFUSED + EMBEDDED_REFUSED


@pytest.mark.parametrize("address", REFUSED)
def test_addresses_that_are_not_globally_routable_are_refused(address, settings):
    settings.CATDOG_FETCH_ALLOW_PRIVATE = False
    assert not datasets.is_allowed_address(address)
    settings.CATDOG_FETCH_ALLOW_PRIVATE = True
    assert datasets.is_allowed_address(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address, settings):
    settings.CATDOG_FETCH_ALLOW_PRIVATE = False
    assert datasets.is_allowed_address(address)


@pytest.fixture
def resolve(monkeypatch, settings):
    """Makes pets.test resolve to the address a test names, as a DNS server an attacker runs could."""
    settings.CATDOG_FETCH_ALLOW_PRIVATE = False
    settings.CATDOG_FETCH_TIMEOUT = 1.0
    real_getaddrinfo = socket.getaddrinfo
    answers = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "pets.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in answers
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lambda *addresses: answers.extend(addresses)


@pytest.mark.parametrize("address", REFUSED)
def test_a_host_name_that_resolves_to_such_an_address_is_refused_before_connecting(address, resolve):
    resolve(address)
    with pytest.raises(datasets.FetchError) as refused:
        datasets.fetch("http://pets.test/cat.png")
    assert str(refused.value) == (
        f"refused: pets.test is a private, loopback or reserved address ({address}); "
        "CATDOG_FETCH_ALLOW_PRIVATE allows them"
    )


@pytest.mark.parametrize("address", REFUSED)
def test_such_an_address_written_in_the_url_is_refused(address, settings):
    settings.CATDOG_FETCH_ALLOW_PRIVATE = False
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(datasets.FetchError, match=r"^refused: .* is a private, loopback or reserved address"):
        datasets.fetch(f"http://{host}:8080/cat.png")


def test_a_host_name_with_one_public_and_one_refused_address_is_refused(resolve):
    resolve("93.184.216.34", "100.100.100.200")  # the connection could go to either
    with pytest.raises(datasets.FetchError, match=r"^refused: pets.test .* \(100.100.100.200\)"):
        datasets.fetch("http://pets.test/cat.png")
