// Every call the module refuses answers with a code from that function's own list in the
// PKCS#11 3.0 base specification, and with the code refusals.cpp chose. The lists below are the
// "Return values" paragraphs of the function descriptions in section 5 (section numbers of
// the 3.0 base specification), written as data. Codes that only later versions list
// (CKR_PENDING, CKR_PARAMETER_SET_NOT_SUPPORTED) are left out. A function the module does not
// implement at all may instead answer CKR_FUNCTION_NOT_SUPPORTED, the code section 5.1.6 gives
// to every unsupported function's stub; nothing else gets that exception.
#define BOOST_TEST_MODULE module_return_codes
#include <boost/test/unit_test.hpp>
#include <functional>
#include <set>

#include "agent_client.h"
#include "temp_broker.h"

namespace {

struct SpecList {
  const char* section;
  std::set<CK_RV> codes;
};

// Section 5.1.6: "Even unsupported functions in the Cryptoki API should have a 'stub' in the
// library; this stub should simply return the value CKR_FUNCTION_NOT_SUPPORTED."
const SpecList kStub{"5.1.6 (stub of an unsupported function)", {CKR_FUNCTION_NOT_SUPPORTED}};

const SpecList kInitToken{
    "5.5.7 C_InitToken",
    {CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED,
     CKR_FUNCTION_CANCELED, CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_OK,
     CKR_PIN_INCORRECT, CKR_PIN_LOCKED, CKR_SESSION_EXISTS, CKR_SLOT_ID_INVALID,
     CKR_TOKEN_NOT_PRESENT, CKR_TOKEN_NOT_RECOGNIZED, CKR_TOKEN_WRITE_PROTECTED,
     CKR_ARGUMENTS_BAD}};
const SpecList kInitPin{
    "5.5.8 C_InitPIN",
    {CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED,
     CKR_FUNCTION_CANCELED, CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_OK,
     CKR_PIN_INVALID, CKR_PIN_LEN_RANGE, CKR_SESSION_CLOSED, CKR_SESSION_READ_ONLY,
     CKR_SESSION_HANDLE_INVALID, CKR_TOKEN_WRITE_PROTECTED, CKR_USER_NOT_LOGGED_IN,
     CKR_ARGUMENTS_BAD}};
const SpecList kSetPin{
    "5.5.9 C_SetPIN",
    {CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED,
     CKR_FUNCTION_CANCELED, CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_OK,
     CKR_PIN_INCORRECT, CKR_PIN_INVALID, CKR_PIN_LEN_RANGE, CKR_PIN_LOCKED, CKR_SESSION_CLOSED,
     CKR_SESSION_HANDLE_INVALID, CKR_SESSION_READ_ONLY, CKR_TOKEN_WRITE_PROTECTED,
     CKR_ARGUMENTS_BAD}};
const SpecList kLogin{"5.6.8 C_Login",
                      {CKR_ARGUMENTS_BAD,
                       CKR_CRYPTOKI_NOT_INITIALIZED,
                       CKR_DEVICE_ERROR,
                       CKR_DEVICE_MEMORY,
                       CKR_DEVICE_REMOVED,
                       CKR_FUNCTION_CANCELED,
                       CKR_FUNCTION_FAILED,
                       CKR_GENERAL_ERROR,
                       CKR_HOST_MEMORY,
                       CKR_OK,
                       CKR_OPERATION_NOT_INITIALIZED,
                       CKR_PIN_INCORRECT,
                       CKR_PIN_LOCKED,
                       CKR_SESSION_CLOSED,
                       CKR_SESSION_HANDLE_INVALID,
                       CKR_SESSION_READ_ONLY_EXISTS,
                       CKR_USER_ALREADY_LOGGED_IN,
                       CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
                       CKR_USER_PIN_NOT_INITIALIZED,
                       CKR_USER_TOO_MANY_TYPES,
                       CKR_USER_TYPE_INVALID}};
const SpecList kCreateObject{"5.7.1 C_CreateObject",
                             {CKR_ARGUMENTS_BAD,
                              CKR_ATTRIBUTE_READ_ONLY,
                              CKR_ATTRIBUTE_TYPE_INVALID,
                              CKR_ATTRIBUTE_VALUE_INVALID,
                              CKR_CRYPTOKI_NOT_INITIALIZED,
                              CKR_CURVE_NOT_SUPPORTED,
                              CKR_DEVICE_ERROR,
                              CKR_DEVICE_MEMORY,
                              CKR_DEVICE_REMOVED,
                              CKR_DOMAIN_PARAMS_INVALID,
                              CKR_FUNCTION_FAILED,
                              CKR_GENERAL_ERROR,
                              CKR_HOST_MEMORY,
                              CKR_OK,
                              CKR_PIN_EXPIRED,
                              CKR_SESSION_CLOSED,
                              CKR_SESSION_HANDLE_INVALID,
                              CKR_SESSION_READ_ONLY,
                              CKR_TEMPLATE_INCOMPLETE,
                              CKR_TEMPLATE_INCONSISTENT,
                              CKR_TOKEN_WRITE_PROTECTED,
                              CKR_USER_NOT_LOGGED_IN}};
const SpecList kCopyObject{"5.7.2 C_CopyObject",
                           {CKR_ACTION_PROHIBITED,
                            CKR_ARGUMENTS_BAD,
                            CKR_ATTRIBUTE_READ_ONLY,
                            CKR_ATTRIBUTE_TYPE_INVALID,
                            CKR_ATTRIBUTE_VALUE_INVALID,
                            CKR_CRYPTOKI_NOT_INITIALIZED,
                            CKR_DEVICE_ERROR,
                            CKR_DEVICE_MEMORY,
                            CKR_DEVICE_REMOVED,
                            CKR_FUNCTION_FAILED,
                            CKR_GENERAL_ERROR,
                            CKR_HOST_MEMORY,
                            CKR_OBJECT_HANDLE_INVALID,
                            CKR_OK,
                            CKR_PIN_EXPIRED,
                            CKR_SESSION_CLOSED,
                            CKR_SESSION_HANDLE_INVALID,
                            CKR_SESSION_READ_ONLY,
                            CKR_TEMPLATE_INCONSISTENT,
                            CKR_TOKEN_WRITE_PROTECTED,
                            CKR_USER_NOT_LOGGED_IN}};
const SpecList kDestroyObject{
    "5.7.3 C_DestroyObject",
    {CKR_ACTION_PROHIBITED, CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY,
     CKR_DEVICE_REMOVED, CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY,
     CKR_OBJECT_HANDLE_INVALID, CKR_OK, CKR_PIN_EXPIRED, CKR_SESSION_CLOSED,
     CKR_SESSION_HANDLE_INVALID, CKR_SESSION_READ_ONLY, CKR_TOKEN_WRITE_PROTECTED}};
const SpecList kSetAttributeValue{"5.7.6 C_SetAttributeValue",
                                  {CKR_ACTION_PROHIBITED,
                                   CKR_ARGUMENTS_BAD,
                                   CKR_ATTRIBUTE_READ_ONLY,
                                   CKR_ATTRIBUTE_TYPE_INVALID,
                                   CKR_ATTRIBUTE_VALUE_INVALID,
                                   CKR_CRYPTOKI_NOT_INITIALIZED,
                                   CKR_DEVICE_ERROR,
                                   CKR_DEVICE_MEMORY,
                                   CKR_DEVICE_REMOVED,
                                   CKR_FUNCTION_FAILED,
                                   CKR_GENERAL_ERROR,
                                   CKR_HOST_MEMORY,
                                   CKR_OBJECT_HANDLE_INVALID,
                                   CKR_OK,
                                   CKR_SESSION_CLOSED,
                                   CKR_SESSION_HANDLE_INVALID,
                                   CKR_SESSION_READ_ONLY,
                                   CKR_TEMPLATE_INCONSISTENT,
                                   CKR_TOKEN_WRITE_PROTECTED,
                                   CKR_USER_NOT_LOGGED_IN}};
const SpecList kGenerateKey{"5.18.1 C_GenerateKey",
                            {CKR_ARGUMENTS_BAD,
                             CKR_ATTRIBUTE_READ_ONLY,
                             CKR_ATTRIBUTE_TYPE_INVALID,
                             CKR_ATTRIBUTE_VALUE_INVALID,
                             CKR_CRYPTOKI_NOT_INITIALIZED,
                             CKR_CURVE_NOT_SUPPORTED,
                             CKR_DEVICE_ERROR,
                             CKR_DEVICE_MEMORY,
                             CKR_DEVICE_REMOVED,
                             CKR_FUNCTION_CANCELED,
                             CKR_FUNCTION_FAILED,
                             CKR_GENERAL_ERROR,
                             CKR_HOST_MEMORY,
                             CKR_MECHANISM_INVALID,
                             CKR_MECHANISM_PARAM_INVALID,
                             CKR_OK,
                             CKR_OPERATION_ACTIVE,
                             CKR_PIN_EXPIRED,
                             CKR_SESSION_CLOSED,
                             CKR_SESSION_HANDLE_INVALID,
                             CKR_SESSION_READ_ONLY,
                             CKR_TEMPLATE_INCOMPLETE,
                             CKR_TEMPLATE_INCONSISTENT,
                             CKR_TOKEN_WRITE_PROTECTED,
                             CKR_USER_NOT_LOGGED_IN}};
const SpecList kGenerateKeyPair{"5.18.2 C_GenerateKeyPair",
                                {CKR_ARGUMENTS_BAD,
                                 CKR_ATTRIBUTE_READ_ONLY,
                                 CKR_ATTRIBUTE_TYPE_INVALID,
                                 CKR_ATTRIBUTE_VALUE_INVALID,
                                 CKR_CRYPTOKI_NOT_INITIALIZED,
                                 CKR_CURVE_NOT_SUPPORTED,
                                 CKR_DEVICE_ERROR,
                                 CKR_DEVICE_MEMORY,
                                 CKR_DEVICE_REMOVED,
                                 CKR_DOMAIN_PARAMS_INVALID,
                                 CKR_FUNCTION_CANCELED,
                                 CKR_FUNCTION_FAILED,
                                 CKR_GENERAL_ERROR,
                                 CKR_HOST_MEMORY,
                                 CKR_MECHANISM_INVALID,
                                 CKR_MECHANISM_PARAM_INVALID,
                                 CKR_OK,
                                 CKR_OPERATION_ACTIVE,
                                 CKR_PIN_EXPIRED,
                                 CKR_SESSION_CLOSED,
                                 CKR_SESSION_HANDLE_INVALID,
                                 CKR_SESSION_READ_ONLY,
                                 CKR_TEMPLATE_INCOMPLETE,
                                 CKR_TEMPLATE_INCONSISTENT,
                                 CKR_TOKEN_WRITE_PROTECTED,
                                 CKR_USER_NOT_LOGGED_IN}};
const SpecList kWrapKey{"5.18.3 C_WrapKey",
                        {CKR_ARGUMENTS_BAD,
                         CKR_BUFFER_TOO_SMALL,
                         CKR_CRYPTOKI_NOT_INITIALIZED,
                         CKR_DEVICE_ERROR,
                         CKR_DEVICE_MEMORY,
                         CKR_DEVICE_REMOVED,
                         CKR_FUNCTION_CANCELED,
                         CKR_FUNCTION_FAILED,
                         CKR_GENERAL_ERROR,
                         CKR_HOST_MEMORY,
                         CKR_KEY_HANDLE_INVALID,
                         CKR_KEY_NOT_WRAPPABLE,
                         CKR_KEY_SIZE_RANGE,
                         CKR_KEY_UNEXTRACTABLE,
                         CKR_MECHANISM_INVALID,
                         CKR_MECHANISM_PARAM_INVALID,
                         CKR_OK,
                         CKR_OPERATION_ACTIVE,
                         CKR_PIN_EXPIRED,
                         CKR_SESSION_CLOSED,
                         CKR_SESSION_HANDLE_INVALID,
                         CKR_USER_NOT_LOGGED_IN,
                         CKR_WRAPPING_KEY_HANDLE_INVALID,
                         CKR_WRAPPING_KEY_SIZE_RANGE,
                         CKR_WRAPPING_KEY_TYPE_INCONSISTENT}};
const SpecList kUnwrapKey{"5.18.4 C_UnwrapKey",
                          {CKR_ARGUMENTS_BAD,
                           CKR_ATTRIBUTE_READ_ONLY,
                           CKR_ATTRIBUTE_TYPE_INVALID,
                           CKR_ATTRIBUTE_VALUE_INVALID,
                           CKR_BUFFER_TOO_SMALL,
                           CKR_CRYPTOKI_NOT_INITIALIZED,
                           CKR_CURVE_NOT_SUPPORTED,
                           CKR_DEVICE_ERROR,
                           CKR_DEVICE_MEMORY,
                           CKR_DEVICE_REMOVED,
                           CKR_DOMAIN_PARAMS_INVALID,
                           CKR_FUNCTION_CANCELED,
                           CKR_FUNCTION_FAILED,
                           CKR_GENERAL_ERROR,
                           CKR_HOST_MEMORY,
                           CKR_MECHANISM_INVALID,
                           CKR_MECHANISM_PARAM_INVALID,
                           CKR_OK,
                           CKR_OPERATION_ACTIVE,
                           CKR_PIN_EXPIRED,
                           CKR_SESSION_CLOSED,
                           CKR_SESSION_HANDLE_INVALID,
                           CKR_SESSION_READ_ONLY,
                           CKR_TEMPLATE_INCOMPLETE,
                           CKR_TEMPLATE_INCONSISTENT,
                           CKR_TOKEN_WRITE_PROTECTED,
                           CKR_UNWRAPPING_KEY_HANDLE_INVALID,
                           CKR_UNWRAPPING_KEY_SIZE_RANGE,
                           CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
                           CKR_USER_NOT_LOGGED_IN,
                           CKR_WRAPPED_KEY_INVALID,
                           CKR_WRAPPED_KEY_LEN_RANGE}};
const SpecList kDeriveKey{"5.18.5 C_DeriveKey",
                          {CKR_ARGUMENTS_BAD,
                           CKR_ATTRIBUTE_READ_ONLY,
                           CKR_ATTRIBUTE_TYPE_INVALID,
                           CKR_ATTRIBUTE_VALUE_INVALID,
                           CKR_CRYPTOKI_NOT_INITIALIZED,
                           CKR_CURVE_NOT_SUPPORTED,
                           CKR_DEVICE_ERROR,
                           CKR_DEVICE_MEMORY,
                           CKR_DEVICE_REMOVED,
                           CKR_DOMAIN_PARAMS_INVALID,
                           CKR_FUNCTION_CANCELED,
                           CKR_FUNCTION_FAILED,
                           CKR_GENERAL_ERROR,
                           CKR_HOST_MEMORY,
                           CKR_KEY_HANDLE_INVALID,
                           CKR_KEY_SIZE_RANGE,
                           CKR_KEY_TYPE_INCONSISTENT,
                           CKR_MECHANISM_INVALID,
                           CKR_MECHANISM_PARAM_INVALID,
                           CKR_OK,
                           CKR_OPERATION_ACTIVE,
                           CKR_PIN_EXPIRED,
                           CKR_SESSION_CLOSED,
                           CKR_SESSION_HANDLE_INVALID,
                           CKR_SESSION_READ_ONLY,
                           CKR_TEMPLATE_INCOMPLETE,
                           CKR_TEMPLATE_INCONSISTENT,
                           CKR_TOKEN_WRITE_PROTECTED,
                           CKR_USER_NOT_LOGGED_IN}};
const SpecList kSeedRandom{
    "5.19.1 C_SeedRandom",
    {CKR_ARGUMENTS_BAD, CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY,
     CKR_DEVICE_REMOVED, CKR_FUNCTION_CANCELED, CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR,
     CKR_HOST_MEMORY, CKR_OK, CKR_OPERATION_ACTIVE, CKR_RANDOM_SEED_NOT_SUPPORTED,
     CKR_RANDOM_NO_RNG, CKR_SESSION_CLOSED, CKR_SESSION_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN}};
const SpecList kGetFunctionStatus{
    "5.20.1 C_GetFunctionStatus",
    {CKR_CRYPTOKI_NOT_INITIALIZED, CKR_FUNCTION_FAILED, CKR_FUNCTION_NOT_PARALLEL,
     CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED}};
const SpecList kCancelFunction{
    "5.20.2 C_CancelFunction",
    {CKR_CRYPTOKI_NOT_INITIALIZED, CKR_FUNCTION_FAILED, CKR_FUNCTION_NOT_PARALLEL,
     CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED}};

// The functions whose codes change in client mode while brokerkey-agent is down or refuses.
const SpecList kGetTokenInfo{
    "5.5.3 C_GetTokenInfo",
    {CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED,
     CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_OK, CKR_SLOT_ID_INVALID,
     CKR_TOKEN_NOT_PRESENT, CKR_TOKEN_NOT_RECOGNIZED, CKR_ARGUMENTS_BAD}};
const SpecList kGetMechanismList{
    "5.5.5 C_GetMechanismList",
    {CKR_BUFFER_TOO_SMALL, CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY,
     CKR_DEVICE_REMOVED, CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_OK,
     CKR_SLOT_ID_INVALID, CKR_TOKEN_NOT_PRESENT, CKR_TOKEN_NOT_RECOGNIZED, CKR_ARGUMENTS_BAD}};
const SpecList kGetMechanismInfo{
    "5.5.6 C_GetMechanismInfo",
    {CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED,
     CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_MECHANISM_INVALID, CKR_OK,
     CKR_SLOT_ID_INVALID, CKR_TOKEN_NOT_PRESENT, CKR_TOKEN_NOT_RECOGNIZED, CKR_ARGUMENTS_BAD}};
const SpecList kOpenSession{
    "5.6.1 C_OpenSession",
    {CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED,
     CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_OK, CKR_SESSION_COUNT,
     CKR_SESSION_PARALLEL_NOT_SUPPORTED, CKR_SESSION_READ_WRITE_SO_EXISTS, CKR_SLOT_ID_INVALID,
     CKR_TOKEN_NOT_PRESENT, CKR_TOKEN_NOT_RECOGNIZED, CKR_TOKEN_WRITE_PROTECTED, CKR_ARGUMENTS_BAD}};
const SpecList kGetObjectSize{
    "5.7.4 C_GetObjectSize",
    {CKR_ARGUMENTS_BAD, CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY,
     CKR_DEVICE_REMOVED, CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY,
     CKR_INFORMATION_SENSITIVE, CKR_OBJECT_HANDLE_INVALID, CKR_OK, CKR_SESSION_CLOSED,
     CKR_SESSION_HANDLE_INVALID}};
const SpecList kGetAttributeValue{
    "5.7.5 C_GetAttributeValue",
    {CKR_ARGUMENTS_BAD, CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID, CKR_BUFFER_TOO_SMALL,
     CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED,
     CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_OBJECT_HANDLE_INVALID, CKR_OK,
     CKR_SESSION_CLOSED, CKR_SESSION_HANDLE_INVALID}};
const SpecList kFindObjectsInit{
    "5.7.7 C_FindObjectsInit",
    {CKR_ARGUMENTS_BAD, CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_VALUE_INVALID,
     CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED,
     CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_OK, CKR_OPERATION_ACTIVE,
     CKR_PIN_EXPIRED, CKR_SESSION_CLOSED, CKR_SESSION_HANDLE_INVALID}};
const SpecList kSignInit{
    "5.13.1 C_SignInit",
    {CKR_ARGUMENTS_BAD, CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY,
     CKR_DEVICE_REMOVED, CKR_FUNCTION_CANCELED, CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR,
     CKR_HOST_MEMORY, CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_KEY_HANDLE_INVALID, CKR_KEY_SIZE_RANGE,
     CKR_KEY_TYPE_INCONSISTENT, CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID, CKR_OK,
     CKR_OPERATION_ACTIVE, CKR_PIN_EXPIRED, CKR_SESSION_CLOSED, CKR_SESSION_HANDLE_INVALID,
     CKR_USER_NOT_LOGGED_IN}};
const SpecList kSign{
    "5.13.2 C_Sign",
    {CKR_ARGUMENTS_BAD, CKR_BUFFER_TOO_SMALL, CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DATA_INVALID,
     CKR_DATA_LEN_RANGE, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED,
     CKR_FUNCTION_CANCELED, CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_OK,
     CKR_OPERATION_NOT_INITIALIZED, CKR_SESSION_CLOSED, CKR_SESSION_HANDLE_INVALID,
     CKR_USER_NOT_LOGGED_IN, CKR_FUNCTION_REJECTED}};
const SpecList kSignFinal{
    "5.13.4 C_SignFinal",
    {CKR_ARGUMENTS_BAD, CKR_BUFFER_TOO_SMALL, CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DATA_LEN_RANGE,
     CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED, CKR_FUNCTION_CANCELED,
     CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_OK, CKR_OPERATION_NOT_INITIALIZED,
     CKR_SESSION_CLOSED, CKR_SESSION_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN, CKR_FUNCTION_REJECTED}};
const SpecList kVerifyInit{
    "5.15.1 C_VerifyInit",
    {CKR_ARGUMENTS_BAD, CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY,
     CKR_DEVICE_REMOVED, CKR_FUNCTION_CANCELED, CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR,
     CKR_HOST_MEMORY, CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_KEY_HANDLE_INVALID, CKR_KEY_SIZE_RANGE,
     CKR_KEY_TYPE_INCONSISTENT, CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID, CKR_OK,
     CKR_OPERATION_ACTIVE, CKR_PIN_EXPIRED, CKR_SESSION_CLOSED, CKR_SESSION_HANDLE_INVALID,
     CKR_USER_NOT_LOGGED_IN}};

const SpecList kVerify{
    "5.15.2 C_Verify",
    {CKR_ARGUMENTS_BAD, CKR_CRYPTOKI_NOT_INITIALIZED, CKR_DATA_INVALID, CKR_DATA_LEN_RANGE,
     CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED, CKR_FUNCTION_CANCELED,
     CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_OK, CKR_OPERATION_NOT_INITIALIZED,
     CKR_SESSION_CLOSED, CKR_SESSION_HANDLE_INVALID, CKR_SIGNATURE_INVALID,
     CKR_SIGNATURE_LEN_RANGE}};

// The agent's cases: run in the client-mode registration, skipped (not failed) in the embedded one.
bool only_in_client_mode(boost::unit_test::test_unit_id) { return client_mode(); }

// One refused call: what it is, the spec's list for its function, the code refusals.cpp chose.
struct Case {
  std::string call;
  const SpecList& spec;
  CK_RV expected;
  std::function<CK_RV()> run;
};

// A broker with its key and consumer "ci": `session` (read-write) is logged in as ci, `ro` is a
// read-only session on the same token.
struct Fixture : LoggedInBroker {
  CK_SESSION_HANDLE ro = open_read_only();
  CK_OBJECT_HANDLE unknown = 0xdead;  // a handle the module never gives out
  CK_UTF8CHAR pin[5] = "1234";
  CK_UTF8CHAR label[32] = {};
  CK_BYTE buffer[256] = {};
  CK_ULONG length = sizeof buffer;
  CK_OBJECT_HANDLE out = 0, out2 = 0;
  CK_OBJECT_CLASS data_class = CKO_DATA;
  CK_ATTRIBUTE data_template[1] = {{CKA_CLASS, &data_class, sizeof data_class}};
  CK_MECHANISM aes{CKM_AES_KEY_GEN, nullptr, 0};
  CK_MECHANISM keygen{CKM_EC_EDWARDS_KEY_PAIR_GEN, nullptr, 0};
  CK_MECHANISM wrap{CKM_AES_KEY_WRAP, nullptr, 0};

