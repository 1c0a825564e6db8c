#include "bridge.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/version.h"
#include "log.h"
#include "module_state.h"

namespace brokerkey::bridge {

namespace {

constexpr std::size_t kSignatureSize = 64;
constexpr std::size_t kMaxMessageSize = 64 * 1024 * 1024;  // multi-part data is held in memory
constexpr CK_SLOT_ID kSlotCount = 2;
constexpr std::size_t kMaxPinLength = 256;  // what CK_TOKEN_INFO announces
// The project's version (CMakeLists.txt) as library, slot and token version.
constexpr CK_VERSION kLibraryVersion{static_cast<CK_BYTE>(kVersionMajor), static_cast<CK_BYTE>(kVersionMinor)};

std::mutex g_initialize_mutex;

template <std::size_t N>
void pad(unsigned char (&field)[N], std::string_view text) {
  std::memset(field, ' ', N);
  std::memcpy(field, text.data(), std::min(N, text.size()));
}

std::string token_label(const Config& config, SlotRole role) {
  return role == SlotRole::current ? config.token_label : config.token_label + "-overlap";
}

// CKM_EDDSA, pure Ed25519: no parameter, or CK_EDDSA_PARAMS asking for neither prehash nor
// context.
void check_eddsa(const CK_MECHANISM* mechanism) {
  if (!mechanism) throw arguments_bad("no mechanism");
  if (mechanism->mechanism != CKM_EDDSA) {
    throw Error(CKR_MECHANISM_INVALID, "only CKM_EDDSA is supported");
  }
  if (mechanism->pParameter == nullptr && mechanism->ulParameterLen == 0) return;
  if (mechanism->pParameter == nullptr || mechanism->ulParameterLen != sizeof(CK_EDDSA_PARAMS)) {
    throw Error(CKR_MECHANISM_PARAM_INVALID, "CKM_EDDSA parameter has the wrong size");
  }
  const auto* params = static_cast<const CK_EDDSA_PARAMS*>(mechanism->pParameter);
  if (params->phFlag != CK_FALSE || params->ulContextDataLen != 0) {
    throw Error(CKR_MECHANISM_PARAM_INVALID, "only pure Ed25519 (no prehash, no context) is offered");
  }
}

// The key object a sign or verify init names, checked against the session's slot and class.
std::shared_ptr<const Object> key_for(ModuleState& state, const Session& session,
                                      CK_OBJECT_HANDLE handle, CK_OBJECT_CLASS wanted) {
  auto object = state.session_view()->object(handle);
  bool logged_in = state.sessions().consumer(session.slot).has_value();
  if (!object || object->slot() != session.slot) {
    throw Error(CKR_KEY_HANDLE_INVALID, "no key " + std::to_string(handle) + " in this slot");
  }
  if (object->is_private() && !logged_in) {
    throw Error(CKR_USER_NOT_LOGGED_IN, "the private key needs C_Login");
  }
  if (object->object_class() != wanted) {
    throw Error(CKR_KEY_FUNCTION_NOT_PERMITTED, "that key cannot do this operation");
  }
  return object;
}

// C_SignInit and C_VerifyInit, in this order: no operation of that kind already running in the
// session, a pure EdDSA mechanism, then a key of `wanted` class this session may use.
template <typename Operation>
std::shared_ptr<const Object> key_for_init(ModuleState& state, const Session& session,
                                           const std::optional<Operation>& op,
                                           const char* in_progress, CK_MECHANISM_PTR mechanism,
                                           CK_OBJECT_HANDLE key, CK_OBJECT_CLASS wanted) {
  if (op) throw Error(CKR_OPERATION_ACTIVE, in_progress);
  check_eddsa(mechanism);
  return key_for(state, session, key, wanted);
}

// The session's operation, taken out of it: from here every outcome ends it (a size query or
// CKR_BUFFER_TOO_SMALL puts it back). None running: CKR_OPERATION_NOT_INITIALIZED.
template <typename Operation>
Operation take_operation(std::optional<Operation>& op, const char* init_first) {
  if (!op) throw Error(CKR_OPERATION_NOT_INITIALIZED, init_first);
  Operation taken = std::move(*op);
  op.reset();
  return taken;
}

// C_Sign and C_Verify: as take_operation, and a multi-part operation is not one they can
// finish. Their lists (5.13.2, 5.15.2) have no CKR_OPERATION_ACTIVE, so it is
// CKR_OPERATION_NOT_INITIALIZED too, and it ends the operation.
template <typename Operation>
Operation take_single_part(std::optional<Operation>& op, const char* init_first,
                           const char* after_update) {
  Operation taken = take_operation(op, init_first);
  if (taken.multi_part) throw Error(CKR_OPERATION_NOT_INITIALIZED, after_update);
  return taken;
}

// C_SignUpdate and C_VerifyUpdate: Ed25519 is not incremental, so the parts are kept until
// the Final call. Any failure ends the operation, as the spec requires of an Update.
template <typename Operation>
CK_RV append_part(std::optional<Operation>& op, const Input& input, const char* init_first) {
  if (!op) throw Error(CKR_OPERATION_NOT_INITIALIZED, init_first);
  try {
    op->multi_part = true;
    ByteView part = input.view();  // a NULL part ends the operation too
    if (op->data.size() + part.size() > kMaxMessageSize) {
      throw Error(CKR_DATA_LEN_RANGE, "message longer than 64 MiB");
    }
    op->data.insert(op->data.end(), part.begin(), part.end());
  } catch (...) {
    op.reset();
    throw;
  }
  return CKR_OK;
}

// Signs with the key the operation was initialised with, through the key source, which
// records the signature in the signing log before it hands it out.
Signature sign_and_record(ModuleState& state, const Session& session, const SignOperation& op,
                          ByteView data) {
  auto consumer = state.sessions().consumer(session.slot);
  if (!consumer) throw Error(CKR_USER_NOT_LOGGED_IN, "logged out before the signature was made");
  return state.source().sign(session.slot, *consumer, op.key, data);
}

CK_RV finish_verify(VerifyOperation op, ByteView signature) {
  if (signature.size() != kSignatureSize) return CKR_SIGNATURE_LEN_RANGE;
  return ed25519_verify(op.key, op.data, signature) ? CKR_OK : CKR_SIGNATURE_INVALID;
}

}  // namespace

SlotRole slot_role(CK_SLOT_ID slot) {
  if (slot >= kSlotCount) throw Error(CKR_SLOT_ID_INVALID, "no slot " + std::to_string(slot));
  return static_cast<SlotRole>(slot);
}

ByteView input(const CK_BYTE* data, CK_ULONG length) {
  if (!data && length > 0) throw arguments_bad("NULL data with a non-zero length");
  return {data, static_cast<std::size_t>(length)};
}

std::span<CK_ATTRIBUTE> attribute_template(CK_ATTRIBUTE_PTR data, CK_ULONG count) {
  if (!data && count > 0) throw arguments_bad("NULL template with a non-zero count");
  return {data, static_cast<std::size_t>(count)};
}

Output::Output(CK_BYTE_PTR data, CK_ULONG_PTR length) : data_(data), length_(length) {}

std::optional<CK_RV> Output::check(std::size_t size) {
  if (!length_) throw arguments_bad("NULL length pointer");
  if (!data_) {
    *length_ = size;
    return CKR_OK;
  }
  if (*length_ < size) {
    *length_ = size;
    return CKR_BUFFER_TOO_SMALL;
  }
  return std::nullopt;
}

void Output::deliver(ByteView value) {
  std::memcpy(data_, value.data(), value.size());
  *length_ = value.size();
}

CK_RV initialize(CK_VOID_PTR init_args) {
  if (init_args) {
    const auto* args = static_cast<const CK_C_INITIALIZE_ARGS*>(init_args);
    if (args->pReserved) throw arguments_bad("C_Initialize: pReserved must be NULL");
    int given = (args->CreateMutex != nullptr) + (args->DestroyMutex != nullptr) +
                (args->LockMutex != nullptr) + (args->UnlockMutex != nullptr);
    if (given != 0 && given != 4) throw arguments_bad("C_Initialize: give all mutex functions or none");
    if (given == 4 && !(args->flags & CKF_OS_LOCKING_OK)) {
      throw Error(CKR_CANT_LOCK, "brokerkey uses OS locking only (set CKF_OS_LOCKING_OK)");
    }
  }
  std::lock_guard lock(g_initialize_mutex);
  if (state_installed()) return CKR_CRYPTOKI_ALREADY_INITIALIZED;
  if (std::optional<fs::path> found = find_config()) {
    install_state(std::make_shared<ModuleState>(load_config(*found)));
    return CKR_OK;
  }
  // Not an error: p11-kit loads this module into the programs of users who are no consumers.
  log_debug("C_Initialize: no brokerkey configuration found ($BROKERKEY_CONF, ~/.config/brokerkey/, "
            "/etc/brokerkey/): both slots show no token");
  install_state(std::make_shared<ModuleState>(Config{}, make_unconfigured_source()));
  return CKR_OK;
}

CK_RV finalize(CK_VOID_PTR reserved) {
  if (reserved) throw arguments_bad("C_Finalize: pReserved must be NULL");
  std::lock_guard lock(g_initialize_mutex);
  if (!take_state()) throw Error(CKR_CRYPTOKI_NOT_INITIALIZED, "C_Finalize before C_Initialize");
  return CKR_OK;
}

CK_RV get_info(CK_INFO_PTR info) {
  current_state();
  if (!info) throw arguments_bad("NULL CK_INFO");
  *info = {};
  info->cryptokiVersion = {CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR};
  pad(info->manufacturerID, "brokerkey");
  pad(info->libraryDescription, "brokerkey broker-wide Ed25519 key");
  info->libraryVersion = kLibraryVersion;
  return CKR_OK;
}

CK_RV get_slot_list(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
  auto state = current_state();
  if (!count) throw arguments_bad("NULL count");
  auto view = state->view();
  std::vector<CK_SLOT_ID> slots;
  for (CK_SLOT_ID slot = 0; slot < kSlotCount; ++slot) {
    if (!token_present || view->slot(static_cast<SlotRole>(slot)).key) slots.push_back(slot);
  }
  if (!list) {
    *count = slots.size();
    return CKR_OK;
  }
  if (*count < slots.size()) {
    *count = slots.size();
    return CKR_BUFFER_TOO_SMALL;
  }
  std::copy(slots.begin(), slots.end(), list);
  *count = slots.size();
  return CKR_OK;
}

CK_RV get_slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info) {
  auto state = current_state();
  SlotRole role = slot_role(slot);
  if (!info) throw arguments_bad("NULL CK_SLOT_INFO");
  *info = {};
  pad(info->slotDescription, "brokerkey " + std::string(role_name(role)) + " key");
  pad(info->manufacturerID, "brokerkey");
  info->flags = CKF_REMOVABLE_DEVICE;
  if (state->view()->slot(role).key) info->flags |= CKF_TOKEN_PRESENT;
  info->hardwareVersion = kLibraryVersion;
  info->firmwareVersion = kLibraryVersion;
  return CKR_OK;
}

