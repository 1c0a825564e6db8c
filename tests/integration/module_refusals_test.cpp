// Every write is refused, and leaves the token and the ledger as they were. (Which code each
// refusal returns, against the spec's lists: module_return_codes_test.cpp.)
#define BOOST_TEST_MODULE module_refusals
#include <boost/test/unit_test.hpp>

#include "temp_broker.h"

namespace {

struct Fixture : LoggedInBroker {

  // What the backend holds, as its own tool lists it.
  std::string backend_objects() const {
    CommandResult r = broker.backend_tool("-O");
    BOOST_REQUIRE_MESSAGE(r.status == 0, r.output);
    return r.output;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(writes_are_refused_and_change_nothing, Fixture) {
  std::string before = backend_objects();
  std::string ledger_before = run_command("cat " + (broker.broker_dir() / "ledger.jsonl").string()).output;

  CK_OBJECT_CLASS data_class = CKO_DATA;
  CK_BBOOL yes = CK_TRUE;
  CK_BYTE value[] = "x";
  CK_ATTRIBUTE data_template[] = {{CKA_CLASS, &data_class, sizeof data_class},
                                  {CKA_TOKEN, &yes, 1},
                                  {CKA_VALUE, value, 1}};
  CK_OBJECT_HANDLE created = 0, created2 = 0;
  BOOST_TEST(module->C_CreateObject(session, data_template, 3, &created) == CKR_TOKEN_WRITE_PROTECTED);
  BOOST_TEST(module->C_CopyObject(session, private_key, data_template, 0, &created) == CKR_ACTION_PROHIBITED);
  BOOST_TEST(module->C_DestroyObject(session, private_key) == CKR_ACTION_PROHIBITED);
  BOOST_TEST(module->C_DestroyObject(session, public_key) == CKR_ACTION_PROHIBITED);
  CK_BYTE label[] = "renamed";
  CK_ATTRIBUTE rename{CKA_LABEL, label, 7};
  BOOST_TEST(module->C_SetAttributeValue(session, private_key, &rename, 1) == CKR_ACTION_PROHIBITED);
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE unprotect{CKA_SENSITIVE, &no, 1};
  BOOST_TEST(module->C_SetAttributeValue(session, private_key, &unprotect, 1) == CKR_ACTION_PROHIBITED);

  CK_MECHANISM keygen{CKM_EC_EDWARDS_KEY_PAIR_GEN, nullptr, 0};
  BOOST_TEST(module->C_GenerateKeyPair(session, &keygen, nullptr, 0, nullptr, 0, &created, &created2) == CKR_TOKEN_WRITE_PROTECTED);
  CK_MECHANISM aes{CKM_AES_KEY_GEN, nullptr, 0};
  BOOST_TEST(module->C_GenerateKey(session, &aes, nullptr, 0, &created) == CKR_TOKEN_WRITE_PROTECTED);
  CK_BYTE wrapped[256];
  CK_ULONG wrapped_length = sizeof wrapped;
  BOOST_TEST(module->C_WrapKey(session, &aes, public_key, private_key, wrapped, &wrapped_length) == CKR_KEY_UNEXTRACTABLE);
  BOOST_TEST(module->C_UnwrapKey(session, &aes, public_key, wrapped, 16, nullptr, 0, &created) == CKR_TOKEN_WRITE_PROTECTED);
  BOOST_TEST(module->C_DeriveKey(session, &aes, private_key, nullptr, 0, &created) == CKR_TOKEN_WRITE_PROTECTED);

  CK_UTF8CHAR pin[] = "1234";
  CK_UTF8CHAR token_label[32] = {};
  BOOST_TEST(module->C_InitToken(0, pin, 4, token_label) == CKR_TOKEN_WRITE_PROTECTED);
  BOOST_TEST(module->C_InitPIN(session, pin, 4) == CKR_USER_NOT_LOGGED_IN);
  BOOST_TEST(module->C_SetPIN(session, pin, 4, pin, 4) == CKR_TOKEN_WRITE_PROTECTED);

  // Not offered at all.
  BOOST_TEST(module->C_EncryptInit(session, &aes, public_key) == CKR_FUNCTION_NOT_SUPPORTED);
  BOOST_TEST(module->C_DecryptInit(session, &aes, private_key) == CKR_FUNCTION_NOT_SUPPORTED);
  BOOST_TEST(module->C_DigestInit(session, &aes) == CKR_FUNCTION_NOT_SUPPORTED);
  BOOST_TEST(module->C_SignRecoverInit(session, &keygen, private_key) == CKR_FUNCTION_NOT_SUPPORTED);
  BOOST_TEST(module->C_GetOperationState(session, wrapped, &wrapped_length) == CKR_FUNCTION_NOT_SUPPORTED);
  BOOST_TEST(module->C_SeedRandom(session, pin, 4) == CKR_RANDOM_SEED_NOT_SUPPORTED);
  BOOST_TEST(module->C_GetFunctionStatus(session) == CKR_FUNCTION_NOT_PARALLEL);

  // A refusal checks the session first, like every other call.
  BOOST_TEST(module->C_DestroyObject(0xdead, private_key) == CKR_SESSION_HANDLE_INVALID);

  BOOST_TEST(backend_objects() == before);
  BOOST_TEST(run_command("cat " + (broker.broker_dir() / "ledger.jsonl").string()).output == ledger_before);
  module.find_one(session, CKO_PRIVATE_KEY);
  module.find_one(session, CKO_PUBLIC_KEY);
}

BOOST_FIXTURE_TEST_CASE(random_comes_from_the_module, Fixture) {
  CK_BYTE a[32] = {}, b[32] = {};
  BOOST_TEST(module->C_GenerateRandom(session, a, sizeof a) == CKR_OK);
  BOOST_TEST(module->C_GenerateRandom(session, b, sizeof b) == CKR_OK);
  BOOST_TEST(std::memcmp(a, b, sizeof a) != 0);
  BOOST_TEST(module->C_GenerateRandom(session, nullptr, 4) == CKR_ARGUMENTS_BAD);
}
