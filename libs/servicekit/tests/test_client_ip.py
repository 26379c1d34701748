from servicekit.web.client_ip import client_ip, is_trusted, parse_networks

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


def test_a_proxy_seen_through_a_dual_stack_socket_is_still_trusted() -> None:
    # Served on "::" (dual stack), an IPv4 proxy's connection reports ::ffff:10.1.2.3. Untrusted,
    # it would be the one "client" of everyone behind it: 20 requests from anybody and the
    # per-IP limit refuses the whole internet.
    assert client_ip("::ffff:10.1.2.3", "198.51.100.7", PROXIES) == "198.51.100.7"
    assert client_ip("::ffff:127.0.0.1", "198.51.100.7, ::ffff:10.0.0.5", PROXIES) == (
        "198.51.100.7"
    )
    # And a client seen so is its IPv4 address: one client, one bucket.
    assert client_ip("::ffff:203.0.113.9", None, PROXIES) == "203.0.113.9"
    assert client_ip("10.1.2.3", "::ffff:198.51.100.7", PROXIES) == "198.51.100.7"


def test_the_forwarded_scheme_of_a_proxy_seen_through_a_dual_stack_socket_counts() -> None:
    # The same trust rule decides which peer's X-Forwarded-Proto is believed.
    assert is_trusted("::ffff:10.1.2.3", PROXIES)
    assert not is_trusted("::ffff:203.0.113.9", PROXIES)
    assert not is_trusted(None, PROXIES) and not is_trusted("not-an-ip", PROXIES)
