// Package loopback is the safety guard of every load generator in bench/:
// a URL is accepted only when its host is a loopback address, so a
// benchmark can never be aimed at someone else's machine.
//
// The host is parsed, never resolved: 127.0.0.0/8, ::1 (and IPv4-mapped
// loopback addresses) and "localhost" pass; every other name, including
// names that would resolve to 127.0.0.1 (127.0.0.1.nip.io), is refused.
package loopback
