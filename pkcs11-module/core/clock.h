// Wall-clock time as brokerkey records it: whole seconds, UTC, written as RFC 3339.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace brokerkey {

using TimePoint = std::chrono::sys_seconds;
using Days = std::chrono::days;

// The system clock, unless BROKERKEY_TEST_NOW holds an RFC 3339 time: a test-only override
// (docs/ARCHITECTURE.md) that changes nothing but the clock of the process that sets it.
TimePoint now();

std::string format_rfc3339(TimePoint t);  // 2026-11-22T07:00:00Z
// Accepts "YYYY-MM-DDTHH:MM:SSZ" and "YYYY-MM-DD" (midnight UTC); nullopt otherwise.
std::optional<TimePoint> parse_rfc3339(std::string_view text);

}  // namespace brokerkey