CK_RV get_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
  auto state = current_state();
  SlotRole role = slot_role(slot);
  if (!info) throw arguments_bad("NULL CK_TOKEN_INFO");
  auto view = state->view();  // holds what `key` refers to
  const auto& key = view->slot(role).key;
  if (!key) throw Error(CKR_TOKEN_NOT_PRESENT, "no " + std::string(role_name(role)) + " key");
  *info = {};
  pad(info->label, token_label(state->config(), role));
  pad(info->manufacturerID, "brokerkey");
  pad(info->model, "ed25519 broker");
  pad(info->serialNumber, key->fingerprint.hex().substr(0, 16));
  // Not CKF_WRITE_PROTECTED: the spec would then require refusing read-write sessions, and
  // OpenSSH opens only those. Every write is refused call by call instead (refusals.cpp).
  // CKF_SO_PIN_LOCKED: there is no security officer, so no SO login can succeed (refusals.cpp).
  info->flags = CKF_RNG | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED |
                CKF_SO_PIN_LOCKED;
  // Client mode: C_Login without a PIN logs in as the consumer the caller's account is.
  if (state->source().protected_authentication_path()) info->flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
  if (state->sessions().wrong_pin_since_login(role)) info->flags |= CKF_USER_PIN_COUNT_LOW;
  info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
  info->ulSessionCount = state->sessions().count(role, false);
  info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
  info->ulRwSessionCount = state->sessions().count(role, true);
  info->ulMaxPinLen = kMaxPinLength;
  info->ulMinPinLen = 1;
  info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info->hardwareVersion = kLibraryVersion;
  info->firmwareVersion = kLibraryVersion;
  std::memset(info->utcTime, ' ', sizeof info->utcTime);
  return CKR_OK;
}

