// The ledger's hash chain and lifecycle fold. Two kinds of input:
//  - a ledger file as it is on disk (starts with '{'): verify_chain and fold_ledger must answer
//    or throw a brokerkey Error, a chain that verifies has records that all parse, and the fold
//    never accepts a chain that does not verify;
//  - anything else: the first line is skipped and every later line that is a JSON object is
//    re-written through the real writer (ChainedLog::append with fold_ledger as validator, as
//    Ledger::append does, at the record's own time). Random bytes cannot forge SHA-256 links,
//    so this is how the fold's lifecycle rules get fuzzed. What the writer wrote must verify
//    and fold (check_state says to what).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/chained_log.h"
#include "core/error.h"
#include "core/ledger.h"
#include "temp_dir.h"

namespace {

using namespace brokerkey;

std::vector<std::string> complete_lines(std::string_view text) {
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) break;  // a torn tail is not a record, as in read_lines
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// What the module and the keytool rely on: at most one current and one overlap key, and one
// record per key (find, retire and revoke name a key by its fingerprint).
void check_state(const LedgerState& state, TimePoint latest) {
  for (const auto& key : state.keys) {
    if (state.find(key.fingerprint) != &key) __builtin_trap();
  }
  for (TimePoint at : {latest, latest + Days(3650)}) {
    int current = 0, overlap = 0;
    for (const auto& key : state.keys) {
      current += key.status_at(at) == KeyStatus::current;
      overlap += key.status_at(at) == KeyStatus::overlap;
      (void)signing_window(key);
    }
    if (current > 1 || overlap > 1) __builtin_trap();
  }
}

void fuzz_file(const std::vector<std::string>& lines) {
  bool chain_ok = !verify_chain(lines);
  TimePoint latest{};
  for (const auto& line : lines) {
    try {
      boost::json::object record = parse_record(line);
      const boost::json::value* time = record.if_contains("time");
      if (auto at = time && time->is_string() ? parse_rfc3339(time->as_string()) : std::nullopt) {
        latest = std::max(latest, *at);
      }
    } catch (const Error&) {
      if (chain_ok) __builtin_trap();
    }
  }
  try {
    LedgerState state = fold_ledger(lines);
    if (!chain_ok || state.records != lines.size()) __builtin_trap();
    check_state(state, latest);
  } catch (const Error&) {
  }
}

void fuzz_writer(const std::vector<std::string>& records) {
  static TempDir dir;
  fs::path path = dir.path() / "ledger.jsonl";
  fs::remove(path);
  ChainedLog log(path);
  TimePoint latest = TimePoint(std::chrono::seconds(1800000000));
  for (std::size_t i = 1; i < records.size() && i <= 16; ++i) {
    boost::json::object fields;
    try {
      fields = parse_record(records[i]);
    } catch (const Error&) {
      continue;
    }
    const boost::json::value* event = fields.if_contains("event");
    const boost::json::value* time = fields.if_contains("time");
    std::string name = event && event->is_string() ? std::string(event->as_string()) : "note";
    auto at = time && time->is_string() ? parse_rfc3339(time->as_string()) : std::nullopt;
    for (auto key : {"seq", "time", "event", "actor", "prev", "hash"}) fields.erase(key);
    try {
      log.append(name, fields, at.value_or(latest), [](const auto& lines) { fold_ledger(lines); });
      latest = std::max(latest, at.value_or(latest));
    } catch (const Error&) {
    }
  }
  std::vector<std::string> written = log.read_lines();
  if (verify_chain(written)) __builtin_trap();
  check_state(fold_ledger(written), latest);  // throws (a finding) if it does not fold
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!text.empty() && text.front() == '{') {
    fuzz_file(complete_lines(text));
  } else {
    fuzz_writer(complete_lines(text));
  }
  return 0;
}