  CK_SESSION_HANDLE open_read_only() {
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    BOOST_REQUIRE(module->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &h) == CKR_OK);
    return h;
  }

  void check(const std::vector<Case>& cases) {
    for (const Case& c : cases) {
      CK_RV rv = c.run();
      BOOST_TEST_CONTEXT(c.call << " returned " << rv_text(rv)) {
        BOOST_CHECK_MESSAGE(c.spec.codes.count(rv) == 1u,
                            "not in the list of PKCS#11 3.0 section " << c.spec.section);
        BOOST_CHECK_MESSAGE(c.spec.codes.count(c.expected) == 1u,
                            "the expected " << rv_text(c.expected) << " is itself not in section "
                                            << c.spec.section);
        BOOST_CHECK_MESSAGE(rv == c.expected, "expected " << rv_text(c.expected));
      }
    }
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(writes_answer_with_their_functions_codes, Fixture) {
  auto& m = module;
  check({
      {"C_InitToken(slot 0)", kInitToken, CKR_TOKEN_WRITE_PROTECTED,
       [&] { return m->C_InitToken(0, pin, 4, label); }},
      {"C_InitToken(slot 1, no overlap key)", kInitToken, CKR_TOKEN_NOT_PRESENT,
       [&] { return m->C_InitToken(1, pin, 4, label); }},
      {"C_InitToken(slot 9)", kInitToken, CKR_SLOT_ID_INVALID,
       [&] { return m->C_InitToken(9, pin, 4, label); }},
      {"C_InitPIN(rw, user)", kInitPin, CKR_USER_NOT_LOGGED_IN,
       [&] { return m->C_InitPIN(session, pin, 4); }},
      {"C_InitPIN(ro)", kInitPin, CKR_USER_NOT_LOGGED_IN, [&] { return m->C_InitPIN(ro, pin, 4); }},
      {"C_InitPIN(no session)", kInitPin, CKR_SESSION_HANDLE_INVALID,
       [&] { return m->C_InitPIN(0xbad, pin, 4); }},
      {"C_SetPIN(rw)", kSetPin, CKR_TOKEN_WRITE_PROTECTED,
       [&] { return m->C_SetPIN(session, pin, 4, pin, 4); }},
      {"C_SetPIN(ro)", kSetPin, CKR_TOKEN_WRITE_PROTECTED,
       [&] { return m->C_SetPIN(ro, pin, 4, pin, 4); }},
      {"C_Login(CKU_SO) while the user is logged in", kLogin, CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
       [&] { return m->C_Login(session, CKU_SO, pin, 4); }},
      {"C_CreateObject(rw)", kCreateObject, CKR_TOKEN_WRITE_PROTECTED,
       [&] { return m->C_CreateObject(session, data_template, 1, &out); }},
      {"C_CreateObject(ro)", kCreateObject, CKR_TOKEN_WRITE_PROTECTED,
       [&] { return m->C_CreateObject(ro, data_template, 1, &out); }},
      {"C_CopyObject(private key)", kCopyObject, CKR_ACTION_PROHIBITED,
       [&] { return m->C_CopyObject(session, private_key, data_template, 0, &out); }},
      {"C_CopyObject(public key, ro)", kCopyObject, CKR_ACTION_PROHIBITED,
       [&] { return m->C_CopyObject(ro, public_key, data_template, 0, &out); }},
      {"C_CopyObject(unknown handle)", kCopyObject, CKR_OBJECT_HANDLE_INVALID,
       [&] { return m->C_CopyObject(session, unknown, data_template, 0, &out); }},
      {"C_DestroyObject(private key)", kDestroyObject, CKR_ACTION_PROHIBITED,
       [&] { return m->C_DestroyObject(session, private_key); }},
      {"C_DestroyObject(public key)", kDestroyObject, CKR_ACTION_PROHIBITED,
       [&] { return m->C_DestroyObject(session, public_key); }},
      {"C_DestroyObject(unknown handle)", kDestroyObject, CKR_OBJECT_HANDLE_INVALID,
       [&] { return m->C_DestroyObject(session, unknown); }},
      {"C_SetAttributeValue(private key)", kSetAttributeValue, CKR_ACTION_PROHIBITED,
       [&] { return m->C_SetAttributeValue(session, private_key, data_template, 1); }},
      {"C_SetAttributeValue(public key, ro)", kSetAttributeValue, CKR_ACTION_PROHIBITED,
       [&] { return m->C_SetAttributeValue(ro, public_key, data_template, 1); }},
      {"C_SetAttributeValue(unknown handle)", kSetAttributeValue, CKR_OBJECT_HANDLE_INVALID,
       [&] { return m->C_SetAttributeValue(session, unknown, data_template, 1); }},
      {"C_GenerateKey", kGenerateKey, CKR_TOKEN_WRITE_PROTECTED,
       [&] { return m->C_GenerateKey(session, &aes, nullptr, 0, &out); }},
      {"C_GenerateKeyPair", kGenerateKeyPair, CKR_TOKEN_WRITE_PROTECTED,
       [&] { return m->C_GenerateKeyPair(session, &keygen, nullptr, 0, nullptr, 0, &out, &out2); }},
      {"C_GenerateKeyPair(ro)", kGenerateKeyPair, CKR_TOKEN_WRITE_PROTECTED,
       [&] { return m->C_GenerateKeyPair(ro, &keygen, nullptr, 0, nullptr, 0, &out, &out2); }},
      {"C_WrapKey(the private key)", kWrapKey, CKR_KEY_UNEXTRACTABLE,
       [&] { return m->C_WrapKey(session, &wrap, public_key, private_key, buffer, &length); }},
      {"C_WrapKey(the public key)", kWrapKey, CKR_KEY_NOT_WRAPPABLE,
       [&] { return m->C_WrapKey(session, &wrap, public_key, public_key, buffer, &length); }},
      {"C_WrapKey(unknown handle)", kWrapKey, CKR_KEY_HANDLE_INVALID,
       [&] { return m->C_WrapKey(session, &wrap, public_key, unknown, buffer, &length); }},
      {"C_UnwrapKey", kUnwrapKey, CKR_TOKEN_WRITE_PROTECTED,
       [&] { return m->C_UnwrapKey(session, &wrap, private_key, buffer, 16, nullptr, 0, &out); }},
      {"C_DeriveKey", kDeriveKey, CKR_TOKEN_WRITE_PROTECTED,
       [&] { return m->C_DeriveKey(session, &aes, private_key, nullptr, 0, &out); }},
      {"C_DestroyObject(no session)", kDestroyObject, CKR_SESSION_HANDLE_INVALID,
       [&] { return m->C_DestroyObject(0xbad, private_key); }},
  });
}

// C_Login(CKU_SO) with nobody logged in: the spec's CKR_SESSION_READ_ONLY_EXISTS while a
// read-only session is open, else CKR_PIN_LOCKED (no SO PIN can be right), which the token
// announces with CKF_SO_PIN_LOCKED.
BOOST_FIXTURE_TEST_CASE(security_officer_login_follows_the_session_states, Fixture) {
  auto& m = module;
  BOOST_REQUIRE(m->C_Logout(session) == CKR_OK);
  check({{"C_Login(CKU_SO) with a read-only session open", kLogin, CKR_SESSION_READ_ONLY_EXISTS,
          [&] { return m->C_Login(session, CKU_SO, pin, 4); }}});
  BOOST_REQUIRE(m->C_CloseSession(ro) == CKR_OK);
  check({{"C_Login(CKU_SO), read-write sessions only", kLogin, CKR_PIN_LOCKED,
          [&] { return m->C_Login(session, CKU_SO, pin, 4); }},
         // Logged out, the private key's handle names nothing this session can see.
         {"C_DestroyObject(private key, logged out)", kDestroyObject, CKR_OBJECT_HANDLE_INVALID,
          [&] { return m->C_DestroyObject(session, private_key); }},
         {"C_WrapKey(private key, logged out)", kWrapKey, CKR_KEY_HANDLE_INVALID,
          [&] { return m->C_WrapKey(session, &wrap, public_key, private_key, buffer, &length); }}});
  CK_TOKEN_INFO info{};
  BOOST_REQUIRE(m->C_GetTokenInfo(0, &info) == CKR_OK);
  BOOST_TEST((info.flags & CKF_SO_PIN_LOCKED) != 0u);
  BOOST_TEST((info.flags & CKF_WRITE_PROTECTED) == 0u);  // OpenSSH needs read-write sessions
  CK_SESSION_INFO state{};
  BOOST_REQUIRE(m->C_GetSessionInfo(session, &state) == CKR_OK);
  BOOST_TEST(state.state == CKS_RW_PUBLIC_SESSION);  // the refused login changed nothing
}

BOOST_FIXTURE_TEST_CASE(functions_not_offered_answer_as_the_spec_says, Fixture) {
  auto& m = module;
  CK_SLOT_ID slot = 0;
  check({
      {"C_GetOperationState", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_GetOperationState(session, buffer, &length); }},
      {"C_SetOperationState", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_SetOperationState(session, buffer, 16, 0, 0); }},
      {"C_EncryptInit", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_EncryptInit(session, &aes, public_key); }},
      {"C_Encrypt", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_Encrypt(session, buffer, 1, buffer, &length); }},
      {"C_EncryptUpdate", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_EncryptUpdate(session, buffer, 1, buffer, &length); }},
      {"C_EncryptFinal", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_EncryptFinal(session, buffer, &length); }},
      {"C_DecryptInit", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_DecryptInit(session, &aes, private_key); }},
      {"C_Decrypt", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_Decrypt(session, buffer, 1, buffer, &length); }},
      {"C_DecryptUpdate", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_DecryptUpdate(session, buffer, 1, buffer, &length); }},
      {"C_DecryptFinal", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_DecryptFinal(session, buffer, &length); }},
      {"C_DigestInit", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_DigestInit(session, &aes); }},
      {"C_Digest", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_Digest(session, buffer, 1, buffer, &length); }},
      {"C_DigestUpdate", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_DigestUpdate(session, buffer, 1); }},
      {"C_DigestKey", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_DigestKey(session, public_key); }},
      {"C_DigestFinal", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_DigestFinal(session, buffer, &length); }},
      {"C_SignRecoverInit", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_SignRecoverInit(session, &eddsa, private_key); }},
      {"C_SignRecover", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_SignRecover(session, buffer, 1, buffer, &length); }},
      {"C_VerifyRecoverInit", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_VerifyRecoverInit(session, &eddsa, public_key); }},
      {"C_VerifyRecover", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_VerifyRecover(session, buffer, 64, buffer, &length); }},
      {"C_DigestEncryptUpdate", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_DigestEncryptUpdate(session, buffer, 1, buffer, &length); }},
      {"C_DecryptDigestUpdate", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_DecryptDigestUpdate(session, buffer, 1, buffer, &length); }},
      {"C_SignEncryptUpdate", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_SignEncryptUpdate(session, buffer, 1, buffer, &length); }},
      {"C_DecryptVerifyUpdate", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_DecryptVerifyUpdate(session, buffer, 1, buffer, &length); }},
      {"C_WaitForSlotEvent(CKF_DONT_BLOCK)", kStub, CKR_FUNCTION_NOT_SUPPORTED,
       [&] { return m->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, nullptr); }},
      {"C_SeedRandom", kSeedRandom, CKR_RANDOM_SEED_NOT_SUPPORTED,
       [&] { return m->C_SeedRandom(session, buffer, 16); }},
      {"C_SeedRandom(NULL, 1)", kSeedRandom, CKR_ARGUMENTS_BAD,
       [&] { return m->C_SeedRandom(session, nullptr, 1); }},
      {"C_SeedRandom(no session, NULL, 1)", kSeedRandom, CKR_SESSION_HANDLE_INVALID,
       [&] { return m->C_SeedRandom(0xbad, nullptr, 1); }},
      {"C_GetFunctionStatus", kGetFunctionStatus, CKR_FUNCTION_NOT_PARALLEL,
       [&] { return m->C_GetFunctionStatus(session); }},
      {"C_CancelFunction", kCancelFunction, CKR_FUNCTION_NOT_PARALLEL,
       [&] { return m->C_CancelFunction(session); }},
  });
}

