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
  // A path attribute p11-kit does not know (or a value it cannot hold, such as type=foo): by
  // RFC 7512's matching rules such a URI names nothing.
  bool unrecognized = false;
};

// Throws invalid_input with p11-kit's reason when `text` is not a PKCS#11 URI.
KeyUri parse_key_uri(std::string_view text);

// Whether `text` starts with the scheme "pkcs11:" (any case, as p11-kit parses it).
bool is_pkcs11_uri(std::string_view text);

// How every message, log record and error shows a URI (or a word that may be one): the path
// attributes as given, every query attribute and every PIN attribute a path carries
// (pin-value, pin-source, pinfile) with its value replaced by "(redacted)", control and
// non-ASCII bytes percent-encoded, at most 200 characters. A consumer PIN given as
// ?pin-value= never reaches a message through it.
std::string uri_for_display(std::string_view text);

// Whether the token attributes of the URI (token, manufacturer, model, serial) match; never
// for a URI with an unrecognized path attribute.
bool uri_matches_token(const KeyUri& uri, const CK_TOKEN_INFO& token);

// Whether every path attribute of the URI above the object matches this module, slot and
// token: library-manufacturer, library-description, library-version (CK_INFO), slot-id,
// slot-manufacturer, slot-description (CK_SLOT_INFO), token, manufacturer, model, serial
// (CK_TOKEN_INFO). An attribute the URI does not give matches anything; a URI with an
// unrecognized path attribute matches nothing. The object attributes (object, id, type) are
// matched by the caller's C_FindObjects template.
bool uri_matches_slot(const KeyUri& uri, const CK_INFO& module, CK_SLOT_ID slot, const CK_SLOT_INFO& slot_info,
                      const CK_TOKEN_INFO& token);

}  // namespace brokerkey
