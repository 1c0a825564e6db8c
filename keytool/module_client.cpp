#include "module_client.h"

#include <cstdlib>
#include <vector>

#include "core/error.h"

namespace brokerkey {

fs::path beside_this_program(std::string_view name) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path(name) : self.parent_path() / name;
}

fs::path module_path(const std::optional<std::string>& explicit_path) {
  if (explicit_path) return *explicit_path;
  if (const char* env = std::getenv("BROKERKEY_MODULE"); env && *env) return env;
  fs::path beside = beside_this_program("libbrokerkey-pkcs11.so");
  if (fs::exists(beside)) return beside;
  return BROKERKEY_INSTALLED_MODULE;
}

Secret pin_from_uri(const KeyUri& uri) {
  if (uri.pin_value) return Secret(*uri.pin_value);
  if (uri.pin_source) {
    std::string source = *uri.pin_source;
    if (source.rfind("file:", 0) == 0) source = source.substr(5);
    if (source.rfind("//", 0) == 0) source = source.substr(2);  // file:///path
    return read_secret_file(source);
  }
  throw invalid_input("the URI gives no PIN: add ?pin-source=file:/path/to/pin (mode 0600)");
}

namespace {

// The slots whose module, slot and token attributes the URI matches (RFC 7512, every path
// attribute above the object).
std::vector<CK_SLOT_ID> matching_slots(CK_FUNCTION_LIST* fn, const KeyUri& uri) {
  if (uri.unrecognized) {
    throw not_found("the URI " + uri_for_display(uri.text) +
                    " has a path attribute or value this client does not know; by RFC 7512 it names nothing");
  }
  CK_INFO module{};
  check_backend(fn->C_GetInfo(&module), "C_GetInfo", kModule);
  CK_ULONG count = 0;
  check_backend(fn->C_GetSlotList(CK_TRUE, nullptr, &count), "C_GetSlotList", kModule);
  std::vector<CK_SLOT_ID> slots(count);
  check_backend(fn->C_GetSlotList(CK_TRUE, slots.data(), &count), "C_GetSlotList", kModule);
  slots.resize(count);
  std::vector<CK_SLOT_ID> matching;
  for (CK_SLOT_ID slot : slots) {
    CK_SLOT_INFO slot_info{};
    CK_TOKEN_INFO token{};
    if (fn->C_GetSlotInfo(slot, &slot_info) == CKR_OK && fn->C_GetTokenInfo(slot, &token) == CKR_OK &&
        uri_matches_slot(uri, module, slot, slot_info, token)) {
      matching.push_back(slot);
    }
  }
  return matching;
}

// The C_FindObjects template for the object attributes of the URI, with `object_class`.
std::vector<CK_ATTRIBUTE> object_template(const KeyUri& uri, CK_OBJECT_CLASS& object_class) {
  std::vector<CK_ATTRIBUTE> match{{CKA_CLASS, &object_class, sizeof object_class}};
  if (uri.object) match.push_back({CKA_LABEL, const_cast<char*>(uri.object->data()), uri.object->size()});
  if (uri.id) match.push_back({CKA_ID, const_cast<char*>(uri.id->data()), uri.id->size()});
  return match;
}

void expect_key_type(const KeyUri& uri) {
  if (uri.type && *uri.type != CKO_PRIVATE_KEY && *uri.type != CKO_PUBLIC_KEY) {
    throw invalid_input("the URI " + uri_for_display(uri.text) + " names a non-key object; a key needs type=private, "
                        "type=public or no type");
  }
}

}  // namespace

UriPublicKey uri_public_key(const fs::path& module_file, const KeyUri& uri) {
  expect_key_type(uri);
  BackendModule module(module_file, {}, "brokerkey");
  CK_FUNCTION_LIST* fn = module.fn();
  CK_OBJECT_CLASS public_class = CKO_PUBLIC_KEY;
  std::vector<UriPublicKey> found;
  for (CK_SLOT_ID slot : matching_slots(fn, uri)) {
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    check_backend(fn->C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &session), "C_OpenSession", kModule);
    try {
      for (CK_OBJECT_HANDLE object : find_objects(fn, session, object_template(uri, public_class))) {
        auto point = read_attribute(fn, session, object, CKA_EC_POINT);
        auto label = read_attribute(fn, session, object, CKA_LABEL);
        if (!point) throw integrity_failed("a public key without CKA_EC_POINT");
        found.push_back({public_key_from_ec_point(*point), label ? std::string(label->begin(), label->end()) : ""});
      }
    } catch (...) {
      fn->C_CloseSession(session);
      throw;
    }
    fn->C_CloseSession(session);
  }
  if (found.empty()) throw not_found("the URI " + uri_for_display(uri.text) + " names no key");
  if (found.size() > 1) {
    throw invalid_input("the URI " + uri_for_display(uri.text) + " names " + std::to_string(found.size()) +
                        " public keys; name one");
  }
  return found.front();
}

