// PKCS#11 URIs as users type them into git's user.signingkey: parse, then match a token.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "core/uri.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    brokerkey::KeyUri uri = brokerkey::parse_key_uri(text);
    CK_TOKEN_INFO token{};
    std::memset(token.label, ' ', sizeof token.label);
    std::memcpy(token.label, "brokerkey", 9);
    std::memset(token.manufacturerID, ' ', sizeof token.manufacturerID);
    std::memset(token.model, ' ', sizeof token.model);
    std::memset(token.serialNumber, ' ', sizeof token.serialNumber);
    (void)brokerkey::uri_matches_token(uri, token);
  } catch (const brokerkey::Error&) {
  }
  return 0;
}
