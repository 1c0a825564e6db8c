// PKCS#11 URIs as users type them into git's user.signingkey: parse, then match a token. The
// same bytes are also used as a key label (and, when valid, a token label) for key_uri, whose
// URI must parse back to that label and match that token: a URI brokerkey prints (e.g. for
// `git config`) has to find the key it names.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "core/key_label.h"
#include "core/uri.h"

namespace {

using namespace brokerkey;

CK_TOKEN_INFO token_named(std::string_view label) {
  CK_TOKEN_INFO token{};
  std::memset(&token, ' ', sizeof token);
  std::memcpy(token.label, label.data(), std::min(label.size(), sizeof token.label));
  std::memcpy(token.manufacturerID, "brokerkey", 9);
  std::memcpy(token.model, "ed25519 broker", 14);
  return token;
}

void round_trip(std::string_view token_label, std::string_view key_label) {
  KeyUri uri = parse_key_uri(key_uri(token_label, key_label, CKO_PRIVATE_KEY));
  if (uri.token != token_label || uri.object != key_label || uri.type != CKO_PRIVATE_KEY ||
      !uri_matches_token(uri, token_named(token_label))) {
    __builtin_trap();
  }
}

bool valid_token_label(std::string_view label) {
  try {
    check_token_label(label);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    KeyUri uri = parse_key_uri(text);
    (void)uri_matches_token(uri, token_named("brokerkey"));
  } catch (const Error&) {
  }
  // How messages show any word: one printable line, bounded, whatever the input.
  std::string shown = uri_for_display(text);
  if (shown.size() > 203) __builtin_trap();
  for (char c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) __builtin_trap();
  }
  if (!text.empty()) round_trip("brokerkey", text);
  if (valid_token_label(text)) round_trip(text, "acme-git-signing-ed25519-prod");
  return 0;
}