CK_RV get_mechanism_list(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count) {
  auto state = current_state();
  SlotRole role = slot_role(slot);
  if (!count) throw arguments_bad("NULL count");
  if (!state->view()->slot(role).key) throw Error(CKR_TOKEN_NOT_PRESENT, "no token in that slot");
  if (!list) {
    *count = 1;
    return CKR_OK;
  }
  if (*count < 1) {
    *count = 1;
    return CKR_BUFFER_TOO_SMALL;
  }
  list[0] = CKM_EDDSA;
  *count = 1;
  return CKR_OK;
}

CK_RV get_mechanism_info(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info) {
  auto state = current_state();
  SlotRole role = slot_role(slot);
  if (!info) throw arguments_bad("NULL CK_MECHANISM_INFO");
  if (!state->view()->slot(role).key) throw Error(CKR_TOKEN_NOT_PRESENT, "no token in that slot");
  if (type != CKM_EDDSA) throw Error(CKR_MECHANISM_INVALID, "only CKM_EDDSA is offered");
  info->ulMinKeySize = 255;
  info->ulMaxKeySize = 255;
  info->flags = CKF_VERIFY | (role == SlotRole::current ? CKF_SIGN : 0);
  return CKR_OK;
}

CK_RV open_session(CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE_PTR session) {
  auto state = current_state();
  SlotRole role = slot_role(slot);
  if (!session) throw arguments_bad("NULL session pointer");
  if (!(flags & CKF_SERIAL_SESSION)) {
    throw Error(CKR_SESSION_PARALLEL_NOT_SUPPORTED, "CKF_SERIAL_SESSION must be set");
  }
  if (!state->view()->slot(role).key) throw Error(CKR_TOKEN_NOT_PRESENT, "no token in that slot");
  *session = state->sessions().open(role, flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION))->handle;
  return CKR_OK;
}

