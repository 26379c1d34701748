from servicekit.web.client_ip import client_ip, parse_networks

PROXIES = parse_networks("10.0.0.0/8, 127.0.0.1")


def test_untrusted_peer_is_the_client_whatever_the_header_says() -> None:
    assert client_ip("203.0.113.9", "198.51.100.1", PROXIES) == "203.0.113.9"


def test_trusted_proxy_forwards_the_address_it_saw() -> None:
    assert client_ip("10.1.2.3", "198.51.100.7", PROXIES) == "198.51.100.7"


def test_client_written_hops_left_of_the_proxy_are_ignored() -> None:
    # The client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended what it saw.
    assert client_ip("10.1.2.3", "1.2.3.4, 198.51.100.7", PROXIES) == "198.51.100.7"


def test_chains_of_trusted_proxies_are_walked() -> None:
    assert client_ip("127.0.0.1", "198.51.100.7, 10.0.0.5", PROXIES) == "198.51.100.7"


def test_garbage_in_the_header_falls_back_to_the_proxy() -> None:
    assert client_ip("10.1.2.3", "not-an-ip", PROXIES) == "10.1.2.3"
    assert client_ip(None, "198.51.100.7", PROXIES) == "unknown"


def test_no_trusted_proxies_means_the_header_is_never_used() -> None:
    assert client_ip("127.0.0.1", "198.51.100.7", ()) == "127.0.0.1"
