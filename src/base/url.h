// URL text helpers shared by the rooms that build URLs (scrape targets' params, alerts'
// generator URLs, the `urlquery` template function). Thread safety: stateless.
#pragma once

#include <string>
#include <string_view>

namespace steward {

// Go's url.QueryEscape: unreserved bytes (A-Z a-z 0-9 - _ . ~) kept, space as '+', the rest
// %XX with upper-case hex.
std::string QueryEscape(std::string_view s);

}  // namespace steward