CK_RV close_session(CK_SESSION_HANDLE session) {
  auto state = current_state();
  auto closed = state->sessions().get(session);
  if (state->sessions().close(session)) state->source().logout(closed->slot);
  return CKR_OK;
}

CK_RV close_all_sessions(CK_SLOT_ID slot) {
  auto state = current_state();
  SlotRole role = slot_role(slot);
  state->sessions().close_all(role);
  state->source().logout(role);
  return CKR_OK;
}

CK_RV get_session_info(CK_SESSION_HANDLE handle, CK_SESSION_INFO_PTR info) {
  auto state = current_state();
  auto session = state->sessions().get(handle);
  if (!info) throw arguments_bad("NULL CK_SESSION_INFO");
  bool rw = session->flags & CKF_RW_SESSION;
  bool user = state->sessions().consumer(session->slot).has_value();
  *info = {};
  info->slotID = static_cast<CK_SLOT_ID>(session->slot);
  info->state = user ? (rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS)
                     : (rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION);
  info->flags = session->flags;
  return CKR_OK;
}

CK_RV login(CK_SESSION_HANDLE handle, CK_USER_TYPE user_type, ByteView pin) {
  auto state = current_state();
  auto session = state->sessions().get(handle);
  if (user_type == CKU_SO) return refuse(Refused::login_so, RefusedCall::in_session(handle));
  if (user_type == CKU_CONTEXT_SPECIFIC) {
    throw Error(CKR_OPERATION_NOT_INITIALIZED, "no operation needs context-specific login");
  }
  if (user_type != CKU_USER) throw Error(CKR_USER_TYPE_INVALID, "unknown user type");
  if (state->sessions().consumer(session->slot)) {
    throw Error(CKR_USER_ALREADY_LOGGED_IN, "already logged in");
  }
  // An empty PIN (NULL, length 0) is the protected authentication path where the token
  // offers it; the key source refuses it otherwise.
  std::optional<ByteView> given;
  if (!pin.empty()) given = pin;
  std::string consumer;
  try {
    // No PIN this long was ever issued. CKR_PIN_LEN_RANGE is not in C_Login's list (5.6.8).
    if (pin.size() > kMaxPinLength) throw Error(CKR_PIN_INCORRECT, "PIN longer than 256 bytes");
    consumer = state->source().login(session->slot, given);
  } catch (const Error& e) {
    if (e.rv() == CKR_PIN_INCORRECT) state->sessions().set_wrong_pin_since_login(session->slot, true);
    throw;
  }
  state->sessions().set_consumer(session->slot, std::move(consumer));
  state->sessions().set_wrong_pin_since_login(session->slot, false);
  return CKR_OK;
}

