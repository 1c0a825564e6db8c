#include "core/clock.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "core/error.h"

namespace brokerkey {

TimePoint now() {
#ifdef BROKERKEY_TEST_HOOKS
  if (const char* fake = std::getenv("BROKERKEY_TEST_NOW"); fake && *fake) {
    auto parsed = parse_rfc3339(fake);
    if (!parsed) throw invalid_input("BROKERKEY_TEST_NOW is not an RFC 3339 time: " + std::string(fake));
    return *parsed;
  }
#endif
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

std::string format_rfc3339(TimePoint t) {
  std::time_t seconds = t.time_since_epoch().count();
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  // Not strftime's %Y: glibc writes a year before 1000 with fewer than four digits, which
  // parse_rfc3339 (and RFC 3339) refuses; a parsed time must be written back as it was read.
  char text[80];  // room for any int fields, so the compiler can prove nothing is cut
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
  return text;
}

std::optional<TimePoint> parse_rfc3339(std::string_view text) {
  using namespace std::chrono;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  auto digits = [&](std::size_t at, std::size_t n, int& out) {
    if (at + n > text.size()) return false;
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  if (!digits(0, 4, y) || text.size() < 10 || text[4] != '-' || !digits(5, 2, mo) ||
      text[7] != '-' || !digits(8, 2, d)) {
    return std::nullopt;
  }
  if (text.size() != 10) {
    if (text.size() != 20 || text[10] != 'T' || !digits(11, 2, h) || text[13] != ':' ||
        !digits(14, 2, mi) || text[16] != ':' || !digits(17, 2, s) || text[19] != 'Z') {
      return std::nullopt;
    }
  }
  year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!date.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  return sys_days{date} + hours{h} + minutes{mi} + seconds{s};
}

}  // namespace brokerkey