UriSigner::UriSigner(const fs::path& module, const KeyUri& uri, const Secret& pin)
    : module_(module, {}, "brokerkey") {
  if (uri.type && *uri.type != CKO_PRIVATE_KEY) {
    throw invalid_input("the URI names a " + std::string(*uri.type == CKO_PUBLIC_KEY ? "public key" : "non-key object") +
                        "; signing needs type=private or no type");
  }
  CK_FUNCTION_LIST* fn = module_.fn();
  CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY;
  std::vector<CK_ATTRIBUTE> match = object_template(uri, private_class);

  int found = 0;
  for (CK_SLOT_ID slot : matching_slots(fn, uri)) {
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    check_backend(fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session),
                  "C_OpenSession", kModule);
    CK_RV rv = log_in(fn, session, CKU_USER, pin.view());
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
      fn->C_CloseSession(session);
      throw Error(rv, rv == CKR_PIN_INCORRECT ? "the PIN is not a consumer PIN of this broker"
                                              : "C_Login failed: " + rv_name(rv));
    }
    auto keys = find_objects(fn, session, match);
    found += static_cast<int>(keys.size());
    if (keys.size() == 1 && session_ == CK_INVALID_HANDLE) {
      session_ = session;
      private_key_ = keys[0];
    } else {
      fn->C_CloseSession(session);
    }
  }
  if (found == 0) throw not_found("the URI " + uri_for_display(uri.text) + " names no private key");
  if (found > 1) throw invalid_input("the URI " + uri_for_display(uri.text) + " names " + std::to_string(found) + " private keys; name one");

  auto id = read_attribute(fn, session_, private_key_, CKA_ID);
  auto label = read_attribute(fn, session_, private_key_, CKA_LABEL);
  if (label) label_.assign(label->begin(), label->end());
  CK_OBJECT_CLASS public_class = CKO_PUBLIC_KEY;
  if (!id) throw integrity_failed("the key has no CKA_ID");
  id_.assign(id->begin(), id->end());
  auto publics = find_objects(fn, session_, {{CKA_CLASS, &public_class, sizeof public_class},
                                             {CKA_ID, id->data(), id->size()}});
  if (publics.size() != 1) throw integrity_failed("the key's public key object is missing");
  auto point = read_attribute(fn, session_, publics[0], CKA_EC_POINT);
  if (!point) throw integrity_failed("the key's public key has no CKA_EC_POINT");
  public_key_ = public_key_from_ec_point(*point);
}

UriSigner::~UriSigner() {
  if (session_ != CK_INVALID_HANDLE) module_.fn()->C_CloseSession(session_);
}

Signature UriSigner::sign(ByteView data) const {
  CK_FUNCTION_LIST* fn = module_.fn();
  CK_MECHANISM mechanism{CKM_EDDSA, nullptr, 0};
  check_backend(fn->C_SignInit(session_, &mechanism, private_key_), "C_SignInit", kModule);
  Signature signature{};
  CK_ULONG length = signature.size();
  check_backend(fn->C_Sign(session_, const_cast<CK_BYTE_PTR>(data.data()), static_cast<CK_ULONG>(data.size()),
                           signature.data(), &length),
                "C_Sign", kModule);
  if (!ed25519_verify(public_key_, data, signature)) {
    throw integrity_failed("the module returned a signature that does not verify");
  }
  return signature;
}

std::optional<Bytes> UriSigner::certificate() const {
  CK_FUNCTION_LIST* fn = module_.fn();
  CK_OBJECT_CLASS certificate_class = CKO_CERTIFICATE;
  auto found = find_objects(fn, session_, {{CKA_CLASS, &certificate_class, sizeof certificate_class},
                                           {CKA_ID, const_cast<std::uint8_t*>(id_.data()), id_.size()}});
  if (found.empty()) return std::nullopt;
  auto value = read_attribute(fn, session_, found.front(), CKA_VALUE);
  if (!value) throw integrity_failed("the key's certificate object has no CKA_VALUE");
  return Bytes(value->begin(), value->end());
}

}  // namespace brokerkey
