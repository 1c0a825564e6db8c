// PKCS#11 2.40 under misuse, call by call: every function before C_Initialize and after
// C_Finalize, a NULL for every required pointer, invalid slot, session and object handles,
// C_CloseAllSessions, and C_Finalize with sessions open. The tables list every call so a reader
// sees what is covered. Operation-state and login rules are in module_signing_test; the
// C_Initialize arguments and the forked child in module_failures_test.
#define BOOST_TEST_MODULE module_conformance
#include <boost/test/unit_test.hpp>
#include <functional>
#include <string>
#include <vector>

#include "temp_broker.h"

namespace {

struct Call {
  const char* name;
  std::function<CK_RV(CK_FUNCTION_LIST*)> run;
};

constexpr CK_SESSION_HANDLE kNoSession = 0xdead;
constexpr CK_OBJECT_HANDLE kNoObject = 0xbeef;

// Every function with plausible arguments; what matters is that none is looked at first.
std::vector<Call> every_function() {
  static CK_BYTE buffer[128];
  static CK_ULONG length = sizeof buffer;
  static CK_ATTRIBUTE attribute{CKA_LABEL, buffer, sizeof buffer};
  static CK_MECHANISM eddsa{CKM_EDDSA, nullptr, 0};
  static CK_OBJECT_HANDLE object = 0, object2 = 0;
  static CK_SLOT_ID slot = 0;
  static CK_INFO info;
  static CK_SLOT_INFO slot_info;
  static CK_TOKEN_INFO token_info;
  static CK_MECHANISM_TYPE mechanisms[4];
  static CK_MECHANISM_INFO mechanism_info;
  static CK_SESSION_INFO session_info;
  static CK_SESSION_HANDLE session = 0;
  static CK_UTF8CHAR pin[] = "ci:x";
  static CK_UTF8CHAR label[32] = {};
  const CK_SESSION_HANDLE s = kNoSession;
  const CK_OBJECT_HANDLE o = kNoObject;
  return {
      {"C_Finalize", [](auto* f) { return f->C_Finalize(nullptr); }},
      {"C_GetInfo", [](auto* f) { return f->C_GetInfo(&info); }},
      {"C_GetSlotList", [](auto* f) { return f->C_GetSlotList(CK_TRUE, nullptr, &length); }},
      {"C_GetSlotInfo", [](auto* f) { return f->C_GetSlotInfo(0, &slot_info); }},
      {"C_GetTokenInfo", [](auto* f) { return f->C_GetTokenInfo(0, &token_info); }},
      {"C_GetMechanismList", [](auto* f) { length = 4; return f->C_GetMechanismList(0, mechanisms, &length); }},
      {"C_GetMechanismInfo", [](auto* f) { return f->C_GetMechanismInfo(0, CKM_EDDSA, &mechanism_info); }},
      {"C_InitToken", [](auto* f) { return f->C_InitToken(0, pin, 4, label); }},
      {"C_InitPIN", [=](auto* f) { return f->C_InitPIN(s, pin, 4); }},
      {"C_SetPIN", [=](auto* f) { return f->C_SetPIN(s, pin, 4, pin, 4); }},
      {"C_OpenSession", [](auto* f) { return f->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &session); }},
      {"C_CloseSession", [=](auto* f) { return f->C_CloseSession(s); }},
      {"C_CloseAllSessions", [](auto* f) { return f->C_CloseAllSessions(0); }},
      {"C_GetSessionInfo", [=](auto* f) { return f->C_GetSessionInfo(s, &session_info); }},
      {"C_GetOperationState", [=](auto* f) { length = sizeof buffer; return f->C_GetOperationState(s, buffer, &length); }},
      {"C_SetOperationState", [=](auto* f) { return f->C_SetOperationState(s, buffer, 8, 0, 0); }},
      {"C_Login", [=](auto* f) { return f->C_Login(s, CKU_USER, pin, 4); }},
      {"C_Logout", [=](auto* f) { return f->C_Logout(s); }},
      {"C_CreateObject", [=](auto* f) { return f->C_CreateObject(s, &attribute, 1, &object); }},
      {"C_CopyObject", [=](auto* f) { return f->C_CopyObject(s, o, &attribute, 1, &object); }},
      {"C_DestroyObject", [=](auto* f) { return f->C_DestroyObject(s, o); }},
      {"C_GetObjectSize", [=](auto* f) { return f->C_GetObjectSize(s, o, &length); }},
      {"C_GetAttributeValue", [=](auto* f) { return f->C_GetAttributeValue(s, o, &attribute, 1); }},
      {"C_SetAttributeValue", [=](auto* f) { return f->C_SetAttributeValue(s, o, &attribute, 1); }},
      {"C_FindObjectsInit", [=](auto* f) { return f->C_FindObjectsInit(s, nullptr, 0); }},
      {"C_FindObjects", [=](auto* f) { return f->C_FindObjects(s, &object, 1, &length); }},
      {"C_FindObjectsFinal", [=](auto* f) { return f->C_FindObjectsFinal(s); }},
      {"C_EncryptInit", [=](auto* f) { return f->C_EncryptInit(s, &eddsa, o); }},
      {"C_Encrypt", [=](auto* f) { length = sizeof buffer; return f->C_Encrypt(s, buffer, 8, buffer, &length); }},
      {"C_EncryptUpdate", [=](auto* f) { length = sizeof buffer; return f->C_EncryptUpdate(s, buffer, 8, buffer, &length); }},
      {"C_EncryptFinal", [=](auto* f) { length = sizeof buffer; return f->C_EncryptFinal(s, buffer, &length); }},
      {"C_DecryptInit", [=](auto* f) { return f->C_DecryptInit(s, &eddsa, o); }},
      {"C_Decrypt", [=](auto* f) { length = sizeof buffer; return f->C_Decrypt(s, buffer, 8, buffer, &length); }},
      {"C_DecryptUpdate", [=](auto* f) { length = sizeof buffer; return f->C_DecryptUpdate(s, buffer, 8, buffer, &length); }},
      {"C_DecryptFinal", [=](auto* f) { length = sizeof buffer; return f->C_DecryptFinal(s, buffer, &length); }},
      {"C_DigestInit", [=](auto* f) { return f->C_DigestInit(s, &eddsa); }},
      {"C_Digest", [=](auto* f) { length = sizeof buffer; return f->C_Digest(s, buffer, 8, buffer, &length); }},
      {"C_DigestUpdate", [=](auto* f) { return f->C_DigestUpdate(s, buffer, 8); }},
      {"C_DigestKey", [=](auto* f) { return f->C_DigestKey(s, o); }},
      {"C_DigestFinal", [=](auto* f) { length = sizeof buffer; return f->C_DigestFinal(s, buffer, &length); }},
      {"C_SignInit", [=](auto* f) { return f->C_SignInit(s, &eddsa, o); }},
      {"C_Sign", [=](auto* f) { length = sizeof buffer; return f->C_Sign(s, buffer, 8, buffer, &length); }},
      {"C_SignUpdate", [=](auto* f) { return f->C_SignUpdate(s, buffer, 8); }},
      {"C_SignFinal", [=](auto* f) { length = sizeof buffer; return f->C_SignFinal(s, buffer, &length); }},
      {"C_SignRecoverInit", [=](auto* f) { return f->C_SignRecoverInit(s, &eddsa, o); }},
      {"C_SignRecover", [=](auto* f) { length = sizeof buffer; return f->C_SignRecover(s, buffer, 8, buffer, &length); }},
      {"C_VerifyInit", [=](auto* f) { return f->C_VerifyInit(s, &eddsa, o); }},
      {"C_Verify", [=](auto* f) { return f->C_Verify(s, buffer, 8, buffer, 64); }},
      {"C_VerifyUpdate", [=](auto* f) { return f->C_VerifyUpdate(s, buffer, 8); }},
      {"C_VerifyFinal", [=](auto* f) { return f->C_VerifyFinal(s, buffer, 64); }},
      {"C_VerifyRecoverInit", [=](auto* f) { return f->C_VerifyRecoverInit(s, &eddsa, o); }},
      {"C_VerifyRecover", [=](auto* f) { length = sizeof buffer; return f->C_VerifyRecover(s, buffer, 64, buffer, &length); }},
      {"C_DigestEncryptUpdate", [=](auto* f) { length = sizeof buffer; return f->C_DigestEncryptUpdate(s, buffer, 8, buffer, &length); }},
      {"C_DecryptDigestUpdate", [=](auto* f) { length = sizeof buffer; return f->C_DecryptDigestUpdate(s, buffer, 8, buffer, &length); }},
      {"C_SignEncryptUpdate", [=](auto* f) { length = sizeof buffer; return f->C_SignEncryptUpdate(s, buffer, 8, buffer, &length); }},
      {"C_DecryptVerifyUpdate", [=](auto* f) { length = sizeof buffer; return f->C_DecryptVerifyUpdate(s, buffer, 8, buffer, &length); }},
      {"C_GenerateKey", [=](auto* f) { return f->C_GenerateKey(s, &eddsa, &attribute, 1, &object); }},
      {"C_GenerateKeyPair", [=](auto* f) { return f->C_GenerateKeyPair(s, &eddsa, &attribute, 1, &attribute, 1, &object, &object2); }},
      {"C_WrapKey", [=](auto* f) { length = sizeof buffer; return f->C_WrapKey(s, &eddsa, o, o, buffer, &length); }},
      {"C_UnwrapKey", [=](auto* f) { return f->C_UnwrapKey(s, &eddsa, o, buffer, 8, &attribute, 1, &object); }},
      {"C_DeriveKey", [=](auto* f) { return f->C_DeriveKey(s, &eddsa, o, &attribute, 1, &object); }},
      {"C_SeedRandom", [=](auto* f) { return f->C_SeedRandom(s, buffer, 8); }},
      {"C_GenerateRandom", [=](auto* f) { return f->C_GenerateRandom(s, buffer, 8); }},
      {"C_GetFunctionStatus", [=](auto* f) { return f->C_GetFunctionStatus(s); }},
      {"C_CancelFunction", [=](auto* f) { return f->C_CancelFunction(s); }},
      {"C_WaitForSlotEvent", [](auto* f) { return f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, nullptr); }},
  };
}

