#include "core/pkcs11_backend.h"

#include <openssl/rand.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "core/error.h"
#include "core/files.h"

namespace brokerkey {

namespace {

CK_ATTRIBUTE attribute(CK_ATTRIBUTE_TYPE type, const void* value, std::size_t size) {
  return {type, const_cast<void*>(value), static_cast<CK_ULONG>(size)};
}

}  // namespace

void crash_point([[maybe_unused]] std::string_view point) {
#ifdef BROKERKEY_TEST_HOOKS
  const char* target = std::getenv("BROKERKEY_TEST_CRASH_AT");
  if (target && point == target) ::kill(::getpid(), SIGKILL);
#endif
}

// A backend session borrowed from the pool for one operation.
class Pkcs11Backend::Lease {
 public:
  explicit Lease(Pkcs11Backend& backend) : backend_(backend), session_(backend.acquire_session()) {}
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() { backend_.release_session(session_, reusable_); }
  CK_SESSION_HANDLE get() const { return session_; }
  void discard() { reusable_ = false; }

 private:
  Pkcs11Backend& backend_;
  CK_SESSION_HANDLE session_;
  bool reusable_ = true;
};

Pkcs11Backend::Pkcs11Backend(const BackendConfig& config)
    : module_(config.module, config.env), slot_(module_.slot_of_token(config.token_label)) {
  CK_FUNCTION_LIST* fn = module_.fn();
  Secret pin = read_secret_file(config.pin_file);
  check_backend(fn->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr,
                                  &login_session_),
                "C_OpenSession");
  CK_RV rv = log_in(fn, login_session_, CKU_USER, pin.view());
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    fn->C_CloseSession(login_session_);
    throw backend_failed("cannot log in to backend token '" + config.token_label + "'", rv);
  }
}

Pkcs11Backend::~Pkcs11Backend() {
  CK_FUNCTION_LIST* fn = module_.fn();
  for (CK_SESSION_HANDLE session : idle_sessions_) fn->C_CloseSession(session);
  fn->C_CloseSession(login_session_);
}

CK_SESSION_HANDLE Pkcs11Backend::acquire_session() {
  {
    std::lock_guard lock(pool_mutex_);
    if (!idle_sessions_.empty()) {
      CK_SESSION_HANDLE session = idle_sessions_.back();
      idle_sessions_.pop_back();
      return session;
    }
  }
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  check_backend(module_.fn()->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                                            nullptr, &session),
                "C_OpenSession");
  return session;
}

void Pkcs11Backend::release_session(CK_SESSION_HANDLE session, bool reusable) {
  if (reusable) {
    std::lock_guard lock(pool_mutex_);
    idle_sessions_.push_back(session);
    return;
  }
  module_.fn()->C_CloseSession(session);
}

std::optional<BackendKey> Pkcs11Backend::find_key(const Fingerprint& fingerprint) {
  Lease lease(*this);
  CK_FUNCTION_LIST* fn = module_.fn();
  BackendKey key;
  key.id.assign(fingerprint.bytes.begin(), fingerprint.bytes.end());
  CK_OBJECT_CLASS public_class = CKO_PUBLIC_KEY, private_class = CKO_PRIVATE_KEY;
  auto publics = find_objects(module_.fn(), lease.get(), {attribute(CKA_CLASS, &public_class, sizeof public_class),
                                            attribute(CKA_ID, key.id.data(), key.id.size())});
  auto privates = find_objects(module_.fn(), lease.get(), {attribute(CKA_CLASS, &private_class, sizeof private_class),
                                             attribute(CKA_ID, key.id.data(), key.id.size())});
  if (publics.size() > 1 || privates.size() > 1) {
    throw integrity_failed("backend holds more than one key with id " + fingerprint.hex());
  }
  if (publics.empty() && privates.empty()) return std::nullopt;
  key.has_private_key = !privates.empty();
  if (!publics.empty()) {
    if (auto point = read_attribute(fn, lease.get(), publics[0], CKA_EC_POINT)) {
      key.public_key = public_key_from_ec_point(*point);
    }
    if (auto label = read_attribute(fn, lease.get(), publics[0], CKA_LABEL)) {
      key.label.assign(label->begin(), label->end());
    }
  }
  return key;
}

