// The C boundary: the only file with extern "C". Each entry point converts its arguments and
// calls its counterpart in bridge.h inside guarded(), which turns any exception into a CK_RV;
// no exception crosses this file.
#include <new>

#include "bridge.h"
#include "core/error.h"
#include "log.h"

#define BROKERKEY_EXPORT extern "C" __attribute__((visibility("default")))

namespace brokerkey {
namespace {

bool worth_logging(CK_RV rv) {
  // A refusal is worth a line: the client shows only a code (OpenSC does not even name
  // CKR_FUNCTION_REJECTED), and the consumer cannot read the signing log that says why.
  return debug_logging() || rv == CKR_FUNCTION_REJECTED || rv == CKR_GENERAL_ERROR || rv == CKR_DEVICE_ERROR || rv == CKR_FUNCTION_FAILED ||
         rv == CKR_HOST_MEMORY || rv == CKR_PIN_INCORRECT;
}

void report(const char* function, CK_RV rv, const char* message) noexcept {
  if (!worth_logging(rv)) return;
  try {
    log_error(std::string(function) + ": " + rv_name(rv) + ": " + message);
  } catch (...) {
  }
}

template <typename Body>
CK_RV guarded(const char* function, Body&& body) noexcept {
  try {
    return body();
  } catch (const Error& e) {
    report(function, e.rv(), e.what());
    return e.rv();
  } catch (const std::bad_alloc&) {
    report(function, CKR_HOST_MEMORY, "out of memory");
    return CKR_HOST_MEMORY;
  } catch (const std::exception& e) {
    report(function, CKR_GENERAL_ERROR, e.what());
    return CKR_GENERAL_ERROR;
  } catch (...) {
    report(function, CKR_GENERAL_ERROR, "unknown exception");
    return CKR_GENERAL_ERROR;
  }
}

}  // namespace
}  // namespace brokerkey

using brokerkey::guarded;
namespace bridge = brokerkey::bridge;
using Refused = bridge::Refused;

// REFUSE(name, call, session): a refused call with a session (or std::nullopt);
// REFUSE_ON(name, call, target): one that names a slot or an object, target being
// on_slot(slot) or on_object(session, object) (bridge::RefusedCall).
#define REFUSE(name, call, session) \
  guarded(name,                     \
          [&] { return bridge::refuse(Refused::call, bridge::RefusedCall::in_session(session)); })
#define REFUSE_ON(name, call, target) \
  guarded(name, [&] { return bridge::refuse(Refused::call, bridge::RefusedCall::target); })

BROKERKEY_EXPORT CK_RV C_Initialize(CK_VOID_PTR pInitArgs) {
  return guarded("C_Initialize", [&] { return bridge::initialize(pInitArgs); });
}
BROKERKEY_EXPORT CK_RV C_Finalize(CK_VOID_PTR pReserved) {
  return guarded("C_Finalize", [&] { return bridge::finalize(pReserved); });
}
BROKERKEY_EXPORT CK_RV C_GetInfo(CK_INFO_PTR pInfo) {
  return guarded("C_GetInfo", [&] { return bridge::get_info(pInfo); });
}
BROKERKEY_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList);

BROKERKEY_EXPORT CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
                                     CK_ULONG_PTR pulCount) {
  return guarded("C_GetSlotList",
                 [&] { return bridge::get_slot_list(tokenPresent, pSlotList, pulCount); });
}
BROKERKEY_EXPORT CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo) {
  return guarded("C_GetSlotInfo", [&] { return bridge::get_slot_info(slotID, pInfo); });
}
BROKERKEY_EXPORT CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo) {
  return guarded("C_GetTokenInfo", [&] { return bridge::get_token_info(slotID, pInfo); });
}
BROKERKEY_EXPORT CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
                                          CK_ULONG_PTR pulCount) {
  return guarded("C_GetMechanismList",
                 [&] { return bridge::get_mechanism_list(slotID, pMechanismList, pulCount); });
}
BROKERKEY_EXPORT CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                                          CK_MECHANISM_INFO_PTR pInfo) {
  return guarded("C_GetMechanismInfo",
                 [&] { return bridge::get_mechanism_info(slotID, type, pInfo); });
}
BROKERKEY_EXPORT CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR, CK_ULONG, CK_UTF8CHAR_PTR) {
  return REFUSE_ON("C_InitToken", init_token, on_slot(slotID));
}
BROKERKEY_EXPORT CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR, CK_ULONG) {
  return REFUSE("C_InitPIN", init_pin, hSession);
}
BROKERKEY_EXPORT CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR, CK_ULONG,
                                CK_UTF8CHAR_PTR, CK_ULONG) {
  return REFUSE("C_SetPIN", set_pin, hSession);
}

