// The ledger reader and verifier: the input is a ledger file (one record per line). The chain
// check and the lifecycle fold must answer or throw a brokerkey Error, never crash; and a
// ledger whose chain verifies is one whose records all parse.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/chained_log.h"
#include "core/error.h"
#include "core/ledger.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) break;  // a torn tail is not a record, as in read_lines
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  bool chain_ok = !brokerkey::verify_chain(lines);
  for (const auto& line : lines) {
    try {
      brokerkey::parse_record(line);
    } catch (const brokerkey::Error&) {
      if (chain_ok) __builtin_trap();
    }
  }
  try {
    brokerkey::LedgerState state = brokerkey::fold_ledger(lines);
    brokerkey::TimePoint at = brokerkey::TimePoint(std::chrono::seconds(1800000000));
    for (const auto& key : state.keys) {
      (void)key.status_at(at);
      (void)brokerkey::signing_window(key);
    }
    (void)state.current(at);
    (void)state.overlap(at);
  } catch (const brokerkey::Error&) {
  }
  return 0;
}