void expect(CK_RV got, CK_RV want, const std::string& call) {
  BOOST_TEST(got == want, call << ": " << rv_text(got) << ", expected " << rv_text(want));
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_function_before_initialize_and_after_finalize) {
  TempBroker broker;
  LoadedModule module(false);
  auto calls = every_function();
  BOOST_TEST(calls.size() == 66u);  // all of CK_FUNCTION_LIST but C_Initialize, C_GetFunctionList
  for (const auto& call : calls) expect(call.run(module.fn()), CKR_CRYPTOKI_NOT_INITIALIZED, call.name);
  BOOST_REQUIRE(module->C_Initialize(nullptr) == CKR_OK);
  module.open_session(broker.pin());
  BOOST_REQUIRE(module->C_Finalize(nullptr) == CKR_OK);
  for (const auto& call : calls) expect(call.run(module.fn()), CKR_CRYPTOKI_NOT_INITIALIZED, call.name);
  CK_FUNCTION_LIST_PTR list = nullptr;
  expect(module->C_GetFunctionList(&list), CKR_OK, "C_GetFunctionList after C_Finalize");
  // The list's own C_GetFunctionList is the module's, not another library's (libp11-kit.so,
  // which this process links, exports one too).
  BOOST_TEST(list == module.fn());
  expect(module->C_GetFunctionList(nullptr), CKR_ARGUMENTS_BAD, "C_GetFunctionList(NULL)");
}