BROKERKEY_EXPORT CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR,
                                     CK_NOTIFY, CK_SESSION_HANDLE_PTR phSession) {
  return guarded("C_OpenSession", [&] { return bridge::open_session(slotID, flags, phSession); });
}
BROKERKEY_EXPORT CK_RV C_CloseSession(CK_SESSION_HANDLE hSession) {
  return guarded("C_CloseSession", [&] { return bridge::close_session(hSession); });
}
BROKERKEY_EXPORT CK_RV C_CloseAllSessions(CK_SLOT_ID slotID) {
  return guarded("C_CloseAllSessions", [&] { return bridge::close_all_sessions(slotID); });
}
BROKERKEY_EXPORT CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo) {
  return guarded("C_GetSessionInfo", [&] { return bridge::get_session_info(hSession, pInfo); });
}
BROKERKEY_EXPORT CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG_PTR) {
  return REFUSE("C_GetOperationState", get_operation_state, hSession);
}
BROKERKEY_EXPORT CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                           CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
  return REFUSE("C_SetOperationState", set_operation_state, hSession);
}
BROKERKEY_EXPORT CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
                               CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen) {
  return guarded("C_Login", [&] {
    return bridge::login(hSession, userType, bridge::input(pPin, ulPinLen));
  });
}
BROKERKEY_EXPORT CK_RV C_Logout(CK_SESSION_HANDLE hSession) {
  return guarded("C_Logout", [&] { return bridge::logout(hSession); });
}

BROKERKEY_EXPORT CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR, CK_ULONG,
                                      CK_OBJECT_HANDLE_PTR) {
  return REFUSE("C_CreateObject", create_object, hSession);
}
BROKERKEY_EXPORT CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                    CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR) {
  return REFUSE_ON("C_CopyObject", copy_object, on_object(hSession, hObject));
}
BROKERKEY_EXPORT CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject) {
  return REFUSE_ON("C_DestroyObject", destroy_object, on_object(hSession, hObject));
}
BROKERKEY_EXPORT CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                       CK_ULONG_PTR pulSize) {
  return guarded("C_GetObjectSize",
                 [&] { return bridge::get_object_size(hSession, hObject, pulSize); });
}
BROKERKEY_EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                           CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount) {
  return guarded("C_GetAttributeValue", [&] {
    return bridge::get_attribute_value(hSession, hObject,
                                       bridge::attribute_template(pTemplate, ulCount));
  });
}
BROKERKEY_EXPORT CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                           CK_ATTRIBUTE_PTR, CK_ULONG) {
  return REFUSE_ON("C_SetAttributeValue", set_attribute_value,
                   on_object(hSession, hObject));
}
BROKERKEY_EXPORT CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                         CK_ULONG ulCount) {
  return guarded("C_FindObjectsInit", [&] {
    return bridge::find_objects_init(hSession, bridge::attribute_template(pTemplate, ulCount));
  });
}
BROKERKEY_EXPORT CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                                     CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount) {
  return guarded("C_FindObjects", [&] {
    return bridge::find_objects(hSession, phObject, ulMaxObjectCount, pulObjectCount);
  });
}
BROKERKEY_EXPORT CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession) {
  return guarded("C_FindObjectsFinal", [&] { return bridge::find_objects_final(hSession); });
}