CK_OBJECT_HANDLE Pkcs11Backend::private_key_handle(const Fingerprint& fingerprint, bool refresh) {
  if (!refresh) {
    std::shared_lock lock(handles_mutex_);
    if (auto it = private_handles_.find(fingerprint); it != private_handles_.end()) return it->second;
  }
  std::vector<CK_OBJECT_HANDLE> found;
  {
    Lease lease(*this);
    CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY;
    found = find_objects(module_.fn(), lease.get(),
                         {attribute(CKA_CLASS, &private_class, sizeof private_class),
                          attribute(CKA_ID, fingerprint.bytes.data(), fingerprint.bytes.size())});
  }
  if (found.size() != 1) {
    throw integrity_failed("backend has " + std::to_string(found.size()) +
                           " private keys with id " + fingerprint.hex() + ", expected one");
  }
  std::unique_lock lock(handles_mutex_);
  private_handles_[fingerprint] = found[0];
  return found[0];
}

Signature Pkcs11Backend::sign(const Fingerprint& fingerprint, ByteView message) {
  CK_FUNCTION_LIST* fn = module_.fn();
  CK_MECHANISM mechanism{CKM_EDDSA, nullptr, 0};
  Signature signature{};
  for (bool refresh : {false, true}) {
    CK_OBJECT_HANDLE key = private_key_handle(fingerprint, refresh);
    Lease lease(*this);
    CK_RV rv = fn->C_SignInit(lease.get(), &mechanism, key);
    if ((rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID) && !refresh) continue;
    if (rv != CKR_OK) lease.discard();
    check_backend(rv, "C_SignInit");
    CK_ULONG length = signature.size();
    // An empty message's data() may be NULL, which SoftHSM refuses even with length 0.
    CK_BYTE none = 0;
    CK_BYTE_PTR data = message.empty() ? &none : const_cast<CK_BYTE_PTR>(message.data());
    rv = fn->C_Sign(lease.get(), data, static_cast<CK_ULONG>(message.size()), signature.data(),
                    &length);
    if (rv != CKR_OK) lease.discard();
    check_backend(rv, "C_Sign");
    if (length != signature.size()) throw integrity_failed("backend returned a signature of the wrong size");
    return signature;
  }
  throw integrity_failed("backend key handle for " + fingerprint.hex() + " keeps changing");
}

PublicKey Pkcs11Backend::generate(std::string_view label) {
  CK_FUNCTION_LIST* fn = module_.fn();
  Lease lease(*this);
  // A pending id marks a key no record has committed yet: health reports it as a leftover.
  Bytes pending_id(16);
  if (RAND_bytes(pending_id.data(), static_cast<int>(pending_id.size())) != 1) {
    throw crypto_failed("RAND_bytes failed");
  }
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_KEY_TYPE key_type = CKK_EC_EDWARDS;
  CK_MECHANISM mechanism{CKM_EC_EDWARDS_KEY_PAIR_GEN, nullptr, 0};
  CK_RV rv = CKR_OK;
  CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE, private_key = CK_INVALID_HANDLE;
  for (ByteView params : {ec_params_edwards25519(), ec_params_ed25519_oid()}) {
    std::vector<CK_ATTRIBUTE> public_template = {
        attribute(CKA_TOKEN, &yes, sizeof yes),
        attribute(CKA_PRIVATE, &no, sizeof no),
        attribute(CKA_VERIFY, &yes, sizeof yes),
        attribute(CKA_KEY_TYPE, &key_type, sizeof key_type),
        attribute(CKA_EC_PARAMS, params.data(), params.size()),
        attribute(CKA_LABEL, label.data(), label.size()),
        attribute(CKA_ID, pending_id.data(), pending_id.size()),
    };
    std::vector<CK_ATTRIBUTE> private_template = {
        attribute(CKA_TOKEN, &yes, sizeof yes),
        attribute(CKA_PRIVATE, &yes, sizeof yes),
        attribute(CKA_SENSITIVE, &yes, sizeof yes),
        attribute(CKA_EXTRACTABLE, &no, sizeof no),
        attribute(CKA_SIGN, &yes, sizeof yes),
        attribute(CKA_KEY_TYPE, &key_type, sizeof key_type),
        attribute(CKA_LABEL, label.data(), label.size()),
        attribute(CKA_ID, pending_id.data(), pending_id.size()),
    };
    rv = fn->C_GenerateKeyPair(lease.get(), &mechanism, public_template.data(),
                               static_cast<CK_ULONG>(public_template.size()), private_template.data(),
                               static_cast<CK_ULONG>(private_template.size()), &public_key,
                               &private_key);
    // Backends that want the curve by OID refuse the name; try the OID next.
    if (rv != CKR_ATTRIBUTE_VALUE_INVALID && rv != CKR_CURVE_NOT_SUPPORTED &&
        rv != CKR_DOMAIN_PARAMS_INVALID && rv != CKR_TEMPLATE_INCONSISTENT) {
      break;
    }
  }
  check_backend(rv, "C_GenerateKeyPair");
  crash_point("generate:after-keypair");

  auto point = read_attribute(fn, lease.get(), public_key, CKA_EC_POINT);
  if (!point) throw integrity_failed("backend public key has no CKA_EC_POINT");
  PublicKey key = public_key_from_ec_point(*point);
  Fingerprint fingerprint = fingerprint_of(key);
  for (CK_OBJECT_HANDLE object : {public_key, private_key}) {
    CK_ATTRIBUTE id = attribute(CKA_ID, fingerprint.bytes.data(), fingerprint.bytes.size());
    check_backend(fn->C_SetAttributeValue(lease.get(), object, &id, 1), "C_SetAttributeValue(CKA_ID)");
  }
  return key;
}