BOOST_FIXTURE_TEST_CASE(a_null_for_every_required_pointer, LoggedInBroker) {
  auto* f = module.fn();
  CK_BYTE buffer[64];
  CK_ULONG length = sizeof buffer;
  CK_OBJECT_HANDLE found = 0;
  auto sign_init = [&] { BOOST_REQUIRE(f->C_SignInit(session, &eddsa, private_key) == CKR_OK); };
  auto verify_init = [&] { BOOST_REQUIRE(f->C_VerifyInit(session, &eddsa, public_key) == CKR_OK); };
  std::vector<Call> calls{
      {"C_GetInfo", [](auto* m) { return m->C_GetInfo(nullptr); }},
      {"C_GetSlotList count", [](auto* m) { return m->C_GetSlotList(CK_TRUE, nullptr, nullptr); }},
      {"C_GetSlotInfo", [](auto* m) { return m->C_GetSlotInfo(0, nullptr); }},
      {"C_GetTokenInfo", [](auto* m) { return m->C_GetTokenInfo(0, nullptr); }},
      {"C_GetMechanismList count", [](auto* m) { return m->C_GetMechanismList(0, nullptr, nullptr); }},
      {"C_GetMechanismInfo", [](auto* m) { return m->C_GetMechanismInfo(0, CKM_EDDSA, nullptr); }},
      {"C_OpenSession handle", [](auto* m) { return m->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, nullptr); }},
      {"C_GetSessionInfo", [&](auto* m) { return m->C_GetSessionInfo(session, nullptr); }},
      {"C_Login pin", [&](auto* m) { return m->C_Login(session, CKU_USER, nullptr, 8); }},
      {"C_FindObjectsInit template", [&](auto* m) { return m->C_FindObjectsInit(session, nullptr, 1); }},
      {"C_FindObjects handles", [&](auto* m) {
         BOOST_REQUIRE(m->C_FindObjectsInit(session, nullptr, 0) == CKR_OK);
         CK_RV rv = m->C_FindObjects(session, nullptr, 1, &length);
         m->C_FindObjectsFinal(session);
         return rv;
       }},
      {"C_FindObjects count", [&](auto* m) {
         BOOST_REQUIRE(m->C_FindObjectsInit(session, nullptr, 0) == CKR_OK);
         CK_RV rv = m->C_FindObjects(session, &found, 1, nullptr);
         m->C_FindObjectsFinal(session);
         return rv;
       }},
      {"C_GetAttributeValue template", [&](auto* m) { return m->C_GetAttributeValue(session, public_key, nullptr, 1); }},
      {"C_SignInit mechanism", [&](auto* m) { return m->C_SignInit(session, nullptr, private_key); }},
      {"C_Sign data", [&](auto* m) { sign_init(); length = 64; return m->C_Sign(session, nullptr, 4, buffer, &length); }},
      {"C_Sign length", [&](auto* m) { sign_init(); return m->C_Sign(session, buffer, 4, buffer, nullptr); }},
      {"C_SignUpdate data", [&](auto* m) { sign_init(); return m->C_SignUpdate(session, nullptr, 4); }},
      {"C_SignFinal length", [&](auto* m) {
         sign_init();
         BOOST_REQUIRE(m->C_SignUpdate(session, buffer, 4) == CKR_OK);
         return m->C_SignFinal(session, buffer, nullptr);
       }},
      {"C_VerifyInit mechanism", [&](auto* m) { return m->C_VerifyInit(session, nullptr, public_key); }},
      {"C_Verify data", [&](auto* m) { verify_init(); return m->C_Verify(session, nullptr, 4, buffer, 64); }},
      {"C_Verify signature", [&](auto* m) { verify_init(); return m->C_Verify(session, buffer, 4, nullptr, 64); }},
      {"C_VerifyUpdate data", [&](auto* m) { verify_init(); return m->C_VerifyUpdate(session, nullptr, 4); }},
      {"C_VerifyFinal signature", [&](auto* m) {
         verify_init();
         BOOST_REQUIRE(m->C_VerifyUpdate(session, buffer, 4) == CKR_OK);
         return m->C_VerifyFinal(session, nullptr, 64);
       }},
      {"C_GenerateRandom data", [&](auto* m) { return m->C_GenerateRandom(session, nullptr, 8); }},
  };
  for (const auto& call : calls) {
    expect(call.run(f), CKR_ARGUMENTS_BAD, call.name);
    // An error ends the operation it happened in (section 5.2): none is left active.
    CK_ULONG none = sizeof buffer;
    expect(f->C_SignFinal(session, buffer, &none), CKR_OPERATION_NOT_INITIALIZED, std::string(call.name) + ", then C_SignFinal");
    expect(f->C_VerifyFinal(session, buffer, 64), CKR_OPERATION_NOT_INITIALIZED, std::string(call.name) + ", then C_VerifyFinal");
  }
  // The session still signs.
  sign_init();
  length = sizeof buffer;
  expect(f->C_Sign(session, buffer, 4, buffer, &length), CKR_OK, "C_Sign after the sweep");
}

