// The configuration parser: any text either parses into a configuration that serializes and
// parses back to the same thing, or fails with a brokerkey Error (never another exception).
#include <cstdint>
#include <string_view>

#include "core/config.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    brokerkey::Config config = brokerkey::parse_config(text, "/fuzz/brokerkey.conf");
    std::string once = brokerkey::serialize_config(config);
    std::string twice = brokerkey::serialize_config(brokerkey::parse_config(once, config.file));
    if (once != twice) __builtin_trap();
  } catch (const brokerkey::Error&) {
  }
  return 0;
}