void Pkcs11Backend::destroy(const Fingerprint& fingerprint) {
  destroy_by_id(fingerprint.bytes);
  std::unique_lock lock(handles_mutex_);
  private_handles_.erase(fingerprint);
}

void Pkcs11Backend::destroy_by_id(ByteView id) {
  Lease lease(*this);
  for (CK_OBJECT_HANDLE object :
       find_objects(module_.fn(), lease.get(), {attribute(CKA_ID, id.data(), id.size())})) {
    check_backend(module_.fn()->C_DestroyObject(lease.get(), object), "C_DestroyObject");
  }
}

std::vector<BackendKey> Pkcs11Backend::list_keys() {
  CK_FUNCTION_LIST* fn = module_.fn();
  Lease lease(*this);
  std::map<Bytes, BackendKey> by_id;
  for (CK_OBJECT_CLASS object_class : {CKO_PUBLIC_KEY, CKO_PRIVATE_KEY}) {
    for (CK_OBJECT_HANDLE object :
         find_objects(module_.fn(), lease.get(), {attribute(CKA_CLASS, &object_class, sizeof object_class)})) {
      Bytes id = read_attribute(fn, lease.get(), object, CKA_ID).value_or(Bytes{});
      BackendKey& key = by_id[id];
      key.id = id;
      if (auto label = read_attribute(fn, lease.get(), object, CKA_LABEL)) {
        key.label.assign(label->begin(), label->end());
      }
      if (object_class == CKO_PRIVATE_KEY) {
        key.has_private_key = true;
      } else if (auto point = read_attribute(fn, lease.get(), object, CKA_EC_POINT)) {
        key.public_key = public_key_from_ec_point(*point);
      }
    }
  }
  std::vector<BackendKey> keys;
  for (auto& [id, key] : by_id) keys.push_back(std::move(key));
  return keys;
}

void provision_backend_token(const BackendConfig& config, std::string_view so_pin,
                             std::string_view user_pin) {
  BackendModule module(config.module, config.env);
  CK_FUNCTION_LIST* fn = module.fn();
  CK_UTF8CHAR label[32];
  std::fill(std::begin(label), std::end(label), ' ');
  std::copy(config.token_label.begin(), config.token_label.end(), label);
  check_backend(fn->C_InitToken(module.free_slot(), pin_pointer(so_pin),
                                static_cast<CK_ULONG>(so_pin.size()), label),
                "C_InitToken");
  // SoftHSM renumbers its slots after C_InitToken: find the token again by label.
  CK_SLOT_ID slot = module.slot_of_token(config.token_label);
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  check_backend(fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session),
                "C_OpenSession");
  CK_RV rv = log_in(fn, session, CKU_SO, so_pin);
  if (rv == CKR_OK) {
    rv = fn->C_InitPIN(session, pin_pointer(user_pin), static_cast<CK_ULONG>(user_pin.size()));
    fn->C_Logout(session);
  }
  fn->C_CloseSession(session);
  check_backend(rv, "C_InitPIN");
}

}  // namespace brokerkey