BROKERKEY_EXPORT CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
  return REFUSE("C_EncryptInit", encrypt, hSession);
}
BROKERKEY_EXPORT CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                 CK_ULONG_PTR) {
  return REFUSE("C_Encrypt", encrypt, hSession);
}
BROKERKEY_EXPORT CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                       CK_BYTE_PTR, CK_ULONG_PTR) {
  return REFUSE("C_EncryptUpdate", encrypt, hSession);
}
BROKERKEY_EXPORT CK_RV C_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG_PTR) {
  return REFUSE("C_EncryptFinal", encrypt, hSession);
}
BROKERKEY_EXPORT CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
  return REFUSE("C_DecryptInit", decrypt, hSession);
}
BROKERKEY_EXPORT CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                 CK_ULONG_PTR) {
  return REFUSE("C_Decrypt", decrypt, hSession);
}
BROKERKEY_EXPORT CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                       CK_BYTE_PTR, CK_ULONG_PTR) {
  return REFUSE("C_DecryptUpdate", decrypt, hSession);
}
BROKERKEY_EXPORT CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG_PTR) {
  return REFUSE("C_DecryptFinal", decrypt, hSession);
}
BROKERKEY_EXPORT CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR) {
  return REFUSE("C_DigestInit", digest, hSession);
}
BROKERKEY_EXPORT CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                CK_ULONG_PTR) {
  return REFUSE("C_Digest", digest, hSession);
}
BROKERKEY_EXPORT CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG) {
  return REFUSE("C_DigestUpdate", digest, hSession);
}
BROKERKEY_EXPORT CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE) {
  return REFUSE("C_DigestKey", digest, hSession);
}
BROKERKEY_EXPORT CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG_PTR) {
  return REFUSE("C_DigestFinal", digest, hSession);
}