BOOST_FIXTURE_TEST_CASE(invalid_slot_session_and_object_handles, LoggedInBroker) {
  auto* f = module.fn();
  CK_SLOT_INFO slot_info;
  CK_TOKEN_INFO token_info;
  CK_MECHANISM_INFO mechanism_info;
  CK_SESSION_INFO session_info;
  CK_ULONG count = 0;
  CK_SESSION_HANDLE opened = 0;
  CK_BYTE buffer[64];
  CK_ULONG length = sizeof buffer;
  CK_ATTRIBUTE label{CKA_LABEL, buffer, sizeof buffer};
  std::string pin = broker.pin();
  auto pin_bytes = reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data());
  const CK_SLOT_ID no_slot = 99;
  expect(f->C_GetSlotInfo(no_slot, &slot_info), CKR_SLOT_ID_INVALID, "C_GetSlotInfo");
  expect(f->C_GetTokenInfo(no_slot, &token_info), CKR_SLOT_ID_INVALID, "C_GetTokenInfo");
  expect(f->C_GetMechanismList(no_slot, nullptr, &count), CKR_SLOT_ID_INVALID, "C_GetMechanismList");
  expect(f->C_GetMechanismInfo(no_slot, CKM_EDDSA, &mechanism_info), CKR_SLOT_ID_INVALID, "C_GetMechanismInfo");
  expect(f->C_OpenSession(no_slot, CKF_SERIAL_SESSION, nullptr, nullptr, &opened), CKR_SLOT_ID_INVALID, "C_OpenSession");
  expect(f->C_CloseAllSessions(no_slot), CKR_SLOT_ID_INVALID, "C_CloseAllSessions");

  expect(f->C_GetSessionInfo(kNoSession, &session_info), CKR_SESSION_HANDLE_INVALID, "C_GetSessionInfo");
  expect(f->C_CloseSession(kNoSession), CKR_SESSION_HANDLE_INVALID, "C_CloseSession");
  expect(f->C_Login(kNoSession, CKU_USER, pin_bytes, pin.size()), CKR_SESSION_HANDLE_INVALID, "C_Login");
  expect(f->C_Logout(kNoSession), CKR_SESSION_HANDLE_INVALID, "C_Logout");
  expect(f->C_FindObjectsInit(kNoSession, nullptr, 0), CKR_SESSION_HANDLE_INVALID, "C_FindObjectsInit");
  expect(f->C_GetAttributeValue(kNoSession, public_key, &label, 1), CKR_SESSION_HANDLE_INVALID, "C_GetAttributeValue");
  expect(f->C_SignInit(kNoSession, &eddsa, private_key), CKR_SESSION_HANDLE_INVALID, "C_SignInit");
  expect(f->C_Sign(kNoSession, buffer, 4, buffer, &length), CKR_SESSION_HANDLE_INVALID, "C_Sign");
  expect(f->C_VerifyInit(kNoSession, &eddsa, public_key), CKR_SESSION_HANDLE_INVALID, "C_VerifyInit");
  expect(f->C_GenerateRandom(kNoSession, buffer, 8), CKR_SESSION_HANDLE_INVALID, "C_GenerateRandom");

  expect(f->C_GetAttributeValue(session, kNoObject, &label, 1), CKR_OBJECT_HANDLE_INVALID, "C_GetAttributeValue");
  expect(f->C_SignInit(session, &eddsa, kNoObject), CKR_KEY_HANDLE_INVALID, "C_SignInit");
  expect(f->C_VerifyInit(session, &eddsa, kNoObject), CKR_KEY_HANDLE_INVALID, "C_VerifyInit");
  CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
  expect(f->C_SignInit(session, &ecdsa, private_key), CKR_MECHANISM_INVALID, "C_SignInit with CKM_ECDSA");
}

