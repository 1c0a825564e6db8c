// Key names: <service>-<purpose>-ed25519-<env>, e.g. acme-git-signing-ed25519-prod.
#pragma once

#include <string>
#include <string_view>

namespace brokerkey {

struct KeyName {
  std::string service;  // one word: [a-z0-9]+
  std::string purpose;  // words joined by '-': git-signing
  std::string env;      // one word: prod, staging
};

// Throws invalid_input naming the part that does not fit.
std::string make_key_label(const KeyName& name);
// Throws invalid_input unless `label` has the form above.
KeyName parse_key_label(std::string_view label);

// A PKCS#11 token label: 1 to 32 printable ASCII characters (the overlap token's label adds
// "-overlap", so the broker's own is at most 24).
void check_token_label(std::string_view label);

}  // namespace brokerkey