BROKERKEY_EXPORT CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                  CK_OBJECT_HANDLE hKey) {
  return guarded("C_SignInit", [&] { return bridge::sign_init(hSession, pMechanism, hKey); });
}
BROKERKEY_EXPORT CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                              CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen) {
  return guarded("C_Sign", [&] {
    return bridge::sign(hSession, bridge::Input(pData, ulDataLen),
                        bridge::Output(pSignature, pulSignatureLen));
  });
}
BROKERKEY_EXPORT CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return guarded("C_SignUpdate",
                 [&] { return bridge::sign_update(hSession, bridge::Input(pPart, ulPartLen)); });
}
BROKERKEY_EXPORT CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                                   CK_ULONG_PTR pulSignatureLen) {
  return guarded("C_SignFinal", [&] {
    return bridge::sign_final(hSession, bridge::Output(pSignature, pulSignatureLen));
  });
}
BROKERKEY_EXPORT CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
  return REFUSE("C_SignRecoverInit", sign_recover, hSession);
}
BROKERKEY_EXPORT CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                     CK_ULONG_PTR) {
  return REFUSE("C_SignRecover", sign_recover, hSession);
}
BROKERKEY_EXPORT CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                    CK_OBJECT_HANDLE hKey) {
  return guarded("C_VerifyInit", [&] { return bridge::verify_init(hSession, pMechanism, hKey); });
}
BROKERKEY_EXPORT CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                                CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen) {
  return guarded("C_Verify", [&] {
    return bridge::verify(hSession, bridge::Input(pData, ulDataLen),
                          bridge::Input(pSignature, ulSignatureLen));
  });
}
BROKERKEY_EXPORT CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return guarded("C_VerifyUpdate",
                 [&] { return bridge::verify_update(hSession, bridge::Input(pPart, ulPartLen)); });
}
BROKERKEY_EXPORT CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                                     CK_ULONG ulSignatureLen) {
  return guarded("C_VerifyFinal", [&] {
    return bridge::verify_final(hSession, bridge::Input(pSignature, ulSignatureLen));
  });
}
BROKERKEY_EXPORT CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR,
                                           CK_OBJECT_HANDLE) {
  return REFUSE("C_VerifyRecoverInit", verify_recover, hSession);
}
BROKERKEY_EXPORT CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                       CK_BYTE_PTR, CK_ULONG_PTR) {
  return REFUSE("C_VerifyRecover", verify_recover, hSession);
}
BROKERKEY_EXPORT CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                             CK_BYTE_PTR, CK_ULONG_PTR) {
  return REFUSE("C_DigestEncryptUpdate", dual_function, hSession);
}
BROKERKEY_EXPORT CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                             CK_BYTE_PTR, CK_ULONG_PTR) {
  return REFUSE("C_DecryptDigestUpdate", dual_function, hSession);
}
BROKERKEY_EXPORT CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                           CK_BYTE_PTR, CK_ULONG_PTR) {
  return REFUSE("C_SignEncryptUpdate", dual_function, hSession);
}
BROKERKEY_EXPORT CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                             CK_BYTE_PTR, CK_ULONG_PTR) {
  return REFUSE("C_DecryptVerifyUpdate", dual_function, hSession);
}
BROKERKEY_EXPORT CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR, CK_ATTRIBUTE_PTR,
                                     CK_ULONG, CK_OBJECT_HANDLE_PTR) {
  return REFUSE("C_GenerateKey", generate_key, hSession);
}
BROKERKEY_EXPORT CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR,
                                         CK_ATTRIBUTE_PTR, CK_ULONG, CK_ATTRIBUTE_PTR, CK_ULONG,
                                         CK_OBJECT_HANDLE_PTR, CK_OBJECT_HANDLE_PTR) {
  return REFUSE("C_GenerateKeyPair", generate_key_pair, hSession);
}
BROKERKEY_EXPORT CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR, CK_OBJECT_HANDLE,
                                 CK_OBJECT_HANDLE hKey, CK_BYTE_PTR, CK_ULONG_PTR) {
  return REFUSE_ON("C_WrapKey", wrap_key, on_object(hSession, hKey));
}
BROKERKEY_EXPORT CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR, CK_OBJECT_HANDLE,
                                   CK_BYTE_PTR, CK_ULONG, CK_ATTRIBUTE_PTR, CK_ULONG,
                                   CK_OBJECT_HANDLE_PTR) {
  return REFUSE("C_UnwrapKey", unwrap_key, hSession);
}
BROKERKEY_EXPORT CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR, CK_OBJECT_HANDLE,
                                   CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR) {
  return REFUSE("C_DeriveKey", derive_key, hSession);
}
BROKERKEY_EXPORT CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen) {
  return REFUSE_ON("C_SeedRandom", seed_random, with_input(hSession, pSeed, ulSeedLen));
}
BROKERKEY_EXPORT CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData,
                                        CK_ULONG ulRandomLen) {
  return guarded("C_GenerateRandom",
                 [&] { return bridge::generate_random(hSession, RandomData, ulRandomLen); });
}
BROKERKEY_EXPORT CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession) {
  return REFUSE("C_GetFunctionStatus", function_status, hSession);
}
BROKERKEY_EXPORT CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession) {
  return REFUSE("C_CancelFunction", cancel_function, hSession);
}
BROKERKEY_EXPORT CK_RV C_WaitForSlotEvent(CK_FLAGS, CK_SLOT_ID_PTR, CK_VOID_PTR) {
  return REFUSE("C_WaitForSlotEvent", wait_for_slot_event, std::nullopt);
}

namespace {
CK_FUNCTION_LIST g_function_list = {
    {CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR},
    C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo,
    C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN, C_SetPIN,
    C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo, C_GetOperationState,
    C_SetOperationState, C_Login, C_Logout, C_CreateObject, C_CopyObject, C_DestroyObject,
    C_GetObjectSize, C_GetAttributeValue, C_SetAttributeValue, C_FindObjectsInit, C_FindObjects,
    C_FindObjectsFinal, C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal, C_DecryptInit,
    C_Decrypt, C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest, C_DigestUpdate,
    C_DigestKey, C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate, C_SignFinal, C_SignRecoverInit,
    C_SignRecover, C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal, C_VerifyRecoverInit,
    C_VerifyRecover, C_DigestEncryptUpdate, C_DecryptDigestUpdate, C_SignEncryptUpdate,
    C_DecryptVerifyUpdate, C_GenerateKey, C_GenerateKeyPair, C_WrapKey, C_UnwrapKey, C_DeriveKey,
    C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus, C_CancelFunction, C_WaitForSlotEvent,
};
}  // namespace

BROKERKEY_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList) {
  if (!ppFunctionList) return CKR_ARGUMENTS_BAD;
  *ppFunctionList = &g_function_list;
  return CKR_OK;
}