// Client mode (BROKERKEY_TEST_MODULE_MODE=client; the embedded registration skips it):
// brokerkey-agent stopped. Slot and token calls show no token; calls on open sessions, and on
// an operation begun before, get CKR_DEVICE_REMOVED; a login cannot be checked. Back, it all
// works again with nothing else done.
BOOST_FIXTURE_TEST_CASE(agent_down_answers_with_each_functions_codes, Fixture,
                        *boost::unit_test::precondition(only_in_client_mode)) {
  auto& m = module;
  CK_SESSION_HANDLE verifying = open_read_only();
  BOOST_REQUIRE(m->C_SignInit(session, &eddsa, private_key) == CKR_OK);
  BOOST_REQUIRE(m->C_SignInit(ro, &eddsa, private_key) == CKR_OK);
  BOOST_REQUIRE(m->C_SignUpdate(ro, buffer, 16) == CKR_OK);
  BOOST_REQUIRE(m->C_VerifyInit(verifying, &eddsa, public_key) == CKR_OK);
  broker.agent()->kill_now();
  CK_TOKEN_INFO token{};
  CK_MECHANISM_INFO mechanism{};
  CK_ULONG count = 0;
  CK_ATTRIBUTE label_attribute{CKA_LABEL, buffer, sizeof buffer};
  check({
      {"C_GetTokenInfo", kGetTokenInfo, CKR_TOKEN_NOT_PRESENT, [&] { return m->C_GetTokenInfo(0, &token); }},
      {"C_GetMechanismList", kGetMechanismList, CKR_TOKEN_NOT_PRESENT,
       [&] { return m->C_GetMechanismList(0, nullptr, &count); }},
      {"C_GetMechanismInfo", kGetMechanismInfo, CKR_TOKEN_NOT_PRESENT,
       [&] { return m->C_GetMechanismInfo(0, CKM_EDDSA, &mechanism); }},
      {"C_OpenSession", kOpenSession, CKR_TOKEN_NOT_PRESENT,
       [&] { return m->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &out); }},
      {"C_InitToken", kInitToken, CKR_TOKEN_NOT_PRESENT, [&] { return m->C_InitToken(0, pin, 4, label); }},
      {"C_Sign (initialised before)", kSign, CKR_DEVICE_REMOVED,
       [&] { return m->C_Sign(session, buffer, 16, buffer, &length); }},
      {"C_SignFinal (initialised before)", kSignFinal, CKR_DEVICE_REMOVED,
       [&] { return m->C_SignFinal(ro, buffer, &length); }},
      {"C_FindObjectsInit", kFindObjectsInit, CKR_DEVICE_REMOVED,
       [&] { return m->C_FindObjectsInit(session, nullptr, 0); }},
      {"C_GetAttributeValue", kGetAttributeValue, CKR_DEVICE_REMOVED,
       [&] { return m->C_GetAttributeValue(session, public_key, &label_attribute, 1); }},
      {"C_GetObjectSize", kGetObjectSize, CKR_DEVICE_REMOVED,
       [&] { return m->C_GetObjectSize(session, public_key, &count); }},
      {"C_SignInit", kSignInit, CKR_DEVICE_REMOVED, [&] { return m->C_SignInit(session, &eddsa, private_key); }},
      {"C_VerifyInit", kVerifyInit, CKR_DEVICE_REMOVED,
       [&] { return m->C_VerifyInit(session, &eddsa, public_key); }},
      {"C_DestroyObject", kDestroyObject, CKR_DEVICE_REMOVED, [&] { return m->C_DestroyObject(session, public_key); }},
      {"C_Login (consumer PIN, after C_Logout)", kLogin, CKR_DEVICE_REMOVED,
       [&] {
         BOOST_REQUIRE(m->C_Logout(session) == CKR_OK);  // a local matter: no agent needed
         std::string p = broker.pin();
         return m->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(p.data()), p.size());
       }},
      {"C_Login (protected path)", kLogin, CKR_DEVICE_REMOVED, [&] { return m->C_Login(session, CKU_USER, nullptr, 0); }},
  });
  // A verification begun before needs no agent: it is the module's own.
  std::string message = "m";
  BOOST_TEST(m->C_Verify(verifying, reinterpret_cast<CK_BYTE_PTR>(message.data()), 1, buffer, 64) ==
             CKR_SIGNATURE_INVALID);

  broker.agent()->start();
  check({
      {"C_GetTokenInfo (agent back)", kGetTokenInfo, CKR_OK, [&] { return m->C_GetTokenInfo(0, &token); }},
      {"C_Login (protected path, agent back)", kLogin, CKR_OK, [&] { return m->C_Login(session, CKU_USER, nullptr, 0); }},
      {"C_SignInit (agent back)", kSignInit, CKR_OK, [&] { return m->C_SignInit(session, &eddsa, private_key); }},
      {"C_Sign (agent back)", kSign, CKR_OK, [&] {
         length = sizeof buffer;
         return m->C_Sign(session, buffer, 16, buffer, &length);
       }},
  });
}

