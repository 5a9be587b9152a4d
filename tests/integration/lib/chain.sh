# chain.sh: a chain of router namespaces for traceroute tests, sourced after
# netns.sh:  client -(1)- r1 -(2)- r2 -(3)- r3 -(4)- server
# Link i joins 198.18.i.1 / fd00:c30:i::1 (left) and 198.18.i.2 / fd00:c30:i::2
# (right).  Routers forward and do not rate-limit their ICMP errors; the client
# has routes to the test prefixes only (no default route).
#   chain_up            build it
#   CHAIN_HOPS4 / CHAIN_HOPS6: the expected hop list, space-separated
chain_up() {
    local n
    for n in client r1 r2 r3 server; do ns_add "$n"; done
    ns_link client r1 1
    ns_link r1 r2 2
    ns_link r2 r3 3
    ns_link r3 server 4
    for n in r1 r2 r3; do ns_forward "$n"; done
    # Linux limits ICMP errors to a burst of 6 then 1/s per peer; the tests
    # probe faster than that, and measure injected loss, not the limiter
    for n in r1 r2 r3 server; do
        ns_in "$n" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
    done
    ns_route client 198.18.0.0/16 198.18.1.2
    ns_route client fd00:c30::/32 fd00:c30:1::2
    ns_route r1 198.18.3.0/24 198.18.2.2
    ns_route r1 198.18.4.0/24 198.18.2.2
    ns_route r1 fd00:c30:3::/64 fd00:c30:2::2
    ns_route r1 fd00:c30:4::/64 fd00:c30:2::2
    ns_route r2 198.18.1.0/24 198.18.2.1
    ns_route r2 198.18.4.0/24 198.18.3.2
    ns_route r2 fd00:c30:1::/64 fd00:c30:2::1
    ns_route r2 fd00:c30:4::/64 fd00:c30:3::2
    ns_route r3 198.18.1.0/24 198.18.3.1
    ns_route r3 198.18.2.0/24 198.18.3.1
    ns_route r3 fd00:c30:1::/64 fd00:c30:3::1
    ns_route r3 fd00:c30:2::/64 fd00:c30:3::1
    ns_route server 198.18.0.0/16 198.18.4.1
    ns_route server fd00:c30::/32 fd00:c30:4::1
    CHAIN_HOPS4="198.18.1.2 198.18.2.2 198.18.3.2 198.18.4.2"
    CHAIN_HOPS6="fd00:c30:1::2 fd00:c30:2::2 fd00:c30:3::2 fd00:c30:4::2"
}
