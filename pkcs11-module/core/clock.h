// Wall-clock time as brokerkey records it: whole seconds, UTC, written as RFC 3339.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace brokerkey {

using TimePoint = std::chrono::sys_seconds;
using Days = std::chrono::days;

// The system clock. Only in a build configured with -DBROKERKEY_TEST_HOOKS=ON (tests), an
// RFC 3339 time in BROKERKEY_TEST_NOW replaces it for the process that sets it
// (docs/ARCHITECTURE.md); any other build never reads that variable.
TimePoint now();

std::string format_rfc3339(TimePoint t);  // 2026-11-22T07:00:00Z
// Accepts "YYYY-MM-DDTHH:MM:SSZ" and "YYYY-MM-DD" (midnight UTC); nullopt otherwise.
std::optional<TimePoint> parse_rfc3339(std::string_view text);

}  // namespace brokerkey