// Client mode: what the agent refuses. A consumer PIN it does not accept is CKR_PIN_INCORRECT;
// a signature its policy refuses is CKR_FUNCTION_REJECTED (the key is still shown).
BOOST_FIXTURE_TEST_CASE(agent_refusals_answer_with_each_functions_codes, Fixture,
                        *boost::unit_test::precondition(only_in_client_mode)) {
  auto& m = module;
  BOOST_REQUIRE(m->C_Logout(session) == CKR_OK);
  std::string wrong = broker.pin();
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  check({{"C_Login (wrong consumer PIN)", kLogin, CKR_PIN_INCORRECT, [&] {
            return m->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(wrong.data()), wrong.size());
          }}});
  BOOST_REQUIRE(m->C_Login(session, CKU_USER, nullptr, 0) == CKR_OK);
  broker.keytool("consumer set ci --allow sshsig:git");
  BOOST_REQUIRE(m->C_SignInit(session, &eddsa, private_key) == CKR_OK);
  BOOST_REQUIRE(m->C_SignInit(ro, &eddsa, private_key) == CKR_OK);
  check({{"C_Sign (purpose not granted)", kSign, CKR_FUNCTION_REJECTED,
          [&] { return m->C_Sign(session, buffer, 16, buffer, &length); }},
         {"C_SignFinal (purpose not granted)", kSignFinal, CKR_FUNCTION_REJECTED,
          [&] { return m->C_SignFinal(ro, buffer, &length); }}});
}

