// The configuration parser: any text either fails with a brokerkey Error, or parses into a
// configuration whose serialization (what save_config writes, e.g. after `consumer add`)
// parses back to the same thing. A saved configuration that no longer loads locks the
// operator out, so an Error from the second parse is a finding, not an answer.
#include <cstdint>
#include <string_view>

#include "core/config.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  brokerkey::Config config;
  try {
    config = brokerkey::parse_config(text, "/fuzz/brokerkey.conf");
  } catch (const brokerkey::Error&) {
    return 0;
  }
  std::string once = brokerkey::serialize_config(config);
  std::string twice = brokerkey::serialize_config(brokerkey::parse_config(once, config.file));
  if (once != twice) __builtin_trap();
  return 0;
}
