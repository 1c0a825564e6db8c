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
    throw invalid_input("'" + uri_for_display(copy) + "' is not a PKCS#11 URI: " + p11_kit_uri_message(rv));
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
  out.unrecognized = p11_kit_uri_any_unrecognized(uri.get()) != 0;
  return out;
}

namespace {

bool is_pin_attribute(std::string_view name) {
  std::string lower;
  for (char c : name) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  return lower == "pin-value" || lower == "pin-source" || lower == "pinfile";
}

// "name=value" with the value redacted; a part without '=' is redacted whole.
std::string redacted(std::string_view part) {
  std::size_t eq = part.find('=');
  if (eq == std::string_view::npos) return "(redacted)";
  return std::string(part.substr(0, eq)) + "=(redacted)";
}

}  // namespace

bool is_pkcs11_uri(std::string_view text) {
  constexpr std::string_view kScheme = "pkcs11:";
  if (text.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return false;
  }
  return true;
}

std::string uri_for_display(std::string_view text) {
  constexpr std::size_t kMaxShown = 200;
  std::string shown;
  std::size_t query = text.find('?');
  std::string_view path = text.substr(0, query);
  // Path attributes, split at ';': only the PIN attributes p11-kit also accepts there are hidden.
  for (std::size_t start = 0;;) {
    std::size_t end = path.find(';', start);
    std::string_view part = path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    std::size_t colon = start == 0 ? part.find(':') : std::string_view::npos;  // the scheme
    std::string_view attribute = colon == std::string_view::npos ? part : part.substr(colon + 1);
    if (colon != std::string_view::npos) shown += std::string(part.substr(0, colon + 1));
    std::size_t eq = attribute.find('=');
    shown += eq != std::string_view::npos && is_pin_attribute(attribute.substr(0, eq)) ? redacted(attribute)
                                                                                      : std::string(attribute);
    if (end == std::string_view::npos) break;
    shown += ';';
    start = end + 1;
  }
  if (query != std::string_view::npos) {
    std::string_view rest = text.substr(query + 1);
    shown += '?';
    for (std::size_t start = 0;;) {
      std::size_t end = rest.find('&', start);
      shown += redacted(rest.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
      if (end == std::string_view::npos) break;
      shown += '&';
      start = end + 1;
    }
  }
  std::string out;
  for (char c : shown) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  if (out.size() > kMaxShown) out = out.substr(0, kMaxShown) + "...";
  return out;
}

namespace {
UriPtr reparsed(const KeyUri& uri) {
  UriPtr parsed = new_uri();
  if (p11_kit_uri_parse(uri.text.c_str(), P11_KIT_URI_FOR_ANY, parsed.get()) != P11_KIT_URI_OK) return nullptr;
  return parsed;
}
}  // namespace

bool uri_matches_token(const KeyUri& uri, const CK_TOKEN_INFO& token) {
  UriPtr parsed = reparsed(uri);
  return parsed && p11_kit_uri_match_token_info(parsed.get(), const_cast<CK_TOKEN_INFO*>(&token)) == 1;
}

bool uri_matches_slot(const KeyUri& uri, const CK_INFO& module, CK_SLOT_ID slot, const CK_SLOT_INFO& slot_info,
                      const CK_TOKEN_INFO& token) {
  UriPtr parsed = reparsed(uri);
  if (!parsed || p11_kit_uri_any_unrecognized(parsed.get())) return false;
  CK_SLOT_ID wanted = p11_kit_uri_get_slot_id(parsed.get());
  if (wanted != static_cast<CK_SLOT_ID>(-1) && wanted != slot) return false;
  return p11_kit_uri_match_module_info(parsed.get(), const_cast<CK_INFO*>(&module)) == 1 &&
         p11_kit_uri_match_slot_info(parsed.get(), const_cast<CK_SLOT_INFO*>(&slot_info)) == 1 &&
         p11_kit_uri_match_token_info(parsed.get(), const_cast<CK_TOKEN_INFO*>(&token)) == 1;
}

}  // namespace brokerkey
