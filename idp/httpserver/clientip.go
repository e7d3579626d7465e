package httpserver

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP resolves the client address. The peer (RemoteAddr) is the
// answer unless it is a trusted proxy; then X-Forwarded-For is walked from
// the right (the hop our proxy appended) leftwards, skipping trusted
// proxies, and the first untrusted hop is the client. Hops left of it were
// written by the client and are never believed. An unparsable hop ends the
// walk at the last address known to be real.
func (s *Server) clientIP(r *http.Request) string {
	peer, ok := parseHop(r.RemoteAddr)
	if !ok {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			return host
		}
		return r.RemoteAddr
	}
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := forwardedFor(r.Header)
	current := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			break
		}
		current = hop
		if !s.trusted(hop) {
			break
		}
	}
	return current.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor splits every X-Forwarded-For header line into hops, in order.
func forwardedFor(h http.Header) []string {
	var hops []string
	for _, line := range h.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(line, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// parseHop parses "ip", "ip:port", "[ipv6]:port" or "[ipv6]", unmapping
// IPv4-in-IPv6 and dropping any zone.
func parseHop(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		if err2 != nil {
			if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
				a, err = netip.ParseAddr(s[1 : len(s)-1])
			}
			if err != nil {
				return netip.Addr{}, false
			}
		} else {
			a = ap.Addr()
		}
	}
	return a.Unmap().WithZone(""), true
}
