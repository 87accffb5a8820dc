// URL text helpers shared by the rooms that build URLs (scrape targets' params, alerts'
// generator URLs, the `urlquery` template function) and check listen addresses (the API, the
// stack scanner). Thread safety: stateless.
#pragma once

#include <string>
#include <string_view>

namespace steward {

// Go's url.QueryEscape: unreserved bytes (A-Z a-z 0-9 - _ . ~) kept, space as '+', the rest
// %XX with upper-case hex.
std::string QueryEscape(std::string_view s);

// A host that is the machine itself: localhost, ::1 ([::1]) or 127.a.b.c with decimal parts
// ("127.evil.example" is a name, not a loopback address). The wildcards 0.0.0.0 and :: are not.
bool IsLoopbackHost(std::string_view host);

}  // namespace steward
