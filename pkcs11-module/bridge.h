// The C++ side of every PKCS#11 entry point. entry_points.cpp is the only file with
// extern "C"; each C_X there converts its arguments and calls the function of the same name
// here inside guarded(), the one place where an exception becomes a CK_RV.
//
// A function here returns the CK_RV of an outcome the caller is meant to act on (CKR_OK,
// CKR_BUFFER_TOO_SMALL, CKR_SIGNATURE_INVALID, ...) and throws an Error for everything else.
#pragma once

#include <optional>
#include <span>

#include "core/bytes.h"
#include "core/pkcs11.h"
#include "objects.h"

namespace brokerkey::bridge {

// Caller-supplied input: a NULL pointer with a non-zero length is CKR_ARGUMENTS_BAD.
ByteView input(const CK_BYTE* data, CK_ULONG length);

// Caller-supplied input to an operation, checked when the operation reads it: a NULL with a
// non-zero length must still end the active operation (PKCS#11 section 5.2), so the check
// cannot happen before the operation is taken.
class Input {
 public:
  Input(const CK_BYTE* data, CK_ULONG length) : data_(data), length_(length) {}
  ByteView view() const { return input(data_, length_); }  // throws CKR_ARGUMENTS_BAD

 private:
  const CK_BYTE* data_;
  CK_ULONG length_;
};
std::span<CK_ATTRIBUTE> attribute_template(CK_ATTRIBUTE_PTR data, CK_ULONG count);

// Caller-supplied output buffer with PKCS#11's length protocol (section 5.2).
class Output {
 public:
  Output(CK_BYTE_PTR data, CK_ULONG_PTR length);
  // For a value of `size` bytes: CKR_OK with only the length set when data is NULL (a size
  // query), CKR_BUFFER_TOO_SMALL when it does not fit, or nullopt: go ahead and deliver.
  std::optional<CK_RV> check(std::size_t size);
  void deliver(ByteView value);

 private:
  CK_BYTE_PTR data_;
  CK_ULONG_PTR length_;
};

CK_RV initialize(CK_VOID_PTR init_args);
CK_RV finalize(CK_VOID_PTR reserved);
CK_RV get_info(CK_INFO_PTR info);

CK_RV get_slot_list(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count);
CK_RV get_slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info);
CK_RV get_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info);
CK_RV get_mechanism_list(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);
CK_RV get_mechanism_info(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);

CK_RV open_session(CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE_PTR session);
CK_RV close_session(CK_SESSION_HANDLE session);
CK_RV close_all_sessions(CK_SLOT_ID slot);
CK_RV get_session_info(CK_SESSION_HANDLE session, CK_SESSION_INFO_PTR info);
CK_RV login(CK_SESSION_HANDLE session, CK_USER_TYPE user_type, ByteView pin);
CK_RV logout(CK_SESSION_HANDLE session);

CK_RV get_object_size(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ULONG_PTR size);
CK_RV get_attribute_value(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                          std::span<CK_ATTRIBUTE> template_);
CK_RV find_objects_init(CK_SESSION_HANDLE session, std::span<CK_ATTRIBUTE> template_);
CK_RV find_objects(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR objects, CK_ULONG max,
                   CK_ULONG_PTR count);
CK_RV find_objects_final(CK_SESSION_HANDLE session);

CK_RV sign_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key);
CK_RV sign(CK_SESSION_HANDLE session, Input data, Output signature);
CK_RV sign_update(CK_SESSION_HANDLE session, Input part);
CK_RV sign_final(CK_SESSION_HANDLE session, Output signature);

CK_RV verify_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key);
CK_RV verify(CK_SESSION_HANDLE session, Input data, Input signature);
CK_RV verify_update(CK_SESSION_HANDLE session, Input part);
CK_RV verify_final(CK_SESSION_HANDLE session, Input signature);

CK_RV generate_random(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG length);

// The slot's role; throws CKR_SLOT_ID_INVALID for a slot brokerkey does not have.
SlotRole slot_role(CK_SLOT_ID slot);

// refusals.cpp: every call brokerkey does not perform, with its return code, in one place.
enum class Refused {
  // Would create, change, copy or destroy an object, or change a PIN or the token, or log in
  // the security officer brokerkey does not have.
  init_token, init_pin, set_pin, login_so, create_object, copy_object, destroy_object,
  set_attribute_value, generate_key, generate_key_pair, wrap_key, unwrap_key, derive_key,
  // Not offered: brokerkey signs and verifies with one Ed25519 key, nothing else.
  get_operation_state, set_operation_state, encrypt, decrypt, digest,
  sign_recover, verify_recover, dual_function, seed_random, wait_for_slot_event,
  function_status, cancel_function,
};
// What a refused call names: its session, slot, and the object it would act on (the object to
// copy, change or destroy, the key to wrap), where it has them.
struct RefusedCall {
  std::optional<CK_SESSION_HANDLE> session;
  std::optional<CK_SLOT_ID> slot;
  std::optional<CK_OBJECT_HANDLE> object;  // only with a session
  // A NULL pointer with a non-zero length among its arguments: CKR_ARGUMENTS_BAD, after the
  // session check (section 5.1's order).
  bool arguments_bad = false;

  static RefusedCall in_session(std::optional<CK_SESSION_HANDLE> session) {
    return {session, std::nullopt, std::nullopt, false};
  }
  static RefusedCall on_slot(CK_SLOT_ID slot) { return {std::nullopt, slot, std::nullopt, false}; }
  static RefusedCall on_object(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object) {
    return {session, std::nullopt, object, false};
  }
  static RefusedCall with_input(CK_SESSION_HANDLE session, const void* data, CK_ULONG length) {
    return {session, std::nullopt, std::nullopt, data == nullptr && length > 0};
  }
};
// Checks initialisation, the session handle and the slot first, as every other call does,
// then throws the refusal's Error.
CK_RV refuse(Refused call, const RefusedCall& target);

}  // namespace brokerkey::bridge