BOOST_FIXTURE_TEST_CASE(close_all_sessions_closes_every_session_and_logs_out, LoggedInBroker) {
  auto* f = module.fn();
  CK_SESSION_HANDLE second = module.open_session("");
  CK_SESSION_INFO info;
  BOOST_REQUIRE(f->C_GetSessionInfo(second, &info) == CKR_OK);
  BOOST_TEST(info.state == CKS_RW_USER_FUNCTIONS);  // the login is the slot's
  BOOST_REQUIRE(f->C_SignInit(session, &eddsa, private_key) == CKR_OK);
  expect(f->C_CloseAllSessions(0), CKR_OK, "C_CloseAllSessions");
  expect(f->C_GetSessionInfo(session, &info), CKR_SESSION_HANDLE_INVALID, "first session after");
  expect(f->C_GetSessionInfo(second, &info), CKR_SESSION_HANDLE_INVALID, "second session after");
  CK_BYTE buffer[64];
  CK_ULONG length = sizeof buffer;
  expect(f->C_Sign(session, buffer, 4, buffer, &length), CKR_SESSION_HANDLE_INVALID, "C_Sign on a closed session");
  CK_SESSION_HANDLE fresh = module.open_session("");
  BOOST_REQUIRE(f->C_GetSessionInfo(fresh, &info) == CKR_OK);
  BOOST_TEST(info.state == CKS_RW_PUBLIC_SESSION);  // logged out with the last session
  expect(f->C_CloseAllSessions(0), CKR_OK, "C_CloseAllSessions again");
  expect(f->C_CloseAllSessions(0), CKR_OK, "C_CloseAllSessions with none open");
}