CK_RV logout(CK_SESSION_HANDLE handle) {
  auto state = current_state();
  auto session = state->sessions().get(handle);
  if (!state->sessions().consumer(session->slot)) throw Error(CKR_USER_NOT_LOGGED_IN, "not logged in");
  state->sessions().set_consumer(session->slot, std::nullopt);
  state->source().logout(session->slot);
  return CKR_OK;
}

CK_RV get_attribute_value(CK_SESSION_HANDLE handle, CK_OBJECT_HANDLE object_handle,
                          std::span<CK_ATTRIBUTE> template_) {
  auto state = current_state();
  auto session = state->sessions().get(handle);
  auto object = state->session_view()->object(object_handle);
  if (!object || (object->is_private() && !state->sessions().consumer(object->slot()))) {
    throw Error(CKR_OBJECT_HANDLE_INVALID, "no object " + std::to_string(object_handle));
  }
  return object->get_attribute_values(template_);
}

CK_RV get_object_size(CK_SESSION_HANDLE handle, CK_OBJECT_HANDLE object_handle, CK_ULONG_PTR size) {
  auto state = current_state();
  auto session = state->sessions().get(handle);
  auto object = state->session_view()->object(object_handle);
  if (!object || (object->is_private() && !state->sessions().consumer(object->slot()))) {
    throw Error(CKR_OBJECT_HANDLE_INVALID, "no object " + std::to_string(object_handle));
  }
  if (!size) throw arguments_bad("NULL pulSize");
  *size = object->size();
  return CKR_OK;
}

CK_RV find_objects_init(CK_SESSION_HANDLE handle, std::span<CK_ATTRIBUTE> template_) {
  auto state = current_state();
  auto session = state->sessions().get(handle);
  std::lock_guard lock(session->mutex);
  if (session->find) throw Error(CKR_OPERATION_ACTIVE, "a search is already active");
  bool logged_in = state->sessions().consumer(session->slot).has_value();
  FindOperation find;
  auto view = state->session_view();
  for (const auto& object : view->slot(session->slot).objects) {
    if ((!object->is_private() || logged_in) && object->matches(template_)) {
      find.results.push_back(object->handle());
    }
  }
  session->find = std::move(find);
  return CKR_OK;
}

CK_RV find_objects(CK_SESSION_HANDLE handle, CK_OBJECT_HANDLE_PTR objects, CK_ULONG max,
                   CK_ULONG_PTR count) {
  auto session = current_state()->sessions().get(handle);
  if (!count || (!objects && max > 0)) throw arguments_bad("NULL output");
  std::lock_guard lock(session->mutex);
  if (!session->find) throw Error(CKR_OPERATION_NOT_INITIALIZED, "no search is active");
  FindOperation& find = *session->find;
  std::size_t n = std::min<std::size_t>(max, find.results.size() - find.next);
  std::copy_n(find.results.begin() + static_cast<std::ptrdiff_t>(find.next), n, objects);
  find.next += n;
  *count = n;
  return CKR_OK;
}

