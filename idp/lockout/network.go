package lockout

import "net/netip"

// NetworkKey is the counter key of the client network ip belongs to: an
// IPv4 address itself, and an IPv6 address's /64, since one subscriber
// usually holds a whole /64 and could otherwise move to a fresh address
// for every guess. IPv4-mapped IPv6 counts as the IPv4 address; a zone is
// dropped. Text that is no address (a misconfigured proxy header) is
// keyed by itself.
func NetworkKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "ip:?" + ip
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return "ip:" + a.String()
	}
	return "ip:" + netip.PrefixFrom(a, 64).Masked().String()
}