// Operations out of order, and a key withdrawn while an operation is open: each function answers
// from its own list (C_Sign and C_Verify have no CKR_OPERATION_ACTIVE; C_Sign and C_SignFinal no
// CKR_KEY_HANDLE_INVALID), and every one of these outcomes ends the operation.
BOOST_FIXTURE_TEST_CASE(operations_out_of_order_answer_from_their_lists, Fixture) {
  auto& m = module;
  CK_BYTE signature[64] = {};
  CK_ULONG signature_length = sizeof signature;
  check({
      {"C_Sign after C_SignUpdate", kSign, CKR_OPERATION_NOT_INITIALIZED,
       [&] {
         BOOST_REQUIRE(m->C_SignInit(session, &eddsa, private_key) == CKR_OK);
         BOOST_REQUIRE(m->C_SignUpdate(session, buffer, 16) == CKR_OK);
         return m->C_Sign(session, buffer, 16, signature, &signature_length);
       }},
      {"C_SignFinal after that (the operation ended)", kSignFinal, CKR_OPERATION_NOT_INITIALIZED,
       [&] { return m->C_SignFinal(session, signature, &signature_length); }},
      {"C_Verify after C_VerifyUpdate", kVerify, CKR_OPERATION_NOT_INITIALIZED,
       [&] {
         BOOST_REQUIRE(m->C_VerifyInit(session, &eddsa, public_key) == CKR_OK);
         BOOST_REQUIRE(m->C_VerifyUpdate(session, buffer, 16) == CKR_OK);
         return m->C_Verify(session, buffer, 16, signature, sizeof signature);
       }},
  });
  // A PIN longer than any issued: C_Login's list has no CKR_PIN_LEN_RANGE.
  BOOST_REQUIRE(m->C_Logout(session) == CKR_OK);
  std::string long_pin = broker.pin() + std::string(300, 'x');
  check({{"C_Login(PIN of 300+ bytes)", kLogin, CKR_PIN_INCORRECT, [&] {
            return m->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(long_pin.data()), long_pin.size());
          }}});
  BOOST_REQUIRE(m->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(broker.pin().data())),
                           broker.pin().size()) == CKR_OK);
  // The key is revoked between C_SignInit and the call that signs.
  CK_SESSION_HANDLE multi_part = module.open_session("");  // the token is logged in already
  BOOST_REQUIRE(m->C_SignInit(session, &eddsa, private_key) == CKR_OK);
  BOOST_REQUIRE(m->C_SignInit(multi_part, &eddsa, private_key) == CKR_OK);
  BOOST_REQUIRE(m->C_SignUpdate(multi_part, buffer, 16) == CKR_OK);
  broker.keytool("revoke " + broker.fingerprint() + " --reason test");
  check({
      {"C_Sign, key revoked since C_SignInit", kSign, CKR_FUNCTION_REJECTED,
       [&] { return m->C_Sign(session, buffer, 16, signature, &signature_length); }},
      {"C_SignFinal, key revoked since C_SignInit", kSignFinal, CKR_FUNCTION_REJECTED,
       [&] { return m->C_SignFinal(multi_part, signature, &signature_length); }},
  });
}
