// RFC 7512 PKCS#11 URIs, through p11-kit's parser and formatter.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/pkcs11.h"

namespace brokerkey {

// pkcs11:token=<token>;object=<label>;type=<private|public>
std::string key_uri(std::string_view token_label, std::string_view key_label,
                    CK_OBJECT_CLASS object_class);

struct KeyUri {
  std::string text;  // as given
  std::optional<std::string> token;   // token=
  std::optional<std::string> object;  // object= (CKA_LABEL)
  std::optional<std::string> id;      // id= (CKA_ID), raw bytes
  std::optional<CK_OBJECT_CLASS> type;
  std::optional<std::string> pin_source;  // pin-source= (a file path or file: URI)
  std::optional<std::string> pin_value;   // pin-value=
  std::optional<std::string> module_path;
};

// Throws invalid_input with p11-kit's reason when `text` is not a PKCS#11 URI.
KeyUri parse_key_uri(std::string_view text);

// Whether the token attributes of the URI (token, manufacturer, model, serial) match.
bool uri_matches_token(const KeyUri& uri, const CK_TOKEN_INFO& token);

}  // namespace brokerkey
