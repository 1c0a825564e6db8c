#include "core/uri.h"

#include <p11-kit/uri.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/backend_module.h"
#include "core/error.h"

namespace brokerkey {

namespace {
struct UriDeleter {
  void operator()(P11KitUri* uri) const noexcept { p11_kit_uri_free(uri); }
};
using UriPtr = std::unique_ptr<P11KitUri, UriDeleter>;

UriPtr new_uri() {
  UriPtr uri(p11_kit_uri_new());
  if (!uri) throw std::bad_alloc();
  return uri;
}
}  // namespace

std::string key_uri(std::string_view token_label, std::string_view key_label,
                    CK_OBJECT_CLASS object_class) {
  UriPtr uri = new_uri();
  CK_TOKEN_INFO* token = p11_kit_uri_get_token_info(uri.get());
  std::memset(token->label, ' ', sizeof token->label);
  std::memcpy(token->label, token_label.data(), std::min(token_label.size(), sizeof token->label));
  CK_ATTRIBUTE label{CKA_LABEL, const_cast<char*>(key_label.data()),
                     static_cast<CK_ULONG>(key_label.size())};
  CK_ATTRIBUTE type{CKA_CLASS, &object_class, sizeof object_class};
  if (p11_kit_uri_set_attribute(uri.get(), &label) != P11_KIT_URI_OK ||
      p11_kit_uri_set_attribute(uri.get(), &type) != P11_KIT_URI_OK) {
    throw invalid_input("cannot build a PKCS#11 URI for " + std::string(key_label));
  }
  char* text = nullptr;
  if (p11_kit_uri_format(uri.get(), P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &text) != P11_KIT_URI_OK) {
    throw invalid_input("cannot format a PKCS#11 URI for " + std::string(key_label));
  }
  std::string out(text);
  std::free(text);
  return out;
}

KeyUri parse_key_uri(std::string_view text) {
  UriPtr uri = new_uri();
  std::string copy(text);
  int rv = p11_kit_uri_parse(copy.c_str(), P11_KIT_URI_FOR_ANY, uri.get());
  if (rv != P11_KIT_URI_OK) {
    throw invalid_input("'" + copy + "' is not a PKCS#11 URI: " + p11_kit_uri_message(rv));
  }
  KeyUri out;
  out.text = copy;
  CK_TOKEN_INFO* token = p11_kit_uri_get_token_info(uri.get());
  std::string label = trim_padded(token->label, sizeof token->label);
  if (!label.empty()) out.token = label;
  if (CK_ATTRIBUTE* a = p11_kit_uri_get_attribute(uri.get(), CKA_LABEL)) {
    out.object = std::string(static_cast<const char*>(a->pValue), a->ulValueLen);
  }
  if (CK_ATTRIBUTE* a = p11_kit_uri_get_attribute(uri.get(), CKA_ID)) {
    out.id = std::string(static_cast<const char*>(a->pValue), a->ulValueLen);
  }
  if (CK_ATTRIBUTE* a = p11_kit_uri_get_attribute(uri.get(), CKA_CLASS);
      a && a->ulValueLen == sizeof(CK_OBJECT_CLASS)) {
    out.type = *static_cast<const CK_OBJECT_CLASS*>(a->pValue);
  }
  if (const char* source = p11_kit_uri_get_pin_source(uri.get())) out.pin_source = source;
  if (const char* value = p11_kit_uri_get_pin_value(uri.get())) out.pin_value = value;
  if (const char* path = p11_kit_uri_get_module_path(uri.get())) out.module_path = path;
  return out;
}

bool uri_matches_token(const KeyUri& uri, const CK_TOKEN_INFO& token) {
  UriPtr parsed = new_uri();
  if (p11_kit_uri_parse(uri.text.c_str(), P11_KIT_URI_FOR_ANY, parsed.get()) != P11_KIT_URI_OK) return false;
  return p11_kit_uri_match_token_info(parsed.get(), const_cast<CK_TOKEN_INFO*>(&token)) == 1;
}

}  // namespace brokerkey