CK_RV find_objects_final(CK_SESSION_HANDLE handle) {
  auto session = current_state()->sessions().get(handle);
  std::lock_guard lock(session->mutex);
  if (!session->find) throw Error(CKR_OPERATION_NOT_INITIALIZED, "no search is active");
  session->find.reset();
  return CKR_OK;
}

CK_RV sign_init(CK_SESSION_HANDLE handle, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  auto state = current_state();
  auto session = state->sessions().get(handle);
  std::lock_guard lock(session->mutex);
  auto object = key_for_init(*state, *session, session->sign, "a signature is already in progress",
                             mechanism, key, CKO_PRIVATE_KEY);
  session->sign = SignOperation{object->key(), {}, false};
  return CKR_OK;
}

CK_RV sign(CK_SESSION_HANDLE handle, Input data, Output signature) {
  auto state = current_state();
  auto session = state->sessions().get(handle);
  std::lock_guard lock(session->mutex);
  SignOperation op = take_single_part(session->sign, "C_SignInit first",
                                      "C_Sign after C_SignUpdate: finish with C_SignFinal");
  ByteView message = data.view();
  if (auto early = signature.check(kSignatureSize)) {
    session->sign = std::move(op);
    return *early;
  }
  signature.deliver(sign_and_record(*state, *session, op, message));
  return CKR_OK;
}

CK_RV sign_update(CK_SESSION_HANDLE handle, Input part) {
  auto session = current_state()->sessions().get(handle);
  std::lock_guard lock(session->mutex);
  return append_part(session->sign, part, "C_SignInit first");
}

CK_RV sign_final(CK_SESSION_HANDLE handle, Output signature) {
  auto state = current_state();
  auto session = state->sessions().get(handle);
  std::lock_guard lock(session->mutex);
  SignOperation op = take_operation(session->sign, "C_SignInit first");
  if (auto early = signature.check(kSignatureSize)) {
    session->sign = std::move(op);
    return *early;
  }
  signature.deliver(sign_and_record(*state, *session, op, op.data));
  return CKR_OK;
}

CK_RV verify_init(CK_SESSION_HANDLE handle, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  auto state = current_state();
  auto session = state->sessions().get(handle);
  std::lock_guard lock(session->mutex);
  auto object = key_for_init(*state, *session, session->verify,
                             "a verification is already in progress", mechanism, key, CKO_PUBLIC_KEY);
  session->verify = VerifyOperation{object->key().public_key, {}, false};
  return CKR_OK;
}

CK_RV verify(CK_SESSION_HANDLE handle, Input data, Input signature) {
  auto session = current_state()->sessions().get(handle);
  std::lock_guard lock(session->mutex);
  VerifyOperation op = take_single_part(session->verify, "C_VerifyInit first",
                                        "C_Verify after C_VerifyUpdate: finish with C_VerifyFinal");
  ByteView message = data.view();
  op.data.assign(message.begin(), message.end());
  return finish_verify(std::move(op), signature.view());
}

CK_RV verify_update(CK_SESSION_HANDLE handle, Input part) {
  auto session = current_state()->sessions().get(handle);
  std::lock_guard lock(session->mutex);
  return append_part(session->verify, part, "C_VerifyInit first");
}

CK_RV verify_final(CK_SESSION_HANDLE handle, Input signature) {
  auto session = current_state()->sessions().get(handle);
  std::lock_guard lock(session->mutex);
  VerifyOperation op = take_operation(session->verify, "C_VerifyInit first");
  return finish_verify(std::move(op), signature.view());
}

CK_RV generate_random(CK_SESSION_HANDLE handle, CK_BYTE_PTR data, CK_ULONG length) {
  current_state()->sessions().get(handle);
  if (!data && length > 0) throw arguments_bad("NULL output");
  while (length > 0) {
    int chunk = static_cast<int>(std::min<CK_ULONG>(length, 1 << 20));
    if (RAND_bytes(data, chunk) != 1) throw crypto_failed("RAND_bytes failed");
    data += chunk;
    length -= static_cast<CK_ULONG>(chunk);
  }
  return CKR_OK;
}

}  // namespace brokerkey::bridge