BOOST_FIXTURE_TEST_CASE(finalize_with_sessions_open_then_initialize_again, LoggedInBroker) {
  auto* f = module.fn();
  BOOST_REQUIRE(f->C_SignInit(session, &eddsa, private_key) == CKR_OK);
  expect(f->C_Finalize(nullptr), CKR_OK, "C_Finalize with an open, logged-in session and an active operation");
  BOOST_REQUIRE(f->C_Initialize(nullptr) == CKR_OK);
  CK_SESSION_INFO info;
  CK_BYTE buffer[64];
  CK_ULONG length = sizeof buffer;
  expect(f->C_GetSessionInfo(session, &info), CKR_SESSION_HANDLE_INVALID, "an old session after re-initialisation");
  expect(f->C_Sign(session, buffer, 4, buffer, &length), CKR_SESSION_HANDLE_INVALID, "the old operation");
  CK_SESSION_HANDLE fresh = module.open_session("");
  BOOST_REQUIRE(f->C_GetSessionInfo(fresh, &info) == CKR_OK);
  BOOST_TEST(info.state == CKS_RW_PUBLIC_SESSION);  // the old login is gone too
  CK_SESSION_HANDLE signing = module.open_session(broker.pin());
  CK_OBJECT_HANDLE key = module.find_one(signing, CKO_PRIVATE_KEY);
  BOOST_REQUIRE(f->C_SignInit(signing, &eddsa, key) == CKR_OK);
  expect(f->C_Sign(signing, buffer, 4, buffer, &length), CKR_OK, "signing after re-initialisation");
  BOOST_TEST(length == 64u);
}
